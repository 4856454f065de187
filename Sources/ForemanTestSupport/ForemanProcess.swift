import AsyncHTTPClient
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The real `foreman` binary as a child process, so a test can kill it the way a power cut or the OOM killer would,
/// and a benchmark can measure it as it ships.
package final class ForemanProcess {
    private let process = Process()
    /// The exit status, once: the process's termination handler sends it.
    private let exits: AsyncStream<Int32>
    package let port: Int

    /// The `foreman` binary built beside the running test or benchmark binary.
    package static var siblingBinary: URL {
        URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("foreman")
    }

    /// Starts `foreman serve` listening on `port` (a free one unless given). Its output goes to `log`, or nowhere.
    package init(binary: URL = siblingBinary, port: Int? = nil, environment: [String: String], log: URL? = nil) throws {
        self.port = try port ?? closedPort()
        let (exits, exited) = AsyncStream<Int32>.makeStream()
        self.exits = exits
        process.terminationHandler = { process in
            exited.yield(process.terminationStatus)
            exited.finish()
        }
        guard FileManager.default.isExecutableFile(atPath: binary.path) else { throw TestFailure("no foreman binary at \(binary.path)") }
        process.executableURL = binary
        process.arguments = ["serve"]
        process.environment = environment.merging(["FOREMAN_ADDR": "127.0.0.1:\(self.port)"]) { $1 }
        if let log {
            if !FileManager.default.fileExists(atPath: log.path) { _ = FileManager.default.createFile(atPath: log.path, contents: nil) }
            let handle = try FileHandle(forWritingTo: log)
            handle.seekToEndOfFile()
            process.standardOutput = handle
            process.standardError = handle
        } else {
            process.standardOutput = FileHandle.nullDevice
            process.standardError = FileHandle.nullDevice
        }
        try process.run()
    }

    /// Waits until `/healthz` answers.
    package func waitUntilServing() async throws {
        try await eventually("foreman listening on \(port)", timeout: .seconds(60)) {
            let request = HTTPClientRequest(url: "http://127.0.0.1:\(port)/healthz")
            return (try? await HTTPClient.shared.execute(request, timeout: .seconds(1))) != nil
        }
    }

    package var pid: Int32 { process.processIdentifier }

    package func kill9() {
        kill(process.processIdentifier, SIGKILL)
        process.waitUntilExit()
    }

    package func sigterm() {
        kill(pid, SIGTERM)
    }

    /// Stops it (SIGTERM) if it still runs, and waits for it.
    package func terminate() {
        if process.isRunning { process.terminate() }
        process.waitUntilExit()
    }

    /// Waits for the process to exit on its own and returns its exit status.
    package func waitForExit() -> Int32 {
        process.waitUntilExit()
        return process.terminationStatus
    }

    /// Waits at most `limit` for the process to exit on its own; past it, kills it and throws.
    package func waitForExit(within limit: Duration) async throws -> Int32 {
        let pid = self.pid
        let watchdog = Task {
            try await Task.sleep(for: limit)
            kill(pid, SIGKILL)
        }
        var statuses = exits.makeAsyncIterator()
        let status = await statuses.next() ?? process.terminationStatus
        watchdog.cancel()
        if case .success = await watchdog.result { throw TestFailure("foreman did not exit within \(limit)") }
        return status
    }

    /// Resident set size in kilobytes, from `/proc` (0 where there is none).
    package func residentKilobytes() -> Int { statusKilobytes("VmRSS:") }

    /// The peak resident set size (`VmHWM`) in kilobytes, since the start or the last ``resetPeakResident()``.
    package func peakResidentKilobytes() -> Int { statusKilobytes("VmHWM:") }

    /// Resets the peak resident set size to the size now (Linux 4.0 and later).
    package func resetPeakResident() {
        try? "5".write(toFile: "/proc/\(pid)/clear_refs", atomically: false, encoding: .ascii)
    }

    private func statusKilobytes(_ field: String) -> Int {
        guard let status = try? String(contentsOfFile: "/proc/\(pid)/status", encoding: .utf8),
              let line = status.split(separator: "\n").first(where: { $0.hasPrefix(field) })
        else { return 0 }
        return Int(line.split(separator: " ").dropFirst().first ?? "") ?? 0
    }
}
