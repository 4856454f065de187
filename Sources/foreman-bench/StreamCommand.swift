import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue #19's second figure: long streams. foreman's CPU per 1,000 relayed tokens, its resident memory before, right
/// after and a while after the streams, and the first line's time through foreman against straight to the target: in
/// alternating blocks of streams, and each right after a direct one.
struct StreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Long native streams: CPU per 1,000 tokens, RSS before and after, time to the first line through foreman against direct."
    )

    @Option(help: "Tokens per stream (the fake makes at most 10,000).") var tokens = 10_000
    @Option(help: "Streams, one after another.") var streams = 20
    @Option(help: "Seconds to wait before the last RSS reading.") var settle = 5
    @Option(help: "The foreman binary (default: next to this one).") var foreman: String?
    @Option(help: "An nginx binary: the same streams are relayed through it too, a bare hop, for its CPU per 1,000 tokens.") var nginx: String?

    func run() async throws {
        try await withForemanChild(foreman, maxQueue: 100) { _, child, client, binary in
            var hop: (cpu: Double, firstLines: [Double])?
            if let nginx { hop = try await Self.nginxCPU(nginx, fakePort: client.fakePort, long: Self.long(tokens), streams: streams) }
            for _ in 0..<50 { _ = try await client.time(oneTokenChat, direct: false) }
            let idle = child.residentKilobytes()
            let long = Self.long(tokens)
            var direct: [Double] = [], through: [Double] = []
            let before = cpuSeconds(child.pid)
            // Blocks of five streams through foreman, back to back, then five straight to the fake: the box's load,
            // which moves both, moves them alike.
            for block in stride(from: 0, to: streams, by: 5) {
                let count = min(5, streams - block)
                for _ in 0..<count { through.append(try await client.timeToFirstLine(long, direct: false)) }
                for _ in 0..<count { direct.append(try await client.timeToFirstLine(long, direct: true)) }
            }
            let cpu = cpuSeconds(child.pid) - before
            let after = child.residentKilobytes()
            try await Task.sleep(for: .seconds(settle))
            let settled = child.residentKilobytes()
            // A stream through foreman right after each direct one: foreman's caches then hold the fake's and the
            // client's work, as after an idle spell. As many pairs as streams: ten left the median to a few calls.
            var coldDirect: [Double] = [], cold: [Double] = []
            for _ in 0..<streams {
                coldDirect.append(try await client.timeToFirstLine(long, direct: true))
                cold.append(try await client.timeToFirstLine(long, direct: false))
            }

            // `/jobs` streams keep their transcript, its artifact: the peak RSS they raise, at two lengths, shows
            // whether a run's memory grows with its answer.
            var jobPeaks: [(tokens: Int, kilobytes: Int)] = []
            for length in [tokens / 10, tokens] {
                let request = Self.long(length)
                let base = child.residentKilobytes()
                child.resetPeakResident()
                for _ in 0..<3 {
                    let id = try await client.submit(#"{"kind":"chat","request":"# + request + "}")
                    guard try await client.waitForJob(id) == "succeeded" else { throw ValidationError("a /jobs stream did not succeed") }
                }
                jobPeaks.append((length, child.peakResidentKilobytes() - base))
            }
            let p = Percentiles.self
            let perThousand = { (seconds: Double) in seconds * 1000 / Double(streams * tokens) * 1000 }
            print("foreman \(binary); \(streams) streams of \(tokens) tokens, one after another, fake target in-process, loopback.\n")
            printTable(["figure", "value"], [
                ["foreman CPU per 1,000 relayed tokens", String(format: "%.1f ms", perThousand(cpu))],
            ] + (hop.map { hop in [
                ["nginx CPU per 1,000 relayed tokens (a bare hop)", String(format: "%.1f ms", perThousand(hop.cpu))],
                ["foreman / nginx CPU", String(format: "%.2f×", cpu / hop.cpu)],
                ["first line through nginx, p50", "\(p.ms(p.at(0.5, hop.firstLines))) (\(p.ratio(p.at(0.5, hop.firstLines), p.at(0.5, direct))))"],
            ] } ?? []) + [
                ["RSS idle", "\(idle / 1024) MB"],
                ["RSS right after the streams", "\(after / 1024) MB"],
                ["RSS \(settle) s later", "\(settled / 1024) MB"],
                ["/jobs streams: peak RSS above the RSS before them, \(jobPeaks[0].tokens) / \(jobPeaks[1].tokens) tokens",
                 "\(jobPeaks[0].kilobytes / 1024) MB / \(jobPeaks[1].kilobytes / 1024) MB"],
                ["first line, p50: direct / through foreman", "\(p.ms(p.at(0.5, direct))) / \(p.ms(p.at(0.5, through))) (\(p.ratio(p.at(0.5, through), p.at(0.5, direct))))"],
                ["first line, each right after a direct stream, p50: direct / through foreman",
                 "\(p.ms(p.at(0.5, coldDirect))) / \(p.ms(p.at(0.5, cold))) (\(p.ratio(p.at(0.5, cold), p.at(0.5, coldDirect))))"],
            ])
        }
    }

    /// A streamed chat of `tokens` tokens.
    static func long(_ tokens: Int) -> String {
        #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":"# + String(tokens) + "}}"
    }

    /// The CPU seconds nginx spends relaying `streams` of `long`, one after another, to the fake at `fakePort`, and
    /// each stream's time to its first line.
    static func nginxCPU(_ binary: String, fakePort: Int, long: String, streams: Int) async throws -> (cpu: Double, firstLines: [Double]) {
        let hop = try NginxHop(binary: binary, upstreamPort: fakePort)
        defer { hop.terminate() }
        try await hop.waitUntilServing()
        let client = BenchClient(foremanPort: hop.port, fakePort: fakePort)
        _ = try await client.timeToFirstLine(long, direct: false)  // the upstream connection, opened once
        let before = cpuSeconds(hop.pid)
        var firstLines: [Double] = []
        for _ in 0..<streams { firstLines.append(try await client.timeToFirstLine(long, direct: false)) }
        return (cpuSeconds(hop.pid) - before, firstLines)
    }
}
