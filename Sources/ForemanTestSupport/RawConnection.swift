import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A plain TCP connection to foreman, for requests no HTTP client library would send.
package final class RawConnection {
    fileprivate let descriptor: Int32

    /// Connects to `port` on loopback. Reads, and sends into a full socket, wait at most `readLimit` (a bound on a
    /// hang, not a timing claim). `receiveBuffer` sets the socket's receive buffer, and so the window the server may
    /// fill before the caller reads: a small one makes a caller that does not read a slow one.
    package init(port: Int, readLimit: Int = 10, receiveBuffer: Int32? = nil) throws {
        descriptor = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        if var size = receiveBuffer { setsockopt(descriptor, SOL_SOCKET, SO_RCVBUF, &size, socklen_t(MemoryLayout<Int32>.size)) }
        var limit = timeval(tv_sec: readLimit, tv_usec: 0)
        setsockopt(descriptor, SOL_SOCKET, SO_RCVTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(descriptor, SOL_SOCKET, SO_SNDTIMEO, &limit, socklen_t(MemoryLayout<timeval>.size))
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(descriptor, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) } }
        guard connected == 0 else { throw TestFailure("connect failed: \(errno)") }
    }

    deinit { close(descriptor) }

    package func send(_ text: String) {
        _ = text.withCString { Glibc.send(descriptor, $0, strlen($0), Int32(MSG_NOSIGNAL)) }
    }

    /// Sends `count` zero bytes, or as many as the server takes before a send waits past the read limit; how many it
    /// took.
    package func sendZeros(_ count: Int) -> Int {
        let chunk = [UInt8](repeating: 0, count: 65536)
        var sent = 0
        while sent < count {
            let result = chunk.withUnsafeBytes { Glibc.send(descriptor, $0.baseAddress, min(chunk.count, count - sent), Int32(MSG_NOSIGNAL)) }
            if result < 0, errno == EINTR { continue }
            if result <= 0 { break }
            sent += result
        }
        return sent
    }

    /// Stops sending (a half-close): the server sees the end of the request stream.
    package func finishSending() {
        shutdown(descriptor, Int32(SHUT_WR))
    }

    /// Everything the server sends until it closes the connection, or `nil` if it kept it open past the read limit.
    package func readUntilClosed() -> String? {
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count == 0 { return String(decoding: received, as: UTF8.self) }
            if count < 0 { return errno == EINTR ? readUntilClosed() : nil }
            received.append(contentsOf: buffer[..<count])
        }
    }
}

extension RawConnection {
    /// What one read gives: the bytes that had arrived when it returned, waiting for the first of them (at most the
    /// read limit); `nil` if none came or the connection closed.
    package func readOnce() -> String? {
        read(flags: 0)
    }

    /// The bytes that have arrived, without waiting for any: `nil` when none have.
    package func readArrived() -> String? {
        read(flags: Int32(MSG_DONTWAIT))
    }

    private func read(flags: Int32) -> String? {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let count = recv(descriptor, &buffer, buffer.count, flags)
        return count > 0 ? String(decoding: buffer[..<count], as: UTF8.self) : nil
    }

    /// Sends one request and reads its answer (head and a `Content-Length` body), leaving the connection open.
    package func exchange(_ request: String) -> String? {
        send(request)
        var received = [UInt8]()
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let text = String(decoding: received, as: UTF8.self)
            if let end = text.range(of: "\r\n\r\n") {
                let head = text[..<end.lowerBound].lowercased()
                let length = head.split(separator: "\r\n").first { $0.hasPrefix("content-length:") }
                    .flatMap { Int($0.dropFirst("content-length:".count).trimmingCharacters(in: .whitespaces)) } ?? 0
                if text.utf8.count - text[..<end.upperBound].utf8.count >= length { return text }
            }
            let count = recv(descriptor, &buffer, buffer.count, 0)
            if count <= 0 { return nil }
            received.append(contentsOf: buffer[..<count])
        }
    }
}
