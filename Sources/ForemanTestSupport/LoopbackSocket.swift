import Foundation
#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Raw TCP sockets on loopback: many connections at once for the benchmarks, and a port held while a fake box is down.
package enum LoopbackSocket {
    /// A socket connecting to `port`: connected on return, or, `nonBlocking`, with its connect under way.
    package static func connect(port: Int, nonBlocking: Bool) throws -> Int32 {
        let descriptor = try open(nonBlocking: nonBlocking)
        let result = withAddress(port) { address, length in
            #if canImport(Glibc)
            Glibc.connect(descriptor, address, length)
            #else
            Darwin.connect(descriptor, address, length)
            #endif
        }
        guard result == 0 || (nonBlocking && errno == EINPROGRESS) else {
            let reason = String(cString: strerror(errno))
            close(descriptor)
            throw TestFailure("connect: \(reason)")
        }
        return descriptor
    }

    /// A socket bound to `port` and not listening: connections to it are refused, and the port is handed to nobody
    /// else until it is closed. Nil when the port cannot be bound.
    package static func reserve(port: Int) -> Int32? {
        guard let descriptor = try? open(nonBlocking: false) else { return nil }
        var on: Int32 = 1
        setsockopt(descriptor, SOL_SOCKET, SO_REUSEADDR, &on, socklen_t(MemoryLayout<Int32>.size))
        guard withAddress(port, { bind(descriptor, $0, $1) }) == 0 else {
            close(descriptor)
            return nil
        }
        return descriptor
    }

    private static func open(nonBlocking: Bool) throws -> Int32 {
        #if canImport(Glibc)
        let descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        #else
        let descriptor = socket(AF_INET, SOCK_STREAM, 0)
        #endif
        guard descriptor >= 0 else { throw TestFailure("socket: \(String(cString: strerror(errno)))") }
        if nonBlocking { _ = fcntl(descriptor, F_SETFL, fcntl(descriptor, F_GETFL) | O_NONBLOCK) }
        return descriptor
    }

    /// Calls `body` with 127.0.0.1:`port` as a `sockaddr` and its length.
    private static func withAddress(_ port: Int, _ body: (UnsafePointer<sockaddr>, socklen_t) -> Int32) -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { body($0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
        }
    }
}
