import AsyncHTTPClient
import ForemanDomain
import Foundation
import NIOCore
import NIOHTTP1

/// The real target client, over AsyncHTTPClient.
///
/// AsyncHTTPClient exposes the body as an async sequence that tears the request down when the reading task
/// is cancelled, which is exactly how a cancelled job aborts its generation (ADR 0004).
///
/// The `Host` header is always the target's own (Ollama bound to loopback answers 403 to a foreign Host)
/// and the caller's `Authorization` is never forwarded: requests are built from scratch here.
public struct LiveOllamaTarget: OllamaTarget {
    private let client: HTTPClient
    private let baseURL: String
    private let token: String?
    private let headTimeout: TimeAmount
    private let failures: TargetFailureObserver

    /// - Parameters:
    ///   - client: the shared HTTP client (its read timeout bounds pauses inside a stream).
    ///   - baseURL: the target, for example `http://127.0.0.1:11434`, without a trailing slash.
    ///   - token: sent as `Authorization: Bearer <token>` when set.
    ///   - headTimeout: how long to wait for a response head (a model load happens before it).
    public init(client: HTTPClient, baseURL: String, token: String?, headTimeout: Duration, failures: @escaping TargetFailureObserver = { _ in }) {
        self.failures = failures
        self.client = client
        self.baseURL = baseURL
        self.token = token
        self.headTimeout = headTimeout.timeAmount
    }

    /// Creates the HTTP client foreman uses for the target; shut it down when done.
    public static func makeHTTPClient(connectTimeout: Duration, readTimeout: Duration) -> HTTPClient {
        var configuration = HTTPClient.Configuration()
        configuration.timeout = .init(connect: connectTimeout.timeAmount, read: readTimeout.timeAmount)
        configuration.redirectConfiguration = .disallow
        configuration.decompression = .disabled
        return HTTPClient(eventLoopGroupProvider: .singleton, configuration: configuration)
    }

    public func send(_ request: TargetRequest) async throws -> TargetResponse {
        var outbound = HTTPClientRequest(url: baseURL + request.path)
        outbound.method = HTTPMethod(rawValue: request.method.rawValue)
        outbound.headers.add(name: "User-Agent", value: "foreman/\(ForemanVersion.current)")
        outbound.headers.add(name: "Accept", value: "application/x-ndjson, application/json")
        if let token { outbound.headers.add(name: "Authorization", value: "Bearer \(token)") }
        if let body = request.body {
            outbound.headers.add(name: "Content-Type", value: "application/json")
            outbound.body = .bytes(body)
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(outbound, timeout: headTimeout)
        } catch {
            if Task.isCancelled || error is CancellationError { throw CancellationError() }
            let failure: TargetError = (error as? HTTPClientError) == .remoteConnectionClosed
                ? .dropped(String(describing: error)) : .unreachable(String(describing: error))
            failures(failure)
            throw failure
        }
        let body = response.body
        return TargetResponse(
            status: Int(response.status.code),
            contentType: response.headers.first(name: "Content-Type"),
            retryAfter: TargetResponse.retryAfter(response.headers.first(name: "Retry-After")),
            body: TargetBody(body)
        )
    }
}
