import ArgumentParser
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue #19's second figure: long streams. foreman's CPU per 1,000 relayed tokens, its resident memory before, right
/// after and a while after the streams, and the first line's time through foreman against straight to the target: in
/// alternating blocks of streams, and each right after a direct one. With `--nginx`, nginx relays its blocks and
/// pairs in turn with foreman's, so the box's drift moves both yardsticks alike.
struct StreamCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "stream",
        abstract: "Long native streams: CPU per 1,000 tokens, RSS before and after, time to the first line through foreman against direct."
    )

    @Option(help: "Tokens per stream (the fake makes at most 10,000).") var tokens = 10_000
    @Option(help: "Streams, one after another.") var streams = 20
    @Option(help: "Seconds to wait before the last RSS reading.") var settle = 5
    @Option(help: "The foreman binary (default: next to this one).") var foreman: String?
    @Option(help: "An nginx binary: a bare hop that relays the same streams, in turn with foreman, for its CPU per 1,000 tokens and its first line.") var nginx: String?

    func run() async throws {
        try await withForemanChild(foreman, maxQueue: 100) { _, child, client, binary in
            let long = Self.long(tokens)
            let hop = try nginx.map { try NginxHop(binary: $0, upstreamPort: client.fakePort) }
            defer { hop?.terminate() }
            var hopClient: BenchClient?
            if let hop {
                try await hop.waitUntilServing()
                hopClient = BenchClient(foremanPort: hop.port, fakePort: client.fakePort)
                _ = try await hopClient?.timeToFirstLine(long, direct: false)  // the upstream connection, opened once
            }
            for _ in 0..<50 { _ = try await client.time(oneTokenChat, direct: false) }
            let idle = child.residentKilobytes()
            var direct = Block(), through = Block(), hopped = Block()
            // Blocks of five streams through foreman, back to back, then five through nginx, then five straight to
            // the fake: the box's load, which moves all three, moves them alike.
            for start in stride(from: 0, to: streams, by: 5) {
                let count = min(5, streams - start)
                try await through.stream(count, long, through: client, pid: child.pid)
                if let hop, let hopClient { try await hopped.stream(count, long, through: hopClient, pid: hop.pid) }
                try await direct.stream(count, long, through: client, direct: true)
            }
            let after = child.residentKilobytes()
            try await Task.sleep(for: .seconds(settle))
            let settled = child.residentKilobytes()
            // A stream through foreman right after each direct one: foreman's caches then hold the fake's and the
            // client's work, as after an idle spell. As many pairs as streams: ten left the median to a few calls.
            // With nginx, each pair is followed by a direct stream and one through nginx.
            var coldDirect = Block(), cold = Block(), coldHop = Block()
            for _ in 0..<streams {
                try await coldDirect.stream(1, long, through: client, direct: true)
                try await cold.stream(1, long, through: client)
                if let hopClient {
                    try await coldDirect.stream(1, long, through: client, direct: true)
                    try await coldHop.stream(1, long, through: hopClient)
                }
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
            let firstLine = { (block: Block, against: Block) in
                "\(p.ms(p.at(0.5, block.firstLines))) (\(p.ratio(p.at(0.5, block.firstLines), p.at(0.5, against.firstLines))))"
            }
            print("foreman \(binary); \(streams) streams of \(tokens) tokens, one after another, fake target in-process, loopback.\n")
            printTable(["figure", "value"], [
                ["foreman CPU per 1,000 relayed tokens", String(format: "%.1f ms", perThousand(through.cpu))],
            ] + (hop == nil ? [] : [
                ["nginx CPU per 1,000 relayed tokens (a bare hop, its blocks in turn with foreman's)", String(format: "%.1f ms", perThousand(hopped.cpu))],
                ["foreman / nginx CPU", String(format: "%.2f×", through.cpu / hopped.cpu)],
            ]) + [
                ["RSS idle", "\(idle / 1024) MB"],
                ["RSS right after the streams", "\(after / 1024) MB"],
                ["RSS \(settle) s later", "\(settled / 1024) MB"],
                ["/jobs streams: peak RSS above the RSS before them, \(jobPeaks[0].tokens) / \(jobPeaks[1].tokens) tokens",
                 "\(jobPeaks[0].kilobytes / 1024) MB / \(jobPeaks[1].kilobytes / 1024) MB"],
                ["first line in blocks, p50: direct", p.ms(p.at(0.5, direct.firstLines))],
                ["first line in blocks, p50: through foreman (× direct)", firstLine(through, direct)],
            ] + (hop == nil ? [] : [
                ["first line in blocks, p50: through nginx (× direct)", firstLine(hopped, direct)],
            ]) + [
                ["first line right after a direct stream, p50: direct", p.ms(p.at(0.5, coldDirect.firstLines))],
                ["first line right after a direct stream, p50: through foreman (× direct)", firstLine(cold, coldDirect)],
            ] + (hop == nil ? [] : [
                ["first line right after a direct stream, p50: through nginx (× direct)", firstLine(coldHop, coldDirect)],
            ]))
        }
    }

    /// Streams through one relay (or straight to the fake): each one's time to its first line, and the CPU seconds
    /// the relay spent on them.
    struct Block {
        var firstLines: [Double] = []
        var cpu = 0.0

        /// Sends `count` streams of `body`, one after another; with `pid`, adds that process's CPU over them.
        mutating func stream(_ count: Int, _ body: String, through client: BenchClient, direct: Bool = false, pid: Int32? = nil) async throws {
            let before = pid.map(cpuSeconds)
            for _ in 0..<count { firstLines.append(try await client.timeToFirstLine(body, direct: direct)) }
            if let pid, let before { cpu += cpuSeconds(pid) - before }
        }
    }

    /// A streamed chat of `tokens` tokens.
    static func long(_ tokens: Int) -> String {
        #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":"# + String(tokens) + "}}"
    }
}
