import Logging
import ServiceLifecycle

/// Runs a server in its own service group until `body` returns, handing `body` the port it bound.
///
/// `build` receives the callback the server must call once it listens (Hummingbird's `onServerRunning`).
/// Used by the tests and the benchmarks to run fake Ollama and foreman in one process. After `grace` of graceful
/// shutdown the service's task is cancelled.
package func withRunningService<T: Sendable>(
    grace: Duration = .seconds(10),
    _ build: (@escaping @Sendable (Int) async -> Void) async throws -> some Service,
    _ body: (Int) async throws -> T
) async throws -> T {
    let (ports, portSource) = AsyncStream<Int>.makeStream()
    let service = try await build { port in portSource.yield(port) }
    var configuration = ServiceGroupConfiguration(services: [service], logger: Logger(label: "service-runner"))
    configuration.maximumGracefulShutdownDuration = grace
    let group = ServiceGroup(configuration: configuration)
    return try await withThrowingTaskGroup(of: Void.self, returning: T.self) { tasks in
        tasks.addTask { try await group.run() }
        var iterator = ports.makeAsyncIterator()
        guard let port = await iterator.next() else { throw ServiceDidNotStart() }
        do {
            let result = try await body(port)
            await group.triggerGracefulShutdown()
            try await tasks.waitForAll()
            return result
        } catch {
            await group.triggerGracefulShutdown()
            try? await tasks.waitForAll()
            throw error
        }
    }
}

/// The service stopped before it bound a port.
package struct ServiceDidNotStart: Error, CustomStringConvertible {
    package var description: String { "server did not start" }
}
