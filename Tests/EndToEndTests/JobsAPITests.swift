import FakeOllama
import ForemanEngine
import ForemanDomain
@testable import ForemanStore
import ForemanTestSupport
import ForemanApp
import Foundation
import GRDB
import Testing

extension Harness {
    func submit(
        kind: String = "chat",
        request: String = Harness.chatBody(tokens: 4),
        extra: String = "",
        key: String? = nil
    ) async throws -> TestResponse {
        let body = #"{"kind":""# + kind + #"","request":"# + request + extra + "}"
        return try await self.request(.POST, "/jobs", json: body, headers: key.map { [("Idempotency-Key", $0)] } ?? [])
    }

    func job(_ id: String) async throws -> [String: Any] {
        try await request(.GET, "/jobs/\(id)").jsonObject()
    }

    /// Polls `GET /jobs/{id}` (the async caller's own way to follow a job) until it reaches `state`.
    func waitForJob(_ id: String, state: String) async throws -> [String: Any] {
        var last: [String: Any] = [:]
        try await eventually("job \(id) \(state)") {
            last = try await job(id)
            return last["state"] as? String == state
        }
        return last
    }
}

extension ServerTests {
    @Suite("Jobs API")
    struct JobsAPITests {
        static let secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"

        static func fastWebhooks(_ config: inout ForemanConfig) {
            config.webhookSecret = secret
            config.webhookRetry.base = .milliseconds(50)
            config.webhookRetry.tick = .milliseconds(20)
        }

