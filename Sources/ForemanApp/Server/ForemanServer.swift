import ForemanHTTP
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// foreman's HTTP server: Hummingbird's HTTP/1 server answering with the surfaces' router, each request routed in a
/// child task, and a parked response (``ResponseParking``) finished afterwards on the connection's own task.
///
/// It stands where Hummingbird's `Application` would, and adds its `Date` and `Server` headers as that does. The child
/// task is what makes parking pay: a task keeps every slab its async frames ever took until it ends, so routing on
/// the connection's task would leave a waiting call, and an idle kept-alive connection, holding the deepest route's
/// frames (ADR 0024). The child's memory goes back when routing returns; the connection keeps only its own few frames.
public struct ForemanServer: Service {
    let responder: RouterResponder<ConnectionContext>
    let server: HTTPServerBuilder
    let configuration: ServerConfiguration
    let onServerRunning: @Sendable (any Channel) async -> Void
    let logger: Logger

    public init(
        responder: RouterResponder<ConnectionContext>,
        server: HTTPServerBuilder,
        configuration: ServerConfiguration,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void,
        logger: Logger
    ) {
        self.responder = responder
        self.server = server
        self.configuration = configuration
        self.onServerRunning = onServerRunning
        self.logger = logger
    }

    public func run() async throws {
        let dates = HTTPDate()
        let serverName = configuration.serverName
        let service = try server.buildServer(
            configuration: configuration, eventLoopGroup: MultiThreadedEventLoopGroup.singleton, logger: logger
        ) { [responder, logger] (request, writer: consuming ResponseWriter, channel) in
            var (response, parked) = try await route(request, channel: channel, responder: responder, logger: logger)
            if let parked {
                // Nobody is left to answer: the connection closes.
                guard let finished = await parked() else { throw CancellationError() }
                response = finished
            }
            response.headers[.date] = dates.now
            if let serverName { response.headers[.server] = serverName }
            try await write(response, to: writer)
        } onServerRunning: { [onServerRunning] in
            await onServerRunning($0)
        }
        try await service.run()
    }
}

/// Routes `request` in a child task: the router's response, and the finish of a response the route parked.
///
/// The child, and every slab its frames took, is freed when the group returns, before a parked response is waited
/// for. A group, not an `async let`: that child is allocated in the parent's slabs and lives to the end of its scope.
@inline(never)
private func route(
    _ request: Request, channel: any Channel, responder: RouterResponder<ConnectionContext>, logger: Logger
) async throws -> (Response, ResponseParking.Finish?) {
    let parking = ResponseParking()
    let context = {
        var context = ConnectionContext(source: .init(channel: channel, logger: logger))
        context.parking = parking
        return context
    }()
    do {
        let routed = try await withThrowingTaskGroup(of: Response.self) { group in
            group.addTask { try await responder.respond(to: request, context: context) }
            // One child was added: `next()` gives its answer or throws its error, and is never empty.
            guard let routed = try await group.next() else { throw CancellationError() }
            return routed
        }
        return (routed, parking.take())
    } catch let error as HTTPParserError {
        throw error  // Hummingbird answers it with 400 and closes the connection
    } catch {
        // The surfaces' error middleware answers every error; this is the server's last resort.
        logger.debug("unanswered error", metadata: ["error": "\(error)"])
        return (Response(status: .internalServerError), nil)
    }
}

/// Writes `response`; in a function of its own, so that the writer's inlined locals are not part of the frame that
/// waits for a parked response.
@inline(never)
private func write(_ response: Response, to writer: consuming ResponseWriter) async throws {
    do {
        try await writer.write(response: response.head, body: response.body)
    } catch is HTTPParserError {
        // Thrown on, a parse error would have the connection answer a second time.
        throw ParseErrorWhileAnswering()
    }
}

/// Ends a connection whose request turned out malformed while its answer was being written.
private struct ParseErrorWhileAnswering: Error {}
