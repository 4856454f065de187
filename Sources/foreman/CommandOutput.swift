import ForemanApp
import ForemanEngine
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// How the client commands print and fail: answers on standard output, every error as one `foreman: …` line on
/// standard error with a documented exit code, never a backtrace.
enum CommandOutput {
    /// The server answered with an error.
    static let serverErrorCode: Int32 = 1
    /// The server answered 404 (no such job or artifact).
    static let notFoundCode: Int32 = 4
    /// foreman could not be reached (`EX_UNAVAILABLE`).
    static let unreachableCode: Int32 = 69

    /// The exit code of a failed answer: 4 for a 404, else 1.
    static func exitCode(forStatus status: Int) -> Int32 {
        status == 404 ? notFoundCode : serverErrorCode
    }

    /// Writes `data` to standard output. A reader that went away (`foreman jobs list | head -c 100`) ends the command
    /// quietly with success, as it does for other Unix tools: it read all it wanted.
    ///
    /// `write(2)` itself, because Foundation's `FileHandle.write(_:)` traps on `EPIPE` (SIGPIPE is ignored once
    /// NIO has started).
    static func emit(_ data: Data) {
        data.withUnsafeBytes { (bytes: UnsafeRawBufferPointer) in
            var offset = 0
            while offset < bytes.count {
                let written = write(STDOUT_FILENO, bytes.baseAddress! + offset, bytes.count - offset)
                if written < 0 {
                    if errno == EINTR { continue }
                    if errno == EPIPE { exit(0) }
                    fail("cannot write the output: \(String(cString: strerror(errno)))", exitCode: serverErrorCode)
                }
                offset += written
            }
        }
    }

    /// Prints `message` as one line on standard error and exits with `exitCode`.
    static func fail(_ message: String, exitCode: Int32) -> Never {
        let line = "foreman: " + message.replacingOccurrences(of: "\n", with: " ") + "\n"
        _ = line.withCString { write(STDERR_FILENO, $0, strlen($0)) }
        exit(exitCode)
    }

    /// Runs one request against foreman; a transport failure ends the command with one line naming the address.
    static func reaching<T>(_ request: () async throws -> T) async throws -> T {
        do {
            return try await request()
        } catch let error as JobsClient.Unreachable {
            fail(error.description, exitCode: unreachableCode)
        }
    }
}

/// Prints a successful answer's body; turns a failed one into an error message and a non-zero exit.
func printAnswer(_ answer: JobsClient.Answer) throws {
    guard answer.isSuccess else {
        CommandOutput.fail("\(answer.errorMessage) (HTTP \(answer.status))", exitCode: CommandOutput.exitCode(forStatus: answer.status))
    }
    CommandOutput.emit(answer.body)
    if answer.body.last != UInt8(ascii: "\n") { CommandOutput.emit(Data("\n".utf8)) }
}
