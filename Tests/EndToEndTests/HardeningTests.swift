import AsyncHTTPClient
import FakeOllama
import ForemanEngine
import ForemanApp
import ForemanHTTP
import ForemanDomain
import ForemanTestSupport
import Foundation
import NIOCore
import Logging
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif






extension ServerTests {
    /// What attacks and real clients broke (issue #13), each with the end-to-end test that failed before its fix.
    @Suite("Hardening")
    struct HardeningTests {
        // MARK: The command line (item 15)

        @Test("foreman jobs list into a closed pipe ends quietly with 0; an absent server is one line and exit 69")
        func cliClosedPipeAndUnreachable() async throws {
            try await Harness.run { harness in
                for index in 0..<3 { _ = try await harness.submit(request: Harness.chatBody(tokens: 1, content: "\(index)")) }
                let pipe = Pipe()
                try pipe.fileHandleForReading.close()  // the reader (`head -c 0`) is gone before the first write
                let environment = ["FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": "secret"]
                for arguments in [["jobs", "list"], ["jobs", "get", "job_nope"]] {
                    let result = try runForemanCommand(arguments, environment: environment, output: pipe.fileHandleForWriting)
                    if arguments[1] == "list" {
                        #expect(result.status == 0, "\(arguments)")
                        #expect(result.standardError.isEmpty, "\(result.standardError)")
                    } else {
                        #expect(result.status == 4)
                        #expect(result.standardError == "foreman: job not found (HTTP 404)\n")
                    }
                }
            }
            let port = try closedPort()
            for arguments in [["jobs", "list"], ["jobs", "get", "job_x"], ["jobs", "cancel", "job_x"]] {
                let result = try runForemanCommand(arguments, environment: ["FOREMAN_URL": "http://127.0.0.1:\(port)"])
                #expect(result.status == 69, "\(arguments)")
                let lines = result.standardError.split(separator: "\n")
                #expect(lines.count == 1, "\(result.standardError)")
                #expect(result.standardError.hasPrefix("foreman: cannot reach foreman at http://127.0.0.1:\(port): "), "\(result.standardError)")
            }
        }

        // MARK: A second process (items 2 and 3)

        @Test("a second foreman on the same database refuses before touching it; the first one's jobs are undisturbed")
        func secondProcessRefuses() async throws {
            let fake = FakeOllamaState(tokenDelay: .milliseconds(1))
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-second-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let database = folder.appendingPathComponent("foreman.db").path
            try await withRunningService({ buildFakeOllama(state: fake, port: 0, logger: quietLogger("fake"), onServerRunning: $0) }) { fakePort in
                let environment = ["FOREMAN_OLLAMA_URL": "http://127.0.0.1:\(fakePort)", "FOREMAN_TOKEN": "secret", "FOREMAN_DB": database]
                let first = try ForemanProcess(port: try closedPort(), environment: environment, log: folder.appendingPathComponent("first.log"))
                defer { first.terminate() }
                try await first.waitUntilServing()
                let harness = Harness(fake: fake, fakePort: fakePort, port: first.port, token: "secret", databasePath: database)

                // A native generation held in flight, and a /jobs job queued behind it.
                await fake.pause()
                let native = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 3)) }
                try await eventually("a generation in flight") { await fake.activeGenerations == 1 }
                let queued = try await harness.submit(request: Harness.chatBody(tokens: 2)).jsonObject()
                let queuedID = try #require(queued["id"] as? String)

                let secondLog = folder.appendingPathComponent("second.log")
                let second = try ForemanProcess(port: try closedPort(), environment: environment, log: secondLog)
                let status = try? await second.waitForExit(within: .seconds(30))
                guard status == 75 else {
                    await fake.resume()  // let the held generation end, so the servers can stop
                    throw TestFailure("the second foreman did not refuse: exit status \(String(describing: status))")
                }
                let said = try String(contentsOf: secondLog, encoding: .utf8)
                #expect(said.contains("foreman: the database \(database) is in use by another foreman (pid \(first.pid))"), "\(said)")
                #expect(!said.contains("recovered jobs"))

