import AsyncHTTPClient
import FakeOllama
import ForemanDomain
import ForemanEngine
import ForemanStore
import ForemanApp
import Foundation
import Logging
import NIOCore
import NIOHTTP1

/// A running fake Ollama and a running foreman in front of it, with a client pointed at foreman.
package struct Harness: Sendable {
    package let fake: FakeOllamaState
    package let fakePort: Int
    package let port: Int
    package let token: String?
    package let databasePath: String

    package init(fake: FakeOllamaState, fakePort: Int, port: Int, token: String?, databasePath: String) {
        self.fake = fake
        self.fakePort = fakePort
        self.port = port
        self.token = token
        self.databasePath = databasePath
    }

    package var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts both servers, runs `body`, and stops them.
    package static func run<T: Sendable>(
        token: String? = "secret",
        fake: FakeOllamaState = FakeOllamaState(tokenDelay: .milliseconds(2)),
        databasePath: String? = nil,
        logger: Logger = quietLogger("foreman"),
        configure: @Sendable (inout ForemanConfig) -> Void = { _ in },
        walFlush: @escaping @Sendable (Int32) -> Int32 = SQLiteJobStore.flushToDisk,
        _ body: (Harness) async throws -> T
    ) async throws -> T {
        let path = databasePath ?? temporaryDatabasePath()
        return try await withRunningService({ onRunning in
            buildFakeOllama(state: fake, port: 0, logger: quietLogger("fake"), onServerRunning: onRunning)
        }) { fakePort in
            do {
                return try await runForeman(
                    fake: fake, fakePort: fakePort, token: token, databasePath: path, logger: logger, configure: configure, walFlush: walFlush, body
                )
            } catch {
                await fake.resume()  // a failed test must not leave a held stream blocking shutdown
                throw error
            }
        }
    }

    /// Starts foreman alone, pointed at `fakePort` (which may have nothing listening yet).
    package static func runForeman<T: Sendable>(
        fake: FakeOllamaState,
        fakePort: Int,
        token: String? = "secret",
        databasePath: String,
        logger: Logger = quietLogger("foreman"),
        configure: @Sendable (inout ForemanConfig) -> Void = { _ in },
        walFlush: @escaping @Sendable (Int32) -> Int32 = SQLiteJobStore.flushToDisk,
        _ body: (Harness) async throws -> T
    ) async throws -> T {
        var config = ForemanConfig()
        config.address = HostPort(host: "127.0.0.1", port: 0)
        config.ollamaURL = "http://127.0.0.1:\(fakePort)"
        config.token = token
        config.databasePath = databasePath
        config.pollInterval = .seconds(3600)  // tests trigger polls themselves
        config.inventoryRefreshMinimum = .zero  // each unknown model polls again (the bound has its own test)
        config.targetRetry.maximum = .milliseconds(200)  // an outage test should not wait out a 10 s backoff
        config.targetConnectTimeout = .milliseconds(250)  // nor 5 s per refused connection
        configure(&config)
        let finalConfig = config
        return try await withRunningService({ onRunning in
            try await buildApplication(config: finalConfig, logger: logger, onServerRunning: onRunning, walFlush: walFlush)
        }) { port in
            try await body(Harness(fake: fake, fakePort: fakePort, port: port, token: token, databasePath: databasePath))
        }
    }

    // MARK: Requests

    /// Sends a request to foreman and collects the whole answer.
    package func request(
        _ method: HTTPMethod = .POST,
        _ path: String,
        json: String? = nil,
        token: String?? = .none,
        headers: [(String, String)] = []
    ) async throws -> TestResponse {
        let request = ForemanRequest.make(method, port: port, path, token: token ?? self.token, json: json, headers: headers)
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 64 << 20)
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    /// Sends a body of any content type (a multipart upload, say) to foreman and collects the whole answer.
    package func send(_ method: HTTPMethod = .POST, _ path: String, body: String, contentType: String, token: String?? = .none) async throws -> TestResponse {
        var request = ForemanRequest.make(method, port: port, path, token: token ?? self.token)
        request.headers.add(name: "Content-Type", value: contentType)
        request.body = .bytes(ByteBuffer(string: body))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let collected = try await response.body.collect(upTo: 64 << 20)
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: String(buffer: collected))
    }

    /// Uploads `bytes` to `path` in 64 KiB pieces, as a client streams a file, and returns the status.
    package func upload(_ path: String, _ bytes: [UInt8], headers: [(String, String)] = []) async throws -> Int {
        var request = ForemanRequest.make(.POST, port: port, path, token: token, headers: headers)
        request.headers.add(name: "Content-Type", value: "application/octet-stream")
        let pieces = stride(from: 0, to: bytes.count, by: 64 << 10).map { ByteBuffer(bytes: bytes[$0..<min(bytes.count, $0 + (64 << 10))]) }
        let chunks = AsyncStream<ByteBuffer> { continuation in
            for piece in pieces { continuation.yield(piece) }
            continuation.finish()
        }
        request.body = .stream(chunks, length: .known(Int64(bytes.count)))
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    /// The status of `HEAD path`.
    package func head(_ path: String, headers: [(String, String)] = []) async throws -> Int {
        let response = try await HTTPClient.shared.execute(ForemanRequest.make(.HEAD, port: port, path, token: token, headers: headers), timeout: .seconds(60))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    /// Starts a request and returns its live response, so a test can read the body line by line.
    package func stream(_ path: String, json: String) async throws -> HTTPClientResponse {
        let request = ForemanRequest.make(port: port, path, token: token, json: json)
        return try await HTTPClient.shared.execute(request, timeout: .seconds(60))
    }

    /// `/healthz` with the token: every detail.
    package func health() async throws -> [String: Any] {
        try await request(.GET, "/healthz").jsonObject()
    }

    /// Waits (bounded) until foreman's queue holds `depth` jobs, as `/healthz` reports it.
    package func waitForQueueDepth(_ depth: Int) async throws {
        try await eventually("queue depth \(depth)") { (try await health()["queue_depth"] as? Int) == depth }
    }
}

extension Harness {
    package static func chatBody(model: String = "llama3.2", stream: Bool? = nil, tokens: Int? = nil, content: String = "hi") -> String {
        var message = JSONObjectWriter()
        message.string("role", "user")
        message.string("content", content)
        var body = JSONObjectWriter()
        body.string("model", model)
        body.raw("messages", "[" + message.finished() + "]")
        if let stream { body.bool("stream", stream) }
        if let tokens { body.raw("options", #"{"num_predict":"# + String(tokens) + "}") }
        return body.finished()
    }
}
