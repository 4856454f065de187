@testable import ForemanHTTP
import HTTPTypes
import NIOCore
import NIOEmbedded
import NIOHTTPTypes
import Testing

/// A connection's request parts as its loop takes them: a body that came whole with its head is taken with it, and
/// nothing else is (ADR 0036).
@Suite("Request parts", .timeLimit(.minutes(1)))
struct RequestPartsTests {
    @Test("pipelined requests: each body is taken whole up to its own end, in several parts or none")
    func pipelined() async throws {
        let (channel, parts) = try await Self.connection()
        try await Self.arrive(
            [Self.head("/a"), .body(ByteBuffer(string: "ab")), .body(ByteBuffer(string: "cd")), .end(nil)]
                + [Self.head("/b"), .body(ByteBuffer(string: "x")), .end(nil)] + [Self.head("/c"), .end(nil)],
            on: channel
        )
        for (path, body) in [("/a", "abcd"), ("/b", "x"), ("/c", "")] {
            #expect(try await Self.nextPath(parts) == path)
            #expect(parts.wholeBody().map { String(buffer: $0) } == body)
        }
        #expect(parts.wholeBody() == nil)
    }

    @Test("a body whose end has not come is left to be read as a stream, with nothing taken")
    func endNotYetCome() async throws {
        let (channel, parts) = try await Self.connection()
        try await Self.arrive([Self.head("/a"), .body(ByteBuffer(string: "ab"))], on: channel)
        #expect(try await Self.nextPath(parts) == "/a")
        #expect(parts.wholeBody() == nil)
        try await Self.arrive([.body(ByteBuffer(string: "cd"))], on: channel)
        #expect(parts.wholeBody() == nil)
        for expected in ["ab", "cd"] {
            guard case .body(let buffer) = try await parts.next() else {
                Issue.record("the body's parts were taken")
                return
            }
            #expect(String(buffer: buffer) == expected)
        }
    }

    @Test("a read held while parts wait is let go once the whole body is taken")
    func heldReadLetGo() async throws {
        let (channel, parts) = try await Self.connection()
        let bodyParts = (0..<RequestParts.highWatermark).map { HTTPRequestPart.body(ByteBuffer(string: "\($0)")) }
        try await Self.arrive([Self.head("/a")] + bodyParts + [.end(nil)], on: channel)
        let before = try await Self.reads(on: channel)
        channel.read()
        #expect(try await Self.reads(on: channel) == before, "the read went on with \(bodyParts.count + 2) parts waiting")
        #expect(try await Self.nextPath(parts) == "/a")
        #expect(parts.wholeBody().map { String(buffer: $0) } == "0123456789")
        await channel.testingEventLoop.run()
        #expect(try await Self.reads(on: channel) == before + 1, "the held read was not let go")
    }

    // MARK: Helpers

    /// Counts the reads that pass it towards the socket.
    final class ReadCounter: ChannelOutboundHandler {
        typealias OutboundIn = Never
        var reads = 0

        func read(context: ChannelHandlerContext) {
            reads += 1
            context.read()
        }
    }

    /// A connection's pipeline end: the read counter, then the handler that keeps the parts.
    static func connection() async throws -> (NIOAsyncTestingChannel, RequestParts) {
        let channel = try await NIOAsyncTestingChannel { channel in
            try channel.pipeline.syncOperations.addHandler(ReadCounter())
            try channel.pipeline.syncOperations.addHandler(RequestPartsHandler(loop: channel.eventLoop))
        }
        let parts = try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.handler(type: RequestPartsHandler.self).parts
        }
        return (channel, parts)
    }

    static func arrive(_ arriving: [HTTPRequestPart], on channel: NIOAsyncTestingChannel) async throws {
        try await channel.testingEventLoop.executeInContext {
            for part in arriving { channel.pipeline.fireChannelRead(part) }
            channel.pipeline.fireChannelReadComplete()
        }
    }

    static func reads(on channel: NIOAsyncTestingChannel) async throws -> Int {
        try await channel.testingEventLoop.executeInContext {
            try channel.pipeline.syncOperations.handler(type: ReadCounter.self).reads
        }
    }

    static func head(_ path: String) -> HTTPRequestPart {
        .head(HTTPRequest(method: .post, scheme: nil, authority: "a", path: path))
    }

    static func nextPath(_ parts: RequestParts) async throws -> String? {
        guard case .head(let head) = try await parts.next() else { return nil }
        return head.path
    }
}
