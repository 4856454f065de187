import AsyncHTTPClient
import Foundation
import NIOCore
import NIOHTTP1

/// Ollama's API on a running foreman, for the CLI's Ollama verbs (`foreman list`, `ps`, `show`, `run`, `pull`, `rm`,
/// `cp`, `status`).
extension JobsClient {
    public func tags() async throws -> Answer { try await send(.GET, "/api/tags") }

    public func loaded() async throws -> Answer { try await send(.GET, "/api/ps") }

    public func show(_ model: String) async throws -> Answer {
        try await send(.POST, "/api/show", body: try JSONSerialization.data(withJSONObject: ["model": model]))
    }

    public func delete(_ model: String) async throws -> Answer {
        try await send(.DELETE, "/api/delete", body: try JSONSerialization.data(withJSONObject: ["model": model]))
    }

    public func copy(_ source: String, to destination: String) async throws -> Answer {
        try await send(.POST, "/api/copy", body: try JSONSerialization.data(withJSONObject: ["source": source, "destination": destination]))
    }

    public func health() async throws -> Answer { try await send(.GET, "/healthz") }

    public func queue() async throws -> Answer { try await send(.GET, "/queue?limit=1000") }

    /// POSTs `body` to `path` and hands each NDJSON line of a successful answer to `each`, as it arrives (a pull's
    /// progress, a chat's tokens). A failed answer is returned whole instead; `nil` once the stream has ended.
    public func streamLines(_ path: String, body: [String: Any], each: ([String: Any]) async throws -> Void) async throws -> Answer? {
        let request = self.request(.POST, path, body: try JSONSerialization.data(withJSONObject: body))
        let response: HTTPClientResponse
        do {
            // A pull or a long answer takes as long as it takes, while lines keep coming.
            response = try await httpClient.execute(request, timeout: .hours(24))
        } catch {
            throw Unreachable(baseURL: baseURL, reason: Self.reason(error))
        }
        guard (200..<300).contains(response.status.code) else {
            let bytes = try await response.body.collect(upTo: 1 << 20)
            return Answer(status: Int(response.status.code), body: Data(bytes.readableBytesView), contentType: response.headers.first(name: "Content-Type"))
        }
        var pending = Data()
        do {
            for try await chunk in response.body {
                pending.append(contentsOf: chunk.readableBytesView)
                while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
                    let line = pending[pending.startIndex..<newline]
                    pending = Data(pending[pending.index(after: newline)...])
                    if let object = (try? JSONSerialization.jsonObject(with: line)) as? [String: Any] { try await each(object) }
                }
            }
        } catch let error as StreamError {
            throw error
        } catch {
            throw Unreachable(baseURL: baseURL, reason: Self.reason(error))
        }
        if let object = (try? JSONSerialization.jsonObject(with: pending)) as? [String: Any] { try await each(object) }
        return nil
    }

    /// A stream that ended with Ollama's `{"error": …}` line.
    public struct StreamError: Error, CustomStringConvertible {
        public var message: String
        public init(_ message: String) { self.message = message }
        public var description: String { message }
    }
}
