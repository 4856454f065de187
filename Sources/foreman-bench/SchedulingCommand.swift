import ArgumentParser
import FakeOllama
import ForemanEngine
import ForemanDomain
import ForemanTestSupport
import Foundation

/// FIFO against foreman's scheduler on a cyclic batch (issue #4): loads, total time, longest wait.
struct SchedulingCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "scheduling",
        abstract: "FIFO vs foreman's scheduler: a batch of /jobs cycling over several models, each load taking a set time."
    )

    @Option(help: "Jobs in the batch.") var jobs = 60
    @Option(help: "Distinct chat models the batch cycles over.") var models = 3
    @Option(name: .customLong("load-ms"), help: "How long the fake takes to load a model, in milliseconds.") var loadMs = 500
    @Option(help: "Tokens each job generates (1 ms apart).") var tokens = 8

    func run() async throws {
        print("\(jobs) /jobs cycling over \(models) models; each model load takes \(loadMs) ms; \(tokens) tokens a job.\n")
        let policies: [(String, Scheduler.Policy)] = [
            ("FIFO (FOREMAN_MAX_SKIP=0)", Self.policy(maxSkip: 0)),
            ("foreman, defaults (MAX_SKIP=8)", Scheduler.Policy()),
            ("foreman, MAX_SKIP=\(jobs)", Self.policy(maxSkip: jobs)),
        ]
        var rows: [[String]] = []
        for (label, policy) in policies {
            let result = try await measure(policy)
            rows.append([label, "\(result.loads)", String(format: "%.2f s", result.total), String(format: "%.2f s", result.longestWait)])
        }
        printTable(["policy", "model loads", "total time", "longest wait"], rows)
    }

    private static func policy(maxSkip: Int) -> Scheduler.Policy {
        var policy = Scheduler.Policy()
        policy.maxSkip = maxSkip
        return policy
    }

    private func measure(_ policy: Scheduler.Policy) async throws -> (loads: Int, total: Double, longestWait: Double) {
        let names = (0..<models).map { "model-\($0):latest" }
        let fake = FakeOllamaState(
            models: names.map { FakeModel(name: $0, loadTime: .milliseconds(loadMs)) },
            tokenDelay: .milliseconds(1),
            maxLoaded: models
        )
        return try await Harness.run(token: "bench", fake: fake, configure: {
            $0.scheduling = policy
            $0.maxQueue = 1_000_000
        }) { target in
            func submit(_ index: Int) async throws {
                let request = #"{"model":"\#(names[index % names.count])","prompt":"job \#(index)","options":{"num_predict":\#(tokens)}}"#
                let status = try await target.request(.POST, "/jobs", json: #"{"kind":"generate","request":"# + request + "}").status
                guard status == 202 else { throw ValidationError("POST /jobs answered \(status)") }
            }
            // The first job starts and is held, so the whole batch is queued before the worker chooses again.
            await fake.pause()
            try await submit(0)
            await fake.waitForGenerations(1)
            for index in 1..<jobs { try await submit(index) }
            let clock = ContinuousClock()
            let start = clock.now
            await fake.resume()
            while await fake.completedGenerations < jobs { try await Task.sleep(for: .milliseconds(5)) }
            let total = (clock.now - start).seconds
            let listed = try await target.request(.GET, "/jobs?limit=200").jsonObject()["jobs"] as? [[String: Any]] ?? []
            let waits = listed.compactMap { job -> Double? in
                guard let created = (job["created_at"] as? String).flatMap(Timestamp.date),
                    let started = (job["started_at"] as? String).flatMap(Timestamp.date)
                else { return nil }
                return started.timeIntervalSince(created)
            }
            return (await fake.loads.count, total, waits.max() ?? 0)
        }
    }
}