        @Test("submit, poll, then fetch artifacts equal to what the target produced")
        func submitPollArtifacts() async throws {
            try await Harness.run { harness in
                let submitted = try await harness.submit(extra: #","metadata":{"b":1,"a":[1.50,"x"]},"priority":3"#)
                #expect(submitted.status == 202)
                let job = try submitted.jsonObject()
                let id = try #require(job["id"] as? String)
                #expect(submitted.headers.first(name: "Location") == "/jobs/\(id)")
                #expect(job["origin"] as? String == "jobs")
                #expect(job["kind"] as? String == "chat")
                #expect(job["model"] as? String == "llama3.2")
                #expect(job["priority"] as? Int == 3)
                #expect(submitted.body.contains(#""metadata":{"b":1,"a":[1.50,"x"]}"#))  // verbatim
                for key in ["started_at", "finished_at", "error", "state_webhook_url", "queue_position", "attempts", "created_at"] {
                    #expect(job.keys.contains(key), "\(key)")
                }

                let finished = try await harness.waitForJob(id, state: "succeeded")
                #expect(finished["attempts"] as? Int == 1)
                #expect(finished["queue_position"] is NSNull)
                let artifacts = try #require(finished["artifacts"] as? [[String: Any]])
                #expect(artifacts.map { $0["name"] as? String } == ["response.json", "transcript.ndjson"])

                let response = try await harness.request(.GET, "/jobs/\(id)/artifacts/response.json")
                #expect(response.headers.first(name: "Content-Type") == "application/json")
                let message = try response.jsonObject()["message"] as? [String: Any]
                #expect(message?["content"] as? String == "The sky is blue")

                let transcript = try await harness.request(.GET, "/jobs/\(id)/artifacts/transcript.ndjson")
                #expect(transcript.headers.first(name: "Content-Type") == "application/x-ndjson")
                #expect(transcript.body == (await harness.fake.sentBodies.last))  // byte for byte
                #expect(artifacts.last?["size"] as? Int == transcript.body.utf8.count)

                let listing = try await harness.request(.GET, "/jobs/\(id)/artifacts").jsonObject()
                #expect((listing["artifacts"] as? [Any])?.count == 2)
                #expect(try await harness.request(.GET, "/jobs/\(id)/artifacts/other.txt").status == 404)
                #expect(try await harness.request(.GET, "/jobs/\(id)/artifacts/..%2F..%2Fetc%2Fpasswd").status == 404)
                #expect(try await harness.request(.GET, "/jobs/job_nope/artifacts").status == 404)
                #expect(try await harness.request(.GET, "/jobs/job_nope").error == "job not found")
            }
        }

        @Test("a long transcript is written in parts as it streams and read back whole, byte for byte (ADR 0024)")
        func longTranscriptInParts() async throws {
            try await Harness.run { harness in
                let submitted = try await harness.submit(request: Harness.chatBody(tokens: 1500, content: "long"))
                let id = try #require(try submitted.jsonObject()["id"] as? String)
                let finished = try await harness.waitForJob(id, state: "succeeded")
                let sent = try #require(await harness.fake.sentBodies.last)
                #expect(sent.utf8.count > 2 * (64 << 10), "the stream is long enough for parts")
                // The parts were written to their table as the stream went; the artifact's row holds the rest.
                let database = try DatabaseQueue(path: harness.databasePath)
                let (parts, rest) = try await database.read { db in
                    (
                        try Int.fetchOne(db, sql: "SELECT COUNT(*) FROM artifact_part WHERE job_id = ?", arguments: [id]) ?? 0,
                        try Int.fetchOne(db, sql: "SELECT length(data) FROM artifact WHERE job_id = ?", arguments: [id]) ?? 0
                    )
                }
                try database.close()
                #expect(parts >= 2)
                #expect(rest < 64 << 10)
                let transcript = try await harness.request(.GET, "/jobs/\(id)/artifacts/transcript.ndjson")
                #expect(transcript.body == sent)
                let artifacts = try #require(finished["artifacts"] as? [[String: Any]])
                #expect(artifacts.last?["size"] as? Int == sent.utf8.count)
                let message = try await harness.request(.GET, "/jobs/\(id)/artifacts/response.json").jsonObject()["message"] as? [String: Any]
                #expect((message?["content"] as? String)?.isEmpty == false)
            }
        }

        @Test("the worker runs native calls first, then prefers the resident model, as ADR 0007 says")
        func schedulingOrder() async throws {
            try await Harness.run { harness in
                await harness.fake.pause()
                func submit(_ model: String, _ name: String) async throws {
                    #expect(try await harness.submit(request: Harness.chatBody(model: model, tokens: 2, content: name)).status == 202)
                }
                try await submit("llama3.2", "J1")
                await harness.fake.waitForGenerations(1)  // J1 runs and holds llama3.2 in the chat slot
                try await submit("qwen2.5:7b", "J2")
                try await submit("llama3.2", "J3")
                try await submit("qwen2.5:7b", "J4")
                let native = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(tokens: 2, content: "N")) }
                try await harness.waitForQueueDepth(4)
                #expect(try await harness.request(.GET, "/jobs?state=queued&origin=api").jsonObject()["jobs"].map { ($0 as? [[String: Any]])?.first?["queue_position"] as? Int } == 1)
                await harness.fake.resume()
                #expect(try await native.value.status == 200)
                try await eventually("all five ran") { await harness.fake.completedGenerations == 5 }
                let order = await harness.fake.requests(to: "/api/chat").compactMap { request in
                    ["J1", "J2", "J3", "J4", "N"].first { request.body.contains("\"\($0)\"") }
                }
                // N outranks the batch; J3 (llama3.2, resident) jumps ahead of the older J2.
                #expect(order == ["J1", "N", "J3", "J2", "J4"])
            }
        }

