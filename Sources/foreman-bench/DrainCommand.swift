import ArgumentParser
import Foundation

/// Issue #19's third figure: the fixed cost of a job, as a drain rate with no generation time. N `/jobs` jobs of one
/// token are queued behind a held one, then timed from the release until the queue is empty; N native calls of one
/// token are timed through `clients` connections at once. The two take turns over a few rounds. One box runs one
/// generation at a time, so each rate is one over the pipeline's fixed cost per job.
struct DrainCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "drain",
        abstract: "Drain rate of zero-length /jobs jobs against native calls: each one's fixed cost per job."
    )

    @Option(help: "Jobs of each kind.") var jobs = 2000
    @Option(help: "Native calls sent at once.") var clients = 8
    @Option(help: "Rounds: native calls and /jobs jobs take turns, a share of --jobs each, so that the box's load moves both alike.") var rounds = 3
    @Option(help: "The foreman binary (default: next to this one).") var foreman: String?

    func run() async throws {
        try await withForemanChild(foreman, maxQueue: jobs + 100) { fake, child, client, binary in
            for _ in 0..<100 { _ = try await client.time(oneTokenChat, direct: false) }
            var generations = 100
            var native = 0.0, nativeCPU = 0.0, durable = 0.0, durableCPU = 0.0
            let clock = ContinuousClock()
            for round in 0..<rounds {
                let share = jobs / rounds + (round < jobs % rounds ? 1 : 0)

                // Native calls: `clients` callers at once, each waiting for its answer before the next.
                var start = clock.now
                var cpu = cpuSeconds(child.pid)
                try await withThrowingTaskGroup(of: Void.self) { group in
                    for index in 0..<clients {
                        let calls = share / clients + (index < share % clients ? 1 : 0)
                        group.addTask { for _ in 0..<calls { _ = try await client.time(oneTokenChat, direct: false) } }
                    }
                    try await group.waitForAll()
                }
                native += (clock.now - start).seconds
                nativeCPU += cpuSeconds(child.pid) - cpu
                generations += share

                // `/jobs` jobs: queued behind one the paused fake holds, then drained.
                await fake.pause()
                let held = #"{"kind":"chat","request":{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":2}}}"#
                _ = try await client.post("/jobs", held)
                generations += 1
                await fake.waitForGenerations(generations)
                let job = #"{"kind":"chat","request":{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":1}}}"#
                let request = "POST /jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer bench\r\nContent-Type: application/json\r\n"
                    + "Content-Length: \(job.utf8.count)\r\n\r\n" + job
                try await SubmissionLoad.run(port: child.port, request: request, count: share, connections: 8, expectedStatus: 202)
                guard try await client.queueDepth() == share else { throw ValidationError("the jobs were not all queued behind the held one") }
                generations += share
                start = clock.now
                cpu = cpuSeconds(child.pid)
                await fake.resume()
                while await fake.completedGenerations < generations {
                    try await Task.sleep(for: .milliseconds(5))
                }
                durable += (clock.now - start).seconds
                durableCPU += cpuSeconds(child.pid) - cpu
            }
            // foreman's own CPU per job: steadier than the rates on a shared box, where the bench's callers and the
            // fake take the same cores.
            let perJob = { (seconds: Double) in String(format: "%.2f ms", seconds / Double(jobs) * 1000) }

            print("foreman \(binary); \(jobs) jobs of one token each way in \(rounds) rounds, fake target with no token delay, loopback.\n")
            printTable(["figure", "jobs per second", "fixed cost per job", "ratio to native", "foreman CPU per job (ratio)"], [
                ["native calls (\(clients) callers at once)", String(format: "%.0f", Double(jobs) / native), perJob(native), "1.00", perJob(nativeCPU)],
                [
                    "/jobs jobs, queued then drained", String(format: "%.0f", Double(jobs) / durable), perJob(durable),
                    String(format: "%.2f (goal ≤ 1.2)", durable / native), perJob(durableCPU) + String(format: " (%.2f)", durableCPU / nativeCPU),
                ],
            ])
        }
    }
}
