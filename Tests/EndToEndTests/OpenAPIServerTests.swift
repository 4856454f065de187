import ForemanEngine
@testable import ForemanApp
@testable import ForemanHTTP
import ForemanTestSupport
import Foundation
import Hummingbird
import Testing
import Glibc

#if canImport(Glibc)
import Glibc
#endif

extension ServerTests {
    /// schemathesis, the property-based OpenAPI tester, against the real binaries (`scripts/schemathesis-check`).
    @Suite("OpenAPI document against the server")
    struct SchemathesisTests {
        /// Where `st` and `unshare --net` can run (CI installs schemathesis; the namespace needs root on Linux).
        static let available: Bool = {
            #if os(Linux)
            guard getuid() == 0 else { return false }
            let paths = (ProcessInfo.processInfo.environment["PATH"] ?? "").split(separator: ":")
            return paths.contains { FileManager.default.isExecutableFile(atPath: "\($0)/st") }
            #else
            return false
            #endif
        }()

        @Test("schemathesis finds no disagreement between docs/openapi-jobs.json and the server", .enabled(if: available))
        func schemathesisAgrees() throws {
            let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            let binaries = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
            let process = Process()
            process.executableURL = root.appendingPathComponent("scripts/schemathesis-check")
            process.arguments = [binaries.path, ProcessInfo.processInfo.environment["FOREMAN_SCHEMATHESIS_EXAMPLES"] ?? "25"]
            let output = Pipe()
            process.standardOutput = output
            process.standardError = output
            try process.run()
            let text = String(decoding: output.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
            process.waitUntilExit()
            #expect(process.terminationStatus == 0, "\(text)")
        }
    }
}