        @Test("native calls wait in memory: a /jobs job of a higher priority runs before them, one of a lower priority after; a waiting call is listed, read and cancelled by id")
        func nativeCallsAndPriorities() async throws {
            try await Harness.run { harness in
                await harness.fake.pause()
                #expect(try await harness.submit(request: Harness.chatBody(tokens: 2, content: "J1")).status == 202)
                await harness.fake.waitForGenerations(1)  // J1 holds the slot
                #expect(try await harness.submit(request: Harness.chatBody(tokens: 2, content: "LOW"), extra: #","priority":0"#).status == 202)
                #expect(try await harness.submit(request: Harness.chatBody(tokens: 2, content: "HIGH"), extra: #","priority":50"#).status == 202)
                try await harness.waitForQueueDepth(2)
                let native = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(tokens: 2, content: "N")) }
                try await harness.waitForQueueDepth(3)
                let cancelled = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(tokens: 2, content: "GONE")) }
                try await harness.waitForQueueDepth(4)

                let listed = try await harness.request(.GET, "/jobs?state=queued&origin=api").jsonObject()["jobs"] as? [[String: Any]] ?? []
                #expect(listed.map { $0["queue_position"] as? Int } == [3, 2], "\(listed)")  // newest first; HIGH is ahead of both
                let gone = try #require(listed.first?["id"] as? String)
                #expect(try await harness.job(gone)["state"] as? String == "queued")
                #expect(try await harness.request(.DELETE, "/jobs/\(gone)").status == 200)
                let refused = try await cancelled.value
                #expect(refused.status == 499 && refused.error == "request canceled", "\(refused.status) \(refused.body)")
                #expect(try await harness.job(gone)["state"] as? String == "cancelled")

                await harness.fake.resume()
                let answered = try await native.value
                #expect(answered.status == 200)
                #expect(answered.headers.first(name: "X-Foreman-Queue-Position") == "2", "HIGH is ahead of it")
                try await eventually("all four ran") { await harness.fake.completedGenerations == 4 }
                let order = await harness.fake.requests(to: "/api/chat").compactMap { request in
                    ["J1", "LOW", "HIGH", "N", "GONE"].first { request.body.contains("\"\($0)\"") }
                }
                #expect(order == ["J1", "HIGH", "N", "LOW"])
                let id = try #require(answered.headers.first(name: "X-Foreman-Job-Id"))
                #expect(try await harness.job(id)["state"] as? String == "succeeded")
            }
        }

        @Test("each run's end has the next /jobs job claimed before its own record is committed: the box waits for no record (ADR 0024)")
        func nextClaimedBeforeRecord() async throws {
            let lines = LogLines()
            let logger = lines.logger()
            try await Harness.run(logger: logger) { harness in
                await harness.fake.pause()
                var ids: [String] = []
                for index in 0..<12 {
                    ids.append(try #require(try await harness.submit(request: Harness.chatBody(tokens: 1)).jsonObject()["id"] as? String))
                    if index == 0 { await harness.fake.waitForGenerations(1) }  // the first holds the slot
                }
                try await harness.waitForQueueDepth(11)
                await harness.fake.resume()
                _ = try await harness.waitForJob(try #require(ids.last), state: "succeeded")
                // The store logs each transition as it commits, in commit order.
                let transitions = lines.all.map(LogfmtReader.fields).filter { $0["msg"]?.hasPrefix("job ") == true }.map { "\($0["job"] ?? "") \($0["state"] ?? "")" }
                for (ended, next) in zip(ids, ids.dropFirst()) {
                    let running = try #require(transitions.firstIndex(of: "\(next) running"), "\(transitions)")
                    let succeeded = try #require(transitions.firstIndex(of: "\(ended) succeeded"), "\(transitions)")
                    #expect(running < succeeded, "\(next) started after \(ended)'s record")
                }
            }
        }

        @Test(
            "with the WAL's fsync held, a lane runs the next /jobs jobs while four outcomes wait for it, then records them all (ADR 0041)",
            .timeLimit(.minutes(1))
        )
        func outcomesRecordedBesideTheNextRuns() async throws {
            let flush = HeldFlush(holding: false)
            try await Harness.run(walFlush: flush.flush) { harness in
                await harness.fake.pause()
                var ids: [String] = []
                for index in 0..<10 {
                    ids.append(try #require(try await harness.submit(request: Harness.chatBody(tokens: 1)).jsonObject()["id"] as? String))
                    if index == 0 { await harness.fake.waitForGenerations(1) }  // the first holds the slot
                }
                try await harness.waitForQueueDepth(9)
                flush.hold()
                await harness.fake.resume()
                // Jobs 0 to 3 wait for the disk, job 4's end waits for one of them, and it had started job 5 first. A
                // lane that waited for each outcome before the next end would have started job 1 alone: the flushes
                // are then let go after a bound, so that the failure ends the test instead of hanging it.
                let fake = harness.fake
                let started = await withTaskGroup(of: Bool.self) { race in
                    race.addTask {
                        await fake.waitForGenerations(6)
                        return true
                    }
                    race.addTask {
                        try? await Task.sleep(for: .seconds(20))
                        return false
                    }
                    let first = await race.next()!
                    flush.open()
                    race.cancelAll()
                    return first
                }
                #expect(started, "the lane stopped while the first outcome waited for the disk")
                for id in ids { _ = try await harness.waitForJob(id, state: "succeeded") }
            }
        }

        @Test("a running native call is listed, read and cancelled by id before its row exists")
        func runningNativeCallFromMemory() async throws {
            try await Harness.run { harness in
                await harness.fake.pause()
                let native = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2)) }
                await harness.fake.waitForGenerations(1)
                let listed = try await harness.request(.GET, "/jobs?state=running&origin=api").jsonObject()["jobs"] as? [[String: Any]] ?? []
                #expect(listed.count == 1, "\(listed)")
                let id = try #require(listed.first?["id"] as? String)
                #expect(try await harness.job(id)["state"] as? String == "running")
                let cancelled = try await harness.request(.DELETE, "/jobs/\(id)")
                #expect(cancelled.status == 200, "\(cancelled.body)")
                #expect(try cancelled.jsonObject()["state"] as? String == "cancelled")
                #expect(try await native.value.status == 499)
                await harness.fake.resume()
            }
        }

        @Test("an embed job stores the embed response and no transcript")
        func embedJob() async throws {
            try await Harness.run { harness in
                let submitted = try await harness.submit(kind: "embed", request: #"{"model":"nomic-embed-text","input":["a","b"]}"#)
                #expect(submitted.status == 202)
                let id = try #require(try submitted.jsonObject()["id"] as? String)
                let finished = try await harness.waitForJob(id, state: "succeeded")
                #expect((finished["artifacts"] as? [[String: Any]])?.map { $0["name"] as? String } == ["response.json"])
                let response = try await harness.request(.GET, "/jobs/\(id)/artifacts/response.json").jsonObject()
                #expect((response["embeddings"] as? [Any])?.count == 2)
            }
        }

        @Test("each state change is one signed webhook, delivered in order")
        func webhooksInOrderSigned() async throws {
            let receiver = WebhookReceiver()
            try await withRunningService({ await receiver.app(onServerRunning: $0) }) { hookPort in
                try await Harness.run(configure: Self.fastWebhooks) { harness in
                    let url = "http://127.0.0.1:\(hookPort)/hook"
                    let id = try #require(try await harness.submit(extra: #","state_webhook_url":""# + url + #"""#).jsonObject()["id"] as? String)
                    await receiver.waitForAccepted(3)
                    let deliveries = await receiver.accepted
                    #expect(deliveries.map(\.state) == ["queued", "running", "succeeded"])
                    #expect(Set(deliveries.map(\.id)).count == 3)
                    let signer = try WebhookSigner(secret: Self.secret)
                    for delivery in deliveries {
                        #expect(delivery.jobID == id)
                        #expect(delivery.json["type"] as? String == "job.state_changed")
                        #expect(delivery.json["timestamp"] is String)
                        let timestamp = try #require(Int(delivery.timestamp))
                        #expect(delivery.signature == signer.signature(id: delivery.id, timestamp: timestamp, body: Data(delivery.body.utf8)))
                    }
                    let final = try #require(deliveries.last?.json["data"] as? [String: Any])
                    #expect((final["artifacts"] as? [Any])?.count == 2)
                    #expect((deliveries.first?.json["data"] as? [String: Any])?["queue_position"] as? Int == 1)
                }
            }
        }

        @Test("a receiver answering 503 is retried, with the same webhook-id, until it recovers; order holds")
        func failingReceiverIsRetried() async throws {
            let receiver = WebhookReceiver()
            await receiver.failNext(3)
            try await withRunningService({ await receiver.app(onServerRunning: $0) }) { hookPort in
                try await Harness.run(configure: Self.fastWebhooks) { harness in
                    let url = "http://127.0.0.1:\(hookPort)/hook"
                    _ = try await harness.submit(extra: #","state_webhook_url":""# + url + #"""#)
                    await receiver.waitForAccepted(3)
                    let attempts = await receiver.attempts
                    #expect(attempts.count == 6)
                    #expect(Set(attempts.prefix(4).map(\.id)).count == 1)  // the first event, three refusals then success
                    #expect(attempts.prefix(4).allSatisfy { $0.state == "queued" })
                    #expect(await receiver.accepted.map(\.state) == ["queued", "running", "succeeded"])
                }
            }
        }

        @Test("the outbox reads its table only while an event is pending: an idle foreman sets no clock (ADR 0024)")
        func idleOutboxReadsNothing() async throws {
            let receiver = WebhookReceiver()
            await receiver.failNext(2)
            try await withRunningService({ await receiver.app(onServerRunning: $0) }) { hookPort in
                try await Harness.run(configure: Self.fastWebhooks) { harness in
                    func reads() async throws -> Int {
                        let metrics = try await harness.request(.GET, "/metrics").body
                        let line = metrics.split(separator: "\n").first { $0.hasPrefix("foreman_webhook_outbox_reads_total ") }
                        return line.flatMap { Int($0.split(separator: " ").last ?? "") } ?? 0
                    }
                    // Absence has no signal: each quiet stretch is 25 of the outbox's 20 ms ticks.
                    let quiet = Duration.milliseconds(500)
                    var atStart = 0
                    while atStart == 0 { atStart = try await reads() }  // the read at startup
                    try await Task.sleep(for: quiet)
                    let afterQuiet = try await reads()
                    #expect(afterQuiet == atStart, "nothing is pending, yet the outbox kept reading")
                    // A refused event is retried on the clock, so the outbox reads while it is pending.
                    let url = "http://127.0.0.1:\(hookPort)/hook"
                    _ = try await harness.submit(extra: #","state_webhook_url":""# + url + #"""#)
                    await receiver.waitForAccepted(3)
                    #expect(await receiver.attempts.count == 5)
                    let whilePending = try await reads()
                    #expect(whilePending > afterQuiet + 2)
                    // Every event delivered: once a read has seen the endpoint drained, the clock stops.
                    try await Task.sleep(for: quiet)
                    let drained = try await reads()
                    try await Task.sleep(for: quiet)
                    let later = try await reads()
                    #expect(later == drained, "every event was delivered, yet the outbox kept reading")
                }
            }
        }

        @Test("cancel: queued never reaches the target, running is aborted, twice is harmless, finished is 409")
        func cancel() async throws {
            try await Harness.run { harness in
                await harness.fake.pause()
                let running = try #require(try await harness.submit(request: Harness.chatBody(tokens: 50, content: "first")).jsonObject()["id"] as? String)
                await harness.fake.waitForGenerations(1)
                let queued = try #require(try await harness.submit(request: Harness.chatBody(content: "second")).jsonObject()["id"] as? String)
                #expect(try await harness.job(queued)["queue_position"] as? Int == 1)

                let cancelQueued = try await harness.request(.DELETE, "/jobs/\(queued)")
                #expect(cancelQueued.status == 200)
                #expect(try cancelQueued.jsonObject()["state"] as? String == "cancelled")

                let cancelRunning = try await harness.request(.DELETE, "/jobs/\(running)")
                #expect(cancelRunning.status == 200)
                #expect(try cancelRunning.jsonObject()["state"] as? String == "cancelled")
                #expect(try await harness.request(.DELETE, "/jobs/\(running)").status == 200)
                await harness.fake.resume()
                try await eventually("upstream aborted") { await harness.fake.abortedGenerations == 1 }
                let chats = await harness.fake.requests(to: "/api/chat")
                #expect(chats.count == 1)
                #expect(chats.first?.body.contains("first") == true)

                let done = try #require(try await harness.submit().jsonObject()["id"] as? String)
                _ = try await harness.waitForJob(done, state: "succeeded")
                let late = try await harness.request(.DELETE, "/jobs/\(done)")
                #expect(late.status == 409)
                #expect(try late.jsonObject()["state"] as? String == "succeeded")
                #expect(try await harness.request(.DELETE, "/jobs/job_nope").status == 404)
            }
        }

        @Test("Idempotency-Key: same body returns the original job, a different body is 422")
        func idempotency() async throws {
            try await Harness.run { harness in
                let first = try await harness.submit(key: "abc-1")
                #expect(first.status == 202)
                let again = try await harness.submit(key: "abc-1")
                #expect(again.status == 200)
                #expect(try again.jsonObject()["id"] as? String == first.jsonObject()["id"] as? String)
                let changed = try await harness.submit(request: Harness.chatBody(content: "other"), key: "abc-1")
                #expect(changed.status == 422)
                #expect(try await harness.submit(key: "abc-2").status == 202)
                #expect(try await harness.request(.GET, "/jobs?origin=jobs").jsonObject()["jobs"].map { ($0 as? [Any])?.count } == 2)
            }
        }

        @Test("listing is newest first with a stable cursor; native calls appear with origin api")
        func pagination() async throws {
            try await Harness.run { harness in
                _ = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false))
                var submitted: [String] = []
                for _ in 0..<5 {
                    submitted.append(try #require(try await harness.submit().jsonObject()["id"] as? String))
                }
                var seen: [String] = []
                var cursor: String?
                repeat {
                    let page = try await harness.request(.GET, "/jobs?origin=jobs&limit=2" + (cursor.map { "&cursor=\($0)" } ?? "")).jsonObject()
                    let jobs = try #require(page["jobs"] as? [[String: Any]])
                    #expect(jobs.count <= 2)
                    seen += jobs.compactMap { $0["id"] as? String }
                    cursor = page["next_cursor"] as? String
                } while cursor != nil
                #expect(seen == submitted.reversed())
                let native = try await harness.request(.GET, "/jobs?origin=api").jsonObject()["jobs"] as? [[String: Any]]
                #expect(native?.count == 1)
                #expect(native?.first?["state"] as? String == "succeeded")
                #expect(native?.first?["kind"] as? String == "chat")
                let all = try await harness.request(.GET, "/jobs?limit=1000").jsonObject()["jobs"] as? [Any]
                #expect(all?.count == 6)
                #expect(try await harness.request(.GET, "/jobs?state=done").status == 400)
                #expect(try await harness.request(.GET, "/jobs?limit=0").status == 400)
                #expect(try await harness.request(.GET, "/jobs?cursor=abc").status == 400)
            }
        }

        @Test("bad submissions get a 4xx JSON error and create no job")
        func badSubmissions() async throws {
            try await Harness.run { harness in
                let cases: [(String, Int, String)] = [
                    (#"{"kind":"dance","request":{}}"#, 400, "invalid request body: field 'kind' must be one of chat, generate, embed"),
                    (#"{"kind":"chat","request":"hi"}"#, 400, "invalid request body: field 'request' must be an object (the native Ollama request body)"),
                    (#"{"kind":"chat","request":{"model":"llama3.2"},"state_webhook_url":"ftp://x"}"#, 400, "invalid request body: field 'state_webhook_url' must be an http:// or https:// URL"),
                    (#"{"kind":"chat","request":{"model":"llama3.2"},"priority":"high"}"#, 400, "invalid request body: field 'priority' must be a whole number"),
                    (#"{"kind":"chat","request":{"model":"llama3.2"},"metadata":[1]}"#, 400, "invalid request body: field 'metadata' must be an object"),
                    (#"{"kind":"chat","request":{"messages":[]}}"#, 400, "model is required"),
                    (#"{"kind":"chat","request":{"model":"ghost"}}"#, 404, "model 'ghost' not found"),
                    (#"{"kind":"embed","request":{"model":"nomic-embed-text","input":3}}"#, 400, "invalid input type"),
                ]
                #expect(try await harness.request(.POST, "/jobs", json: "{").error?.hasPrefix("invalid JSON in request body") == true)
                for (body, status, message) in cases {
                    let response = try await harness.request(.POST, "/jobs", json: body)
                    #expect(response.status == status, "\(body)")
                    #expect(response.error == message, "\(body)")
                }
                #expect(try await harness.request(.GET, "/jobs").jsonObject()["jobs"].map { ($0 as? [Any])?.count } == 0)
            }
        }

        @Test("jobs submitted while the target is down succeed once it returns")
        func submittedWhileTargetDown() async throws {
            let fake = FakeOllamaState(tokenDelay: .milliseconds(2))
            let port = try closedPort()
            try await Harness.runForeman(fake: fake, fakePort: port, databasePath: temporaryDatabasePath()) { harness in
                let ids = try await (0..<3).asyncMap { _ in try #require(try await harness.submit().jsonObject()["id"] as? String) }
                _ = try await harness.waitForJob(ids[0], state: "running")
                try await withRunningService({ onRunning in
                    buildFakeOllama(state: fake, port: port, logger: quietLogger("fake"), onServerRunning: onRunning)
                }) { _ in
                    for id in ids {
                        let job = try await harness.waitForJob(id, state: "succeeded")
                        #expect(job["error"] is NSNull)
                    }
                }
            }
        }

        @Test("after a restart, interrupted /jobs work is requeued and finished; exhausted work fails")
        func recoveryAfterRestart() async throws {
            let path = temporaryDatabasePath()
            let (requeued, waiting, exhausted): (String, String, String)
            do {
                let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: path), maxQueue: 10)
                let request = Data(Harness.chatBody(tokens: 2).utf8)
                let jobs = (0..<3).map { _ in Job(kind: .chat, origin: .jobs, model: "llama3.2", request: request, stream: true) }
                for job in jobs { _ = try await store.enqueue(job) }
                _ = try await store.claimNext(chatSlot: nil, policy: .init())  // running when the process died, first attempt
                (requeued, waiting, exhausted) = (jobs[0].id, jobs[1].id, jobs[2].id)
                try await store.pool.write { db in
                    try db.execute(sql: "UPDATE job SET state = 'running', attempts = 3 WHERE id = ?", arguments: [exhausted])
                }
            }
            try await Harness.run(databasePath: path, configure: { $0.maxAttempts = 3 }) { harness in
                let first = try await harness.waitForJob(requeued, state: "succeeded")
                #expect(first["attempts"] as? Int == 2)
                _ = try await harness.waitForJob(waiting, state: "succeeded")
                let gaveUp = try await harness.job(exhausted)
                #expect(gaveUp["state"] as? String == "failed")
                #expect((gaveUp["error"] as? String)?.contains("interrupted by restart") == true)
                #expect(await harness.fake.completedGenerations == 2)
            }
        }
    }
}

extension Sequence {
    func asyncMap<T>(_ transform: (Element) async throws -> T) async rethrows -> [T] {
        var results: [T] = []
        for element in self { results.append(try await transform(element)) }
        return results
    }
}

extension ServerTests {
    @Suite("Jobs client (foreman jobs …)")
    struct JobsClientTests {
        @Test("submit --wait, get, list, artifact and cancel through the client the CLI uses")
        func clientRoundTrip() async throws {
            try await Harness.run { harness in
                let client = JobsClient(baseURL: harness.baseURL + "/", token: "secret")
                let submitted = try await client.submit(
                    kind: .generate, request: JobsClient.nativeRequest(kind: .generate, model: "llama3.2", prompt: "why"),
                    webhook: nil, priority: 2
                )
                #expect(submitted.status == 202)
                let id = try #require(submitted.object?["id"] as? String)
                let finished = try await client.waitUntilFinished(id, every: .milliseconds(20))
                #expect(finished.object?["state"] as? String == "succeeded")
                let response = try await client.artifact(id, name: "response.json")
                #expect((response.object?["response"] as? String)?.hasPrefix("The sky") == true)
                let listed = try await client.list(state: "succeeded", kind: "generate", origin: nil, limit: 5, cursor: nil)
                #expect((listed.object?["jobs"] as? [Any])?.count == 1)
                let late = try await client.cancel(id)
                #expect(late.status == 409)
                #expect(late.errorMessage == "job already succeeded")
                #expect(try await client.get("job_nope").errorMessage == "job not found")
                let unauthorized = try await JobsClient(baseURL: harness.baseURL, token: nil).get(id)
                #expect(unauthorized.status == 401)
            }
        }
    }
}
