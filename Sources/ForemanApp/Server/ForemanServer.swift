import ForemanHTTP
import Hummingbird
import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOPosix
import ServiceLifecycle

/// foreman's HTTP server: foreman's HTTP/1 connections (``ForemanHTTP1Channel``) answered with the surfaces' router.
///
/// It stands where Hummingbird's `Application` would, and adds its `Date` and `Server` headers as that does. Each
/// request is routed with a context of its own, in a child task the connection's loop runs, so that what routing
/// took goes back when it returns (ADR 0024).
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
            responder: { [responder, logger] request, channel, parking in
                try await route(request, channel: channel, parking: parking, responder: responder, logger: logger)
            },
            stamp: { stamped($0, dates: dates, serverName: serverName) },
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

/// `response` with the server's `Date` and `Server` headers. Not async, so its locals take no room in a task's frames.
@inline(never)
private func stamped(_ response: Response, dates: HTTPDate, serverName: String?) -> Response {
    var response = response
    response.headers[.date] = dates.now
    if let serverName { response.headers[.server] = serverName }
    return response
}

/// The router's response to `request`, with a context that can park it in `parking`. An error the surfaces did not
/// answer is answered 500; a malformed request is left to the connection, which answers it 400 and closes.
private func route(
    _ request: Request, channel: any Channel, parking: ResponseParking, responder: RouterResponder<ConnectionContext>, logger: Logger
) async throws -> Response {
    var context = ConnectionContext(source: .init(channel: channel, logger: logger))
    context.parking = parking
    do {
        return try await responder.respond(to: request, context: context)
    } catch let error as HTTPParserError {
        throw error
    } catch {
        return unanswered(error, logger: logger)
    }
}

/// The server's last resort for an error nothing answered: the surfaces' error middleware answers every error.
@inline(never)
private func unanswered(_ error: any Error, logger: Logger) -> Response {
    logger.debug("unanswered error", metadata: ["error": "\(error)"])
    return Response(status: .internalServerError)
}
