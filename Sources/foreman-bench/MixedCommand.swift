import ArgumentParser
import AsyncHTTPClient
import FakeOllama
import ForemanTestSupport
import Foundation
import NIOCore

/// Native latency while the other kinds of work run at full speed: what a person at a chat client feels while a batch
/// fills the queue and its webhooks fail (issue #14's row).
struct MixedCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "mixed",
        abstract: "Native chat p50/p99 on an idle foreman, then while /jobs intake runs at full speed with failing webhooks."
    )

    @Option(help: "Native calls timed in each phase.") var requests = 2000
    @Option(help: "Keep-alive connections submitting /jobs during the loaded phase.") var clients = 8
    @Option(help: "The foreman binary (default: next to this one).") var foreman: String?
    @Option(help: "The kind of the /jobs jobs: chat (they share the generation slot with the native calls) or embed (they run in the embeddings lane).")
    var kind = "chat"

    /// What is timed in each phase, one after the other, so that all three see the same load: the native chat, and two
    /// floors that do not touch the queue, for what the machine itself gives a request under that load.
    private struct Probe {
        var name: String
        var time: @Sendable (BenchClient) async throws -> Double
    }

    func run() async throws {
        let chat = oneTokenChat
        let probes = [
            Probe(name: "native non-streaming chat") { try await $0.time(chat, direct: false) },
            Probe(name: "floor: GET /api/version (relayed to the target, no queue)") { try await $0.timeGet("/api/version").seconds },
            Probe(name: "floor: GET / (foreman alone)") { try await $0.timeGet("/").seconds },
        ]
        func phase(_ client: BenchClient) async throws -> [[Double]] {
            var samples = Array(repeating: [Double](), count: probes.count)
            for _ in 0..<requests {
                for (index, probe) in probes.enumerated() { samples[index].append(try await probe.time(client)) }
            }
            return samples
        }
        // Webhooks go to a loopback port nothing listens on: every delivery fails and is retried quickly.
        try await withForemanChild(foreman, maxQueue: 1_000_000, environment: ["FOREMAN_WEBHOOK_RETRY_BASE": "50ms"]) { _, _, client, binary in
            for _ in 0..<100 { _ = try await client.time(chat, direct: false) }
            let idle = try await phase(client)

            let request = kind == "embed"
                ? #"{"model":"nomic-embed-text","input":"x"}"#
                : #"{"model":"llama3.2","messages":[{"role":"user","content":"x"}],"options":{"num_predict":1}}"#
            let job = #"{"kind":""# + kind + #"","request":"# + request + #","state_webhook_url":"http://127.0.0.1:9/hook"}"#
            var submitted = 0
            var loaded: [[Double]] = []
            let clock = ContinuousClock()
            let start = clock.now
            try await withThrowingTaskGroup(of: Int.self) { group in
                for _ in 0..<clients {
                    group.addTask {
                        var accepted = 0
                        while !Task.isCancelled {
                            if (try? await client.post("/jobs", job)) == 202 { accepted += 1 }
                        }
                        return accepted
                    }
                }
                loaded = try await phase(client)
                group.cancelAll()
                for try await accepted in group { submitted += accepted }
            }
            let seconds = (clock.now - start).seconds
            let depth = try await client.queueDepth()

            let p = Percentiles.self
            print("foreman \(binary); fake target in-process with zero delays; \(requests) of each call in each phase, in turn.\n")
            var rows: [[String]] = []
            for (index, probe) in probes.enumerated() {
                for quantile in [0.50, 0.99] {
                    let (before, under) = (p.at(quantile, idle[index]), p.at(quantile, loaded[index]))
                    rows.append([probe.name, "p\(Int(quantile * 100))", p.ms(before), p.ms(under), p.ratio(under, before)])
                }
            }
            printTable(["call", "", "idle foreman", "under /jobs load", "ratio"], rows)
            print("")
            let rate = Double(submitted) / seconds
            print("load: \(clients) clients submitted \(submitted) /jobs \(kind) jobs (\(String(format: "%.0f", rate))/s) with failing webhooks; \(depth) still queued at the end")
            print("target: the native chat's p99 under load at most 2× its idle p99")
        }
    }
}
