import Foundation

/// How a run of the real `foreman` binary as a command ended.
package struct CommandResult {
    package var status: Int32
    package var standardError: String
}

/// Runs the `foreman` binary with `arguments` to its end. Its standard output goes to `output` (a pipe whose reader
/// may already be closed), or is discarded.
/// The `foreman` binary beside the test runner.
package var foremanBinary: URL { URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("foreman") }

package func runForemanCommand(_ arguments: [String], environment: [String: String] = [:], output: FileHandle? = nil) throws -> CommandResult {
    let process = Process()
    process.executableURL = foremanBinary
    process.arguments = arguments
    process.environment = environment.merging(["PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin"]) { a, _ in a }
    let errors = Pipe()
    process.standardError = errors
    process.standardOutput = output ?? FileHandle.nullDevice
    try process.run()
    let text = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    return CommandResult(status: process.terminationStatus, standardError: text)
}
