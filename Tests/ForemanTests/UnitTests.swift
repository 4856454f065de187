import ForemanCore
@testable import ForemanServer
import Foundation
import GRDB
import Logging
import NIOCore
import Testing

@Suite("Configuration")
struct ConfigurationTests {
    @Test func defaults() throws {
        let config = try ForemanConfig.resolve(environment: ["HOME": "/home/u"])
        #expect(config.address == HostPort(host: "127.0.0.1", port: 8080))
        #expect(config.ollamaURL == "http://127.0.0.1:11434")
        #expect(config.databasePath == "/home/u/.local/state/foreman/foreman.db")
        #expect(config.pollInterval == .seconds(30))
        #expect(config.maxQueue == 512)
        #expect(config.token == nil)
    }

    @Test func environmentAndOverrides() throws {
        let config = try ForemanConfig.resolve(
            environment: [
                "XDG_STATE_HOME": "/state", "FOREMAN_ADDR": "0.0.0.0:9000", "FOREMAN_TOKEN": "t",
                "FOREMAN_POLL_INTERVAL": "500ms", "FOREMAN_MAX_QUEUE": "7", "FOREMAN_OLLAMA_URL": "http://gpu:11434/",
            ],
            overrides: [.maxQueue: "9"]
        )
        #expect(config.databasePath == "/state/foreman/foreman.db")
        #expect(config.address == HostPort(host: "0.0.0.0", port: 9000))
        #expect(config.pollInterval == .milliseconds(500))
        #expect(config.maxQueue == 9)
        #expect(config.ollamaURL == "http://gpu:11434")
        try config.validate()
    }

    @Test(arguments: [("500ms", 0.5), ("1s", 1), ("2m", 120), ("1h", 3600), ("7d", 604_800), ("30", 30), ("1.5s", 1.5)])
    func durations(text: String, seconds: Double) throws {
        #expect(try DurationParser.parse(text, variable: "X").seconds == seconds)
    }

    @Test(arguments: [
        ("FOREMAN_POLL_INTERVAL", "soon"), ("FOREMAN_MAX_QUEUE", "-1"), ("FOREMAN_MAX_QUEUE", "lots"),
        ("FOREMAN_ADDR", "8080"), ("FOREMAN_ADDR", "host:99999"), ("FOREMAN_OLLAMA_URL", "ftp://x"), ("FOREMAN_MAX_BODY", "big"),
        ("FOREMAN_MAX_SKIP", "-1"), ("FOREMAN_MAX_AFFINITY_WAIT", "soon"), ("FOREMAN_RETENTION", "forever"),
    ])
    func badValuesNameTheirVariable(variable: String, value: String) {
        #expect {
            try ForemanConfig.resolve(environment: [variable: value])
        } throws: { error in
            (error as? ConfigError)?.variable == variable && (error as? ConfigError)?.description.contains(value) == true
        }
    }

    @Test("a target token that cannot be a header value is refused, without echoing it")
    func targetTokenMustBeAFieldValue() throws {
        for bad in ["s3cret\r\nX-Injected: 1", "s3cret\n", "nul\u{0}"] {
            #expect {
                try ForemanConfig.resolve(environment: ["FOREMAN_OLLAMA_TOKEN": bad])
            } throws: { error in
                (error as? ConfigError)?.variable == "FOREMAN_OLLAMA_TOKEN" && (error as? ConfigError)?.description.contains("s3cret") == false
            }
            #expect(throws: TargetError.self) {
                try HTTP1Target(url: URL(string: "http://127.0.0.1:1")!, token: bad, connectTimeout: .seconds(1), headTimeout: .seconds(1), readTimeout: .seconds(1))
            }
        }
        #expect(try ForemanConfig.resolve(environment: ["FOREMAN_OLLAMA_TOKEN": "tok en\twith é"]).ollamaToken == "tok en\twith é")
    }

    @Test func refusesNonLoopbackWithoutToken() throws {
        let open = try ForemanConfig.resolve(environment: ["FOREMAN_ADDR": "0.0.0.0:8080"])
        #expect(throws: ConfigError.self) { try open.validate() }
        for loopback in ["127.0.0.1:8080", "localhost:1", "[::1]:8080"] {
            try ForemanConfig.resolve(environment: ["FOREMAN_ADDR": loopback]).validate()
        }
    }

    @Test func byteSizes() throws {
        #expect(try ByteSizeParser.parse("32MB", variable: "X") == 32 << 20)
        #expect(try ByteSizeParser.parse("512KiB", variable: "X") == 512 << 10)
        #expect(try ByteSizeParser.parse("1000", variable: "X") == 1000)
    }
}

