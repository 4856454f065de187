import Foundation
import NIOCore
import NIOPosix

/// A closed-loop HTTP/1.1 load generator: `connections` keep-alive connections, each sending one request, reading
/// its whole answer, then sending the next.
///
/// The throughput figure is foreman's, not the client's: a general-purpose client spends more CPU per request than
/// the server it measures, and on two cores it shares with foreman it would cap the figure (ADR 0010). This one
/// writes pre-encoded bytes and reads only the status line and `Content-Length`, as `wrk` does.
enum SubmissionLoad {
    /// Sends `count` copies of `request` (a complete HTTP/1.1 request, keep-alive) to `127.0.0.1:port`; every answer
    /// must have status `expectedStatus`.
    static func run(port: Int, request: String, count: Int, connections: Int, expectedStatus: Int) async throws {
        let bytes = ByteBuffer(string: request)
        var futures: [EventLoopFuture<Void>] = []
        for index in 0..<connections {
            let share = count / connections + (index < count % connections ? 1 : 0)
            guard share > 0 else { continue }
            let channel = try await ClientBootstrap(group: MultiThreadedEventLoopGroup.singleton)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .connect(host: "127.0.0.1", port: port)
                .get()
            let done = channel.eventLoop.makePromise(of: Void.self)
            try await channel.pipeline.addHandler(ClosedLoopHandler(request: bytes, count: share, expectedStatus: expectedStatus, done: done)).get()
            futures.append(done.futureResult.always { _ in channel.close(promise: nil) })
        }
        for future in futures { try await future.get() }
    }
}

/// One connection of ``SubmissionLoad``.
private final class ClosedLoopHandler: ChannelInboundHandler {
    typealias InboundIn = ByteBuffer

    private let request: ByteBuffer
    private var remaining: Int
    private let expectedStatus: Int
    private let done: EventLoopPromise<Void>
    private var received = ByteBuffer()
    private var finished = false

    init(request: ByteBuffer, count: Int, expectedStatus: Int, done: EventLoopPromise<Void>) {
        self.request = request
        self.remaining = count
        self.expectedStatus = expectedStatus
        self.done = done
    }

    func handlerAdded(context: ChannelHandlerContext) {
        context.writeAndFlush(NIOAny(request), promise: nil)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        var chunk = unwrapInboundIn(data)
        received.writeBuffer(&chunk)
        do {
            while let status = try takeResponse() {
                guard status == expectedStatus else { throw LoadError("answered HTTP \(status), expected \(expectedStatus)") }
                remaining -= 1
                if remaining == 0 {
                    finish(nil)
                    return
                }
                context.writeAndFlush(NIOAny(request), promise: nil)
            }
        } catch {
            finish(error)
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        finish(LoadError("connection closed with \(remaining) requests left"))
    }

    func errorCaught(context: ChannelHandlerContext, error: any Error) {
        finish(error)
        context.close(promise: nil)
    }

    private func finish(_ error: (any Error)?) {
        guard !finished else { return }
        finished = true
        if let error { done.fail(error) } else { done.succeed(()) }
    }

    /// Removes one complete response from `received` and returns its status, or `nil` if none is complete yet.
    private func takeResponse() throws -> Int? {
        let view = received.readableBytesView
        guard let headEnd = view.firstRange(of: [13, 10, 13, 10]) else { return nil }
        let head = String(decoding: view[view.startIndex..<headEnd.lowerBound], as: UTF8.self)
        let lines = head.split(separator: "\r\n")
        guard let statusLine = lines.first, let status = statusLine.split(separator: " ").dropFirst().first.flatMap({ Int($0) }) else {
            throw LoadError("malformed response head: \(head.prefix(80))")
        }
        let length = lines.dropFirst().lazy.compactMap { line -> Int? in
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2, parts[0].lowercased() == "content-length" else { return nil }
            return Int(parts[1].trimmingCharacters(in: .whitespaces))
        }.first
        guard let length else { throw LoadError("response without Content-Length") }
        let total = headEnd.upperBound - view.startIndex + length
        guard received.readableBytes >= total else { return nil }
        received.moveReaderIndex(forwardBy: total)
        received.discardReadBytes()
        return status
    }
}

/// Why the load generator stopped.
struct LoadError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
