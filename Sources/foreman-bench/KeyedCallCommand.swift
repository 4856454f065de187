import ArgumentParser
import AsyncHTTPClient
import ForemanTestSupport
import Foundation
import NIOCore

/// Issue #17's figure: what a key costs a native call at admission (its hash looked up, its requests per minute,
/// tokens per day and concurrency cap checked, its usage added), against the same call with the bootstrap token,
/// alternated in one run against one foreman.
struct KeyedCallCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Added latency of a non-streaming native chat made with a key with every limit set, against FOREMAN_TOKEN (p50/p99)."
    )

    @Option(help: "Calls each way, alternated.") var requests = 3000
    @Option(help: "The foreman binary (default: next to this one).") var foreman: String?

    func run() async throws {
        try await withForemanChild(foreman, maxQueue: 1000) { _, child, bootstrap, binary in
            // Every limit set, none reached: each check runs and lets the call through.
            let key = #"{"name":"bench","scopes":["inference"],"priority_ceiling":10,"max_concurrent":1000,"requests_per_minute":1000000,"tokens_per_day":1000000000000}"#
            let created = try await HTTPClient.shared.execute(ForemanRequest.make(.POST, port: child.port, "/admin/keys", token: "bench", json: key), timeout: .seconds(10))
            let body = try await created.body.collect(upTo: 1 << 20)
            guard created.status == .created,
                let secret = (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?["secret"] as? String
            else { throw ValidationError("the key was not created: \(created.status)") }
            var keyed = bootstrap
            keyed.token = secret

            let chat = oneTokenChat
            for _ in 0..<200 {  // warm both up
                _ = try await bootstrap.time(chat, direct: false)
                _ = try await keyed.time(chat, direct: false)
            }
            var plain: [Double] = [], withKey: [Double] = []
            for round in 0..<requests {
                // Which goes first alternates, so neither always follows the other's work.
                if round % 2 == 0 {
                    plain.append(try await bootstrap.time(chat, direct: false))
                    withKey.append(try await keyed.time(chat, direct: false))
                } else {
                    withKey.append(try await keyed.time(chat, direct: false))
                    plain.append(try await bootstrap.time(chat, direct: false))
                }
            }
            let p = Percentiles.self
            print("foreman \(binary); fake target in-process; \(requests) calls each way, alternated, sequential, loopback.\n")
            printTable(["figure", "FOREMAN_TOKEN", "key with every limit", "added", "target"], [
                ["non-streaming chat, p50", p.ms(p.at(0.50, plain)), p.ms(p.at(0.50, withKey)), Self.microseconds(p.at(0.50, withKey) - p.at(0.50, plain)), "≤ 50 µs"],
                ["non-streaming chat, p99", p.ms(p.at(0.99, plain)), p.ms(p.at(0.99, withKey)), Self.microseconds(p.at(0.99, withKey) - p.at(0.99, plain)), ""],
            ])
        }
    }

    private static func microseconds(_ seconds: Double) -> String { String(format: "%+.0f µs", seconds * 1e6) }
}
