@testable import ForemanApp
import ForemanHTTP
import ForemanTestSupport
import Hummingbird

/// Runs foreman's own server (`ForemanServer`) with `router` on a free loopback port for `body`, which is given the
/// port: for tests of the connection handling itself, with routes of their own. After `grace` of graceful shutdown
/// the server's task is cancelled.
func serving<T: Sendable>(
    _ router: Router<ConnectionContext>, grace: Duration = .seconds(10), _ body: (Int) async throws -> T
) async throws -> T {
    try await withRunningService(grace: grace, { ready in
        ForemanServer(
            responder: router.buildResponder(),
            headerTimeout: .seconds(10),
            idleTimeout: .seconds(120),
            configuration: .init(address: .hostname("127.0.0.1", port: 0)),
            onServerRunning: { await ready($0.localAddress?.port ?? 0) },
            logger: quietLogger("serving")
        )
    }, body)
}
