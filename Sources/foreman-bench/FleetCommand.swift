import ArgumentParser
import FakeOllama
import ForemanDomain
import ForemanTestSupport
import Foundation

/// One box against three (issue #15): the same batch of `/jobs` generations over models spread across the boxes,
/// each box a fake streaming at a set pace, one generation at a time.
struct FleetCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "fleet",
        abstract: "Jobs per second of a batch on 1 provider and on 3 (each a paced fake), and the most each box ran at once."
    )

    @Option(help: "Jobs in the batch.") var jobs = 60
    @Option(help: "Tokens each job generates.") var tokens = 20
    @Option(name: .customLong("token-ms"), help: "Milliseconds between two tokens at a box.") var tokenMs = 10
    @Option(help: "Runs of each setup, alternated.") var rounds = 2

    func run() async throws {
        print("\(jobs) /jobs over 3 models; \(tokens) tokens a job, \(tokenMs) ms apart; \(rounds) rounds, alternated.\n")
        var rows: [[String]] = []
        var rates: [Int: [Double]] = [:]
        for round in 1...rounds {
            for boxes in [1, 3] {
                let result = try await measure(boxes: boxes)
                rates[boxes, default: []].append(result.rate)
                rows.append([
                    "\(round)", "\(boxes)", String(format: "%.2f s", result.seconds), String(format: "%.1f", result.rate),
                    result.mostAtOnce.map(String.init).joined(separator: " "),
                ])
            }
        }
        printTable(["round", "providers", "batch time", "jobs/s", "most at once per box"], rows)
        let ratios = zip(rates[3] ?? [], rates[1] ?? []).map { $0 / $1 }
        print(String(format: "\n3 providers / 1: %.2f× to %.2f× the jobs per second", ratios.min() ?? 0, ratios.max() ?? 0))
    }

    /// The batch on `boxes` providers. Each model lives on one box of three; a lone box has them all.
    private func measure(boxes: Int) async throws -> (seconds: Double, rate: Double, mostAtOnce: [Int]) {
        let models = (0..<3).map { FakeModel(name: "model-\($0):latest") }
        let members = (0..<boxes).map { index in
            Harness.FleetMember(
                "box-\(index)", models: boxes == 1 ? models : [models[index]], tokenDelay: .milliseconds(tokenMs)
            )
        }
        return try await Harness.runFleet(members, token: "bench", configure: { $0.maxQueue = 1_000_000 }) { foreman in
            for member in members { await member.box.state.pause() }
            for index in 0..<jobs {
                let request = #"{"model":"model-\#(index % 3)","prompt":"job \#(index)","options":{"num_predict":\#(tokens)}}"#
                let status = try await foreman.request(.POST, "/jobs", json: #"{"kind":"generate","request":"# + request + "}").status
                guard status == 202 else { throw ValidationError("POST /jobs answered \(status)") }
            }
            // Every box has started its first job and holds it: the batch is queued before the clock starts.
            for member in members { await member.box.state.waitForGenerations(1) }
            let clock = ContinuousClock()
            let start = clock.now
            for member in members { await member.box.state.resume() }
            while true {
                var completed = 0
                for member in members { completed += await member.box.state.completedGenerations }
                if completed >= jobs { break }
                try await Task.sleep(for: .milliseconds(5))
            }
            let seconds = (clock.now - start).seconds
            var mostAtOnce: [Int] = []
            for member in members { mostAtOnce.append(await member.box.state.maxConcurrentGenerations) }
            return (seconds, Double(jobs) / seconds, mostAtOnce)
        }
    }
}
