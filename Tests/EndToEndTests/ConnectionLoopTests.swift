@testable import ForemanApp
import ForemanEngine
@testable import ForemanHTTP
import ForemanTestSupport
import Foundation
import Hummingbird
import NIOCore
import Testing

/// foreman's own HTTP/1 loop (`ForemanHTTP1Channel`, ADR 0024), seen from a raw connection.
@Suite("Connection loop")
struct ConnectionLoopTests {
    @Test("a body its route does not read is not read ahead: the connection stops reading while its parts wait")
    func unreadBodyHoldsReads() async throws {
        let (entered, enteredSource) = AsyncStream<Void>.makeStream()
        let (release, releaseSource) = AsyncStream<Void>.makeStream()
        let router = Router(context: ConnectionContext.self)
        router.post("/unread") { _, _ in
            enteredSource.yield()
            for await _ in release { break }
            return Response(status: .ok)
        }
        try await serving(router) { port in
            // A send that waits a second finds foreman not reading: the socket's buffers are full.
            let connection = try RawConnection(port: port, readLimit: 1)
            let size = 96 << 20
            connection.send("POST /unread HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: \(size)\r\n\r\n")
            for await _ in entered { break }
            let taken = connection.sendZeros(size)
            releaseSource.yield()
            // The kernel's buffers on both ends take some megabytes; read ahead, the whole body would go.
            #expect(taken < 40 << 20, "foreman took \(taken >> 20) MB of a body nobody read")
        }
    }

    @Test("a stream's head goes out with its first part, in one write, not before it")
    func headGoesWithTheFirstPart() async throws {
        let (entered, enteredSource) = AsyncStream<Void>.makeStream()
        let (release, releaseSource) = AsyncStream<Void>.makeStream()
        let router = Router(context: ConnectionContext.self)
        router.get("/gated") { _, _ in
            Response(status: .ok, headers: [.contentType: "application/x-ndjson"], body: ResponseBody { writer in
                enteredSource.yield()
                for await _ in release { break }
                try await writer.write(ByteBuffer(string: "{\"first\":true}\n"))
                try await writer.write(ByteBuffer(string: "{\"done\":true}\n"))
                try await writer.finish(nil)
            })
        }
        try await serving(router) { port in
            let connection = try RawConnection(port: port)
            connection.send("GET /gated HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
            // The body has begun: a head written apart from the body would be here already. On loopback a write is
            // in the reader's queue once the writing call has returned.
            for await _ in entered { break }
            let early = connection.readArrived()
            #expect(early == nil, "the head was sent before any of the body: \(early ?? "")")
            releaseSource.yield()
            let first = connection.readOnce() ?? ""
            #expect(first.hasPrefix("HTTP/1.1 200 OK\r\n"))
            #expect(first.contains("\r\n\r\n") && first.contains("{\"first\":true}\n"), "one read has the head and the first part: \(first)")
        }
    }

    @Test("pipelined requests are answered in order, past a body the route never read; Connection: close closes after the answer")
    func pipeliningAndClose() async throws {
        let router = Router(context: ConnectionContext.self)
        router.get("/name/:name") { _, context in context.parameters.get("name") ?? "" }
        router.post("/ignore") { _, _ in "ignored" }
        try await serving(router) { port in
            let connection = try RawConnection(port: port)
            let body = String(repeating: "x", count: 3_000)
            connection.send(
                "GET /name/one HTTP/1.1\r\nHost: a\r\n\r\n"
                    + "POST /ignore HTTP/1.1\r\nHost: a\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
                    + "GET /name/two HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"
            )
            let answers = try #require(connection.readUntilClosed(), "the connection stayed open after Connection: close")
            let bodies = answers.components(separatedBy: "\r\n\r\n").dropFirst().map { $0.prefix { $0 != "H" } }
            #expect(answers.components(separatedBy: "HTTP/1.1 200 OK").count == 4, "\(answers)")
            #expect(bodies == ["one", "ignored", "two"], "\(answers)")
        }
    }

    @Test(
        "a parked wait on a job's events ends when the server, past its grace, cancels the connection's task",
        .timeLimit(.minutes(1))
    )
    func cancelledWhileParked() async throws {
        // `JobEventStream` does not wake a read on its task's cancellation: the connection's cancellation closes its
        // input, and its hang-up watch interrupts the stream (ADR 0024). Without that the server never stops.
        let broker = JobBroker()
        let (parked, parkedSource) = AsyncStream<Void>.makeStream()
        let (ended, endedSource) = AsyncStream<CancelReason>.makeStream()
        let router = Router(context: ConnectionContext.self)
        router.post("/wait") { _, context in
            let watch = broker.subscribe("job")
            context.interruptOnHangUp(watch, orAfter: .seconds(3600))
            context.parking?.park {
                defer { endedSource.finish() }
                for await event in watch.events {
                    if case .interrupted(let reason) = event { endedSource.yield(reason) }
                    return nil
                }
                return nil
            }
            parkedSource.yield()
            return Response(status: .accepted)
        }
        // The caller stays connected until the server has stopped: only the server's cancellation can end the wait.
        let socket = try await serving(router, grace: .seconds(1)) { port in
            let socket = try LoopbackSocket.connect(port: port, nonBlocking: false)
            let request = "POST /wait HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n"
            _ = request.withCString { write(socket, $0, strlen($0)) }
            for await _ in parked { break }
            return socket
        }
        close(socket)
        // The server has stopped: the waiting connection's task ended.
        var reasons = ended.makeAsyncIterator()
        let reason = await reasons.next()
        #expect(reason == .callerGone)
    }
}
