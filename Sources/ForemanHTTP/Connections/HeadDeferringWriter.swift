import HTTPTypes
import HummingbirdCore
import NIOCore
import NIOHTTPTypes

/// Writes a response whose length is not known beforehand, a stream: its head goes out with the first part of its
/// body, in one write and one flush, or with its end when it has no body.
///
/// A generation's first line is ready when its response is made, so the head and that line reach the caller
/// together: one `writev` and one wake-up of the caller where there were two (ADR 0024).
///
/// The head with its first parts, and the parts after them, go straight into the connection's pipeline while it
/// takes them (``DirectBodyWriter``, ADR 0027 and 0037).
struct HeadDeferringWriter: ResponseBodyWriter {
    private var head: HTTPResponse?
    private let outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>
    private let direct: DirectBodyWriter
    /// Called once the head is written.
    private let afterHead: (@Sendable () -> Void)?

    init(head: HTTPResponse, outbound: NIOAsyncChannelOutboundWriter<HTTPResponsePart>, channel: any Channel, afterHead: (@Sendable () -> Void)? = nil) {
        self.head = head
        self.outbound = outbound
        self.direct = DirectBodyWriter(channel: channel)
        self.afterHead = afterHead
    }

    mutating func write(_ buffer: ByteBuffer) async throws {
        guard let head else { return try await writeBody(buffer) }
        self.head = nil
        if try !direct.writeNow(head, with: CollectionOfOne(buffer)) {
            try await outbound.write(contentsOf: [.head(head), .body(buffer)])
        }
        afterHead?()
    }

    mutating func write(contentsOf buffers: some Sequence<ByteBuffer>) async throws {
        guard let head else { return try await outbound.write(contentsOf: buffers.map { .body($0) }) }
        self.head = nil
        if try !direct.writeNow(head, with: buffers) {
            try await outbound.write(contentsOf: [.head(head)] + buffers.map { .body($0) })
        }
        afterHead?()
    }

    /// The writer of the parts after the head, once the head is out; `nil` before.
    var afterHeadWriter: DirectBodyWriter? { head == nil ? direct : nil }

    /// Writes a part of the body after the head. Every earlier write through the async writer has returned, so it has
    /// handed its parts on: a part written straight after them keeps its place.
    private func writeBody(_ buffer: ByteBuffer) async throws {
        if try direct.writeNow(buffer) { return }
        try await outbound.write(.body(buffer))
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {
        guard let head else { return try await outbound.write(.end(trailingHeaders)) }
        try await outbound.write(contentsOf: [.head(head), .end(trailingHeaders)])
        afterHead?()
    }
}