@Suite("NDJSON and responses")
struct NDJSONTests {
    @Test("lines are cut at newlines whatever the chunk boundaries")
    func splitter() {
        let text = "{\"a\":1}\n{\"b\":2}\n{\"c\":3}\n"
        for cut in 0...text.utf8.count {
            var splitter = NDJSONLineSplitter()
            let bytes = Array(text.utf8)
            var lines = splitter.append(ByteBuffer(bytes: bytes[..<cut]))
            lines += splitter.append(ByteBuffer(bytes: bytes[cut...]))
            #expect(lines.map { String(buffer: $0) } == ["{\"a\":1}\n", "{\"b\":2}\n", "{\"c\":3}\n"], "cut at \(cut)")
            #expect(splitter.finish() == nil)
        }
    }

    @Test("a body without a final newline comes out at finish")
    func splitterRemainder() {
        var splitter = NDJSONLineSplitter()
        #expect(splitter.append(ByteBuffer(string: "{\"done\":true}")).isEmpty)
        #expect(splitter.finish().map { String(buffer: $0) } == "{\"done\":true}")
    }

    @Test("streamed chat chunks assemble into Ollama's non-streaming shape")
    func assembleChat() throws {
        let lines = [
            #"{"model":"m","message":{"role":"assistant","content":"Hel","thinking":"hmm"},"done":false}"#,
            #"{"model":"m","message":{"role":"assistant","content":"lo"},"done":false}"#,
            #"{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","eval_count":2}"#,
        ].map { ByteBuffer(string: $0 + "\n") }
        let data = try #require(ResponseAssembler.assemble(kind: .chat, lines: lines))
        let object = try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
        let message = try #require(object["message"] as? [String: Any])
        #expect(message["content"] as? String == "Hello")
        #expect(message["thinking"] as? String == "hmm")
        #expect(object["done_reason"] as? String == "stop")
        #expect(object["eval_count"] as? Int == 2)
    }

    @Test func errorLines() {
        #expect(ResponseAssembler.errorMessage(in: ByteBuffer(string: #"{"error":"boom"}"#)) == "boom")
        #expect(ResponseAssembler.errorMessage(in: ByteBuffer(string: #"{"response":"error"}"#)) == nil)
        #expect(ResponseAssembler.errorMessage(in: ByteBuffer(string: #"{"a":"\"","b":"\"erro","error":"late"}"#)) == "late")
        #expect(ResponseAssembler.errorMessage(in: ByteBuffer(string: #"{"response":"x"}"#)) == nil)
        #expect(ResponseAssembler.errorMessage(in: ByteBuffer(string: #"{"response":"\"erro"#)) == nil)
        #expect(ResponseAssembler.errorMessage(in: ByteBuffer(string: "")) == nil)
    }
}