                #expect(try await harness.job(queuedID)["state"] as? String == "queued")
                await fake.resume()
                let answer = try await native.value
                #expect(answer.status == 200)
                let nativeID = try #require(answer.headers.first(name: "X-Foreman-Job-Id"))
                #expect(try await harness.waitForJob(nativeID, state: "succeeded")["error"] is NSNull)
                _ = try await harness.waitForJob(queuedID, state: "succeeded")
            }
        }

        @Test("a database another process keeps locked: foreman waits its busy timeout, then says why in one line and exits 75")
        func lockedDatabaseAtStartup() async throws {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-locked-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let database = folder.appendingPathComponent("foreman.db").path
            // sqlite3 in another process takes the write lock and keeps it until its standard input closes.
            let holder = try SQLiteLockHolder(database: database, lock: "EXCLUSIVE")
            defer { holder.release() }

            let result = try runForemanCommand(["serve"], environment: ["FOREMAN_DB": database, "FOREMAN_ADDR": "127.0.0.1:\(try closedPort())", "FOREMAN_OLLAMA_URL": "http://127.0.0.1:1"])
            #expect(result.status == 75, "\(result.standardError)")
            let lastLine = result.standardError.split(separator: "\n").last.map(String.init) ?? ""
            #expect(lastLine == "foreman: \(database): the database is locked by another process", "\(result.standardError)")
            #expect(!result.standardError.contains("Fatal error"))
        }

        // MARK: Exposure (item 12)

        @Test("healthz without the token is the status alone; userinfo never shows; webhooks to metadata addresses are refused")
        func exposure() async throws {
            let lines = LogLines()
            let logger = lines.logger()
            try await Harness.run(logger: logger, configure: { $0.logBodies = true }) { harness in
                let anonymous = try await harness.request(.GET, "/healthz", token: .some(nil))
                #expect(anonymous.status == 200)
                #expect(anonymous.body == #"{"status":"ok"}"#)
                let full = try await harness.health()
                #expect(full["target"] as? String == "http://127.0.0.1:\(harness.fakePort)")

                let hook = "http://alice:hunter2@127.0.0.1:9/hook"
                let submitted = try await harness.submit(extra: #","state_webhook_url":""# + hook + #"""#)
                #expect(submitted.status == 202)
                let id = try #require(try submitted.jsonObject()["id"] as? String)
                #expect(try await harness.job(id)["state_webhook_url"] as? String == "http://***@127.0.0.1:9/hook")
                #expect(!lines.all.joined().contains("hunter2"))
                #expect(lines.all.contains { $0.contains("***@127.0.0.1:9/hook") })  // the body was logged, redacted

                for host in ["169.254.169.254", "2852039166", "[fe80::1]", "[::ffff:169.254.169.254]", "metadata.google.internal", "100.100.100.200"] {
                    let refused = try await harness.submit(extra: #","state_webhook_url":"http://"# + host + #"/latest/meta-data""#)
                    #expect(refused.status == 400, "\(host)")
                    #expect(refused.error?.contains("refused") == true, "\(host): \(refused.body)")
                }
            }
            // Accepted addresses are checked without a server: a job would send its webhooks there.
            func submission(_ url: String, _ policy: WebhookAddressPolicy) throws -> JobSubmission {
                try JobSubmission.parse(ByteBuffer(string: #"{"kind":"chat","request":"# + Harness.chatBody() + #","state_webhook_url":""# + url + #""}"#), webhooks: policy)
            }
            #expect(try submission("http://10.1.2.3/hook", WebhookAddressPolicy()).stateWebhookURL == "http://10.1.2.3/hook")
            #expect(throws: RequestError.self) { try submission("http://169.254.169.254/hook", WebhookAddressPolicy()) }
            #expect(try submission("http://169.254.169.254/hook", WebhookAddressPolicy(allowLinkLocal: true)).stateWebhookURL != nil)
        }

        // MARK: The target (items 13 and 14)

        @Test("unknown model names re-poll /api/tags at most once a second, however many arrive")
        func unknownModelsBoundRepolls() async throws {
            try await Harness.run(configure: { $0.inventoryRefreshMinimum = .seconds(1) }) { harness in
                let before = await harness.fake.requests(to: "/api/tags").count
                let start = ContinuousClock.now
                try await withThrowingTaskGroup(of: Int.self) { group in
                    for index in 0..<100 {
                        group.addTask { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(model: "made-up-\(index)")).status }
                    }
                    for try await status in group { #expect(status == 404) }
                }
                let elapsed = ContinuousClock.now - start
                // No poll at all is right too, when the startup poll was less than a second before the burst; that an
                // unknown model re-polls at all is the native suite's "exactly one re-poll" test.
                let polls = await harness.fake.requests(to: "/api/tags").count - before
                #expect(polls <= Int(elapsed.components.seconds) + 2, "\(polls) polls in \(elapsed)")
            }
        }

        @Test("a refused embeddings model leaves the slot; a refused unload is not waited for")
        func embeddingsSlotMovesOnlyOnAcceptance() async throws {
            try await Harness.run { harness in
                let embed = #"{"model":"nomic-embed-text","input":"hello"}"#
                #expect(try await harness.request(.POST, "/api/embed", json: embed).status == 200)
                let refused = try await harness.request(.POST, "/api/embed", json: #"{"model":"nope-embed","input":"hello"}"#)
                #expect(refused.status == 404)
                #expect(try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 1)).status == 200)
                #expect(await harness.fake.unloads.isEmpty)
                #expect(await harness.fake.resident == ["llama3.2:latest", "nomic-embed-text:latest"])
                let residency = try #require(try await harness.health()["residency"] as? [String: Any])
                #expect(residency["embed_slot"] as? String == "nomic-embed-text:latest")

                // The target refuses to unload llama3.2 when qwen2.5:7b takes the chat slot.
                await harness.fake.inject(FakeFailure(path: "/api/generate", status: 500, error: "unload refused"))
                let psBefore = await harness.fake.requests(to: "/api/ps").count
                let generate = #"{"model":"qwen2.5:7b","prompt":"hi","stream":false,"options":{"num_predict":1}}"#
                #expect(try await harness.request(.POST, "/api/generate", json: generate).status == 200)
                // One read of /api/ps to plan the unloads; none polling for a model that is not going away.
                #expect(await harness.fake.requests(to: "/api/ps").count - psBefore == 1)
            }
        }
    }
}


extension ServerTests.HardeningTests {
    // MARK: Framing and slow clients (items 8 and 9)

    @Test("malformed framing answers 400 and closes; HTTP/1.0 is answered and closed")
    func malformedFraming() async throws {
        try await Harness.run { harness in
            let head = "POST /api/chat HTTP/1.1\r\nHost: foreman\r\nAuthorization: Bearer secret\r\nContent-Type: application/json\r\n"
            let cases: [(String, String)] = [
                ("chunk size zz", head + "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n"),
                ("chunk size -1", head + "Transfer-Encoding: chunked\r\n\r\n-1\r\n{}\r\n0\r\n\r\n"),
                ("xchunked", head + "Transfer-Encoding: xchunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n"),
                // A head that cannot be parsed: no route sees it, the connection's loop answers it.
                ("a header without a colon", "GET /api/tags HTTP/1.1\r\nHost foreman\r\n\r\n"),
            ]
            for (name, request) in cases {
                let connection = try RawConnection(port: harness.port)
                connection.send(request)
                let answer = try #require(connection.readUntilClosed(), "\(name): the connection stayed open")
                #expect(answer.hasPrefix("HTTP/1.1 400") && answer.contains(#""error""#), "\(name): \(answer)")
            }
            // A body shorter than its Content-Length, then the end of the stream: a 400, or a clean close.
            let short = try RawConnection(port: harness.port)
            short.send(head + "Content-Length: 100\r\n\r\n{\"model\":")
            short.finishSending()
            let answer = try #require(short.readUntilClosed(), "short body: the connection stayed open")
            #expect(answer.isEmpty || answer.hasPrefix("HTTP/1.1 400"), "short body: \(answer)")

            let old = try RawConnection(port: harness.port)
            old.send("GET /api/tags HTTP/1.0\r\nAuthorization: Bearer secret\r\n\r\n")
            let tags = try #require(old.readUntilClosed(), "HTTP/1.0: the connection stayed open")
            #expect(tags.hasPrefix("HTTP/1.0 200") || tags.hasPrefix("HTTP/1.1 200"), "\(tags)")
            #expect(tags.contains("llama3.2"))
            #expect(await harness.fake.requests(to: "/api/chat").isEmpty)
        }
    }

    @Test("a request target in origin or absolute form reaches its route; `*` and a target without a slash get a 4xx")
    func requestTargets() async throws {
        try await Harness.run { harness in
            let cases: [(target: String, found: Bool)] = [
                ("/api/tags", true), ("/api/tags?verbose=1", true), ("http://foreman/api/tags", true),
                ("http://127.0.0.1:\(harness.port)/api/tags?verbose=1", true), ("*", false), ("api/tags", false),
            ]
            for (target, found) in cases {
                let connection = try RawConnection(port: harness.port)
                connection.send("GET \(target) HTTP/1.1\r\nHost: foreman\r\nAuthorization: Bearer secret\r\nConnection: close\r\n\r\n")
                let answer = try #require(connection.readUntilClosed(), "\(target): the connection stayed open")
                if found {
                    #expect(answer.hasPrefix("HTTP/1.1 200") && answer.contains("llama3.2"), "\(target): \(answer)")
                } else {
                    #expect(answer.hasPrefix("HTTP/1.1 4") && answer.contains(#""error""#), "\(target): \(answer)")
                }
            }
        }
    }

    @Test("a partial header, or nothing, is closed after the header timeout; an idle keep-alive after the idle timeout")
    func slowClientsAreClosed() async throws {
        try await Harness.run(configure: { $0.headerTimeout = .milliseconds(300); $0.idleTimeout = .milliseconds(600) }) { harness in
            let silent = try RawConnection(port: harness.port)
            #expect(silent.readUntilClosed() == "")
            let partial = try RawConnection(port: harness.port)
            partial.send("GET /api/tags HTTP/1.1\r\nHo")
            #expect(partial.readUntilClosed() == "")

            // A keep-alive connection answers, then closes once idle; a second request in time is answered too.
            let idle = try RawConnection(port: harness.port)
            idle.send("GET / HTTP/1.1\r\nHost: foreman\r\n\r\n")
            idle.send("GET / HTTP/1.1\r\nHost: foreman\r\n\r\n")
            let answers = try #require(idle.readUntilClosed(), "the idle connection stayed open")
            #expect(answers.components(separatedBy: "Ollama is running").count == 3, "\(answers)")
        }
    }

    @Test("after an answer, a partial head is closed by the header timeout, not the idle one; a head in pieces in time is answered")
    func headerTimeoutAfterAnAnswer() async throws {
        // The idle timeout is far beyond the read limit: only the header timeout can close the connection in time.
        try await Harness.run(configure: { $0.headerTimeout = .milliseconds(300); $0.idleTimeout = .seconds(60) }) { harness in
            let slow = try RawConnection(port: harness.port, readLimit: 5)
            let first = try #require(slow.exchange("GET / HTTP/1.1\r\nHost: foreman\r\n\r\n"))
            #expect(first.contains("Ollama is running"), "\(first)")
            slow.send("GET / HTTP/1.1\r\nHo")
            #expect(slow.readUntilClosed() == "", "a partial head outlived the header timeout")

            // A head sent in two parts, the second well within the header timeout, is answered.
            let split = try RawConnection(port: harness.port, readLimit: 5)
            _ = try #require(split.exchange("GET / HTTP/1.1\r\nHost: foreman\r\n\r\n"))
            split.send("GET / HTTP/1.1\r\nHo")
            try await Task.sleep(for: .milliseconds(50))  // the client's pause between its two writes
            let second = try #require(split.exchange("st: foreman\r\n\r\n"), "the head's second part went unanswered")
            #expect(second.contains("Ollama is running"), "\(second)")
        }
    }

    @Test("the idle timeout counts from a keep-alive connection's last answer, and never cuts an answer short")
    func idleTimeoutFromTheLastAnswer() async throws {
        let fake = FakeOllamaState(tokenDelay: .milliseconds(2))
        try await Harness.run(fake: fake, configure: { $0.headerTimeout = .milliseconds(300); $0.idleTimeout = .milliseconds(600) }) { harness in
            // Requests 350 ms apart: each well within the idle timeout of the answer before it, the third past the
            // idle timeout of the first.
            let steady = try RawConnection(port: harness.port, readLimit: 5)
            for index in 0..<3 {
                if index > 0 { try await Task.sleep(for: .milliseconds(350)) }  // the client's pause between requests
                let answer = try #require(steady.exchange("GET / HTTP/1.1\r\nHost: foreman\r\n\r\n"), "request \(index) went unanswered")
                #expect(answer.contains("Ollama is running"), "\(answer)")
            }
            #expect(steady.readUntilClosed() == "", "the idle connection stayed open")

            // A stream of about 800 ms, longer than the idle timeout, right after an answer: it comes whole.
            let busy = try RawConnection(port: harness.port, readLimit: 5)
            _ = try #require(busy.exchange("GET / HTTP/1.1\r\nHost: foreman\r\n\r\n"))
            let body = Harness.chatBody(tokens: 400)
            busy.send(
                "POST /api/chat HTTP/1.1\r\nHost: foreman\r\nAuthorization: Bearer secret\r\nConnection: close\r\n"
                    + "Content-Length: \(body.utf8.count)\r\n\r\n" + body
            )
            let stream = try #require(busy.readUntilClosed(), "the stream's connection stayed open")
            #expect(stream.hasPrefix("HTTP/1.1 200") && stream.contains(#""done":true"#), "\(stream.suffix(300))")
        }
    }
}


extension ServerTests.HardeningTests {
    // MARK: A full disk (items 5 and 10)

    @Test("a full disk: 503 with Retry-After and a plain reason, /healthz degraded; back to work without a restart once space returns", .enabled(if: TinyVolume.canMount))
    func fullDisk() async throws {
        let volume = try TinyVolume(kilobytes: 4096)
        defer { volume.unmount() }
        try await Harness.run(databasePath: volume.path + "/foreman.db") { harness in
            let before = try await harness.submit(request: Harness.chatBody(tokens: 1))
            #expect(before.status == 202)
            _ = try await harness.waitForJob(try #require(try before.jsonObject()["id"] as? String), state: "succeeded")

            volume.fill()
            let refused = try await harness.submit(request: Harness.chatBody(tokens: 1, content: String(repeating: "x", count: 20000)))
            #expect(refused.status == 503)
            #expect(refused.headers.first(name: "Retry-After") != nil)
            #expect(refused.error == "foreman cannot save work right now: the disk holding the database is full", "\(refused.body)")
            // A native call needs no commit (ADR 0016): it is answered, and its row is written once space returns.
            let native = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 1))
            #expect(native.status == 200, "\(native.body)")
            let nativeID = try #require(native.headers.first(name: "X-Foreman-Job-Id"))
            let health = try await harness.request(.GET, "/healthz")
            #expect(health.status == 503)
            #expect(try health.jsonObject()["store_error"] as? String == "the disk holding the database is full")
            #expect(try await harness.request(.GET, "/healthz", token: .some(nil)).body == #"{"status":"degraded"}"#)

            volume.free()
            let after = try await harness.submit(request: Harness.chatBody(tokens: 1))
            #expect(after.status == 202, "\(after.body)")
            _ = try await harness.waitForJob(try #require(try after.jsonObject()["id"] as? String), state: "succeeded")
            let healthy = try await harness.request(.GET, "/healthz")
            #expect(healthy.status == 200)
            #expect(try healthy.jsonObject()["store_error"] is NSNull)
            #expect(try await harness.job(nativeID)["state"] as? String == "succeeded")
        }
    }
}

extension ServerTests.HardeningTests {
    // MARK: Requests the target drops or fails (items 4 and 7)

    @Test("a request the target drops is tried FOREMAN_MAX_ATTEMPTS times, then fails with the reason; the queue moves on")
    func droppedRequestsAreCounted() async throws {
        try await Harness.run { harness in
            await harness.fake.inject(FakeFailure(path: "/api/chat", times: 10, drop: true))
            let dropped = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2))
            #expect(dropped.status == 502, "\(dropped.body)")
            #expect(dropped.error?.contains("closed the connection without an answer") == true, "\(dropped.body)")
            #expect(dropped.error?.hasSuffix("(3 attempts)") == true, "\(dropped.body)")
            // Three attempts; each may be sent twice, when it went out on a kept connection (the client cannot tell a
            // connection the target closed while idle from one it closed after reading the request).
            let sent = await harness.fake.requests(to: "/api/chat").count
            #expect((3...6).contains(sent), "\(sent)")
            #expect(try await harness.health()["status"] as? String == "ok")  // the target is up: it took the requests
            await harness.fake.clearFailures()
            #expect(try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2)).status == 200)

            // A /jobs job whose first two sends are dropped succeeds on the third.
            await harness.fake.inject(FakeFailure(path: "/api/chat", times: 2, drop: true))
            let submitted = try await harness.submit(request: Harness.chatBody(tokens: 2))
            let id = try #require(try submitted.jsonObject()["id"] as? String)
            _ = try await harness.waitForJob(id, state: "succeeded")
        }
    }

    @Test("a /jobs job retries 429, 5xx and a broken stream, honouring Retry-After, and keeps the transcript of the attempt that succeeded")
    func jobsRetryTransientFailures() async throws {
        try await Harness.run(configure: { $0.maxAttempts = 3 }) { harness in
            let clean = try await harness.submit(request: Harness.chatBody(tokens: 3))
            let cleanID = try #require(try clean.jsonObject()["id"] as? String)
            _ = try await harness.waitForJob(cleanID, state: "succeeded")
            let cleanTranscript = try await harness.request(.GET, "/jobs/\(cleanID)/artifacts/transcript.ndjson").body

            for failure in [
                FakeFailure(path: "/api/chat", status: 503, error: "loading", times: 2, retryAfter: 0),
                FakeFailure(path: "/api/chat", status: 429, error: "slow down", times: 1, retryAfter: 0),
                FakeFailure(path: "/api/chat", status: 500, error: "boom", times: 1),
                FakeFailure(path: "/api/chat", error: "runner crashed", afterTokens: 1, times: 2),
                FakeFailure(path: "/api/chat", afterTokens: 2, times: 1, drop: true),
            ] {
                await harness.fake.inject(failure)
                let submitted = try await harness.submit(request: Harness.chatBody(tokens: 3))
                let id = try #require(try submitted.jsonObject()["id"] as? String)
                let job = try await harness.waitForJob(id, state: "succeeded")
                #expect(job["error"] is NSNull, "\(failure)")
                let transcript = try await harness.request(.GET, "/jobs/\(id)/artifacts/transcript.ndjson").body
                // The same lines as a job that never failed, created_at aside.
                #expect(transcript.split(separator: "\n").count == cleanTranscript.split(separator: "\n").count, "\(failure): \(transcript)")
                #expect(!transcript.contains("error"), "\(failure): \(transcript)")
            }

            await harness.fake.inject(FakeFailure(path: "/api/chat", status: 500, error: "still broken", times: 3))
            let failing = try await harness.submit(request: Harness.chatBody(tokens: 3))
            let failed = try await harness.waitForJob(try #require(try failing.jsonObject()["id"] as? String), state: "failed")
            #expect(failed["error"] as? String == "still broken (3 attempts)")

            // A native caller gets the target's error at once, as from Ollama.
            await harness.fake.clearFailures()
            let before = await harness.fake.requests(to: "/api/chat").count
            await harness.fake.inject(FakeFailure(path: "/api/chat", status: 500, error: "boom", times: 1))
            let native = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2))
            #expect(native.status == 500)
            #expect(native.error == "boom")
            #expect(await harness.fake.requests(to: "/api/chat").count == before + 1)
        }
    }
}

