import NIOCore

/// A response body as an async sequence of byte chunks, whatever produces it.
public struct TargetBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    private let makeIterator: @Sendable () -> AsyncIterator

    public init<Chunks: AsyncSequence & Sendable>(_ chunks: Chunks) where Chunks.Element == ByteBuffer {
        self.makeIterator = {
            var iterator = chunks.makeAsyncIterator()
            return AsyncIterator { try await iterator.next(isolation: #isolation) }
        }
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
