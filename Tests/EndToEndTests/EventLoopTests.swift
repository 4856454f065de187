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
    /// Answers `GET /where` with whether its handler runs on the loop of the connection the request came on.
    private func whereHandlersRun(_ server: HTTPServerBuilder) async throws -> [String] {
        let router = Router(context: ConnectionContext.self)
        router.get("/where") { _, context in
            context.channel.eventLoop.inEventLoop ? "connection's loop" : "elsewhere"
        }
        return try await withRunningService({ ready in
            Application(
                router: router,
                server: server,
                configuration: .init(address: .hostname("127.0.0.1", port: 0)),
                onServerRunning: { await ready($0.localAddress?.port ?? 0) },
                logger: quietLogger("where")
            )
        }) { port in
            // Calls at once, so the client opens several connections (spread over the server's loops).
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
    }

    @Test("a connection's requests are handled on that connection's own event loop, which Hummingbird alone does not do")
    func handlersRunOnTheConnectionsLoop() async throws {
        #expect(try await whereHandlersRun(.foremanHTTP1(headerTimeout: .seconds(10), idleTimeout: .seconds(120))) == Array(repeating: "connection's loop", count: 8))
        #expect(try await whereHandlersRun(.http1()).allSatisfy { $0 == "elsewhere" })
    }
}
