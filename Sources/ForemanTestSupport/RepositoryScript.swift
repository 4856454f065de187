import Foundation

/// A script of this repository (`scripts/…`), run to its end by a test.
package enum RepositoryScript {
    /// The repository's root, found from this file's place in it.
    package static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()

    /// Runs `script` with `arguments` and the test's environment plus `extra`; its output (standard output and error,
    /// trimmed) and exit status.
    ///
    /// The output goes through a file, and every descriptor past the standard three is closed before the script
    /// starts: Foundation learns that a child ended when a socket it hands the child closes, and a server the script
    /// leaves running (the real engine's `start.sh`) would otherwise hold it open. The test process's signal mask is
    /// not passed on either, so such a server stops on SIGTERM.
    package static func run(_ script: String, _ arguments: [String], environment extra: [String: String] = [:]) async throws -> (output: String, status: Int32) {
        let log = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-script-\(UUID().uuidString).log")
        _ = FileManager.default.createFile(atPath: log.path, contents: nil)
        defer { try? FileManager.default.removeItem(at: log) }
        let handle = try FileHandle(forWritingTo: log)
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = [
            "python3", "-c",
            "import os, signal, sys; os.closerange(3, 65536); signal.pthread_sigmask(signal.SIG_SETMASK, []); "
                + "[signal.signal(s, signal.SIG_DFL) for s in (signal.SIGTERM, signal.SIGINT)]; os.execv(sys.argv[1], sys.argv[1:])",
            root.appendingPathComponent(script).path,
        ] + arguments
        process.environment = ProcessInfo.processInfo.environment.merging(extra) { _, new in new }
        process.standardOutput = handle
        process.standardError = handle
        let (exits, exited) = AsyncStream<Int32>.makeStream()
        process.terminationHandler = { process in
            exited.yield(process.terminationStatus)
            exited.finish()
        }
        try process.run()
        var status: Int32 = -1
        for await code in exits { status = code }
        try handle.close()
        let text = try String(contentsOf: log, encoding: .utf8)
        return (text.trimmingCharacters(in: .whitespacesAndNewlines), status)
    }

    /// Whether `python3` can import `module` here.
    package static func pythonHas(_ module: String) -> Bool {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
        process.arguments = ["python3", "-c", "import \(module)"]
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return false }
        process.waitUntilExit()
        return process.terminationStatus == 0
    }
}
