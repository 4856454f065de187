import Crypto
import FakeOllama
import ForemanTestSupport
import Foundation
import NIOHTTP1
import Testing

extension ServerTests {
    /// Ollama's model management through foreman (ADR 0023): pull, push, create, copy, delete and blobs, sent at once
    /// to the box the model names, relayed as they come, with the inventory polled before the answer ends.
    @Suite("Model management")
    struct ModelManagementTests {
        /// `.ci/run` installs the client and sets `FOREMAN_CLIENTS=1`, so there a missing client fails the test.
        static let available = RepositoryScript.pythonHas("ollama") || ProcessInfo.processInfo.environment["FOREMAN_CLIENTS"] == "1"

        @Test("the official ollama client: pull streamed and not, push, a blob and create, copy and delete, each seen by the next listing", .enabled(if: available))
        func ollamaClient() async throws {
            try await Harness.run { harness in
                let check = try await RepositoryScript.run(
                    "scripts/ollama-models-check.py", [], environment: ["FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": harness.token ?? ""]
                )
                #expect(check.status == 0 && check.output.hasSuffix("checks passed"), "\(check.output)")
                // The calls went to the box as they came, not through the queue.
                #expect(await harness.fake.requests(to: "/api/pull").count == 4)
                let jobs = try await harness.request(.GET, "/jobs").jsonObject()["jobs"] as? [Any]
                #expect(jobs?.isEmpty == true, "no job was made")
            }
        }

        @Test("the same client against a fleet, with the provider named: every call reaches that box alone", .enabled(if: available))
        func ollamaClientInAFleet() async throws {
            let a = Harness.FleetMember("a", models: [FakeModel(name: "llama3.2:latest")])
            let b = Harness.FleetMember("b", models: [FakeModel(name: "llama3.2:latest")])
            try await Harness.runFleet([a, b]) { harness in
                // Blobs carry no model name: the client's uploads name the box in a header (`Client(headers=…)`).
                let check = try await RepositoryScript.run(
                    "scripts/ollama-models-check.py", [],
                    environment: ["FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": harness.token ?? "", "PREFIX": "b/", "BLOB_PROVIDER": "b"]
                )
                #expect(check.status == 0 && check.output.hasSuffix("checks passed"), "\(check.output)")
                #expect(await a.box.state.requests(to: "/api/pull").isEmpty, "box a saw none of it")
                let pulled = await b.box.state.requests(to: "/api/pull").map(\.body)
                #expect(pulled.count == 4 && pulled.allSatisfy { !$0.contains("b/") }, "box b got its own names: \(pulled)")
                let tags = try await harness.request(.GET, "/api/tags").jsonObject()["models"] as? [[String: Any]] ?? []
                #expect(tags.contains { $0["name"] as? String == "b/tinyllama:latest" }, "\(tags)")
            }
        }

