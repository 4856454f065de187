import ForemanTestSupport
import Foundation
import NIOHTTP1
import Testing

extension ServerTests {
    /// Isolation between keys (ADR 0022): a key reaches only its own jobs, files and batches, on every route that holds
    /// work; another key's ids answer exactly as unknown ones do. The admin scope reaches all.
    @Suite("Keys: isolation")
    struct KeyIsolationTests {
        @Test("every route that holds work, walked with another key's ids, answers as for an unknown id; listings hold one's own")
        func wrongKeyOnEveryRoute() async throws {
            try await Harness.run { harness in
                let alice = try await KeysTests.create(harness, "alice", ["inference", "jobs"])
                let bob = try await KeysTests.create(harness, "bob", ["inference", "jobs"])

                // Alice's work: a finished job with artifacts, a native call, a file, and a batch with its output.
                let submitted = try await harness.request(
                    .POST, "/jobs", json: #"{"kind":"chat","request":"# + KeysTests.chat + "}", token: .some(alice.secret), headers: [("Idempotency-Key", "same")]
                )
                let job = try #require(try submitted.jsonObject()["id"] as? String)
                try await eventually("alice's job done") {
                    try await harness.request(.GET, "/jobs/\(job)", token: .some(alice.secret)).jsonObject()["state"] as? String == "succeeded"
                }
                let native = try await harness.request(.POST, "/api/chat", json: KeysTests.chat, token: .some(alice.secret))
                let nativeJob = try #require(native.headers.first(name: "X-Foreman-Job-Id"))
                let line = #"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}}"#
                let uploaded = try await harness.send(
                    .POST, "/v1/files", body: BatchRefusalTests.form([("purpose", nil, "batch"), ("file", "a.jsonl", line)]),
                    contentType: "multipart/form-data; boundary=\(BatchRefusalTests.boundary)", token: alice.secret
                )
                let file = try #require(try uploaded.jsonObject()["id"] as? String, "\(uploaded.body)")
                let created = try await harness.request(
                    .POST, "/v1/batches", json: #"{"input_file_id":""# + file + #"","endpoint":"/v1/chat/completions","completion_window":"24h"}"#,
                    token: .some(alice.secret)
                )
                let batch = try #require(try created.jsonObject()["id"] as? String, "\(created.body)")
                try await eventually("alice's batch done") {
                    try await harness.request(.GET, "/v1/batches/\(batch)", token: .some(alice.secret)).jsonObject()["status"] as? String == "completed"
                }
                let output = try #require(try await harness.request(.GET, "/v1/batches/\(batch)", token: .some(alice.secret)).jsonObject()["output_file_id"] as? String)

                // Bob, on every route, with Alice's ids and with ids that do not exist: the same answers.
                let routes: [(HTTPMethod, (String) -> String, String, String?)] = [
                    (.GET, { "/jobs/\($0)" }, "job_01aaaaaaaaaaaaaaaaaaaaaaaa", nil),
                    (.DELETE, { "/jobs/\($0)" }, "job_01aaaaaaaaaaaaaaaaaaaaaaaa", nil),
                    (.GET, { "/jobs/\($0)/artifacts" }, "job_01aaaaaaaaaaaaaaaaaaaaaaaa", nil),
                    (.GET, { "/jobs/\($0)/artifacts/response.json" }, "job_01aaaaaaaaaaaaaaaaaaaaaaaa", nil),
                ]
                for id in [job, nativeJob] {
                    for (method, path, unknown, body) in routes {
                        let theirs = try await harness.request(method, path(id), json: body, token: .some(bob.secret))
                        let none = try await harness.request(method, path(unknown), json: body, token: .some(bob.secret))
                        #expect(theirs.status == 404 && theirs.status == none.status && theirs.body == none.body, "\(method.rawValue) \(path(id)): \(theirs.body)")
                    }
                }
                let objectRoutes: [(HTTPMethod, (String) -> String, String)] = [
                    (.GET, { "/v1/files/\($0)" }, file), (.GET, { "/v1/files/\($0)/content" }, file), (.DELETE, { "/v1/files/\($0)" }, file),
                    (.GET, { "/v1/files/\($0)/content" }, output),
                    (.GET, { "/v1/batches/\($0)" }, batch), (.POST, { "/v1/batches/\($0)/cancel" }, batch),
                ]
                for (method, path, id) in objectRoutes {
                    let unknown = id.hasPrefix("file-") ? "file-nope" : "batch_nope"
                    let theirs = try await harness.request(method, path(id), token: .some(bob.secret))
                    let none = try await harness.request(method, path(unknown), token: .some(bob.secret))
                    let text = (try? theirs.jsonObject()["error"] as? [String: Any])?["message"] as? String
                    let unknownText = (try? none.jsonObject()["error"] as? [String: Any])?["message"] as? String
                    #expect(
                        theirs.status == 404 && none.status == 404 && text?.replacingOccurrences(of: id, with: unknown) == unknownText,
                        "\(method.rawValue) \(path(id)): \(theirs.body)"
                    )
                }
                let borrowed = try await harness.request(
                    .POST, "/v1/batches", json: #"{"input_file_id":""# + file + #"","endpoint":"/v1/chat/completions","completion_window":"24h"}"#,
                    token: .some(bob.secret)
                )
                #expect(borrowed.status == 404, "another key's file cannot start a batch: \(borrowed.body)")

                // The same Idempotency-Key is Bob's own: a job of his, not Alice's job and not a 422.
                let bobs = try await harness.request(
                    .POST, "/jobs", json: #"{"kind":"generate","request":{"model":"llama3.2","prompt":"x"}}"#, token: .some(bob.secret),
                    headers: [("Idempotency-Key", "same")]
                )
                let bobsJob = try bobs.jsonObject()["id"] as? String
                #expect(bobs.status == 202 && bobsJob != job, "\(bobs.body)")

                // Listings: each key its own; the bootstrap admin everyone's.
                let listings: [(String, String?)] = [("/jobs", "jobs"), ("/v1/files", "data"), ("/v1/batches", "data")]
                for (path, field) in listings {
                    let bobSees = try await harness.request(.GET, path, token: .some(bob.secret)).body
                    #expect(![job, nativeJob, file, batch, output].contains { bobSees.contains($0) }, "\(path) shows Bob Alice's work: \(bobSees)")
                    let aliceSees = try await harness.request(.GET, path, token: .some(alice.secret)).body
                    #expect(bobsJob.map { !aliceSees.contains($0) } ?? true, "\(path) shows Alice Bob's job")
                    let adminSees = try await harness.request(.GET, path).jsonObject()[field ?? ""] as? [Any]
                    #expect((adminSees?.count ?? 0) >= 1, "\(path): the admin sees all")
                }
                let adminJobs = try await harness.request(.GET, "/jobs").body
                #expect(adminJobs.contains(job) && adminJobs.contains(bobsJob ?? "-"))
                #expect(try await harness.request(.GET, "/jobs/\(job)/artifacts/response.json", token: .some(alice.secret)).status == 200)
            }
        }
    }
}
