import ForemanHTTP
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// foreman's HTTP server: foreman's HTTP/1 connections (``ForemanHTTP1Channel``) answered with the surfaces' router,
/// each request routed in a child task, and a parked response (``ResponseParking``) finished afterwards on the
/// connection's own task.
///
/// It stands where Hummingbird's `Application` would, and adds its `Date` and `Server` headers as that does. The child
/// task is what makes parking pay: a task keeps every slab its async frames ever took until it ends, so routing on
/// the connection's task would leave a waiting call, and an idle kept-alive connection, holding the deepest route's
/// frames (ADR 0024). The child's memory goes back when routing returns; the connection keeps only its own few frames.
public struct ForemanServer: Service {
    let responder: RouterResponder<ConnectionContext>
    let headerTimeout: Duration
    let idleTimeout: Duration
    let configuration: ServerConfiguration
    let onServerRunning: @Sendable (any Channel) async -> Void
    let logger: Logger

    public init(
        responder: RouterResponder<ConnectionContext>,
        headerTimeout: Duration,
        idleTimeout: Duration,
        configuration: ServerConfiguration,
        onServerRunning: @escaping @Sendable (any Channel) async -> Void,
        logger: Logger
    ) {
        self.responder = responder
        self.headerTimeout = headerTimeout
        self.idleTimeout = idleTimeout
        self.configuration = configuration
        self.onServerRunning = onServerRunning
        self.logger = logger
    }

    public func run() async throws {
        let dates = HTTPDate()
        let serverName = configuration.serverName
        let connections = LoopBoundChannel.foremanHTTP1(
            responder: { [responder, logger] request, channel in
                guard let response = try await answer(request, channel: channel, responder: responder, logger: logger) else { return nil }
                return stamped(response, dates: dates, serverName: serverName)
            },
            headerTimeout: headerTimeout,
            idleTimeout: idleTimeout
        )
        let server = Server(
            childChannelSetup: connections,
            configuration: configuration,
            onServerRunning: onServerRunning,
            eventLoopGroup: MultiThreadedEventLoopGroup.singleton,
            logger: logger
        )
        try await server.run()
    }
}

/// The answer to `request`: the router's response, or the parked one once it is finished (`nil` when nobody is left
/// to read it). Its own function, so that the frame which waits for a parked response holds little besides that
/// wait (ADR 0024).
@inline(never)
private func answer(
    _ request: Request, channel: any Channel, responder: RouterResponder<ConnectionContext>, logger: Logger
) async throws -> Response? {
    let (response, parked) = try await route(request, channel: channel, responder: responder, logger: logger)
    guard let parked else { return response }
    // `nil`: nobody is left to answer, and the connection closes.
    return await parked()
}

/// `response` with the server's `Date` and `Server` headers. Not async, so its locals take no room in a task's frames.
@inline(never)
private func stamped(_ response: Response, dates: HTTPDate, serverName: String?) -> Response {
    var response = response
    response.headers[.date] = dates.now
    if let serverName { response.headers[.server] = serverName }
    return response
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
    let routing = routingWork(request, channel: channel, responder: responder, logger: logger, parking: parking)
    do {
        let routed = try await withThrowingTaskGroup(of: Response.self) { group in
            group.addTask(operation: routing)
            // One child was added: `next()` gives its answer or throws its error, and is never empty.
            guard let routed = try await group.next() else { throw CancellationError() }
            return routed
        }
        return (routed, parking.take())
    } catch let error as HTTPParserError {
        throw error  // the connection answers it with 400 and closes
    } catch {
        return (unanswered(error, logger: logger), nil)
    }
}

/// The child task's work: `request` routed with its context. Not async, and not inlined, so that the request and
/// its context are held by the child's closure alone, not by the routing frame too.
@inline(never)
private func routingWork(
    _ request: Request, channel: any Channel, responder: RouterResponder<ConnectionContext>, logger: Logger, parking: ResponseParking
) -> @Sendable () async throws -> Response {
    var context = ConnectionContext(source: .init(channel: channel, logger: logger))
    context.parking = parking
    return { [context] in try await responder.respond(to: request, context: context) }
}

/// The server's last resort for an error nothing answered: the surfaces' error middleware answers every error.
@inline(never)
private func unanswered(_ error: any Error, logger: Logger) -> Response {
    logger.debug("unanswered error", metadata: ["error": "\(error)"])
    return Response(status: .internalServerError)
}
