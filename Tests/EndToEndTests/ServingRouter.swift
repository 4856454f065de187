@testable import ForemanApp
import ForemanHTTP
import ForemanTestSupport
import Hummingbird

/// Runs foreman's own server (`ForemanServer`) with `router` on a free loopback port for `body`, which is given the
/// port: for tests of the connection handling itself, with routes of their own.
func serving<T: Sendable>(_ router: Router<ConnectionContext>, _ body: (Int) async throws -> T) async throws -> T {
    try await withRunningService({ ready in
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
