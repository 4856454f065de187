import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small tmpfs mounted for one test, so the test can fill a real disk under foreman's database.
package final class TinyVolume {
    package let path: String
    private var filler: String { path + "/filler" }

    /// Whether this machine lets the tests mount one (root on Linux, as in CI).
    package static let canMount: Bool = {
        guard let volume = try? TinyVolume(kilobytes: 64) else { return false }
        volume.unmount()
        return true
    }()

    package init(kilobytes: Int) throws {
        path = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-volume-\(UUID().uuidString)").path
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        guard Self.run("/bin/mount", ["-t", "tmpfs", "-o", "size=\(kilobytes)k", "tmpfs", path]) == 0 else {
            throw TestFailure("cannot mount a tmpfs at \(path)")
        }
    }

    /// Writes a file until the volume has no space left.
    package func fill() {
        let descriptor = open(filler, O_WRONLY | O_CREAT | O_TRUNC, 0o600)
        defer { close(descriptor) }
        let block = [UInt8](repeating: 0, count: 4096)
        while write(descriptor, block, block.count) > 0 {}
    }

    /// Gives the space back.
    package func free() {
        unlink(filler)
    }

    package func unmount() {
        _ = Self.run("/bin/umount", ["-l", path])
        try? FileManager.default.removeItem(atPath: path)
    }

    private static func run(_ tool: String, _ arguments: [String]) -> Int32 {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: tool)
        process.arguments = arguments
        process.standardError = FileHandle.nullDevice
        guard (try? process.run()) != nil else { return -1 }
        process.waitUntilExit()
        return process.terminationStatus
    }
}
