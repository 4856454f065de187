import ArgumentParser
import AsyncHTTPClient
import ForemanTestSupport
import Foundation
import NIOCore

/// Requests to foreman or straight to the fake, timed.
struct BenchClient: Sendable {
    let foremanPort: Int
    let fakePort: Int
    /// The key calls to foreman are made with: `FOREMAN_TOKEN` unless another is given.
    var token = "bench"

    private func request(_ path: String, _ body: String, direct: Bool) -> HTTPClientRequest {
        ForemanRequest.make(port: direct ? fakePort : foremanPort, path, token: token, json: body)
    }

    /// `queue_depth` from foreman's `/healthz`.
    func queueDepth() async throws -> Int {
        let request = ForemanRequest.make(.GET, port: foremanPort, "/healthz", token: "bench")  // the details need the token
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(10))
        let body = try await response.body.collect(upTo: 1 << 20)
        let object = try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any]
        guard let depth = object?["queue_depth"] as? Int else { throw ValidationError("/healthz has no queue_depth") }
        return depth
    }

    /// Seconds until the whole answer of `GET path` from foreman has arrived, and the answer.
    func timeGet(_ path: String) async throws -> (seconds: Double, body: ByteBuffer) {
        let request = ForemanRequest.make(.GET, port: foremanPort, path, token: "bench")
        let clock = ContinuousClock()
        let start = clock.now
        let response = try await HTTPClient.shared.execute(request, timeout: .seconds(60))
        let body = try await response.body.collect(upTo: 16 << 20)
        guard response.status == .ok else { throw ValidationError("GET \(path) answered \(response.status)") }
        return ((clock.now - start).seconds, body)
    }

    func post(_ path: String, _ body: String) async throws -> Int {
        let response = try await HTTPClient.shared.execute(request(path, body, direct: false), timeout: .seconds(60))
        _ = try await response.body.collect(upTo: 1 << 20)
        return Int(response.status.code)
    }

    /// Submits a `/jobs` job and returns its id.
    func submit(_ body: String) async throws -> String {
        let response = try await HTTPClient.shared.execute(request("/jobs", body, direct: false), timeout: .seconds(60))
        let data = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .accepted, let id = (try JSONSerialization.jsonObject(with: Data(data.readableBytesView)) as? [String: Any])?["id"] as? String else {
            throw ValidationError("POST /jobs answered \(response.status)")
        }
        return id
    }

    /// Waits until job `id` has ended, and returns its state.
    func waitForJob(_ id: String) async throws -> String {
        while true {
            let (_, body) = try await timeGet("/jobs/\(id)")
            let state = (try JSONSerialization.jsonObject(with: Data(body.readableBytesView)) as? [String: Any])?["state"] as? String
            if let state, ["succeeded", "failed", "cancelled"].contains(state) { return state }
            try await Task.sleep(for: .milliseconds(20))
        }
    }

    /// Seconds until the whole answer of a call (`/api/chat` unless `path` says otherwise) has arrived.
    func time(_ body: String, path: String = "/api/chat", direct: Bool) async throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        let response = try await HTTPClient.shared.execute(request(path, body, direct: direct), timeout: .seconds(60))
        _ = try await response.body.collect(upTo: 1 << 20)
        guard response.status == .ok else { throw ValidationError("\(path) answered \(response.status)") }
        return (clock.now - start).seconds
    }

    /// Seconds until the first NDJSON line of a streamed `/api/chat` call has arrived (the rest is drained).
    func timeToFirstLine(_ body: String, direct: Bool) async throws -> Double {
        let clock = ContinuousClock()
        let start = clock.now
        let response = try await HTTPClient.shared.execute(request("/api/chat", body, direct: direct), timeout: .seconds(60))
        var first: Double?
        for try await chunk in response.body where first == nil && chunk.readableBytesView.contains(UInt8(ascii: "\n")) {
            first = (clock.now - start).seconds
        }
        return first ?? (clock.now - start).seconds
    }
}
