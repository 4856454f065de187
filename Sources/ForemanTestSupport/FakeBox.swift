import FakeOllama
import Foundation
import Logging
import ServiceLifecycle

/// A fake box a test can take down and bring back on the same port: a provider going away and returning.
package actor FakeBox {
    package let state: FakeOllamaState
    /// The port it listens on; the first start picks a free one, later starts take it again.
    package private(set) var port = 0
    private var group: ServiceGroup?
    private var running: Task<Void, any Error>?
    /// While it is down, a socket bound (not listening) to its port: tests run side by side, and another test's
    /// server must not be given the port meanwhile, or foreman would poll that server as this box.
    private var reservation: Int32?

    package init(state: FakeOllamaState) {
        self.state = state
    }

    /// Starts the server and returns once it listens.
    package func start() async throws {
        if let reservation {
            close(reservation)
            self.reservation = nil
        }
        let (ports, portSource) = AsyncStream<Int>.makeStream()
        let server = buildFakeOllama(state: state, port: port, logger: quietLogger("fake"), onServerRunning: { portSource.yield($0) })
        var configuration = ServiceGroupConfiguration(services: [server], logger: quietLogger("fake-box"))
        configuration.maximumGracefulShutdownDuration = .seconds(10)
        let group = ServiceGroup(configuration: configuration)
        self.group = group
        running = Task { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let bound = await iterator.next() else { throw ServiceDidNotStart() }
        port = bound
    }

    /// Stops the server: connections are refused until ``start()`` again.
    package func stop() async {
        await state.resume()
        await group?.triggerGracefulShutdown()
        _ = try? await running?.value
        group = nil
        running = nil
        if port != 0 { reservation = LoopbackSocket.reserve(port: port) }
    }

    deinit {
        if let reservation { close(reservation) }
    }

    package var url: String { "http://127.0.0.1:\(port)" }
}
