import AsyncHTTPClient
import ForemanDomain
import Foundation
import NIOCore
import NIOHTTP1

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// A small client for a running foreman, used by the client commands: `/jobs`, the keys API, and Ollama's API for the
/// Ollama verbs.
public struct JobsClient: Sendable {
    /// An answer from foreman: its status and raw body.
    public struct Answer: Sendable {
        public var status: Int
        public var body: Data
        public var contentType: String?

        public var isSuccess: Bool { (200..<300).contains(status) }

        /// The body as a JSON object, if it is one.
        public var object: [String: Any]? { (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] }

        /// The `error` text of a failed answer; for a job object (a 409), the state it is already in.
        public var errorMessage: String {
            if let error = object?["error"] as? String { return error }
            if let state = object?["state"] as? String { return "job already \(state)" }
            return String(decoding: body, as: UTF8.self)
        }
    }

    public let baseURL: String
    public let token: String?
    let httpClient: HTTPClient

    /// The client a short-lived command uses: a refused connection fails at once instead of being retried until the
    /// connect timeout, so `foreman jobs …` against a stopped foreman says so without a wait. A process-wide
    /// singleton, never shut down, like `HTTPClient.shared`.
    public static let commandLineHTTPClient: HTTPClient = {
        var configuration = HTTPClient.Configuration()
        configuration.connectionPool.retryConnectionEstablishment = false
        configuration.timeout.connect = .seconds(10)
        return HTTPClient(eventLoopGroup: HTTPClient.defaultEventLoopGroup, configuration: configuration)
    }()

    public init(baseURL: String, token: String?, client: HTTPClient = .shared) {
        var url = baseURL
        while url.hasSuffix("/") { url.removeLast() }
        self.baseURL = url
        self.token = token
        self.httpClient = client
    }

    /// The native request body a simple prompt becomes for each kind of job.
    public static func nativeRequest(kind: JobKind, model: String, prompt: String) -> [String: Any] {
        switch kind {
        case .chat: ["model": model, "messages": [["role": "user", "content": prompt]]]
        case .generate: ["model": model, "prompt": prompt]
        case .embed: ["model": model, "input": prompt]
        case .messages: ["model": model, "max_tokens": 1024, "messages": [["role": "user", "content": prompt]]]
        case .responses: ["model": model, "input": prompt]
        }
    }

    public func submit(kind: JobKind, request: [String: Any], webhook: String?, priority: Int?, idempotencyKey: String? = nil) async throws -> Answer {
        var body: [String: Any] = ["kind": kind.rawValue, "request": request]
        if let webhook { body["state_webhook_url"] = webhook }
        if let priority { body["priority"] = priority }
        let data = try JSONSerialization.data(withJSONObject: body, options: [.sortedKeys])
        return try await send(.POST, "/jobs", body: data, headers: idempotencyKey.map { ["Idempotency-Key": $0] } ?? [:])
    }

    public func get(_ id: String) async throws -> Answer {
        try await send(.GET, "/jobs/\(Self.escape(id))")
    }

    public func list(state: String?, kind: String?, origin: String?, limit: Int?, cursor: String?) async throws -> Answer {
        let query = [("state", state), ("kind", kind), ("origin", origin), ("limit", limit.map(String.init)), ("cursor", cursor)]
            .compactMap { name, value in value.map { "\(name)=\(Self.escape($0))" } }
        return try await send(.GET, "/jobs" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    }

    public func cancel(_ id: String) async throws -> Answer {
        try await send(.DELETE, "/jobs/\(Self.escape(id))")
    }

    public func artifact(_ id: String, name: String) async throws -> Answer {
        try await send(.GET, "/jobs/\(Self.escape(id))/artifacts/\(Self.escape(name))")
    }

    /// Polls the job until it ends; returns its final answer.
    public func waitUntilFinished(_ id: String, every interval: Duration = .milliseconds(500)) async throws -> Answer {
        while true {
            let answer = try await get(id)
            let state = (answer.object?["state"] as? String).flatMap(JobState.init(rawValue:))
            if !answer.isSuccess || state?.isTerminal ?? true { return answer }
            try await Task.sleep(for: interval)
        }
    }

    func send(_ method: HTTPMethod, _ path: String, body: Data? = nil, headers: [String: String] = [:]) async throws -> Answer {
        let request = self.request(method, path, body: body, headers: headers)
        do {
            let response = try await httpClient.execute(request, timeout: .seconds(60))
            let bytes = try await response.body.collect(upTo: 256 << 20)
            return Answer(status: Int(response.status.code), body: Data(bytes.readableBytesView), contentType: response.headers.first(name: "Content-Type"))
        } catch {
            throw Unreachable(baseURL: baseURL, reason: Self.reason(error))
        }
    }

    /// A request to foreman with the token, and a JSON `body` when there is one.
    func request(_ method: HTTPMethod, _ path: String, body: Data?, headers: [String: String] = [:]) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: baseURL + path)
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let body {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(bytes: body))
        }
        return request
    }

    /// foreman could not be asked: nothing listens there, the connection broke, or the answer took too long.
    public struct Unreachable: Error, CustomStringConvertible {
        public var baseURL: String
        public var reason: String
        public var description: String { "cannot reach foreman at \(baseURL): \(reason)" }
    }

    /// The transport error in a few words, without NIO's type names and nested descriptions.
    static func reason(_ error: any Error) -> String {
        if let error = error as? IOError { return String(cString: strerror(error.errnoCode)).lowercased() }
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "connection timed out"
            case .deadlineExceeded, .readTimeout: return "no answer in time"
            case .remoteConnectionClosed: return "the connection was closed before the answer"
            default: return "\(error)"
            }
        }
        if let error = error as? ChannelError, case .connectTimeout = error { return "connection timed out" }
        return "\(error)"
    }

    static func escape(_ text: String) -> String {
        text.addingPercentEncoding(withAllowedCharacters: .urlUnreservedCharacters) ?? text
    }
}

extension CharacterSet {
    fileprivate static let urlUnreservedCharacters = CharacterSet(charactersIn: "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
}
