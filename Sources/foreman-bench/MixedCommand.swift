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

    func run() async throws {
        // Webhooks go to a loopback port nothing listens on: every delivery fails and is retried quickly.
        try await withForemanChild(foreman, maxQueue: 1_000_000, environment: ["FOREMAN_WEBHOOK_RETRY_BASE": "50ms"]) { _, _, client, binary in
            let chat = #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":1}}"#
            for _ in 0..<100 { _ = try await client.time(chat, direct: false) }

            var idle: [Double] = []
            for _ in 0..<requests { idle.append(try await client.time(chat, direct: false)) }

            let job = #"{"kind":"chat","request":{"model":"llama3.2","messages":[{"role":"user","content":"x"}],"options":{"num_predict":1}},"state_webhook_url":"http://127.0.0.1:9/hook"}"#
            var submitted = 0
            var loaded: [Double] = []
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
                for _ in 0..<requests { loaded.append(try await client.time(chat, direct: false)) }
                group.cancelAll()
                for try await accepted in group { submitted += accepted }
            }
            let seconds = (clock.now - start).seconds
            let depth = try await client.queueDepth()

            let p = Percentiles.self
            print("foreman \(binary); fake target in-process with zero delays; \(requests) sequential native chats in each phase.\n")
            printTable(["native non-streaming chat", "idle foreman", "under /jobs load", "ratio"], [
                ["p50", p.ms(p.at(0.50, idle)), p.ms(p.at(0.50, loaded)), p.ratio(p.at(0.50, loaded), p.at(0.50, idle))],
                ["p99", p.ms(p.at(0.99, idle)), p.ms(p.at(0.99, loaded)), p.ratio(p.at(0.99, loaded), p.at(0.99, idle))],
            ])
            print("")
            let rate = Double(submitted) / seconds
            print("load: \(clients) clients submitted \(submitted) /jobs jobs (\(String(format: "%.0f", rate))/s) with failing webhooks; \(depth) still queued at the end")
            print("target: p99 under load at most 2× the idle p99")
        }
    }
}