@Suite("Log lines")
struct LogLineTests {
    @Test("logfmt values are bare when plain, quoted and escaped otherwise, and read back as written")
    func logfmtValues() {
        let lines = LogLines()
        var logger = Logger(label: "t") { LogfmtLogHandler(label: $0, write: lines.append) }
        logger.logLevel = .info
        logger[metadataKey: "error"] = "overridden by each call"
        logger[metadataKey: "component"] = "test"
        let awkward = ["plain", "", "two words", #"say "hi""#, "a=b", #"back\slash"#, "line\nbreak\ttab", "émoji 🦙"]
        for (index, value) in awkward.enumerated() {
            logger.info("value \(index)", metadata: ["v": "\(value)", "error": "ollama target unreachable: connection refused"])
        }
        let read = lines.all.map(ServerTests.OperationsTests.logfmt)
        #expect(read.map { $0["v"] } == awkward)
        #expect(read.allSatisfy { $0["error"] == "ollama target unreachable: connection refused" && $0["level"] == "info" })
        #expect(read.allSatisfy { $0["component"] == "test" })
        #expect(read.map { $0["msg"] } == awkward.indices.map { "value \($0)" })
        #expect(lines.all[0].contains(" v=plain"))
        #expect(lines.all.allSatisfy { $0.hasSuffix("\n") && $0.dropLast().allSatisfy { $0 != "\n" } })
    }

    @Test("a request's duration is milliseconds with two decimals, rounded")
    func durations() {
        let cases: [(Duration, String)] = [
            (.zero, "0.00"), (.microseconds(734), "0.73"), (.microseconds(735), "0.74"), (.microseconds(5), "0.01"),
            (.milliseconds(12), "12.00"), (.seconds(3) + .microseconds(99_996), "3100.00"), (.seconds(61), "61000.00"),
        ]
        for (duration, text) in cases {
            #expect(RequestLogMiddleware<ConnectionContext>.milliseconds(duration) == text)
        }
    }
}

@Suite("Small domain rules")
struct DomainTests {
    @Test func modelNames() {
        #expect(ModelName.normalized("llama3.2") == "llama3.2:latest")
        #expect(ModelName.normalized("llama3.2:latest") == "llama3.2:latest")
        #expect(ModelName.normalized("qwen2.5:7b") == "qwen2.5:7b")
        #expect(ModelName.normalized("registry:5000/ns/model") == "registry:5000/ns/model:latest")
        #expect(ModelName.normalized("registry/ns/model:q4") == "registry/ns/model:q4")
        #expect(ModelName.normalized(" m\t") == "m:latest")
        #expect(ModelName.normalized("ns/") == "ns/:latest")
    }

    @Test("job ids are 30 characters and sort by creation time")
    func jobIDs() {
        let early = JobID.make(now: Date(timeIntervalSince1970: 1_700_000_000))
        let late = JobID.make(now: Date(timeIntervalSince1970: 1_700_000_001))
        #expect(early.count == 30)
        #expect(early.hasPrefix("job_"))
        #expect(early < late)
        #expect(JobID.make() != JobID.make())
    }

    @Test func bearerToken() {
        let verifier = BearerTokenVerifier(token: "s3cret")
        #expect(verifier.verify(authorization: "Bearer s3cret"))
        #expect(verifier.verify(authorization: "bearer s3cret"))
        #expect(!verifier.verify(authorization: "Bearer s3cre"))
        #expect(!verifier.verify(authorization: "Basic s3cret"))
        #expect(!verifier.verify(authorization: "Bearer "))
        #expect(!verifier.verify(authorization: nil))
    }
}

@Suite("Native request validation")
struct NativeRequestTests {
    @Test("model names lose surrounding spaces, tabs and other Unicode spaces, and nothing else")
    func modelNameTrimming() throws {
        let cases = [("llama3.2", "llama3.2"), (" llama3.2 ", "llama3.2"), ("\tm\u{00A0}", "m"), ("a b", "a b"), ("\u{3000}x", "x"), ("x\n", "x\n")]
        for (sent, kept) in cases {
            let body = try JSONSerialization.data(withJSONObject: ["model": sent])
            #expect(try NativeRequest.parse(.chat, body: ByteBuffer(bytes: body)).model == kept)
            #expect(kept == sent.trimmingCharacters(in: .whitespaces))  // what Foundation alone gives
        }
    }

    @Test func streamDefaultsToTrue() throws {
        #expect(try NativeRequest.parse(.chat, body: ByteBuffer(string: #"{"model":"m"}"#)).stream)
        #expect(try !NativeRequest.parse(.chat, body: ByteBuffer(string: #"{"model":"m","stream":false}"#)).stream)
        #expect(try !NativeRequest.parse(.embed, body: ByteBuffer(string: #"{"model":"m"}"#)).stream)
    }

