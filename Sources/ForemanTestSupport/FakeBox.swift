import FakeOllama
import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
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
        if port != 0 { reservation = Self.reserve(port) }
    }

    deinit {
        if let reservation { close(reservation) }
    }

    /// A socket bound to 127.0.0.1:`port` and not listening: connections to it are refused, and the port is not
    /// handed to anyone else.
    private static func reserve(_ port: Int) -> Int32? {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { return nil }
        var on: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
        guard bound == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    package var url: String { "http://127.0.0.1:\(port)" }
}
