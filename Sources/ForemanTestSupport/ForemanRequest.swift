import AsyncHTTPClient
import NIOCore
import NIOHTTP1

/// Builds the requests tests and benchmarks send: one place for the bearer and the JSON body.
package enum ForemanRequest {
    /// A request to `path` on loopback `port`, carrying `token` as a bearer and `json` as its body.
    package static func make(
        _ method: HTTPMethod = .POST,
        port: Int,
        _ path: String,
        token: String?,
        json: String? = nil,
        headers: [(String, String)] = []
    ) -> HTTPClientRequest {
        var request = HTTPClientRequest(url: "http://127.0.0.1:\(port)\(path)")
        request.method = method
        if let token { request.headers.add(name: "Authorization", value: "Bearer \(token)") }
        for (name, value) in headers { request.headers.add(name: name, value: value) }
        if let json {
            request.headers.add(name: "Content-Type", value: "application/json")
            request.body = .bytes(ByteBuffer(string: json))
        }
        return request
    }
}
