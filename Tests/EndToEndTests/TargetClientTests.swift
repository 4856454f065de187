import FakeOllama
import ForemanEngine
import ForemanTarget
import ForemanTestSupport
import Foundation
import NIOCore
import NIOPosix
import Synchronization
import Testing

extension ServerTests {
    /// The two target clients on their own against the fake target: ``HTTP1Target`` for `http://` targets and
    /// ``LiveOllamaTarget`` (AsyncHTTPClient, which foreman uses for `https://` ones): kept connections, the target's
    /// own `Host`, and the two timeouts (ADR 0004, ADR 0010).
    @Suite("Target client")
    struct TargetClientTests {
        enum Client: String, CaseIterable, CustomTestStringConvertible {
            case http1, asyncHTTPClient
            var testDescription: String { rawValue }
        }

        /// Runs `body` with a client of `kind` for the target on `port`, and shuts the client down after.
        private func withTarget<T: Sendable>(
            _ kind: Client,
            _ port: Int,
            headTimeout: Duration = .seconds(10),
            readTimeout: Duration = .seconds(10),
            _ body: (any OllamaTarget) async throws -> T
        ) async throws -> T {
            switch kind {
            case .http1:
                let target = try HTTP1Target(
                    url: URL(string: "http://127.0.0.1:\(port)")!,
                    token: nil,
                    connectTimeout: .seconds(2),
                    headTimeout: headTimeout,
                    readTimeout: readTimeout
                )
                let result = try await body(target)
                await target.closeIdleConnections()
                return result
            case .asyncHTTPClient:
                let client = LiveOllamaTarget.makeHTTPClient(connectTimeout: .seconds(2), readTimeout: readTimeout)
                do {
                    let result = try await body(LiveOllamaTarget(client: client, baseURL: "http://127.0.0.1:\(port)", token: nil, headTimeout: headTimeout))
                    try await client.shutdown()
                    return result
                } catch {
                    try? await client.shutdown()
                    throw error
                }
            }
        }

        private func withFake<T: Sendable>(_ fake: FakeOllamaState, port: Int = 0, _ body: (Int) async throws -> T) async throws -> T {
            try await withRunningService({ buildFakeOllama(state: fake, port: port, logger: quietLogger("fake"), onServerRunning: $0) }, body)
        }

        private static let version = TargetRequest(method: .GET, path: "/api/version")

        private static func chat(tokens: Int, stream: Bool) -> TargetRequest {
            let body = #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":\#(stream),"options":{"num_predict":\#(tokens)}}"#
            return TargetRequest(method: .POST, path: "/api/chat", body: ByteBuffer(string: body))
        }

        @Test("requests carry the target's own Host, and a target that restarts between requests is reached again", arguments: Client.allCases)
        func keptConnections(_ kind: Client) async throws {
            // A free port, so that both fakes below listen on the same one and one client outlives the first.
            let port = try await withFake(FakeOllamaState()) { $0 }
            let fake = FakeOllamaState(tokenDelay: .zero)
            try await withTarget(kind, port) { client in
                try await withFake(fake, port: port) { _ in
                    for _ in 0..<3 {
                        let response = try await client.send(Self.version)
                        #expect(response.status == 200)
                        _ = try await response.body.collect(upTo: 1 << 16)
                    }
                }
                // The first fake is gone with the connection the client kept; a new one listens on the same port.
                try await withFake(FakeOllamaState(tokenDelay: .zero), port: port) { _ in
                    let response = try await client.send(Self.version)
                    #expect(response.status == 200)
                    let body = try await response.body.collect(upTo: 1 << 16)
                    #expect(String(buffer: body).contains("version"))
                }
            }
            let sent = await fake.requests(to: "/api/version")
            #expect(sent.count == 3)
            #expect(sent.allSatisfy { $0.host == "127.0.0.1:\(port)" })
        }

        @Test("HTTP1Target sends from the loop it is called on when that loop is one of its group's, else from its first")
        func requestsStayOnTheCallersLoop() async throws {
            let group = MultiThreadedEventLoopGroup(numberOfThreads: 2)
            let loops = Array(group.makeIterator())
            let stranger = MultiThreadedEventLoopGroup(numberOfThreads: 1)
            try await withFake(FakeOllamaState(tokenDelay: .zero)) { port in
                let target = try HTTP1Target(
                    url: URL(string: "http://127.0.0.1:\(port)")!, token: nil,
                    connectTimeout: .seconds(2), headTimeout: .seconds(10), readTimeout: .seconds(10), group: group
                )
                #expect(target.eventLoop(near: loops[1]) === loops[1])
                #expect(target.eventLoop(near: loops[0]) === loops[0])
                #expect(target.eventLoop(near: nil) === loops[0])
                #expect(target.eventLoop(near: stranger.next()) === loops[0])
                // Each loop opens and keeps connections of its own: two rounds from each, in turn.
                for loop in loops + loops {
                    let status = try await Task(executorPreference: EventLoopExecutor(loop)) {
                        #expect(loop.inEventLoop)
                        let response = try await target.send(Self.version)
                        _ = try await response.body.collect(upTo: 1 << 16)
                        return response.status
                    }.value
                    #expect(status == 200)
                }
                await target.closeIdleConnections()
            }
            try await stranger.shutdownGracefully()
            try await group.shutdownGracefully()
        }