extension ServerTests.HardeningTests {
    // MARK: Webhooks (item 6)

    @Test("a receiver that never answers delays no other receiver's webhooks")
    func deadReceiverDelaysNobody() async throws {
        // A listening socket that never accepts: each delivery to it hangs until the attempt's time limit.
        let (dead, deadPort) = try boundLoopbackSocket()
        defer { close(dead) }
        listen(dead, 128)
        let deadURL = "http://127.0.0.1:\(deadPort)/hook"

        let receiver = WebhookReceiver()
        try await withRunningService({ await receiver.app(onServerRunning: $0) }) { hookPort in
            try await Harness.run(configure: { $0.webhookRetry.timeout = .seconds(120); $0.webhookRetry.tick = .milliseconds(20) }) { harness in
                // More due events for the dead receiver than the outbox starts at once in all (64).
                for index in 0..<100 {
                    let stuck = try await harness.submit(request: Harness.chatBody(tokens: 1, content: "\(index)"), extra: #","state_webhook_url":""# + deadURL + #"""#)
                    #expect(stuck.status == 202)
                }
                let live = try await harness.submit(request: Harness.chatBody(tokens: 1), extra: #","state_webhook_url":"http://127.0.0.1:"# + String(hookPort) + #"/hook""#)
                let id = try #require(try live.jsonObject()["id"] as? String)
                _ = try await harness.waitForJob(id, state: "succeeded")
                // Queued, running, succeeded: long before the dead receiver's attempts time out.
                try await eventually("the live receiver's three events", timeout: .seconds(30)) { await receiver.accepted.count >= 3 }
                let states = await receiver.accepted.map { $0.state ?? "?" }
                #expect(states == ["queued", "running", "succeeded"], "\(states)")
            }
        }
    }
}


extension ServerTests.HardeningTests {
    // MARK: Descriptors (item 1)

    /// CPU time (user + system, in clock ticks) process `pid` has used.
    static func cpuTicks(_ pid: Int32) throws -> Int {
        let stat = try String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8)
        let fields = stat[stat.index(after: try #require(stat.lastIndex(of: ")")))...].split(separator: " ")
        return (Int(fields[11]) ?? 0) + (Int(fields[12]) ?? 0)  // utime, stime (fields 14 and 15 of the line)
    }

    @Test("more connections than descriptors: foreman stops accepting without spinning, serves the open ones, and resumes", .enabled(if: FileManager.default.fileExists(atPath: "/proc/self/stat")))
    func descriptorExhaustion() async throws {
        let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-fds-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
        let port = try closedPort()
        let log = folder.appendingPathComponent("foreman.log")
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/bin/sh")
        let binary = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent().appendingPathComponent("foreman").path
        process.arguments = ["-c", "ulimit -n 256 && exec \"$0\" serve", binary]
        process.environment = [
            "FOREMAN_ADDR": "127.0.0.1:\(port)", "FOREMAN_DB": folder.appendingPathComponent("foreman.db").path,
            "FOREMAN_OLLAMA_URL": "http://127.0.0.1:1", "FOREMAN_HEADER_TIMEOUT": "5m", "FOREMAN_METRICS_PUBLIC": "1",
        ]
        FileManager.default.createFile(atPath: log.path, contents: nil)
        process.standardError = try FileHandle(forWritingTo: log)
        try process.run()
        defer {
            process.terminate()
            process.waitUntilExit()
        }
        try await eventually("foreman listening") { (try? RawConnection(port: port, readLimit: 1))?.exchange("GET / HTTP/1.1\r\nHost: f\r\n\r\n") != nil }

        let probe = try RawConnection(port: port)
        #expect(probe.exchange("GET /healthz HTTP/1.1\r\nHost: f\r\n\r\n")?.contains("\"status\"") == true)
        // 400 connections for a process allowed 256 descriptors: the budget is 192, the rest wait in the backlog.
        var flood: [RawConnection] = []
        for _ in 0..<400 { flood.append(try RawConnection(port: port)) }
        let before = try Self.cpuTicks(process.processIdentifier)
        try await Task.sleep(for: .seconds(1))  // a window to measure the idle process's CPU in, not a wait for a signal
        let used = try Self.cpuTicks(process.processIdentifier) - before
        #expect(used < 40, "foreman used \(used) ticks of CPU in one second with its connections full")

        let health = probe.exchange("GET /healthz HTTP/1.1\r\nHost: f\r\n\r\n")
        #expect(health?.contains("\"status\"") == true, "\(health ?? "no answer on an open connection")")
        let metrics = probe.exchange("GET /metrics HTTP/1.1\r\nHost: f\r\n\r\n") ?? ""
        func gauge(_ name: String) -> Double? {
            metrics.split(separator: "\n").first { $0.hasPrefix(name + " ") }.flatMap { Double($0.dropFirst(name.count + 1)) }
        }
        #expect(gauge("foreman_connection_limit") == 192, "\(metrics.suffix(600))")
        // The budget is consulted once per read of the listening socket, and one read accepts up to four
        // connections (NIO's maxMessagesPerRead for a server channel): the count may pass the limit by three.
        #expect((192...195).contains(Int(gauge("foreman_open_connections") ?? 0)), "\(metrics.suffix(600))")

        flood.removeAll()  // closes them
        try await eventually("a new connection answered") {
            (try? RawConnection(port: port, readLimit: 1))?.exchange("GET /healthz HTTP/1.1\r\nHost: f\r\n\r\n")?.contains("\"status\"") == true
        }
        let said = try String(contentsOf: log, encoding: .utf8)
        #expect(said.components(separatedBy: "connection limit reached").count == 2, "\(said)")
        #expect(said.contains("accepting connections again"))
    }
}

extension ServerTests.HardeningTests {
    // MARK: A database another process holds (item 5)

    @Test("another process holds the write lock: native calls are answered and every event loop keeps answering; /jobs gets 503 with the reason; the rows follow")
    func lockedDatabaseWhileServing() async throws {
        try await Harness.run { harness in
            let holder = try SQLiteLockHolder(database: harness.databasePath, lock: "IMMEDIATE")
            defer { holder.release() }

            // A native call needs no commit (ADR 0016): it is answered while the lock is held. Its row waits for the
            // lock on the writer's thread, never on an event loop: connections on every loop keep being answered.
            let native = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 1))
            #expect(native.status == 200, "\(native.body)")
            let nativeID = try #require(native.headers.first(name: "X-Foreman-Job-Id"))
            try Self.expectEveryLoopAnswers(port: harness.port)

            // A /jobs submission waits for the lock (SQLite's busy timeout), then says why.
            let refused = try await harness.submit(request: Harness.chatBody(tokens: 1))
            #expect(refused.status == 503, "\(refused.body)")
            #expect(refused.error == "foreman cannot save work right now: the database is locked by another process")
            #expect(try await harness.health()["store_error"] as? String == "the database is locked by another process")

            holder.release()
            let accepted = try await harness.submit(request: Harness.chatBody(tokens: 1))
            #expect(accepted.status == 202)
            _ = try await harness.waitForJob(try #require(try accepted.jsonObject()["id"] as? String), state: "succeeded")
            #expect(try await harness.job(nativeID)["state"] as? String == "succeeded")
            #expect(try await harness.health()["store_error"] is NSNull)
        }
    }


    @Test("a native call waiting behind a /jobs job runs as soon as the box is free, while that job's outcome still waits for the disk")
    func nativeCallDoesNotWaitForAJobsCommit() async throws {
        try await Harness.run { harness in
            await harness.fake.pause()
            let submitted = try await harness.submit(request: Harness.chatBody(tokens: 1, content: "J1"))
            let id = try #require(try submitted.jsonObject()["id"] as? String)
            await harness.fake.waitForGenerations(1)  // J1 is claimed (committed) and holds the slot
            let native = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 1, content: "N")) }
            try await harness.waitForQueueDepth(1)

            // J1's finish is a full commit: with the lock held by another process it waits SQLite's busy timeout and
            // fails. N is answered all the same, before the lock goes.
            let holder = try SQLiteLockHolder(database: harness.databasePath, lock: "IMMEDIATE")
            defer { holder.release() }
            await harness.fake.resume()
            // Were N to wait for J1's record, it would wait as long as the lock is held: a bound ends that failure.
            let status = try await withThrowingTaskGroup(of: Int?.self) { group in
                group.addTask { try await native.value.status }
                group.addTask {
                    try await Task.sleep(for: .seconds(20))
                    return nil
                }
                let first = try await group.next() ?? nil
                native.cancel()
                group.cancelAll()
                return first
            }
            #expect(status == 200, "N was not answered while J1's outcome waited for the lock")
            #expect(await harness.fake.completedGenerations == 2)

            holder.release()
            _ = try await harness.waitForJob(id, state: "succeeded")
        }
    }

    /// `/healthz` over four new connections (spread over the event loops), each answered within 3 s: less than SQLite's
    /// 5 s busy timeout, so a loop held by a commit waiting for a lock would not answer in time.
    static func expectEveryLoopAnswers(port: Int) throws {
        for _ in 0..<4 {
            let answer = try RawConnection(port: port, readLimit: 3).exchange("GET /healthz HTTP/1.1\r\nHost: f\r\n\r\n")
            #expect(answer?.hasPrefix("HTTP/1.1 200") == true || answer?.hasPrefix("HTTP/1.1 503") == true, "\(answer ?? "no answer within 3 s")")
        }
    }

    @Test("a failing webhook endpoint rests: its later events are not attempted, and other receivers' events go out")
    func failingEndpointRests() async throws {
        let dead = WebhookReceiver()
        let alive = WebhookReceiver()
        await dead.failNext(.max)
        try await withRunningService({ await dead.app(onServerRunning: $0) }) { deadPort in
            try await withRunningService({ await alive.app(onServerRunning: $0) }) { alivePort in
                // A rest far longer than the test: after its first failure the dead endpoint gets no further attempt.
                let toDead = #","state_webhook_url":"http://127.0.0.1:"# + String(deadPort) + #"/hook""#
                let toAlive = #","state_webhook_url":"http://127.0.0.1:"# + String(alivePort) + #"/hook""#
                let patient: @Sendable (inout ForemanConfig) -> Void = { config in
                    config.webhookRetry.base = .seconds(3600)
                    config.webhookRetry.tick = .milliseconds(20)
                }
                try await Harness.run(configure: patient) { harness in
                    _ = try await harness.submit(request: Harness.chatBody(tokens: 1), extra: toDead)
                    await dead.waitForAttempts(1)
                    for _ in 0..<20 {
                        _ = try await harness.submit(request: Harness.chatBody(tokens: 1), extra: toDead)
                    }
                    // Twenty jobs' webhooks to a healthy receiver, submitted after the dead one's, all arrive: the outbox
                    // has read past everything the dead endpoint has pending by then.
                    for _ in 0..<20 {
                        _ = try await harness.submit(request: Harness.chatBody(tokens: 1), extra: toAlive)
                    }
                    await alive.waitForAccepted(60)
                    #expect(await dead.attempts.count == 1, "the resting endpoint was attempted again")
                }
            }
        }
    }

    @Test("a native call never commits on its event loop while another write holds the writer")
    func nativeCommitWaitsOffTheLoop() async throws {
        let receiver = WebhookReceiver()
        try await withRunningService({ await receiver.app(onServerRunning: $0) }) { hookPort in
            try await Harness.run(configure: { $0.webhookRetry.tick = .milliseconds(20) }) { harness in
                // The outbox's write after a delivery attempt will wait for a lock another process holds.
                await receiver.hold()
                let hook = #","state_webhook_url":"http://127.0.0.1:"# + String(hookPort) + #"/hook""#
                #expect(try await harness.submit(request: Harness.chatBody(tokens: 1), extra: hook).status == 202)
                await receiver.waitForAttempts(1)
                let holder = try SQLiteLockHolder(database: harness.databasePath, lock: "IMMEDIATE")
                defer { holder.release() }
                await receiver.release()
                try await Task.sleep(for: .milliseconds(300))  // no signal says the outbox's write has reached the writer
                let native = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 1)) }
                try await Task.sleep(for: .milliseconds(300))  // nor that the native call has reached its commit
                try Self.expectEveryLoopAnswers(port: harness.port)
                holder.release()
                #expect(try await native.value.status == 200)
            }
        }
    }
}
