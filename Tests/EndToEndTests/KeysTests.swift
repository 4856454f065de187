import ForemanTestSupport
import NIOHTTP1
import Foundation
import Testing

extension ServerTests {
    /// Keys (ADR 0022): the keys API, scopes on the routes, revocation at once, and keys kept across a restart.
    @Suite("Keys")
    struct KeysTests {
        static let chat = #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"stream":false}"#

        /// Creates key `name` with `scopes` as the bootstrap admin, and returns its id and secret.
        static func create(_ harness: Harness, _ name: String, _ scopes: [String]) async throws -> (id: String, secret: String) {
            let body = #"{"name":""# + name + #"","scopes":["# + scopes.map { "\"\($0)\"" }.joined(separator: ",") + "]}"
            let created = try await harness.request(.POST, "/admin/keys", json: body)
            try #require(created.status == 201, "\(created.body)")
            let object = try created.jsonObject()
            return (try #require(object["id"] as? String), try #require(object["secret"] as? String))
        }

        @Test("a key may use what its scopes allow and nothing else; revoked, it is refused at once")
        func scopes() async throws {
            try await Harness.run { harness in
                let alice = try await Self.create(harness, "alice", ["inference"])
                let bob = try await Self.create(harness, "bob", ["jobs"])
                #expect(alice.secret.hasPrefix("fk_") && alice.secret.count == 35 && alice.secret != bob.secret)

                // Alice: inference, and the reads that reveal nothing.
                for (method, path, body) in [
                    (HTTPMethod.GET, "/api/tags", nil), (.POST, "/api/chat", Self.chat), (.POST, "/v1/chat/completions", Self.chat),
                    (.GET, "/v1/models", nil), (.POST, "/api/show", #"{"model":"llama3.2"}"#),
                ] as [(HTTPMethod, String, String?)] {
                    let response = try await harness.request(method, path, json: body, token: .some(alice.secret))
                    #expect(response.status == 200, "alice \(method.rawValue) \(path): \(response.status) \(response.body)")
                }
                for (method, path, body) in [
                    (HTTPMethod.POST, "/jobs", #"{"kind":"chat","request":{"model":"llama3.2","messages":[]}}"#), (.GET, "/jobs", nil),
                    (.GET, "/admin/keys", nil), (.GET, "/admin/usage", nil), (.GET, "/v1/batches", nil), (.GET, "/metrics", nil),
                    (.POST, "/api/pull", #"{"model":"tinyllama"}"#), (.DELETE, "/api/delete", #"{"model":"llama3.2"}"#),
                ] as [(HTTPMethod, String, String?)] {
                    let response = try await harness.request(method, path, json: body, token: .some(alice.secret))
                    #expect(response.status == 403, "alice \(method.rawValue) \(path): \(response.status) \(response.body)")
                }
                let refused = try await harness.request(.GET, "/v1/batches", token: .some(alice.secret))
                let shape = try refused.jsonObject()["error"] as? [String: Any]
                #expect(shape?["message"] as? String != nil, "OpenAI's shape on /v1")
                // Anthropic's clients send the key as x-api-key.
                let message = #"{"model":"llama3.2","max_tokens":2,"messages":[{"role":"user","content":"hi"}]}"#
                let anthropic = try await harness.request(.POST, "/v1/messages", json: message, token: .some(nil), headers: [("x-api-key", alice.secret)])
                #expect(anthropic.status == 200, "\(anthropic.body)")

                // Bob: jobs, not inference.
                let submitted = try await harness.request(.POST, "/jobs", json: #"{"kind":"chat","request":"# + Self.chat + "}", token: .some(bob.secret))
                #expect(submitted.status == 202, "\(submitted.body)")
                #expect(try await harness.request(.POST, "/api/chat", json: Self.chat, token: .some(bob.secret)).status == 403)

                // Widened, alice may submit at once; revoked, she is refused at once.
                let widened = try await harness.request(.PATCH, "/admin/keys/\(alice.id)", json: #"{"scopes":["inference","jobs"],"requests_per_minute":60}"#)
                let perMinute = try widened.jsonObject()["requests_per_minute"] as? Int
                #expect(widened.status == 200 && perMinute == 60, "\(widened.body)")
                #expect(try await harness.request(.GET, "/jobs", token: .some(alice.secret)).status == 200)
                let revoked = try await harness.request(.DELETE, "/admin/keys/\(alice.id)")
                let revokedAt = try revoked.jsonObject()["revoked_at"] as? String
                #expect(revoked.status == 200 && revokedAt != nil)
                #expect(try await harness.request(.GET, "/api/tags", token: .some(alice.secret)).status == 401)
                #expect(try await harness.request(.GET, "/api/tags", token: .some("fk_" + String(repeating: "0", count: 32))).status == 401)

                // The list shows every key, never a secret.
                let listed = try await harness.request(.GET, "/admin/keys")
                #expect(listed.status == 200 && !listed.body.contains("fk_") && !listed.body.contains("secret"))
                let names = (try listed.jsonObject()["keys"] as? [[String: Any]])?.compactMap { $0["name"] as? String }
                #expect(names == ["alice", "bob"])
            }
        }

        @Test("the keys API refuses bad fields, a taken name and unknown keys")
        func refusals() async throws {
            try await Harness.run { harness in
                _ = try await Self.create(harness, "carol", ["inference"])
                for (body, status) in [
                    (#"{"name":"carol","scopes":["inference"]}"#, 409),
                    (#"{"name":"Carol!","scopes":["inference"]}"#, 400),
                    (#"{"name":"dave","scopes":[]}"#, 400),
                    (#"{"name":"dave","scopes":["root"]}"#, 400),
                    (#"{"name":"dave"}"#, 400),
                    (#"{"scopes":["jobs"]}"#, 400),
                    (#"{"name":"dave","scopes":["jobs"],"max_concurrent":0}"#, 400),
                    (#"{"name":"dave","scopes":["jobs"],"tokens_per_day":"lots"}"#, 400),
                    (#"{"name":"dave","scopes":["jobs"],"colour":"red"}"#, 400),
                    ("[]", 400),
                ] {
                    let response = try await harness.request(.POST, "/admin/keys", json: body)
                    #expect(response.status == status && response.error != nil, "\(body): \(response.status) \(response.body)")
                }
                for (method, path) in [(HTTPMethod.GET, "/admin/keys/key_nope"), (.DELETE, "/admin/keys/key_nope"), (.PATCH, "/admin/keys/key_nope")] {
                    let response = try await harness.request(method, path, json: method == .PATCH ? "{}" : nil)
                    #expect(response.status == 404, "\(method.rawValue) \(path): \(response.body)")
                }
            }
        }

        @Test("revoking a key cancels its queued jobs and its batches; its running job finishes; an admin still reads them all")
        func revocationCancelsQueuedWork() async throws {
            try await Harness.run { harness in
                let alice = try await Self.create(harness, "alice", ["inference", "jobs"])
                await harness.fake.pause()
                var ids: [String] = []
                for _ in 0..<3 {
                    let body = #"{"kind":"chat","request":{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":3}}}"#
                    let submitted = try await harness.request(.POST, "/jobs", json: body, token: .some(alice.secret))
                    ids.append(try #require(try submitted.jsonObject()["id"] as? String, "\(submitted.body)"))
                }
                await harness.fake.waitForGenerations(1)
                let line = #"{"custom_id":"a","method":"POST","url":"/v1/chat/completions","body":{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}}"#
                let uploaded = try await harness.send(
                    .POST, "/v1/files", body: BatchRefusalTests.form([("purpose", nil, "batch"), ("file", "a.jsonl", line)]),
                    contentType: "multipart/form-data; boundary=\(BatchRefusalTests.boundary)", token: alice.secret
                )
                let file = try #require(try uploaded.jsonObject()["id"] as? String)
                let created = try await harness.request(
                    .POST, "/v1/batches", json: #"{"input_file_id":""# + file + #"","endpoint":"/v1/chat/completions","completion_window":"24h"}"#,
                    token: .some(alice.secret)
                )
                let batch = try #require(try created.jsonObject()["id"] as? String)
                try await eventually("the batch's line queued") {
                    try await harness.request(.GET, "/v1/batches/\(batch)").jsonObject()["status"] as? String == "in_progress"
                }

                #expect(try await harness.request(.DELETE, "/admin/keys/\(alice.id)").status == 200)
                for id in ids.dropFirst() {
                    let job = try await harness.request(.GET, "/jobs/\(id)").jsonObject()
                    #expect(job["state"] as? String == "cancelled" && job["error"] as? String == "key revoked", "\(job)")
                }
                await harness.fake.resume()
                try await eventually("the running job finished") {
                    try await harness.request(.GET, "/jobs/\(ids[0])").jsonObject()["state"] as? String == "succeeded"
                }
                try await eventually("the batch cancelled") {
                    try await harness.request(.GET, "/v1/batches/\(batch)").jsonObject()["status"] as? String == "cancelled"
                }
            }
        }

        @Test("foreman keys create, list, update and revoke drive the keys API; a refusal is one line and a non-zero exit")
        func commandLine() async throws {
            try await Harness.run { harness in
                let environment = ["FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": "secret"]
                func run(_ arguments: [String]) throws -> (CommandResult, [String: Any]?) {
                    let pipe = Pipe()
                    let result = try runForemanCommand(["keys"] + arguments, environment: environment, output: pipe.fileHandleForWriting)
                    try pipe.fileHandleForWriting.close()
                    let printed = pipe.fileHandleForReading.readDataToEndOfFile()
                    return (result, (try? JSONSerialization.jsonObject(with: printed)) as? [String: Any])
                }
                let (created, key) = try run(["create", "--name", "gina", "--scopes", "inference,jobs", "--requests-per-minute", "5"])
                #expect(created.status == 0 && key?["requests_per_minute"] as? Int == 5, "\(created.standardError)")
                let id = try #require(key?["id"] as? String)
                let secret = try #require(key?["secret"] as? String)
                #expect(try await harness.request(.GET, "/jobs", token: .some(secret)).status == 200)
                let (_, listed) = try run(["list"])
                #expect((listed?["keys"] as? [[String: Any]])?.map { $0["name"] as? String } == ["gina"])
                let (_, updated) = try run(["update", id, "--requests-per-minute", "0", "--scopes", "inference"])
                #expect(updated?["requests_per_minute"] is NSNull && updated?["scopes"] as? [String] == ["inference"], "\(updated ?? [:])")
                let (again, _) = try run(["create", "--name", "gina", "--scopes", "jobs"])
                #expect(again.status != 0 && again.standardError == "foreman: a key named 'gina' exists (HTTP 409)\n", "\(again.standardError)")
                let (revoked, gone) = try run(["revoke", id])
                #expect(revoked.status == 0 && gone?["revoked_at"] is String)
                #expect(try await harness.request(.GET, "/api/tags", token: .some(secret)).status == 401)
            }
        }

        @Test("keys and revocations are kept across a restart")
        func keptAcrossRestart() async throws {
            let database = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-keys-\(UUID().uuidString).db").path
            let (kept, gone) = try await Harness.run(databasePath: database) { harness in
                let kept = try await Self.create(harness, "erin", ["inference"])
                let gone = try await Self.create(harness, "frank", ["inference"])
                #expect(try await harness.request(.DELETE, "/admin/keys/\(gone.id)").status == 200)
                return (kept.secret, gone.secret)
            }
            try await Harness.run(databasePath: database) { (harness: Harness) async throws in
                #expect(try await harness.request(.GET, "/api/tags", token: .some(kept)).status == 200)
                #expect(try await harness.request(.GET, "/api/tags", token: .some(gone)).status == 401)
            }
        }
    }
}
