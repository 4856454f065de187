import NIOCore

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Cuts a byte stream into NDJSON lines, each keeping its `\n`.
///
/// Chunk boundaries from the network are arbitrary; foreman relays whole lines so that an error line it
/// appends after a broken stream never lands in the middle of a half-written object.
public struct NDJSONLineSplitter: Sendable {
    private var pending = ByteBuffer()

    public init() {}

    /// Feeds a chunk; returns the lines it completed, in order.
    public mutating func append(_ chunk: ByteBuffer) -> [ByteBuffer] {
        var chunk = chunk
        var lines: [ByteBuffer] = []
        while let length = Self.lineLength(in: chunk) {
            var piece = chunk.readSlice(length: length)!
            if pending.readableBytes > 0 {
                pending.writeBuffer(&piece)
                lines.append(pending)
                pending = ByteBuffer()
            } else {
                lines.append(piece)
            }
        }
        if chunk.readableBytes > 0 {
            pending.writeBuffer(&chunk)
        }
        return lines
    }

    /// The length of `chunk`'s first line, its `\n` included; `nil` when it has no `\n`. A line is found by `memchr`,
    /// not by a search of the buffer's view, which takes each byte through the view's index: every relayed line is
    /// searched this way, and a line is a hundred bytes or more.
    private static func lineLength(in chunk: ByteBuffer) -> Int? {
        chunk.withUnsafeReadableBytes { bytes in
            guard let start = bytes.baseAddress, let newline = memchr(start, Int32(UInt8(ascii: "\n")), bytes.count) else { return nil }
            return start.distance(to: UnsafeRawPointer(newline)) + 1
        }
    }

    /// The bytes after the last newline (a non-streamed JSON object has none), or `nil` if there are none.
    public mutating func finish() -> ByteBuffer? {
        defer { pending = ByteBuffer() }
        return pending.readableBytes > 0 ? pending : nil
    }
}
