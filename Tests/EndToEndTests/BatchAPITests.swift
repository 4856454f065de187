import AsyncHTTPClient
import FakeOllama
import ForemanTestSupport
import Foundation
import GRDB
import Testing

extension ServerTests {
    /// OpenAI's Batch API (ADR 0020) driven by the official openai client (`scripts/openai-batch-check.py`) against
    /// the real `foreman` binary in front of the fake Ollama.
    @Suite("The Batch API through the openai client")
    struct BatchAPITests {
        static let available = RepositoryScript.pythonHas("openai") || ProcessInfo.processInfo.environment["FOREMAN_CLIENTS"] == "1"
        /// `FOREMAN_BATCH_LINES=50000 swift test --filter BatchAPITests` runs a batch of OpenAI's largest size.
        static let lines = ProcessInfo.processInfo.environment["FOREMAN_BATCH_LINES"].flatMap(Int.init) ?? 1000

        @Test(
            "a 1,000-line batch runs across a SIGKILL of foreman and its output matches line by line; others are cancelled, expire, fail; webhooks",
            .enabled(if: available)
        )
        func batchAcrossRestartAndCancel() async throws {
            let fake = FakeOllamaState(tokenDelay: .milliseconds(1))
            let receiver = WebhookReceiver()
            let folder = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-batch-\(UUID().uuidString)")
            try FileManager.default.createDirectory(at: folder, withIntermediateDirectories: true)
            defer { try? FileManager.default.removeItem(at: folder) }
            let lines = Self.lines
            // Room for the batch's file (under 200 bytes a line), small enough to check the bound quickly.
            let maxFile = max(1_000_000, lines * 400)
            try await withRunningService({ buildFakeOllama(state: fake, port: 0, logger: quietLogger("fake"), onServerRunning: $0) }) { fakePort in
                try await withRunningService({ await receiver.app(onServerRunning: $0) }) { hookPort in
                    let port = try closedPort()
                    let environment = [
                        "FOREMAN_OLLAMA_URL": "http://127.0.0.1:\(fakePort)", "FOREMAN_TOKEN": "secret",
                        "FOREMAN_DB": folder.appendingPathComponent("foreman.db").path, "FOREMAN_MAX_QUEUE": "16", "FOREMAN_MAX_FILE_BYTES": String(maxFile),
                        "FOREMAN_WEBHOOK_SECRET": "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "FOREMAN_WEBHOOK_RETRY_BASE": "50ms",
                        "PATH": ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin",
                    ]
                    let log = folder.appendingPathComponent("foreman.log")
                    let harness = Harness(fake: fake, fakePort: fakePort, port: port, token: "secret", databasePath: "")
                    let script = [
                        "FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": "secret", "MODEL": "llama3.2", "LINES": String(lines),
                        "WEBHOOK_URL": "http://127.0.0.1:\(hookPort)/hook", "MAX_FILE_BYTES": String(maxFile), "EMBED_MODEL": "nomic-embed-text",
                        "BATCH_TIMEOUT": String(max(120, lines / 50)),
                    ]

                    let first = try ForemanProcess(port: port, environment: environment, log: log)
                    try await first.waitUntilServing()
                    let created = try await RepositoryScript.run("scripts/openai-batch-check.py", ["create"], environment: script)
                    try #require(created.status == 0, "\(created.output)")
                    let batchID = try Self.result(created.output, "batch")

                    // A batch far larger than FOREMAN_MAX_QUEUE does not make native callers wait for room.
                    try await eventually("the batch running") { try await Self.completed(batchID, harness) >= 1 }
                    let native = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false))
                    #expect(native.status == 200, "\(native.body)")

                    // Killed part-way through, with a batch job in flight.
                    try await eventually("a tenth of the batch done", timeout: .seconds(120)) { try await Self.completed(batchID, harness) >= lines / 10 }
                    first.kill9()

                    let second = try ForemanProcess(port: port, environment: environment, log: log)
                    defer { second.terminate() }
                    try await second.waitUntilServing()
                    let finished = try await RepositoryScript.run("scripts/openai-batch-check.py", ["finish", batchID], environment: script)
                    #expect(finished.status == 0 && finished.output.hasSuffix("checks passed"), "\(finished.output)")

                    // Cancelled while it runs: the fake holds the generation in flight until the cancel stops it.
                    await fake.pause()
                    let cancelled = try await RepositoryScript.run("scripts/openai-batch-check.py", ["cancel"], environment: script)
                    await fake.resume()
                    #expect(cancelled.status == 0 && cancelled.output.hasSuffix("checks passed"), "\(cancelled.output)")
                    let cancelledID = try Self.result(cancelled.output, "batch")

                    // Expired while it runs: the request in flight finishes, the queued ones never run. The expiry is
                    // moved into the past in the database; the next batch's validation wakes the runner, which sees it.
                    await fake.pause()
                    let expiring = try await RepositoryScript.run("scripts/openai-batch-check.py", ["create"], environment: script.merging(["LINES": "30"]) { $1 })
                    try #require(expiring.status == 0, "\(expiring.output)")
                    let expiringID = try Self.result(expiring.output, "batch")
                    try await eventually("a request in flight") { await fake.activeGenerations == 1 }
                    let database = try DatabaseQueue(path: folder.appendingPathComponent("foreman.db").path)
                    try await database.write { db in
                        try db.execute(sql: "UPDATE batch SET expires_at = '2000-01-01 00:00:00.000' WHERE id = ?", arguments: [expiringID])
                    }
                    try database.close()
                    let invalid = try await RepositoryScript.run("scripts/openai-batch-check.py", ["invalid"], environment: script)
                    #expect(invalid.status == 0 && invalid.output.hasSuffix("checks passed"), "\(invalid.output)")
                    await fake.resume()
                    try await eventually("expired", timeout: .seconds(60)) {
                        try await harness.request(.GET, "/v1/batches/\(expiringID)").jsonObject()["status"] as? String == "expired"
                    }
                    let expired = try await harness.request(.GET, "/v1/batches/\(expiringID)").jsonObject()
                    let counts = try #require(expired["request_counts"] as? [String: Int])
                    // The paused fake holds a generation at its second token: request-0 (one token) ran through, request-1
                    // was in flight and finished, the other 28 never ran.
                    #expect(counts == ["total": 30, "completed": 2, "failed": 28], "\(counts)")
                    let errorFile = try #require(expired["error_file_id"] as? String)
                    let errorLines = try await harness.request(.GET, "/v1/files/\(errorFile)/content").body.split(separator: "\n")
                    #expect(errorLines.count == 28 && errorLines.allSatisfy { $0.contains(#""code":"batch_expired""#) }, "\(errorLines.prefix(2))")
                    let endpoints = try await RepositoryScript.run("scripts/openai-batch-check.py", ["endpoints"], environment: script)
                    #expect(endpoints.status == 0 && endpoints.output.hasSuffix("checks passed"), "\(endpoints.output)")

                    // One signed event for each batch's end, naming it.
                    try await eventually("the batch events", timeout: .seconds(60)) {
                        let types = await receiver.accepted.map { ($0.json["type"] as? String ?? "", $0.jobID ?? "") }
                        return types.contains { $0 == ("batch.completed", batchID) } && types.contains { $0 == ("batch.cancelled", cancelledID) }
                            && types.contains { $0 == ("batch.expired", expiringID) } && types.contains { $0.0 == "batch.failed" }
                    }
                    let events = await receiver.accepted.filter { ($0.json["type"] as? String)?.hasPrefix("batch.") == true }
                    #expect(events.count == 4 && events.allSatisfy { $0.signature?.hasPrefix("v1,") == true && $0.json["object"] as? String == "event" })
                }
            }
        }

        /// A batch's completed count, as `GET /v1/batches/{id}` shows it.
        static func completed(_ id: String, _ harness: Harness) async throws -> Int {
            let batch = try await harness.request(.GET, "/v1/batches/\(id)").jsonObject()
            return ((batch["request_counts"] as? [String: Any])?["completed"] as? Int) ?? 0
        }

        /// A field of the script's `result {…}` line.
        static func result(_ output: String, _ field: String) throws -> String {
            let line = try #require(output.split(separator: "\n").first { $0.hasPrefix("result ") }, "\(output)")
            let object = try JSONSerialization.jsonObject(with: Data(line.dropFirst("result ".count).utf8)) as? [String: Any]
            return try #require(object?[field] as? String, "\(output)")
        }
    }
}