        @Test("HTTP1Target reads a response as the box framed it; a response it does not read fails its call and ends its connection")
        func responsesAsFramed() async throws {
            let box = try await ScriptedBox.start(responses: [
                // Two framings at once: refused, and the connection closed.
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
                // Bytes after the response: the call has its answer, and the connection is not used again.
                "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nokHTTP/1.1 200 OK\r\n",
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nyes\r\n0\r\nTrailer: t\r\n\r\n",
                // No length and no chunks: the body is what comes before the box closes the connection.
                "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nup to the close",
            ])
            defer { try? box.channel.close().wait() }
            try await withTarget(.http1, box.port) { client in
                await #expect(throws: TargetError.self) {
                    _ = try await client.send(Self.version)
                }
                var bodies: [String] = []
                for _ in 0..<3 {
                    let response = try await client.send(Self.version)
                    bodies.append(String(buffer: try await response.body.collect(upTo: 1 << 16)))
                }
                #expect(bodies == ["ok", "yes", "up to the close"])
            }
            // The first connection closed on the refused response, the second on the bytes after its response; the
            // chunked one kept its connection for the last.
            #expect(box.accepted == 3)
        }

        @Test(
            "HTTP1Target reads a head that comes alone: the body that follows it in a later read comes whole, and a body that never follows ends in the read timeout",
            .timeLimit(.minutes(1))
        )
        func headThatComesAlone() async throws {
            let head = "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
            let box = try await ScriptedBox.start(responses: [head, head])
            defer { try? box.channel.close().wait() }
            try await withTarget(.http1, box.port, readTimeout: .milliseconds(400)) { client in
                let answered = Task { try await client.send(Self.version) }
                let connection = try await box.nextAnswered()
                connection.writeAndFlush(ByteBuffer(string: "5\r\nhello\r\n0\r\n\r\n"), promise: nil)
                let response = try await answered.value
                #expect(response.status == 200)
                #expect(String(buffer: try await response.body.collect(upTo: 1 << 16)) == "hello")

                let silent = try await client.send(Self.version)
                #expect(silent.status == 200)
                await #expect(throws: TargetError.self) { _ = try await silent.body.collect(upTo: 1 << 16) }
            }
        }

