import ForemanTestSupport
import Foundation
import Testing

extension ServerTests {
    /// The listen queue is sized for bursts (ADR 0024): `FOREMAN_LISTEN_BACKLOG` reaches the listening socket.
    @Suite("Listen backlog")
    struct ListenBacklogTests {
        /// `ss` (iproute2, which `.ci/run` installs) shows a listening socket's backlog as its Send-Q.
        static let hasSS = FileManager.default.isExecutableFile(atPath: "/usr/bin/ss") || FileManager.default.isExecutableFile(atPath: "/bin/ss")

        @Test("the listening socket's backlog is FOREMAN_LISTEN_BACKLOG, 4096 by default", .enabled(if: hasSS), arguments: [nil, 1234] as [Int?])
        func backlogReachesTheSocket(backlog: Int?) async throws {
            try await Harness.run(configure: { config in if let backlog { config.listenBacklog = backlog } }) { harness in
                let process = Process()
                process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                process.arguments = ["ss", "-ltnH", "sport = :\(harness.port)"]
                let output = Pipe()
                process.standardOutput = output
                try process.run()
                let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                process.waitUntilExit()
                // State, Recv-Q, Send-Q (the backlog), local address, peer address.
                let fields = text.split(whereSeparator: \.isWhitespace)
                let somaxconn = Int((try? String(contentsOfFile: "/proc/sys/net/core/somaxconn", encoding: .utf8))?.trimmingCharacters(in: .whitespacesAndNewlines) ?? "") ?? 4096
                #expect(fields.count >= 3 && Int(fields[2]) == min(backlog ?? 4096, somaxconn), "\(text)")
            }
        }
    }
}
