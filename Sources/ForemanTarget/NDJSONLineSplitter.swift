import NIOCore

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
        while let newline = chunk.readableBytesView.firstIndex(of: UInt8(ascii: "\n")) {
            let length = newline - chunk.readerIndex + 1
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

    /// The bytes after the last newline (a non-streamed JSON object has none), or `nil` if there are none.
    public mutating func finish() -> ByteBuffer? {
        defer { pending = ByteBuffer() }
        return pending.readableBytes > 0 ? pending : nil
    }
}
