import NIOCore

/// The Ollama server foreman fronts, seen as "send a request, get a streamed response".
///
/// ``LiveOllamaTarget`` speaks HTTP to a real (or fake) Ollama; tests of pure logic can supply their own.
public protocol OllamaTarget: Sendable {
    /// Sends `request` and returns once the response head has arrived.
    ///
    /// - Throws: ``TargetError/unreachable(_:)`` when no response head arrived (connection refused, DNS,
    ///   timeout); `CancellationError` when the calling task was cancelled.
    func send(_ request: TargetRequest) async throws -> TargetResponse

    /// The event loop a request sent from `current` (the loop the caller runs on, if any) goes out on, when the
    /// target's connections live on event loops: a task that mostly talks to the target runs best there (see
    /// ``EventLoopExecutor``).
    func eventLoop(near current: (any EventLoop)?) -> (any EventLoop)?
}

extension OllamaTarget {
    public func eventLoop(near current: (any EventLoop)?) -> (any EventLoop)? { nil }
}

/// One request to the target.
public struct TargetRequest: Sendable {
    public enum Method: String, Sendable { case GET, POST, HEAD, DELETE }

    public var method: Method
    /// The path, starting with `/`, for example `/api/chat`.
    public var path: String
    public var body: ByteBuffer?

    public init(method: Method, path: String, body: ByteBuffer? = nil) {
        self.method = method
        self.path = path
        self.body = body
    }
}

/// The target's answer: status and content type at once, the body as it streams in.
public struct TargetResponse: Sendable {
    public var status: Int
    public var contentType: String?
    /// The `Retry-After` the target sent with the answer, in seconds (a date form is ignored).
    public var retryAfter: Duration?
    public var body: TargetBody

    public init(status: Int, contentType: String?, retryAfter: Duration? = nil, body: TargetBody) {
        self.status = status
        self.contentType = contentType
        self.retryAfter = retryAfter
        self.body = body
    }

    public var isSuccess: Bool { (200..<300).contains(status) }

    /// A `Retry-After` header's value as a delay, when it is a number of seconds.
    public static func retryAfter(_ value: String?) -> Duration? {
        guard let value, let seconds = Int(value.trimmingCharacters(in: .whitespaces)), seconds >= 0 else { return nil }
        return .seconds(min(seconds, 3600))
    }
}

/// A response body as an async sequence of byte chunks, whatever produces it.
public struct TargetBody: AsyncSequence, Sendable {
    public typealias Element = ByteBuffer

    private let makeIterator: @Sendable () -> AsyncIterator

    public init<Chunks: AsyncSequence & Sendable>(_ chunks: Chunks) where Chunks.Element == ByteBuffer {
        self.makeIterator = {
            var iterator = chunks.makeAsyncIterator()
            return AsyncIterator { try await iterator.next() }
        }
    }

    /// A body that is already in memory.
    public init(buffers: [ByteBuffer]) {
        self.init(buffers.async)
    }

    public func makeAsyncIterator() -> AsyncIterator { makeIterator() }

    public struct AsyncIterator: AsyncIteratorProtocol {
        let nextChunk: () async throws -> ByteBuffer?
        public mutating func next() async throws -> ByteBuffer? { try await nextChunk() }
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

/// How talking to the target went wrong.
public enum TargetError: Error, Equatable, CustomStringConvertible {
    /// No response head arrived: the target is down, unresolvable or too slow. Retrying may help.
    case unreachable(String)
    /// The target accepted the request, then closed the connection without answering. Unlike an unreachable
    /// target, this can be the request's own doing (one that crashes the server), so retries are counted.
    case dropped(String)
    /// The body broke off after the head arrived.
    case interrupted(String)
    /// A body that foreman buffers was larger than it accepts.
    case bodyTooLarge(Int)

    public var description: String {
        switch self {
        case .unreachable(let reason): "ollama target unreachable: \(reason)"
        case .dropped(let reason): "ollama target closed the connection without an answer: \(reason)"
        case .interrupted(let reason): "ollama target stream interrupted: \(reason)"
        case .bodyTooLarge(let limit): "ollama target response larger than \(limit) bytes"
        }
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
