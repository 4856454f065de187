import AsyncHTTPClient
import ForemanTestSupport
import Foundation
import NIOCore
import NIOHTTP1
import Testing

extension ServerTests {
    /// What `/v1/files` and `/v1/batches` refuse (ADR 0020, ADR 0021): each a 4xx in OpenAI's error shape, and an
    /// upload refused part-way leaves no file behind.
    @Suite("The Batch API's refusals")
    struct BatchRefusalTests {
        static let boundary = "foreman-test-boundary"

        /// A multipart body of `parts` (name, file name or nil, content), closed unless `truncated`.
        static func form(_ parts: [(String, String?, String)], truncated: Bool = false) -> String {
            var body = ""
            for (name, filename, content) in parts {
                body += "--\(boundary)\r\nContent-Disposition: form-data; name=\"\(name)\""
                if let filename { body += "; filename=\"\(filename)\"\r\nContent-Type: application/jsonl" }
                body += "\r\n\r\n\(content)\r\n"
            }
            return truncated ? String(body.dropLast(2)) : body + "--\(boundary)--\r\n"
        }

        static func upload(_ harness: Harness, _ body: String, contentType: String = "multipart/form-data; boundary=\(boundary)") async throws -> TestResponse {
            try await harness.send(.POST, "/v1/files", body: body, contentType: contentType)
        }

        static func openAIError(_ response: TestResponse) -> [String: Any]? {
            (try? response.jsonObject())?["error"] as? [String: Any]
        }

        @Test("uploads: not multipart, no boundary, malformed or cut short, another purpose, two files, none, empty")
        func uploads() async throws {
            try await Harness.run { harness in
                let line = #"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"llama3.2","messages":[]}}"#
                let refused: [(String, String, String)] = [
                    ("not multipart", Self.form([("purpose", nil, "batch"), ("file", "a.jsonl", line)]), "application/json"),
                    ("no boundary", Self.form([("purpose", nil, "batch"), ("file", "a.jsonl", line)]), "multipart/form-data"),
                    ("cut short", Self.form([("purpose", nil, "batch"), ("file", "a.jsonl", line)], truncated: true), "multipart/form-data; boundary=\(Self.boundary)"),
                    ("garbage", "this is not a form", "multipart/form-data; boundary=\(Self.boundary)"),
                    ("another purpose", Self.form([("purpose", nil, "fine-tune"), ("file", "a.jsonl", line)]), "multipart/form-data; boundary=\(Self.boundary)"),
                    ("no purpose", Self.form([("file", "a.jsonl", line)]), "multipart/form-data; boundary=\(Self.boundary)"),
                    ("two files", Self.form([("purpose", nil, "batch"), ("file", "a.jsonl", line), ("file", "b.jsonl", line)]), "multipart/form-data; boundary=\(Self.boundary)"),
                    ("no file", Self.form([("purpose", nil, "batch")]), "multipart/form-data; boundary=\(Self.boundary)"),
                    ("an empty file", Self.form([("purpose", nil, "batch"), ("file", "a.jsonl", "")]), "multipart/form-data; boundary=\(Self.boundary)"),
                    ("a long purpose", Self.form([("purpose", nil, String(repeating: "b", count: 5000)), ("file", "a.jsonl", line)]), "multipart/form-data; boundary=\(Self.boundary)"),
                ]
                for (name, body, type) in refused {
                    let response = try await Self.upload(harness, body, contentType: type)
                    #expect(response.status == 400 && Self.openAIError(response)?["type"] as? String == "invalid_request_error", "\(name): \(response.status) \(response.body)")
                }
                let listed = try await harness.request(.GET, "/v1/files").jsonObject()
                #expect((listed["data"] as? [Any])?.isEmpty == true, "nothing refused was kept: \(listed)")

                // The parts in any order, the file first: accepted.
                let accepted = try await Self.upload(harness, Self.form([("file", "a.jsonl", line), ("purpose", nil, "batch")]))
                let size = try accepted.jsonObject()["bytes"] as? Int
                #expect(accepted.status == 200 && size == line.utf8.count, "\(accepted.body)")
            }
        }

        @Test("batches: bad fields, unknown files and batches, bad pages, other methods")
        func batches() async throws {
            try await Harness.run { harness in
                let uploaded = try await Self.upload(harness, Self.form([("purpose", nil, "batch"), ("file", "a.jsonl", "{}")]))
                let file = try #require(try uploaded.jsonObject()["id"] as? String)
                let good = #""input_file_id":""# + file + #"","endpoint":"/v1/chat/completions","completion_window":"24h""#
                let refused: [(String, String)] = [
                    ("not JSON", "nope"),
                    ("an array", "[]"),
                    ("no input file", #"{"endpoint":"/v1/chat/completions","completion_window":"24h"}"#),
                    ("another endpoint", #"{"input_file_id":"\#(file)","endpoint":"/v1/messages","completion_window":"24h"}"#),
                    ("another window", #"{"input_file_id":"\#(file)","endpoint":"/v1/completions","completion_window":"1h"}"#),
                    ("metadata not strings", "{" + good + #","metadata":{"a":1}}"#),
                    ("too much metadata", "{" + good + #","metadata":{"# + (0..<17).map { #""k\#($0)":"v""# }.joined(separator: ",") + "}}"),
                    ("a webhook not over HTTP", "{" + good + #","webhook_url":"ftp://example.com/x"}"#),
                    ("a webhook to cloud metadata", "{" + good + #","webhook_url":"http://169.254.169.254/latest"}"#),
                ]
                for (name, body) in refused {
                    let response = try await harness.request(.POST, "/v1/batches", json: body)
                    #expect(response.status == 400 && Self.openAIError(response)?["type"] as? String == "invalid_request_error", "\(name): \(response.status) \(response.body)")
                }
                let unknownFile = try await harness.request(.POST, "/v1/batches", json: #"{"input_file_id":"file-nope","endpoint":"/v1/completions","completion_window":"24h"}"#)
                #expect(unknownFile.status == 404 && Self.openAIError(unknownFile)?["type"] as? String == "not_found_error")
                for (method, path) in [
                    (HTTPMethod.GET, "/v1/batches/batch_nope"), (.POST, "/v1/batches/batch_nope/cancel"), (.GET, "/v1/files/file-nope"),
                    (.GET, "/v1/files/file-nope/content"), (.DELETE, "/v1/files/file-nope"),
                ] {
                    let response = try await harness.request(method, path)
                    #expect(response.status == 404 && Self.openAIError(response) != nil, "\(method) \(path): \(response.body)")
                }
                for path in ["/v1/batches?limit=0", "/v1/batches?limit=101", "/v1/files?order=sideways", "/v1/files?purpose=assistants", "/v1/files?limit=x"] {
                    let response = try await harness.request(.GET, path)
                    #expect(response.status == 400 && Self.openAIError(response) != nil, "\(path): \(response.body)")
                }
                let put = try await harness.request(.PUT, "/v1/files")
                #expect(put.status == 405 && put.headers.first(name: "Allow") == "GET, POST")
                // The empty batch fails validation: `{}` is a line without a custom_id.
                let created = try await harness.request(.POST, "/v1/batches", json: "{" + good + "}")
                let id = try #require(try created.jsonObject()["id"] as? String)
                try await eventually("validated") { try await harness.request(.GET, "/v1/batches/\(id)").jsonObject()["status"] as? String == "failed" }
                let cancel = try await harness.request(.POST, "/v1/batches/\(id)/cancel")
                #expect(cancel.status == 409 && Self.openAIError(cancel) != nil, "a failed batch cannot be cancelled: \(cancel.body)")
            }
        }
    }
}
