import AsyncHTTPClient
import ForemanEngine
import ForemanTarget
import Foundation
import NIOCore

/// Reads an NDJSON body one line at a time.
package struct LineReader {
    package var iterator: HTTPClientResponse.Body.AsyncIterator
    package var splitter = NDJSONLineSplitter()
    package var ready: [ByteBuffer] = []

    package init(_ response: HTTPClientResponse) {
        iterator = response.body.makeAsyncIterator()
    }

    package mutating func next() async throws -> [String: Any]? {
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
