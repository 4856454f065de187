import NIOCore
import NIOHTTPTypes
import Synchronization

/// A connection's request parts on their way from its pipeline (``RequestPartsHandler``) to the task that serves it,
/// read by the connection's loop and by the request bodies it hands out (``InboundRequestBody``).
///
/// It stands where NIOAsyncChannel's inbound sequence stood. That sequence's generic code ran unspecialized on every
/// request and took a sixth of a cold request's way from the socket to the box (ADR 0032). This one holds request
/// parts alone: a mutex, the parts that came, and one waiting reader. As that sequence did, it stops the connection's
/// reads while ``highWatermark`` parts wait, and lets them go once its reader has taken them down to
/// ``lowWatermark``; a reader cancelled while it waits reads the end.
///
/// Its reads never overlap. A request's body readers read one at a time (``InboundRequestBody/Progress``). The loop
/// reads only while no reader can: before the first request, and after it has taken the last request's body over or
/// found it ended; when a read is still under way it closes the connection instead of reading. A request's body that
/// came whole with its head is taken by the loop with the head, before any reader is made (``wholeBody()``).
final class RequestParts: Sendable {
    static let highWatermark = 10
    static let lowWatermark = 2

    private enum End {
        case closed
        case failed(any Error)
    }

    private struct State {
        var parts: [HTTPRequestPart] = []
        var taken = 0
        var waiting: UnsafeContinuation<HTTPRequestPart?, any Error>?
        var end: End?
        var readHeld = false

        var buffered: Int { parts.count - taken }

        mutating func takeFirst() -> HTTPRequestPart {
            let part = parts[taken]
            taken += 1
            if taken == parts.count {
                parts.removeAll(keepingCapacity: true)
                taken = 0
            }
            return part
        }

        /// Whether a held read may go on now that parts were taken: true once, when they are down to the low watermark.
        mutating func letsHeldReadGo() -> Bool {
            guard readHeld, buffered <= RequestParts.lowWatermark else { return false }
            readHeld = false
            return true
        }

        /// The body parts kept up to the request's end, joined, and taken with the end; `nil`, with nothing taken,
        /// when the end is not kept yet.
        mutating func bodyToEnd() -> ByteBuffer? {
            guard let end = parts[taken...].firstIndex(where: { if case .body = $0 { false } else { true } }),
                case .end = parts[end]
            else { return nil }
            let body = joined(parts[taken..<end])
            taken = end
            _ = takeFirst()
            return body
        }

        private func joined(_ bodyParts: ArraySlice<HTTPRequestPart>) -> ByteBuffer {
            if bodyParts.count == 1, case .body(let only) = bodyParts[bodyParts.startIndex] { return only }
            var sizes = 0
            for case .body(let part) in bodyParts { sizes += part.readableBytes }
            var body = ByteBuffer()
            body.reserveCapacity(sizes)
            for case .body(let part) in bodyParts { body.writeImmutableBuffer(part) }
            return body
        }
    }

    private enum Taken {
        case part(HTTPRequestPart, resumeReading: Bool)
        case ended
        case failed(any Error)
        case wait
    }

    private let state = Mutex(State())
    private let loop: any EventLoop
    /// The handler's context, for a held read to go on; set and read on the loop alone.
    private let context: NIOLoopBoundBox<ChannelHandlerContext?>

    init(loop: any EventLoop) {
        self.loop = loop
        context = NIOLoopBoundBox(nil, eventLoop: loop)
    }

    /// The next part; `nil` once the caller has closed, or once the reading task is cancelled. Throws the error the
    /// connection's reading ended with (a malformed request's `HTTPParserError`), after the parts before it.
    nonisolated(nonsending) func next() async throws -> HTTPRequestPart? {
        if let taken = deliver(take()) { return try taken.get() }
        return try await withTaskCancellationHandler {
            try await withUnsafeThrowingContinuation { (continuation: UnsafeContinuation<HTTPRequestPart?, any Error>) in
                wait(continuation)
            }
        } onCancel: {
            finish(.closed)
        }
    }

    private func take() -> Taken {
        state.withLock { state in
            if state.buffered > 0 {
                let part = state.takeFirst()
                return .part(part, resumeReading: state.letsHeldReadGo())
            }
            switch state.end {
            case nil: return .wait
            case .closed: return .ended
            case .failed(let error):
                state.end = .closed
                return .failed(error)
            }
        }
    }

    /// The body of the request whose head was taken last, taken whole with its end when all of it has come already;
    /// `nil`, with nothing taken, when its end has not (ADR 0036).
    func wholeBody() -> ByteBuffer? {
        let (body, resume): (ByteBuffer?, Bool) = state.withLock { state in
            guard let body = state.bodyToEnd() else { return (nil, false) }
            return (body, state.letsHeldReadGo())
        }
        if resume { resumeHeldRead() }
        return body
    }

    private func wait(_ continuation: UnsafeContinuation<HTTPRequestPart?, any Error>) {
        let waits = state.withLock { state in
            if state.buffered > 0 || state.end != nil { return false }
            state.waiting = continuation
            return true
        }
        if waits { return }
        // A part or the end came between the first look and this one, and nothing takes it but this reader.
        continuation.resume(with: deliver(take()) ?? .success(nil))
    }

    /// What a reader gets of `taken`, letting a held read go when it took the parts down; `nil` when it must wait.
    private func deliver(_ taken: Taken) -> Result<HTTPRequestPart?, any Error>? {
        switch taken {
        case .part(let part, let resumeReading):
            if resumeReading { resumeHeldRead() }
            return .success(part)
        case .ended: return .success(nil)
        case .failed(let error): return .failure(error)
        case .wait: return nil
        }
    }

    private func resumeHeldRead() {
        if loop.inEventLoop {
            context.value?.read()
        } else {
            loop.execute { [context] in context.value?.read() }
        }
    }

    // MARK: The handler's side, on the loop

    func attach(_ context: ChannelHandlerContext?) {
        self.context.value = context
    }

    /// Hands `part` to the waiting reader, or keeps it for the next read.
    func append(_ part: HTTPRequestPart) {
        let waiting: UnsafeContinuation<HTTPRequestPart?, any Error>? = state.withLock { state in
            if let waiting = state.waiting {
                state.waiting = nil
                return waiting
            }
            state.parts.append(part)
            return nil
        }
        waiting?.resume(returning: part)
    }

    /// Whether the connection may read more now; when not, the read is held until the reader has taken enough.
    func admitsRead() -> Bool {
        state.withLock { state in
            guard state.buffered >= Self.highWatermark else { return true }
            state.readHeld = true
            return false
        }
    }

    /// The caller closed (`error` is `nil`), or reading failed. The reader gets the parts that came first.
    func finish(_ error: (any Error)?) {
        finish(error.map(End.failed) ?? .closed)
    }

    private func finish(_ end: End) {
        // A reader waits only when nothing is kept and nothing has ended, so it gets `end` now, and after it the
        // connection reads as closed: a failure is thrown once.
        let waiting: UnsafeContinuation<HTTPRequestPart?, any Error>? = state.withLock { state in
            guard state.end == nil else { return nil }
            guard let waiting = state.waiting else {
                state.end = end
                return nil
            }
            state.waiting = nil
            state.end = .closed
            return waiting
        }
        switch (waiting, end) {
        case (nil, _): break
        case (let waiting?, .closed): waiting.resume(returning: nil)
        case (let waiting?, .failed(let error)): waiting.resume(throwing: error)
        }
    }
}