    @Test("keep_alive takes numbers and duration strings, not booleans")
    func keepAlive() throws {
        for good in [#"0"#, #"-1"#, #"300"#, #""5m""#] {
            _ = try NativeRequest.parse(.generate, body: ByteBuffer(string: #"{"model":"m","keep_alive":"# + good + "}"))
        }
        #expect(throws: RequestError.self) {
            try NativeRequest.parse(.generate, body: ByteBuffer(string: #"{"model":"m","keep_alive":true}"#))
        }
        #expect(throws: RequestError.self) {
            try NativeRequest.parse(.chat, body: ByteBuffer(string: #"{"model":"m","stream":1}"#))
        }
    }
}

@Suite("Webhooks and job objects")
struct WebhookUnitTests {
    @Test("Standard Webhooks known-answer vector")
    func knownAnswer() throws {
        let signer = try WebhookSigner(secret: "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw")
        let signature = signer.signature(id: "msg_p5jXN8AQM9LWM0D4loKWxJek", timestamp: 1_614_265_330, body: Data(#"{"test": 2432232314}"#.utf8))
        #expect(signature == "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=")
    }

    @Test func badSecretIsRejected() {
        #expect(throws: WebhookSecretError.self) { try WebhookSigner(secret: "whsec_!!!") }
        #expect(throws: ConfigError.self) { try ForemanConfig.resolve(environment: ["FOREMAN_WEBHOOK_SECRET": "nope!"]) }
    }

    @Test("raw fields come out byte for byte, nested strings and brackets included")
    func rawFields() {
        let json = #"{ "kind" : "chat", "request" : {"model":"m","messages":[{"content":"a } ] \" b"}]}, "metadata":{"n":1.50} }"#
        let bytes = Array(json.utf8)
        let fields = RawJSONFields.ranges(["request", "metadata"], in: bytes).mapValues { String(decoding: bytes[$0], as: UTF8.self) }
        #expect(fields["request"] == #"{"model":"m","messages":[{"content":"a } ] \" b"}]}"#)
        #expect(fields["metadata"] == #"{"n":1.50}"#)
    }
}

@Suite("Residency planner, model roles and embeddings options")
struct ResidencyUnitTests {
    @Test("the planner unloads exactly the resident models in neither slot, over random resident sets")
    func plannerProperty() {
        let names = ["a", "a:latest", "b:7b", "c", "e", "e:latest", "f:v1"]
        var random = SplitMix64(state: 42)
        for _ in 0..<500 {
            let resident = (0..<Int(random.next() % 6)).map { _ in names[Int(random.next() % UInt64(names.count))] }
            let chat = random.next() % 4 == 0 ? nil : names[Int(random.next() % UInt64(names.count))]
            let embed = random.next() % 4 == 0 ? nil : names[Int(random.next() % UInt64(names.count))]
            let unloads = ResidencyPlanner.unloads(resident: resident, chatSlot: chat, embedSlot: embed)
            let keep = Set([chat, embed].compactMap { $0 }.map(ModelName.normalized))
            let after = Set(resident.map(ModelName.normalized)).subtracting(unloads.map(ModelName.normalized))
            #expect(after.isSubset(of: keep), "at most the two slot models stay")
            #expect(after.count <= 2)
            #expect(unloads.allSatisfy { !keep.contains(ModelName.normalized($0)) }, "a slot model is never unloaded")
            #expect(Set(unloads.map(ModelName.normalized)).count == unloads.count, "each model is unloaded once")
        }
    }

    @Test("roles: FOREMAN_EMBED_MODELS first, then /api/show capabilities, unknown models are either")
    func roles() {
        let classifier = ModelClassifier(
            declaredEmbedding: ["bge-m3"],
            capabilities: [
                "nomic-embed-text:latest": ModelCapabilities(digest: "1", capabilities: ["embedding"]),
                "llama3.2:latest": ModelCapabilities(digest: "2", capabilities: ["completion", "tools"]),
                "hybrid:latest": ModelCapabilities(digest: "3", capabilities: ["completion", "embedding"]),
                "bge-m3:latest": ModelCapabilities(digest: "4", capabilities: ["completion"]),
            ]
        )
        #expect(classifier.role(of: "nomic-embed-text") == .embeddingOnly)
        #expect(classifier.role(of: "llama3.2:latest") == .chatOnly)
        #expect(classifier.role(of: "hybrid") == .either)
        #expect(classifier.role(of: "bge-m3:latest") == .embeddingOnly)
        #expect(classifier.role(of: "never-seen") == .either)
    }

    @Test("num_ctx and keep_alive are set by editing the caller's text, nothing else changes")
    func rewriter() {
        func edit(_ text: String, _ change: ([UInt8]) -> [UInt8]) -> String { String(decoding: change(Array(text.utf8)), as: UTF8.self) }
        #expect(edit(#"{"model":"e","input":"x"}"#) { EmbedRequestRewriter.settingNumCtx(8192, in: $0) } == #"{"options":{"num_ctx":8192},"model":"e","input":"x"}"#)
        #expect(edit(#"{"model":"e","options":{"temperature":0.10}}"#) { EmbedRequestRewriter.settingNumCtx(512, in: $0) } == #"{"model":"e","options":{"num_ctx":512,"temperature":0.10}}"#)
        #expect(edit(#"{"model":"e","options":{ }}"#) { EmbedRequestRewriter.settingNumCtx(512, in: $0) } == #"{"model":"e","options":{"num_ctx":512 }}"#)
        #expect(edit(#"{"model":"e","options":null}"#) { EmbedRequestRewriter.settingNumCtx(512, in: $0) } == #"{"model":"e","options":{"num_ctx":512}}"#)
        #expect(edit(#"{"model":"e","keep_alive":"5m"}"#) { EmbedRequestRewriter.settingKeepAliveZero(in: $0) } == #"{"model":"e","keep_alive":0}"#)
        #expect(edit(#" {"model":"e"}"#) { EmbedRequestRewriter.settingKeepAliveZero(in: $0) } == #" {"keep_alive":0,"model":"e"}"#)
        #expect(EmbedRequestRewriter.callerNumCtx(in: Array(#"{"options":{"num_ctx":2048}}"#.utf8)) == 2048)
        #expect(EmbedRequestRewriter.callerNumCtx(in: Array(#"{"options":{"num_ctx":"big"}}"#.utf8)) == nil)
        #expect(EmbedRequestRewriter.callerNumCtx(in: Array(#"{"model":"e"}"#.utf8)) == nil)
    }
}

@Suite("Dates")
struct DateTests {
    @Test("foreman's date text is GRDB's, byte for byte, and reads back to the millisecond", arguments: [1, 2] as [UInt64])
    func matchesGRDB(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        // From 1900 to 2200, with the edges of days, leap days and the epoch among them.
        var dates = [0, -1, 951_782_400, 951_868_799.999, 4_107_542_400].map { Date(timeIntervalSince1970: $0) }
        dates += (0..<500).map { _ in Date(timeIntervalSince1970: Double(Int64(random.next() % 9_467_280_000_000) - 2_208_988_800_000) / 1000) }
        dates += (0..<500).map { _ in Date(timeIntervalSince1970: Double(Int64(random.next() % 9_467_280_000_000_000) - 2_208_988_800_000_000) / 1_000_000) }
        for date in dates {
            let ours = DatabaseDate.storage(date)
            #expect(ours == String.fromDatabaseValue(date.databaseValue), "\(date.timeIntervalSince1970)")
            let back = try #require(DatabaseDate.date(ours))
            #expect(abs(back.timeIntervalSince(date)) < 0.001)
            #expect(DatabaseDate.date(DatabaseDate.iso8601(date)) == back)
        }
    }

    @Test("JSON timestamps are ISO 8601 in UTC with milliseconds; other text is refused")
    func iso8601() {
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1_795_379_093.3114)) == "2026-11-22T20:24:53.311Z")
        let read = Timestamp.date("2026-11-22T20:24:53.311Z")?.timeIntervalSince1970 ?? 0
        #expect(abs(read - 1_795_379_093.311) < 0.000_01)
        for bad in ["", "2026-11-21", "2026-13-21T20:24:53.311Z", "2026-11-21T20:24:53.31Z", "2026-11-21X20:24:53.311Z", "２026-11-21T20:24:53.311Z"] {
            #expect(Timestamp.date(bad) == nil, "\(bad)")
        }
    }
}