        @Test("in a fleet a bare name that does not say which box is a 400 naming the boxes; a blob without its box too; a copy stays on one box")
        func fleetRefusals() async throws {
            let a = Harness.FleetMember("a", models: [FakeModel(name: "llama3.2:latest")])
            let b = Harness.FleetMember("b", models: [FakeModel(name: "llama3.2:latest"), FakeModel(name: "qwen2.5:7b")])
            let e = Harness.FleetMember("e", kind: .openai, models: [FakeModel(name: "smol:latest")])
            try await Harness.runFleet([a, b, e]) { harness in
                let pull = try await harness.request(.POST, "/api/pull", json: #"{"model":"tinyllama"}"#)
                #expect(pull.status == 400 && pull.error?.contains("a, b") == true, "\(pull.body)")
                let both = try await harness.request(.DELETE, "/api/delete", json: #"{"model":"llama3.2"}"#)
                #expect(both.status == 400 && both.error?.contains("which provider") == true, "\(both.body)")
                // Only box b has qwen: a bare name about it goes there.
                #expect(try await harness.request(.POST, "/api/copy", json: #"{"source":"qwen2.5:7b","destination":"q2"}"#).status == 200)
                let (copiedOnB, copiedOnA) = (await b.box.state.requests(to: "/api/copy").count, await a.box.state.requests(to: "/api/copy").count)
                #expect(copiedOnB == 1 && copiedOnA == 0)
                let across = try await harness.request(.POST, "/api/copy", json: #"{"source":"b/qwen2.5:7b","destination":"a/q3"}"#)
                #expect(across.status == 400 && across.error?.contains("different providers") == true, "\(across.body)")
                let nobody = try await harness.request(.DELETE, "/api/delete", json: #"{"model":"nowhere"}"#)
                #expect(nobody.status == 404 && nobody.error == "model 'nowhere' not found", "\(nobody.body)")
                let blob = try await harness.send(.POST, "/api/blobs/sha256:" + String(repeating: "0", count: 64), body: "x", contentType: "application/octet-stream")
                #expect(blob.status == 400 && blob.error?.contains("X-Foreman-Provider") == true, "\(blob.body)")
                // An OpenAI-compatible engine cannot manage models: 501 naming it, never a 404.
                for (method, path, body) in [
                    (HTTPMethod.POST, "/api/pull", #"{"model":"e/tinyllama"}"#), (.DELETE, "/api/delete", #"{"model":"e/smol"}"#),
                    (.POST, "/api/push", #"{"model":"e/smol"}"#), (.POST, "/api/create", #"{"model":"e/x","from":"e/smol"}"#),
                ] {
                    let refused = try await harness.request(method, path, json: body)
                    #expect(refused.status == 501 && refused.error?.contains("provider 'e' is an OpenAI-compatible engine") == true, "\(path): \(refused.body)")
                }
            }
        }

        @Test("deleting a model with generations queued or running answers 409 with their count; once they end, the delete goes through and the listing drops it")
        func deleteGuard() async throws {
            try await Harness.run { harness in
                let job = #"{"kind":"chat","request":{"model":"llama3.2","messages":[{"role":"user","content":"hi"}],"options":{"num_predict":2}}}"#
                await harness.fake.pause()
                #expect(try await harness.request(.POST, "/jobs", json: job).status == 202)
                await harness.fake.waitForGenerations(1)
                #expect(try await harness.request(.POST, "/jobs", json: job).status == 202)
                let native = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(model: "llama3.2:latest", stream: false, tokens: 2)) }
                try await harness.waitForQueueDepth(2)
                let refused = try await harness.request(.DELETE, "/api/delete", json: #"{"model":"llama3.2"}"#)
                #expect(refused.status == 409 && refused.error?.contains("has 3 generations queued or running") == true, "\(refused.body)")
                #expect(await harness.fake.requests(to: "/api/delete").isEmpty, "the box was not asked")
                // Another model is free to go.
                #expect(try await harness.request(.DELETE, "/api/delete", json: #"{"model":"qwen2.5:7b"}"#).status == 200)
                await harness.fake.resume()
                #expect(try await native.value.status == 200)
                try await eventually("the jobs ended") {
                    let idle = await harness.fake.activeGenerations == 0
                    return try await harness.health()["queue_depth"] as? Int == 0 && idle
                }
                try await eventually("nothing running") {
                    let running = try await harness.request(.GET, "/jobs?state=running").jsonObject()["jobs"] as? [Any]
                    return running?.isEmpty == true
                }
                let deleted = try await harness.request(.DELETE, "/api/delete", json: #"{"model":"llama3.2"}"#)
                #expect(deleted.status == 200 && deleted.body.isEmpty, "\(deleted.body)")
                let tags = try await harness.request(.GET, "/api/tags").jsonObject()["models"] as? [[String: Any]] ?? []
                #expect(!tags.contains { $0["name"] as? String == "llama3.2:latest" } && tags.contains { $0["name"] as? String == "nomic-embed-text:latest" }, "\(tags)")
            }
        }

        @Test("a blob larger than foreman's body limit streams through to the box, which checks its digest")
        func largeBlobStreams() async throws {
            try await Harness.run(configure: { $0.maxBodyBytes = 1 << 20 }) { harness in
                var bytes = [UInt8](repeating: 0, count: 12 << 20)
                var generator = SplitMix64(state: 7)
                for index in stride(from: 0, to: bytes.count, by: 8) { bytes[index] = UInt8(truncatingIfNeeded: generator.next()) }
                let digest = "sha256:" + SHA256.hash(data: bytes).map { String(format: "%02x", $0) }.joined()
                #expect(try await harness.head("/api/blobs/\(digest)") == 404)
                let uploaded = try await harness.upload("/api/blobs/\(digest)", bytes)
                #expect(uploaded == 201)
                #expect(await harness.fake.blobs[digest] == bytes.count)
                #expect(await harness.fake.largestBlobChunk < 1 << 20, "the box received it in pieces")
                #expect(try await harness.head("/api/blobs/\(digest)") == 200)
                let wrong = try await harness.upload("/api/blobs/sha256:" + String(repeating: "a", count: 64), Array(bytes.prefix(1000)))
                #expect(wrong == 400, "the box's digest check answers through foreman")
                // A JSON call still has the limit.
                let big = #"{"model":"x","system":""# + String(repeating: "a", count: 2 << 20) + #""}"#
                #expect(try await harness.request(.POST, "/api/create", json: big).status == 413)
            }
        }

        @Test("a box that answers an upload before its end: foreman answers, closes that connection and stays up")
        func uploadAnsweredBeforeItsEnd() async throws {
            let fake = FakeOllamaState()
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-early-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            try await withRunningService({ buildFakeOllama(state: fake, port: 0, logger: quietLogger("fake"), onServerRunning: $0) }) { fakePort in
                // A child process: what this guards against is a crash.
                let foreman = try ForemanProcess(environment: [
                    "FOREMAN_OLLAMA_URL": "http://127.0.0.1:\(fakePort)", "FOREMAN_TOKEN": "secret",
                    "FOREMAN_DB": folder.appendingPathComponent("foreman.db").path,
                ])
                defer { foreman.terminate() }
                try await foreman.waitUntilServing()
                let blob = String(repeating: "b", count: 100_000)
                let digest = "sha256:" + SHA256.hash(data: Array(blob.utf8)).map { String(format: "%02x", $0) }.joined()
                let head = "POST /api/blobs/\(digest) HTTP/1.1\r\nHost: foreman\r\nAuthorization: Bearer secret\r\n"
                let first = try RawConnection(port: foreman.port).exchange(head + "Content-Length: \(blob.utf8.count)\r\n\r\n" + blob)
                #expect(first?.hasPrefix("HTTP/1.1 201") == true, "\(first ?? "")")

                // The box holds the blob now, and answers the next upload of it at once, without reading it, as
                // Ollama does; the caller is still sending.
                let again = try RawConnection(port: foreman.port)
                let piece = String(repeating: "y", count: 65_536)
                again.send(head + "Content-Length: 8000000\r\n\r\n" + piece)
                let answer = again.readOnce() ?? ""
                #expect(answer.hasPrefix("HTTP/1.1 200"), "\(answer)")
                for _ in 0..<40 { again.send(piece) }
                let version = try RawConnection(port: foreman.port).exchange("GET /api/version HTTP/1.1\r\nHost: foreman\r\nAuthorization: Bearer secret\r\n\r\n")
                #expect(version?.hasPrefix("HTTP/1.1 200") == true, "foreman stopped answering: \(version ?? "nothing")")
            }
        }
    }
}
