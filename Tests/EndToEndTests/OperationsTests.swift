import AsyncHTTPClient
import FakeOllama
import ForemanEngine
import ForemanDomain
import ForemanTestSupport
import Foundation
import GRDB
import Logging
import NIOCore
import NIOHTTP1
import Testing

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif


/// Reads a job row straight from a database file foreman has closed.
func storedJob(_ path: String, _ id: String) throws -> Job? {
    let queue = try DatabaseQueue(path: path)
    return try queue.read { db in try Job.fetchOne(db, sql: "SELECT * FROM job WHERE id = ?", arguments: [id]) }
}

extension ServerTests {
    @Suite("Operations: shutdown, metrics, unix socket, bad input")
    struct OperationsTests {
        /// Runs the real `foreman` binary in front of `fake`, with the given extra environment.
        static func withForemanBinary<T: Sendable>(
            fake: FakeOllamaState,
            environment extra: [String: String],
            _ body: (ForemanProcess, Harness, String) async throws -> T
        ) async throws -> T {
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-ops-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            let database = folder.appendingPathComponent("foreman.db").path
            return try await withRunningService({ buildFakeOllama(state: fake, port: 0, logger: quietLogger("fake"), onServerRunning: $0) }) { fakePort in
                let port = try closedPort()
                let environment = [
                    "FOREMAN_OLLAMA_URL": "http://127.0.0.1:\(fakePort)", "FOREMAN_TOKEN": "secret", "FOREMAN_DB": database,
                    "FOREMAN_LOG_LEVEL": "info", "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin",
                ].merging(extra) { $1 }
                let process = try ForemanProcess(port: port, environment: environment, log: folder.appendingPathComponent("foreman.log"))
                defer { process.terminate() }
                try await process.waitUntilServing()
                let harness = Harness(fake: fake, fakePort: fakePort, port: port, token: "secret", databasePath: database)
                do {
                    return try await body(process, harness, database)
                } catch {
                    await fake.resume()
                    throw error
                }
            }
        }

        @Test("SIGTERM mid-job: new work gets 503 with Retry-After, the running job finishes within the grace, nothing is lost")
        func sigtermFinishesRunningJob() async throws {
            let fake = FakeOllamaState(tokenDelay: .milliseconds(1))
            try await Self.withForemanBinary(fake: fake, environment: ["FOREMAN_SHUTDOWN_GRACE": "60s"]) { process, harness, database in
                await fake.pause()
                let running = try #require(try await harness.submit(request: Harness.chatBody(tokens: 5, content: "J1")).jsonObject()["id"] as? String)
                await fake.waitForGenerations(1)
                let queued = try #require(try await harness.submit(request: Harness.chatBody(tokens: 5, content: "J2")).jsonObject()["id"] as? String)
                process.sigterm()
                try await eventually("foreman refuses new work") {
                    try await harness.submit(request: Harness.chatBody(tokens: 1)).status == 503
                }
                let refused = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false))
                #expect(refused.status == 503)
                #expect(refused.headers.first(name: "Retry-After") == "5")
                #expect(refused.error == "foreman is shutting down")
                // OpenAI's surface too, in its own shape.
                for path in ["/v1/chat/completions", "/v1/batches"] {
                    let openAI = try await harness.request(.POST, path, json: #"{"model":"llama3.2","messages":[{"role":"user","content":"hi"}]}"#)
                    let message = (try openAI.jsonObject()["error"] as? [String: Any])?["message"] as? String
                    #expect(openAI.status == 503 && message == "foreman is shutting down", "\(path): \(openAI.body)")
                }
                #expect(try await harness.job(running)["state"] as? String == "running")  // reads still work
                // The probes: alive, not ready for new work.
                let ready = try await harness.request(.GET, "/readyz", token: .some(nil))
                #expect(ready.status == 503 && ready.body.contains("shutting down"), "\(ready.body)")
                #expect(try await harness.request(.GET, "/livez", token: .some(nil)).status == 200)
                await fake.resume()
                let status = process.waitForExit()
                #expect(status == 0)
                #expect(try storedJob(database, running)?.state == .succeeded)
                #expect(try storedJob(database, queued)?.state == .queued)  // kept for the next start
                #expect(await fake.completedGenerations == 1)
            }
        }

