import ArgumentParser
import ForemanTestSupport
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Issue #19's first figure: how long a burst of connections takes to be accepted. Every connect of the burst is
/// started at once, non-blocking, and the time until the last one completes is taken; a connect the listen queue had
/// no room for waits for the client's SYN retransmit, a second or more. `TcpExtListenOverflows` (Linux) counts the
/// connects the kernel dropped.
struct BurstCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "burst",
        abstract: "Time for N simultaneous connects to be accepted, and the kernel's listen-queue overflows, over several rounds."
    )

    @Option(help: "Connections opened at once.") var connections = 1000
    @Option(help: "Bursts, one after another.") var rounds = 5
    @Option(help: "The foreman binary (default: next to this one).") var foreman: String?

    func run() async throws {
        Self.raiseDescriptorLimit()
        try await withForemanChild(foreman, maxQueue: 100) { _, child, _, binary in
            var times: [Double] = []
            var overflows: [Int] = []
            for _ in 0..<rounds {
                let before = Self.listenOverflows()
                times.append(try Self.burst(port: child.port, count: connections))
                overflows.append(Self.listenOverflows().map { after in before.map { after - $0 } ?? 0 } ?? 0)
                try await Task.sleep(for: .milliseconds(500))  // the closed connections leave the server
            }
            print("foreman \(binary); \(connections) connects at once, \(rounds) rounds, loopback.\n")
            printTable(["figure", "median", "worst", "target"], [
                ["time until all \(connections) are connected", Percentiles.ms(Percentiles.at(0.5, times)), Percentiles.ms(times.max() ?? 0), "100 ms"],
                ["listen-queue overflows per burst", "\(overflows.sorted()[overflows.count / 2])", "\(overflows.max() ?? 0)", "0"],
            ])
        }
    }

    /// Seconds from the first connect of `count` to the last one's completion.
    static func burst(port: Int, count: Int) throws -> Double {
        var descriptors: [Int32] = []
        defer { for descriptor in descriptors { close(descriptor) } }
        let start = ContinuousClock.now
        for _ in 0..<count { descriptors.append(try LoopbackSocket.connect(port: port, nonBlocking: true)) }
        var waiting = descriptors.map { pollfd(fd: $0, events: Int16(POLLOUT), revents: 0) }
        while !waiting.isEmpty {
            guard poll(&waiting, nfds_t(waiting.count), 10_000) > 0 else { throw ValidationError("connects still pending after 10 s") }
            waiting.removeAll { $0.revents != 0 }
        }
        return (ContinuousClock.now - start).seconds
    }

    /// `TcpExt: ListenOverflows` from `/proc/net/netstat`; `nil` where there is none.
    static func listenOverflows() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/net/netstat", encoding: .utf8) else { return nil }
        let lines = text.split(separator: "\n").filter { $0.hasPrefix("TcpExt:") }
        guard lines.count >= 2 else { return nil }
        let names = lines[0].split(separator: " "), values = lines[1].split(separator: " ")
        return names.firstIndex(of: "ListenOverflows").flatMap { values.indices.contains($0) ? Int(values[$0]) : nil }
    }

    static func raiseDescriptorLimit() {
        #if canImport(Glibc)
        let resource = __rlimit_resource_t(RLIMIT_NOFILE.rawValue)
        #else
        let resource = RLIMIT_NOFILE
        #endif
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return }
        limit.rlim_cur = limit.rlim_max
        _ = setrlimit(resource, &limit)
    }
}
