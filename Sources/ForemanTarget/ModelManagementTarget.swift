import AsyncHTTPClient
import ForemanDomain
import NIOCore
import NIOHTTP1

/// A box's model-management calls (ADR 0023): `pull`, `push`, `create`, `copy`, `delete` and blob uploads, over their
/// own HTTP client. Their request bodies may be gigabytes, streamed as they arrive, and their answers last minutes;
/// the generations' connections are left to generations.
public struct ModelManagementTarget: Sendable {
    /// A request body: none, in memory, or streamed with its length when the caller gave one.
    public enum Body: Sendable {
        case none
        case bytes(ByteBuffer)
        case stream(TargetBody, length: Int?)
    }

    private let client: HTTPClient
    private let baseURL: String
    private let token: String?
    private let headTimeout: TimeAmount

    /// - Parameters:
    ///   - client: shared by every provider's model management; its read timeout bounds pauses inside an answer.
    ///   - headTimeout: how long the box may take to start answering.
    public init(client: HTTPClient, baseURL: String, token: String?, headTimeout: Duration) {
        self.client = client
        self.baseURL = baseURL
        self.token = token
        self.headTimeout = headTimeout.timeAmount
    }

    /// The client these calls share; shut it down when done. No overall deadline: a pull takes as long as it takes,
    /// as long as the box keeps talking.
    public static func makeHTTPClient(connectTimeout: Duration, readTimeout: Duration) -> HTTPClient {
        LiveOllamaTarget.makeHTTPClient(connectTimeout: connectTimeout, readTimeout: readTimeout)
    }

    /// Sends the call and returns the box's answer as it streams. Cancelling the task, or dropping the answer unread,
    /// closes the box's request.
    ///
    /// - Throws: ``TargetError/unreachable(_:)`` when no answer began.
    public func send(_ method: TargetRequest.Method, _ path: String, body: Body, contentType: String? = nil) async throws -> TargetResponse {
        var outbound = HTTPClientRequest(url: baseURL + path)
        outbound.method = HTTPMethod(rawValue: method.rawValue)
        outbound.headers.add(name: "User-Agent", value: "foreman/\(ForemanVersion.current)")
        if let token { outbound.headers.add(name: "Authorization", value: "Bearer \(token)") }
        switch body {
        case .none:
            break
        case .bytes(let bytes):
            outbound.headers.add(name: "Content-Type", value: contentType ?? "application/json")
            outbound.body = .bytes(bytes)
        case .stream(let chunks, let length):
            if let contentType { outbound.headers.add(name: "Content-Type", value: contentType) }
            outbound.body = .stream(chunks, length: length.map { .known(Int64($0)) } ?? .unknown)
        }
        let response: HTTPClientResponse
        do {
            response = try await client.execute(outbound, timeout: headTimeout)
        } catch {
            if Task.isCancelled || error is CancellationError { throw CancellationError() }
            throw TargetError.unreachable(String(describing: error))
        }
        return TargetResponse(
            status: Int(response.status.code),
            contentType: response.headers.first(name: "Content-Type"),
            retryAfter: nil,
            body: TargetBody(response.body)
        )
    }
}