        @Test("no response head within the head timeout is an unreachable target", arguments: Client.allCases)
        func headTimeout(_ kind: Client) async throws {
            let fake = FakeOllamaState(tokenDelay: .zero)
            await fake.pause()  // a non-streamed answer is held before its second token, so no head comes
            try await withFake(fake) { port in
                try await withTarget(kind, port, headTimeout: .milliseconds(300)) { client in
                    do {
                        _ = try await client.send(Self.chat(tokens: 2, stream: false))
                        Issue.record("a response head arrived from a paused target")
                    } catch let error as TargetError {
                        guard case .unreachable(let reason) = error else {
                            Issue.record("expected unreachable, got \(error)")
                            return
                        }
                        if kind == .http1 { #expect(reason.contains("no response head")) }
                    }
                }
                await fake.resume()
            }
        }

        @Test("a body its reader leaves before the end, dropped unread or its reading task cancelled while it waits, stops the box's generation")
        func readerLeaves() async throws {
            // The fake notices a closed connection at its next write.
            let fake = FakeOllamaState(models: FakeModel.defaults.map { var model = $0; model.loadTime = .zero; return model }, tokenDelay: .milliseconds(20))
            try await withFake(fake) { port in
                try await withTarget(.http1, port) { client in
                    do {
                        let response = try await client.send(Self.chat(tokens: 500, stream: true))
                        var chunks = response.body.makeAsyncIterator()
                        #expect(try await chunks.next() != nil)
                    }
                    try await eventually("the dropped body's generation stopped") { await fake.abortedGenerations == 1 }

                    let response = try await client.send(Self.chat(tokens: 500, stream: true))
                    let (firstRead, told) = AsyncStream<Void>.makeStream()
                    let reading = Task {
                        var chunks = 0
                        for try await _ in response.body {
                            chunks += 1
                            told.yield()
                        }
                        return chunks
                    }
                    for await _ in firstRead { break }
                    reading.cancel()
                    // The cancelled reader reads the end, as it would from an `AsyncThrowingStream`.
                    #expect(try await reading.value < 500)
                    try await eventually("the cancelled reader's generation stopped") { await fake.abortedGenerations == 2 }
                }
            }
        }

        @Test("a stream longer than the read timeout, whose pauses are all shorter, is relayed whole", arguments: Client.allCases)
        func slowStreamWithinReadTimeout(_ kind: Client) async throws {
            let fake = FakeOllamaState(models: FakeModel.defaults.map { var model = $0; model.loadTime = .zero; return model }, tokenDelay: .milliseconds(60))
            try await withFake(fake) { port in
                try await withTarget(kind, port, readTimeout: .milliseconds(400)) { client in
                    let response = try await client.send(Self.chat(tokens: 15, stream: true))
                    #expect(response.status == 200)
                    var body = ByteBuffer()
                    for try await var chunk in response.body { body.writeBuffer(&chunk) }
                    let lines = String(buffer: body).split(separator: "\n")
                    #expect(lines.count == 16)
                    #expect(lines.last?.contains(#""done":true"#) == true)
                }
            }
        }

        @Test("a pause inside a streamed body longer than the read timeout interrupts it", .timeLimit(.minutes(1)), arguments: Client.allCases)
        func readTimeout(_ kind: Client) async throws {
            // The model loads at once: AsyncHTTPClient's read timeout also runs while it waits for the head (foreman
            // gives both timeouts one value, `FOREMAN_UPSTREAM_TIMEOUT`).
            let fake = FakeOllamaState(models: FakeModel.defaults.map { var model = $0; model.loadTime = .zero; return model }, tokenDelay: .zero)
            await fake.pause()  // the first line streams, then the answer is held
            try await withFake(fake) { port in
                // The head's timeout is past the test's time limit: the pause is ended by the read's, not by the head's.
                try await withTarget(kind, port, headTimeout: .seconds(3600), readTimeout: .milliseconds(300)) { client in
                    let response = try await client.send(Self.chat(tokens: 3, stream: true))
                    #expect(response.status == 200)
                    var lines = 0
                    do {
                        for try await chunk in response.body { lines += chunk.readableBytesView.filter { $0 == UInt8(ascii: "\n") }.count }
                        Issue.record("the body ended although the target was paused")
                    } catch {
                        // HTTP1Target names the pause; AsyncHTTPClient's own read timeout error reaches the worker as an
                        // interruption either way (`JobAttempt`).
                        if kind == .http1 { #expect((error as? TargetError)?.description.contains("no data for") == true) }
                    }
                    #expect(lines == 1)
                }
                await fake.resume()
            }
        }
    }
}

/// A box that answers each request it reads, on whatever connection, with the next of its scripted responses, as
/// bytes; it closes a connection after a response with no length and no chunks. A test can write more on the
/// connection of each response once it is written (``nextAnswered()``).
final class ScriptedBox: Sendable {
    var channel: any Channel { started.withLock { $0! } }
    private let started = Mutex<(any Channel)?>(nil)
    private let script: Mutex<ArraySlice<String>>
    private let connections = Mutex(0)
    private let answered: AsyncStream<any Channel>
    private let told: AsyncStream<any Channel>.Continuation

    var port: Int { channel.localAddress!.port! }
    /// How many connections it accepted.
    var accepted: Int { connections.withLock { $0 } }

    private init(responses: [String]) {
        script = Mutex(responses[...])
        (answered, told) = AsyncStream.makeStream()
    }

    static func start(responses: [String]) async throws -> ScriptedBox {
        let box = ScriptedBox(responses: responses)
        let channel = try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .childChannelInitializer { channel in
                box.connections.withLock { $0 += 1 }
                return channel.eventLoop.makeCompletedFuture { try channel.pipeline.syncOperations.addHandler(Connection(box: box)) }
            }
            .bind(host: "127.0.0.1", port: 0).get()
        box.started.withLock { $0 = channel }
        return box
    }

    fileprivate func next() -> String? {
        script.withLock { $0.popFirst() }
    }

    /// The connection of the next response, once the response is written.
    func nextAnswered() async throws -> any Channel {
        var iterator = answered.makeAsyncIterator()
        guard let connection = await iterator.next() else { throw CancellationError() }
        return connection
    }

    /// One connection: a request is a head (the client's requests here have no body).
    private final class Connection: ChannelInboundHandler {
        typealias InboundIn = ByteBuffer
        typealias OutboundOut = ByteBuffer
        let box: ScriptedBox
        var received = ""

        init(box: ScriptedBox) { self.box = box }

        func channelRead(context: ChannelHandlerContext, data: NIOAny) {
            received += String(buffer: unwrapInboundIn(data))
            while let end = received.range(of: "\r\n\r\n") {
                received.removeSubrange(..<end.upperBound)
                guard let response = box.next() else { return context.close(promise: nil) }
                let closes = !response.contains("Content-Length") && !response.contains("chunked")
                let connection = context.channel
                context.writeAndFlush(wrapOutboundOut(ByteBuffer(string: response))).whenSuccess { [box] in
                    box.told.yield(connection)
                }
                if closes { context.close(promise: nil) }
            }
        }
    }
}
