import Foundation
import NIOHTTP1

/// A collected answer from foreman.
package struct TestResponse: Sendable {
    package let status: Int
    package let headers: HTTPHeaders
    package let body: String

    package func jsonObject() throws -> [String: Any] {
        guard let object = try JSONSerialization.jsonObject(with: Data(body.utf8)) as? [String: Any] else {
            throw TestFailure("not a JSON object: \(body)")
        }
        return object
    }

    /// The `error` text of an `{"error": ...}` body.
    package var error: String? { (try? jsonObject())?["error"] as? String }

    /// The NDJSON lines of a streamed body.
    package var lines: [[String: Any]] {
        body.split(separator: "\n").compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
    }
}
