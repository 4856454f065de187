import AsyncHTTPClient
import FakeOllama
import ForemanCore
import ForemanServer
import Foundation
import Hummingbird
import Logging
import NIOCore
import NIOHTTP1
import ServiceLifecycle
import Synchronization
import Testing

/// Tests that start servers on loopback. They run one at a time: some of them need a port that
/// nothing listens on, and a test running beside them could otherwise be handed that port.
@Suite(.serialized) struct ServerTests {}

/// Runs `service` in its own service group until `body` returns, handing `body` the port it bound.
func withRunningServer<T: Sendable>(
    _ build: (@escaping @Sendable (Int) async -> Void) async throws -> some Service,
    _ body: (Int) async throws -> T
) async throws -> T {
    try await withRunningService(build, body)
}

/// A running fake Ollama and a running foreman in front of it, with a client pointed at foreman.
struct Harness: Sendable {
    let fake: FakeOllamaState
    let fakePort: Int
    let port: Int
    let token: String?
    let databasePath: String

    var baseURL: String { "http://127.0.0.1:\(port)" }

    /// Starts both servers, runs `body`, and stops them.
    static func run<T: Sendable>(
        token: String? = "secret",
        fake: FakeOllamaState = FakeOllamaState(tokenDelay: .milliseconds(2)),
        databasePath: String? = nil,
        logger: Logger = quietLogger("foreman"),
        configure: @Sendable (inout ForemanConfig) -> Void = { _ in },
        _ body: (Harness) async throws -> T
    ) async throws -> T {
        let path = databasePath ?? temporaryDatabasePath()
        return try await withRunningServer({ onRunning in
            buildFakeOllama(state: fake, port: 0, logger: quietLogger("fake"), onServerRunning: onRunning)
        }) { fakePort in
            do {
                return try await runForeman(fake: fake, fakePort: fakePort, token: token, databasePath: path, logger: logger, configure: configure, body)
            } catch {
                await fake.resume()  // a failed test must not leave a held stream blocking shutdown
                throw error
            }
        }
    }

    /// Starts foreman alone, pointed at `fakePort` (which may have nothing listening yet).
    static func runForeman<T: Sendable>(
        fake: FakeOllamaState,
        fakePort: Int,
        token: String? = "secret",
        databasePath: String,
        logger: Logger = quietLogger("foreman"),
        configure: @Sendable (inout ForemanConfig) -> Void = { _ in },
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
        return try await withRunningServer({ onRunning in
            try await buildApplication(config: finalConfig, logger: logger, onServerRunning: onRunning)
        }) { port in
            try await body(Harness(fake: fake, fakePort: fakePort, port: port, token: token, databasePath: databasePath))
        }
    }

    // MARK: Requests

    /// Sends a request to foreman and collects the whole answer.
    func request(
        _ method: HTTPMethod = .POST,
        _ path: String,
        json: String? = nil,
        token: String?? = .none,
        headers: [(String, String)] = []
    ) async throws -> TestResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        let bearer = token ?? self.token
        if let bearer { request.headers.add(name: "Authorization", value: "Bearer \(bearer)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 64 << 20)
        return TestResponse(status: Int(response.status.code), headers: response.headers, body: String(buffer: body))
    }

    /// Starts a request and returns its live response, so a test can read the body line by line.
    func stream(_ path: String, json: String) async throws -> HTTPClientResponse {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = .POST
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        request.body = .bytes(ByteBuffer(string: json))
        return try await HTTPClient.shared.execute(request, timeout: .seconds(60))
    }

    /// `/healthz` with the token: every detail.
    func health() async throws -> [String: Any] {
        try await request(.GET, "/healthz").jsonObject()
    }

    /// Waits (bounded) until foreman's queue holds `depth` jobs, as `/healthz` reports it.
    func waitForQueueDepth(_ depth: Int) async throws {
        try await eventually("queue depth \(depth)") { (try await health()["queue_depth"] as? Int) == depth }
    }
}

extension Harness {
    static func chatBody(model: String = "llama3.2", stream: Bool? = nil, tokens: Int? = nil, content: String = "hi") -> String {
        var body: [String: Any] = ["model": model, "messages": [["role": "user", "content": content]]]
        if let stream { body["stream"] = stream }
        if let tokens { body["options"] = ["num_predict": tokens] }
        return String(data: try! JSONSerialization.data(withJSONObject: body), encoding: .utf8)!
    }
}

/// A collected answer from foreman.
struct TestResponse: Sendable {
    let status: Int
    let headers: HTTPHeaders
    let body: String

    func jsonObject() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw TestFailure("not a JSON object: \(body)")
        }
        return object
    }

    /// The `error` text of an `{"error": ...}` body.
    var error: String? { (try? jsonObject())?["error"] as? String }

    /// The NDJSON lines of a streamed body.
    var lines: [[String: Any]] {
        body.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}

/// Reads an NDJSON body one line at a time.
struct LineReader {
    var iterator: HTTPClientResponse.Body.AsyncIterator
    var splitter = NDJSONLineSplitter()
    var ready: [ByteBuffer] = []

    init(_ response: HTTPClientResponse) {
        iterator = response.body.makeAsyncIterator()
    }

    mutating func next() async throws -> [String: Any]? {
        while ready.isEmpty {
            guard let chunk = try await iterator.next() else {
                guard let rest = splitter.finish() else { return nil }
                ready.append(rest)
                break
            }
            ready.append(contentsOf: splitter.append(chunk))
        }
        let line = ready.removeFirst()
        return try JSONSerialization.jsonObject(with: Data(line.readableBytesView)) as? [String: Any]
    }
}

/// Waits until `condition` holds, checking every 20 ms, for at most `timeout`.
///
/// For conditions only observable from outside (a queue depth in `/healthz`); never a stand-in for a signal.
func eventually(_ what: String, timeout: Duration = .seconds(15), _ condition: () async throws -> Bool) async throws {
    let deadline = ContinuousClock.now + timeout
    while ContinuousClock.now < deadline {
        if try await condition() { return }
        try await Task.sleep(for: .milliseconds(20))
    }
    throw TestFailure("timed out waiting for \(what)")
}

struct TestFailure: Error, CustomStringConvertible {
    var description: String
    init(_ description: String) { self.description = description }
}

func temporaryDatabasePath() -> String {
    let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-tests-\(UUID().uuidString)")
    return folder.appendingPathComponent("foreman.db").path
}

func quietLogger(_ label: String) -> Logger {
    var logger = Logger(label: label)
    logger.logLevel = ProcessInfo.processInfo.environment["FOREMAN_TEST_LOG"].flatMap(Logger.Level.init(rawValue:)) ?? .critical
    return logger
}

/// Log lines collected from a ``LogfmtLogHandler``, in the order written.
final class LogLines: Sendable {
    private let lines = Mutex<[String]>([])

    var all: [String] { lines.withLock { $0 } }

    @Sendable func append(_ line: String) {
        lines.withLock { $0.append(line) }
    }
}
