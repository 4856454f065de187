import AsyncHTTPClient
import ForemanEngine
@testable import ForemanApp
@testable import ForemanHTTP
import ForemanTestSupport
import Foundation
import Hummingbird
import HummingbirdCore
import NIOCore
import Testing

/// foreman serves each connection from its own event loop (`LoopBoundChannel`, ADR 0012).
@Suite("Event loops")
struct EventLoopTests {
    /// A router that answers `GET /where` with whether its handler runs on the loop of the connection the request
    /// came on.
    private var whereRouter: Router<ConnectionContext> {
        let router = Router(context: ConnectionContext.self)
        router.get("/where") { _, context in
            context.channel.eventLoop.inEventLoop ? "connection's loop" : "elsewhere"
        }
        return router
    }

    /// Where eight calls made at once to `GET /where` on foreman's own server were handled.
    private func whereForemanHandles() async throws -> [String] {
        try await serving(whereRouter, eightCalls)
    }

    /// The same on Hummingbird's `Application` with its own HTTP/1 server.
    private func whereHummingbirdHandles() async throws -> [String] {
        try await withRunningService({ ready in
            Application(
                router: whereRouter,
                server: .http1(),
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { await ready($0.localAddress?.port ?? 0) },
                logger: quietLogger("where")
            )
        }, eightCalls)
    }

    /// Eight calls to `GET /where` at once, so the client opens several connections (spread over the server's loops).
    private func eightCalls(port: Int) async throws -> [String] {
        try await withThrowingTaskGroup(of: String.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    let response = try await HTTPClient.shared.execute(HTTPClientRequest(url: "http://127.0.0.1:\(port)/where"), timeout: .seconds(10))
                    return String(buffer: try await response.body.collect(upTo: 1 << 10))
                }
            }
            return try await group.reduce(into: []) { $0.append($1) }
        }
    }

    @Test("a connection's requests are handled on that connection's own event loop, which Hummingbird alone does not do")
    func handlersRunOnTheConnectionsLoop() async throws {
        let foremans = try await whereForemanHandles()
        #expect(foremans == Array(repeating: "connection's loop", count: 8))
        let hummingbirds = try await whereHummingbirdHandles()
        #expect(hummingbirds.allSatisfy { $0 == "elsewhere" })
    }
}
