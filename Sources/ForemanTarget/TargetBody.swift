import NIOCore

/// A response body as an async sequence of byte chunks, whatever produces it.
public struct TargetBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    private let makeIterator: @Sendable () -> AsyncIterator
    private let drainer: (@Sendable (_ sink: @escaping @Sendable (ByteBuffer) -> Void) async throws -> Bool)?

    public init<Chunks: AsyncSequence & Sendable>(_ chunks: Chunks) where Chunks.Element == ByteBuffer {
        self.makeIterator = {
            var iterator = chunks.makeAsyncIterator()
            return AsyncIterator { try await iterator.next(isolation: #isolation) }
        }
        drainer = nil
    }

    /// A body of `HTTP1Target`'s, which can hand its chunks to a sink on its connection's loop.
    init(_ chunks: BodyChunks) {
        self.makeIterator = {
            var iterator = chunks.makeAsyncIterator()
            return AsyncIterator { try await iterator.next() }
        }
        drainer = { sink in try await chunks.drain(into: sink) }
    }

    /// Hands the rest of the body to `sink`, chunk by chunk as it arrives, without a task between the box's socket
    /// and the sink, until the body ends; then returns `true`, or throws the error it ended with. `false`, at once,
    /// when this body cannot (it is not read from a connection of the caller's own loop): the caller reads it as a
    /// sequence. Cancelled, it returns at the end, as a read does.
    public func drain(into sink: @escaping @Sendable (ByteBuffer) -> Void) async throws -> Bool {
        guard let drainer else { return false }
        return try await drainer(sink)
    }

    /// A body that is already in memory.
    public init(buffers: [ByteBuffer]) {
        self.init(buffers.async)
    }

    public func makeAsyncIterator() -> AsyncIterator { makeIterator() }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let nextChunk: nonisolated(nonsending) () async throws -> ByteBuffer?
        public nonisolated(nonsending) mutating func next() async throws -> ByteBuffer? { try await nextChunk() }
    }

    /// Collects the whole body, failing past `limit` bytes.
    public func collect(upTo limit: Int) async throws -> ByteBuffer {
        var all = ByteBuffer()
        for try await var chunk in self {
            guard all.readableBytes + chunk.readableBytes <= limit else { throw TargetError.bodyTooLarge(limit) }
            all.writeBuffer(&chunk)
        }
        return all
    }
}

private struct ArraySequence: AsyncSequence, Sendable {
    typealias Element = ByteBuffer
    let buffers: [ByteBuffer]
    struct AsyncIterator: AsyncIteratorProtocol {
        var remaining: ArraySlice<ByteBuffer>
        mutating func next() async -> ByteBuffer? { remaining.popFirst() }
    }
    func makeAsyncIterator() -> AsyncIterator { AsyncIterator(remaining: buffers[...]) }
}

extension Array where Element == ByteBuffer {
    fileprivate var async: ArraySequence { ArraySequence(buffers: self) }
}