        @Test("SIGTERM past the grace: the running /jobs job is cancelled upstream and requeued, a native call fails with the reason")
        func sigtermPastGrace() async throws {
            let fake = FakeOllamaState(tokenDelay: .milliseconds(1))
            try await Self.withForemanBinary(fake: fake, environment: ["FOREMAN_SHUTDOWN_GRACE": "200ms"]) { process, harness, database in
                await fake.pause()
                let running = try #require(try await harness.submit(request: Harness.chatBody(tokens: 5, content: "J1")).jsonObject()["id"] as? String)
                await fake.waitForGenerations(1)
                let native = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2)) }
                try await harness.waitForQueueDepth(1)
                process.sigterm()
                let answer = try await native.value
                #expect(answer.status == 503)
                #expect(answer.error == "foreman is shutting down")
                #expect(process.waitForExit() == 0)
                let requeued = try #require(try storedJob(database, running))
                #expect(requeued.state == .queued)
                #expect(requeued.attempts == 1)
                await fake.resume()  // a held stream notices its closed connection at its next write
                try await eventually("upstream aborted") { await fake.abortedGenerations == 1 }
                #expect(await fake.completedGenerations == 0)
                let nativeJob = try #require(answer.headers.first(name: "X-Foreman-Job-Id"))
                #expect(try storedJob(database, nativeJob)?.state == .cancelled)
            }
        }

        @Test("/metrics is Prometheus text a real parser reads, with the issue's series; bearer-protected unless public")
        func metricsParse() async throws {
            try await Harness.run { harness in
                #expect(try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2)).status == 200)
                #expect(try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: true, tokens: 2)).status == 200)
                #expect(try await harness.request(.POST, "/api/chat", json: Harness.chatBody(model: "qwen2.5:7b", tokens: 2)).status == 200)
                #expect(try await harness.embed("nomic-embed-text").status == 200)
                let closed = try await harness.request(.GET, "/metrics", token: .some(nil))
                #expect(closed.status == 401)
                let metrics = try await harness.request(.GET, "/metrics")
                #expect(metrics.status == 200)
                #expect(metrics.headers.first(name: "Content-Type")?.hasPrefix("text/plain; version=0.0.4") == true)
                let families = try parsePrometheus(metrics.body)
                for name in [
                    "foreman_jobs", "foreman_queue_depth", "foreman_queue_wait_seconds", "foreman_run_seconds",
                    "foreman_time_to_first_token_seconds", "foreman_model_swaps", "foreman_degraded",
                    "foreman_embeddings_in_flight", "foreman_embeddings",
                ] {
                    #expect(families[name] != nil, "\(name) missing from \(families.keys.sorted())")
                }
                #expect(families["foreman_jobs"]?.contains { $0.contains(#"state="succeeded""#) && $0.contains(#"origin="api""#) } == true)
                // Both chats of llama3.2, the streamed one and the whole one, timed their first token in its series;
                // the chat of another model, in that model's.
                let firstTokens = families["foreman_time_to_first_token_seconds"]?.filter { $0.hasPrefix("foreman_time_to_first_token_seconds_count") }
                #expect(firstTokens?.count == 2, "\(firstTokens ?? [])")
                #expect(firstTokens?.contains { $0.contains(#"model="llama3.2""#) && $0.hasSuffix(" 2") } == true, "\(firstTokens ?? [])")
                #expect(firstTokens?.contains { $0.contains(#"model="qwen2.5:7b""#) && $0.hasSuffix(" 1") } == true, "\(firstTokens ?? [])")
            }
            try await Harness.run(configure: { $0.metricsPublic = true }) { harness in
                let open = try await harness.request(.GET, "/metrics", token: .some(nil))
                #expect(open.status == 200)
            }
        }

        @Test("logs: one logfmt line per request and per job transition, with ids and durations; no token, no prompt unless asked")
        func structuredLogs() async throws {
            for logBodies in [false, true] {
                let lines = LogLines()
                let logger = lines.logger()
                try await Harness.run(logger: logger, configure: { $0.logBodies = logBodies }) { harness in
                    let response = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, content: "zebra prompt 42"))
                    #expect(response.status == 200)
                    // Every line below was written before the response left: the request's line as its head was
                    // handed over, the transitions as each one committed.
                    let job = try #require(response.headers.first(name: "X-Foreman-Job-Id"))
                    let all = lines.all.filter { $0.contains("job=\(job)") }
                    let fields = all.map(LogfmtReader.fields)
                    let request = try #require(fields.first { $0["msg"] == "request" })
                    #expect(request["method"] == "POST" && request["path"] == "/api/chat" && request["status"] == "200")
                    #expect(request["duration_ms"].flatMap(Double.init) != nil)
                    #expect(fields.filter { $0["msg"]?.hasPrefix("job ") == true }.map { $0["state"] } == ["queued", "running", "succeeded"])
                    for transition in fields where transition["msg"]?.hasPrefix("job ") == true {
                        #expect(transition["model"] == "llama3.2" && transition["origin"] == "api" && transition["kind"] == "chat")
                    }
                    #expect(fields.first { $0["state"] == "running" }?["queue_wait_ms"] != nil)
                    #expect(fields.first { $0["state"] == "succeeded" }?["run_ms"] != nil)
                    #expect(!lines.all.contains { $0.contains("secret") })  // the bearer token
                    #expect(lines.all.contains { $0.contains("zebra prompt 42") } == logBodies)
                }
            }
        }

        @Test("a native call is logged running while its box holds the answer; a stream's lines keep their order (ADR 0033)")
        func runningAnnouncement() async throws {
            let lines = LogLines()
            try await Harness.run(logger: lines.logger()) { harness in
                // The box holds a non-streamed answer whole until it is resumed: it writes nothing meanwhile.
                await harness.fake.pause()
                let held = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false)) }
                try await lines.waitForLine { $0.contains(#"msg="job running""#) }
                #expect(await harness.fake.completedGenerations == 0)
                await harness.fake.resume()
                #expect(try await held.value.status == 200)

                let streamed = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: true))
                #expect(streamed.status == 200)
                let job = try #require(streamed.headers.first(name: "X-Foreman-Job-Id"))
                try await lines.waitForLine { $0.contains("job=\(job)") && $0.contains(#"msg="job succeeded""#) }
                let messages = lines.all.filter { $0.contains("job=\(job)") }.compactMap { LogfmtReader.fields($0)["msg"] }
                #expect(messages == ["job queued", "job running", "request", "job succeeded"], "\(messages)")
            }
        }

        @Test("FOREMAN_SOCKET serves the same API on a unix socket created with mode 0600")
        func unixSocket() async throws {
            let path = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-\(UUID().uuidString.prefix(8)).sock").path
            try await Harness.run(configure: { $0.socketPath = path }) { harness in
                var info = stat()
                #expect(lstat(path, &info) == 0)
                #expect(info.st_mode & 0o777 == 0o600)
                var request = HTTPClientRequest(url: "http+unix://\(path.addingPercentEncoding(withAllowedCharacters: .alphanumerics) ?? path)/api/chat")
                request.method = .POST
                request.headers.add(name: "Authorization", value: "Bearer secret")
                request.body = .bytes(ByteBuffer(string: Harness.chatBody(stream: false, tokens: 2)))
                let response = try await HTTPClient.shared.execute(request, timeout: .seconds(30))
                #expect(response.status.code == 200)
                let body = try await response.body.collect(upTo: 1 << 20)
                #expect(String(buffer: body).contains(#""done":true"#))
            }
        }

        @Test("thousands of malformed bodies, wrong methods and odd paths: every answer is a JSON 4xx or a success")
        func fuzzBadInput() async throws {
            try await Harness.run(configure: { $0.maxBodyBytes = 64 * 1024 }) { harness in
                var random = SplitMix64(state: 7)
                let paths = ["/api/chat", "/api/generate", "/api/embed", "/api/embeddings", "/api/show", "/jobs", "/jobs/x", "/api/tags", "/api/ps", "/api/version", "/", "/healthz", "/nope", "/api/chat/../tags", "/jobs?limit=-1", "/jobs?state=zzz", "/%00", "/api//chat"]
                let methods: [HTTPMethod] = [.GET, .POST, .PUT, .DELETE, .PATCH, .HEAD, .OPTIONS]
                let fragments = [
                    "{", "}", "[", "]", "\"model\"", ":", ",", "\"llama3.2\"", "null", "true", "1e999", "-0", "\"\\u0000\"",
                    "\"messages\"", "[{}]", "\"stream\"", "\"kind\"", "\"chat\"", "\"request\"", "\"options\"", "{\"num_ctx\":\"big\"}",
                    "\"input\"", "[1,2]", "\"prompt\"", "\u{FFFD}", "\\", "\"keep_alive\"", "\"priority\"", "1.5", "\"metadata\"",
                ]
                for round in 0..<2000 {
                    let method = methods[Int(random.next() % UInt64(methods.count))]
                    let path = paths[Int(random.next() % UInt64(paths.count))]
                    var body = ""
                    for _ in 0..<Int(random.next() % 12) { body += fragments[Int(random.next() % UInt64(fragments.count))] }
                    if round % 500 == 0 { body = String(repeating: "x", count: 70 * 1024) }
                    let response = try await harness.request(method, path, json: method == .GET || method == .HEAD ? nil : body)
                    if (200..<300).contains(response.status) { continue }
                    #expect((400..<500).contains(response.status), "\(method) \(path) \(body) → \(response.status) \(response.body)")
                    if method != .HEAD {
                        #expect(response.error?.isEmpty == false, "\(method) \(path) \(body) → \(response.body)")
                    }
                }
                let health = try await harness.health()
                #expect(health["status"] as? String == "ok")
                #expect(try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 2)).status == 200)
            }
        }
    }
}

/// Parses Prometheus text with the reference Python parser (`prometheus_client`), returning each family's
/// sample lines by family name.
func parsePrometheus(_ text: String) throws -> [String: [String]] {
    let script = """
        import sys, json
        from prometheus_client.parser import text_string_to_metric_families
        out = {}
        for family in text_string_to_metric_families(sys.stdin.read()):
            out[family.name] = [s.name + json.dumps(s.labels, sort_keys=True).replace('": "', '="').replace('", "', '",') + " " + repr(s.value) for s in family.samples]
        print(json.dumps(out))
        """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", script]
    let input = Pipe()
    let output = Pipe()
    let errors = Pipe()
    process.standardInput = input
    process.standardOutput = output
    process.standardError = errors
    try process.run()
    input.fileHandleForWriting.write(Data(text.utf8))
    try input.fileHandleForWriting.close()
    let data = output.fileHandleForReading.readDataToEndOfFile()
    let problem = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0 else { throw TestFailure("prometheus_client could not parse /metrics: \(problem)") }
    return (try JSONSerialization.jsonObject(with: data) as? [String: [String]]) ?? [:]
}
