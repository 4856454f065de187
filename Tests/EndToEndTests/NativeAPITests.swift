import AsyncHTTPClient
import FakeOllama
import ForemanEngine
import ForemanDomain
import ForemanTestSupport
import Foundation
import Logging
import NIOCore
import Testing

/// The native Ollama surface, end to end: real HTTP over loopback to foreman, and from foreman to the fake target.
extension ServerTests {
    @Suite("Native Ollama API")
    struct NativeAPITests {
        @Test("concurrent chats reach the target strictly one at a time")
        func concurrentChatsNeverOverlap() async throws {
            try await Harness.run { harness in
                let statuses = try await withThrowingTaskGroup(of: (Int, Bool).self) { group in
                    for index in 0..<8 {
                        group.addTask {
                            let response = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: index.isMultiple(of: 2) ? nil : false))
                            let last = index.isMultiple(of: 2) ? response.lines.last : try response.jsonObject()
                            return (response.status, last?["done"] as? Bool ?? false)
                        }
                    }
                    return try await group.reduce(into: []) { $0.append($1) }
                }
                #expect(statuses.count == 8)
                #expect(statuses.allSatisfy { $0 == (200, true) })
                #expect(await harness.fake.maxConcurrentGenerations == 1)
                #expect(await harness.fake.completedGenerations == 8)
                #expect(await harness.fake.requests(to: "/api/chat").count == 8)
            }
        }

        @Test("streamed lines are relayed as they arrive, not when the stream ends")
        func streamedLinesArriveOneByOne() async throws {
            try await Harness.run { harness in
                await harness.fake.pause()  // the fake sends its first token, then holds the rest
                let response = try await harness.stream("/api/chat", json: Harness.chatBody(tokens: 5))
                #expect(response.status == .ok)
                #expect(response.headers.first(name: "Content-Type") == "application/x-ndjson")
                #expect(response.headers.first(name: "X-Foreman-Job-Id")?.hasPrefix("job_") == true)
                var reader = LineReader(response)
                let first = try #require(try await reader.next())
                #expect((first["message"] as? [String: Any])?["content"] as? String == "The")
                #expect(first["done"] as? Bool == false)
                // The first line is in our hands while the target has not produced the second one.
                #expect(await harness.fake.completedGenerations == 0)
                #expect(await harness.fake.activeGenerations == 1)
                await harness.fake.resume()
                var rest: [[String: Any]] = []
                while let line = try await reader.next() { rest.append(line) }
                #expect(rest.count == 5)  // four more tokens and the final line
                #expect(rest.last?["done"] as? Bool == true)
                #expect(rest.last?["done_reason"] as? String == "stop")
                #expect(rest.last?["eval_count"] as? Int == 5)
            }
        }

        @Test("the lines of one read from the box go out in one chunk, as a bare proxy would relay them (ADR 0024)")
        func linesOfOneReadAreOneChunk() async throws {
            try await Harness.run { harness in
                await harness.fake.setLinesPerWrite(4)  // 20 ms between tokens: each write waits for its four
                // The last write comes one token after the one before it: the harness's 2 ms let a loaded machine
                // read the two at once.
                await harness.fake.setTokenDelay(.milliseconds(20))
                let body = Harness.chatBody(tokens: 9)
                let connection = try RawConnection(port: harness.port)
                connection.send(
                    "POST /api/chat HTTP/1.1\r\nHost: foreman\r\nAuthorization: Bearer secret\r\nConnection: close\r\n"
                        + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
                )
                let answer = try #require(connection.readUntilClosed())
                let (head, chunks) = try #require(Self.chunkedBody(answer))
                #expect(head.hasPrefix("HTTP/1.1 200"))
                // Nine tokens and the final line, written four, four and two at a time, 20 ms apart.
                #expect(chunks.map { $0.split(separator: "\n").count } == [4, 4, 2])
                #expect(chunks.joined().split(separator: "\n").count == 10)
            }
        }

        @Test("a caller that reads only after the box has finished gets the whole stream, in order")
        func slowReaderGetsWholeStream() async throws {
            try await Harness.run { harness in
                // Eight megabytes: more than the kernel's send buffer for the connection can hold (4 MB at most).
                let words = (0..<10_000).map { "t\($0) " + String(repeating: "x", count: 800) }
                await harness.fake.setReplyWords(words)
                await harness.fake.setTokenDelay(.zero)
                let body = Harness.chatBody(tokens: words.count)
                // A small window: the answer waits in foreman while the caller does not read.
                let connection = try RawConnection(port: harness.port, readLimit: 30, receiveBuffer: 4096)
                connection.send(
                    "POST /api/chat HTTP/1.1\r\nHost: foreman\r\nAuthorization: Bearer secret\r\nConnection: close\r\n"
                        + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
                )
                try await eventually("the box done with the call", timeout: .seconds(60)) {
                    guard await harness.fake.completedGenerations == 1 else { return false }
                    return try await harness.health()["running_job"] is NSNull
                }
                let answer = try #require(connection.readUntilClosed())
                let (head, chunks) = try #require(Self.chunkedBody(answer))
                #expect(head.hasPrefix("HTTP/1.1 200"))
                let lines = chunks.joined().split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                #expect(lines.count == words.count + 1)
                let said = lines.compactMap { ($0?["message"] as? [String: Any])?["content"] as? String }.joined()
                #expect(said == words.joined())
                #expect(lines.last??["done"] as? Bool == true)
            }
        }

        @Test("a stream to an HTTP/1.0 caller is its lines as they are, up to the close; to HTTP/1.1, in chunks")
        func streamToEachVersion() async throws {
            try await Harness.run { harness in
                let words = (0..<200).map { "w\($0) " }
                await harness.fake.setReplyWords(words)
                await harness.fake.setTokenDelay(.zero)
                let body = Harness.chatBody(tokens: words.count)
                for version in ["1.0", "1.1"] {
                    let connection = try RawConnection(port: harness.port)
                    connection.send(
                        "POST /api/chat HTTP/\(version)\r\nHost: foreman\r\nAuthorization: Bearer secret\r\nConnection: close\r\n"
                            + "Content-Type: application/json\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body
                    )
                    let answer = try #require(connection.readUntilClosed())
                    let text: String
                    if version == "1.0" {
                        let end = try #require(answer.range(of: "\r\n\r\n"))
                        #expect(answer.hasPrefix("HTTP/1.0 200"), "\(answer.prefix(200))")
                        #expect(!answer[..<end.lowerBound].lowercased().contains("transfer-encoding"))
                        text = String(answer[end.upperBound...])
                    } else {
                        let (head, chunks) = try #require(Self.chunkedBody(answer), "\(answer.prefix(200))")
                        #expect(head.hasPrefix("HTTP/1.1 200"))
                        text = chunks.joined()
                    }
                    let lines = text.split(separator: "\n").map { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
                    #expect(lines.count == words.count + 1, "HTTP/\(version)")
                    let said = lines.compactMap { ($0?["message"] as? [String: Any])?["content"] as? String }.joined()
                    #expect(said == words.joined(), "HTTP/\(version)")
                    #expect(lines.last??["done"] as? Bool == true, "HTTP/\(version)")
                }
            }
        }

        /// The head and the data of each chunk of a chunked HTTP/1.1 answer; nil if it is not one.
        static func chunkedBody(_ answer: String) -> (head: String, chunks: [String])? {
            guard let end = answer.range(of: "\r\n\r\n"), answer[..<end.lowerBound].lowercased().contains("transfer-encoding: chunked") else { return nil }
            // Bytes, not characters: Swift counts "\r\n" as one character.
            var rest = Array(answer[end.upperBound...].utf8)[...]
            var chunks: [String] = []
            while let cr = rest.firstIndex(of: UInt8(ascii: "\r")), let size = Int(String(decoding: rest[..<cr], as: UTF8.self), radix: 16) {
                if size == 0 { return (String(answer[..<end.lowerBound]), chunks) }
                let data = rest[(cr + 2)...].prefix(size)
                chunks.append(String(decoding: data, as: UTF8.self))
                rest = rest[(cr + 2)...].dropFirst(size + 2)
            }
            return nil
        }

        @Test("stream:false answers one JSON object in Ollama's non-streaming shape")
        func nonStreamShape() async throws {
            try await Harness.run { harness in
                let chat = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false))
                #expect(chat.status == 200)
                #expect(chat.headers.first(name: "Content-Type")?.hasPrefix("application/json") == true)
                let object = try chat.jsonObject()
                let message = try #require(object["message"] as? [String: Any])
                #expect(message["role"] as? String == "assistant")
                #expect(message["content"] as? String == "The sky is blue because of Rayleigh scattering.")
                #expect(object["done"] as? Bool == true)
                #expect(object["done_reason"] as? String == "stop")
                #expect(object["total_duration"] is Int)
                // Queue visibility lives in headers only; the job is listed with origin api.
                let id = try #require(chat.headers.first(name: "X-Foreman-Job-Id"))
                #expect(chat.headers.first(name: "X-Foreman-Queue-Position").flatMap(Int.init) != nil)
                #expect(chat.headers.first(name: "Connection") != "close")  // the caller may send its next request on it
                let listed = try await harness.request(.GET, "/jobs/\(id)").jsonObject()
                #expect(listed["origin"] as? String == "api")
                #expect(listed["state"] as? String == "succeeded")

                let generate = try await harness.request(.POST, "/api/generate", json: #"{"model":"llama3.2","prompt":"why","stream":false}"#)
                #expect(generate.status == 200)
                #expect(try generate.jsonObject()["response"] as? String == "The sky is blue because of Rayleigh scattering.")
            }
        }

        @Test("load and unload requests go through the queue and answer one object")
        func loadAndUnload() async throws {
            try await Harness.run { harness in
                let load = try await harness.request(.POST, "/api/chat", json: #"{"model":"llama3.2","messages":[]}"#)
                #expect(load.status == 200)
                #expect(try load.jsonObject()["done_reason"] as? String == "load")
                let unload = try await harness.request(.POST, "/api/generate", json: #"{"model":"llama3.2","keep_alive":0}"#)
                #expect(try unload.jsonObject()["done_reason"] as? String == "unload")
                #expect(await harness.fake.unloads == ["llama3.2:latest"])
            }
        }

        @Test("an unknown model gets exactly one re-poll, then Ollama's 404, and is never queued")
        func unknownModel404AfterOneRepoll() async throws {
            try await Harness.run { harness in
                _ = try await harness.request(.GET, "/api/tags")  // the inventory is loaded at startup
                let pollsBefore = await harness.fake.requests(to: "/api/tags").count
                let response = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(model: "ghost"))
                #expect(response.status == 404)
                #expect(response.body == #"{"error":"model 'ghost' not found"}"#)
                #expect(await harness.fake.requests(to: "/api/tags").count == pollsBefore + 1)
                #expect(await harness.fake.requests(to: "/api/chat").isEmpty)
                #expect(try await harness.health()["queue_depth"] as? Int == 0)
            }
        }

        @Test("a model pulled after startup is found by the re-poll")
        func newlyPulledModelIsFound() async throws {
            try await Harness.run { harness in
                _ = try await harness.request(.GET, "/api/tags")
                await harness.fake.setModels(FakeModel.defaults + [FakeModel(name: "mistral:latest")])
                let response = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(model: "mistral", stream: false))
                #expect(response.status == 200)
            }
        }

        @Test("auth: missing or wrong token is 401 with WWW-Authenticate; healthz and heartbeat stay open")
        func auth() async throws {
            try await Harness.run { harness in
                let missing = try await harness.request(.GET, "/api/tags", token: .some(nil))
                #expect(missing.status == 401)
                #expect(missing.body == #"{"error":"unauthorized"}"#)
                #expect(missing.headers.first(name: "WWW-Authenticate") == "Bearer")
                let wrong = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(), token: "guess")
                #expect(wrong.status == 401)
                #expect(await harness.fake.requests(to: "/api/chat").isEmpty)
                let right = try await harness.request(.GET, "/api/tags")
                #expect(right.status == 200)
                #expect(try await harness.request(.GET, "/healthz", token: .some(nil)).status == 200)
                let heartbeat = try await harness.request(.GET, "/", token: .some(nil))
                #expect(heartbeat.status == 200)
                #expect(heartbeat.body == "Ollama is running")
                #expect(try await harness.request(.HEAD, "/", token: .some(nil)).status == 200)
            }
        }

        @Test("the target sees foreman's own bearer and Host, never the caller's")
        func outboundBearerAndHost() async throws {
            try await Harness.run(configure: { $0.ollamaToken = "upstream-secret" }) { harness in
                _ = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false))
                _ = try await harness.request(.POST, "/api/show", json: #"{"model":"llama3.2"}"#)
                _ = try await harness.request(.GET, "/api/ps")
                let seen = await harness.fake.requests
                #expect(!seen.isEmpty)
                for request in seen {
                    #expect(request.authorization == "Bearer upstream-secret", "\(request.path)")
                    #expect(request.host == "127.0.0.1:\(harness.fakePort)", "\(request.path)")
                }
            }
        }

        @Test("a failed poll sets degraded and keeps the last inventory; the next success clears it")
        func degradedFlipsAndRecovers() async throws {
            try await Harness.run { harness in
                let tags = try await harness.request(.GET, "/api/tags")
                #expect(try await harness.health()["status"] as? String == "ok")
                await harness.fake.inject(FakeFailure(path: "/api/tags", status: 500, error: "disk on fire"))
                // An unknown model triggers a poll right away, which fails.
                _ = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(model: "ghost"))
                let anonymous = try await harness.request(.GET, "/healthz", token: .some(nil))
                #expect(anonymous.status == 503)
                #expect(anonymous.body == #"{"status":"degraded"}"#)  // no target, models or job ids without the token
                let degraded = try await harness.request(.GET, "/healthz")
                #expect(degraded.status == 503)
                let report = try degraded.jsonObject()
                #expect(report["status"] as? String == "degraded")
                #expect(report["reachable"] as? Bool == false)
                #expect((report["last_error"] as? String)?.contains("500") == true)
                #expect(report["target"] as? String == "http://127.0.0.1:\(harness.fakePort)")
                #expect(try await harness.request(.GET, "/api/tags").body == tags.body)  // last known inventory

                _ = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(model: "ghost"))
                let recovered = try await harness.request(.GET, "/healthz")
                #expect(recovered.status == 200)
                #expect(try recovered.jsonObject()["status"] as? String == "ok")
                #expect(try recovered.jsonObject()["models"] as? Int == 3)
            }
        }

        @Test("a call the target answers clears degraded, while its polls still fail")
        func callClearsDegraded() async throws {
            try await Harness.run { harness in
                // The poller's first poll runs beside the test's start: once it has listed the models, no poll comes
                // but those the calls below set off.
                try await eventually("the first poll") { try await harness.health()["models"] as? Int == 3 }
                await harness.fake.inject(FakeFailure(path: "/api/tags", status: 500, error: "disk on fire", times: 1_000))
                // An unknown model polls again, which fails: the target is degraded, and the last known inventory
                // decides.
                let ghost = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(model: "ghost"))
                #expect(ghost.status == 404)
                #expect(try await harness.request(.GET, "/healthz").status == 503)
                // A call the target answers proves it back, while its polls still fail.
                let answered = try await harness.request(.POST, "/api/chat", json: Harness.chatBody())
                #expect(answered.status == 200)
                let report = try await harness.request(.GET, "/healthz")
                #expect(report.status == 200)
                #expect(try report.jsonObject()["status"] as? String == "ok")
                #expect((try report.jsonObject()["last_error"] as? String)?.contains("500") == true, "the poll failed")
            }
        }

        @Test("before any inventory is known, the target decides: a model it has runs, one it lacks gets its own 404")
        func noInventoryYetTargetDecides() async throws {
            let fake = FakeOllamaState(tokenDelay: .milliseconds(2))
            // Every poll fails from the start: foreman never learns what the target holds.
            await fake.inject(FakeFailure(path: "/api/tags", status: 500, error: "disk on fire", times: 1_000))
            try await Harness.run(fake: fake) { harness in
                let answered = try await harness.request(.POST, "/api/chat", json: Harness.chatBody())
                #expect(answered.status == 200)
                let ghost = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(model: "ghost"))
                #expect(ghost.status == 404)
                #expect(ghost.error == "model 'ghost' not found")
                #expect(await fake.requests(to: "/api/chat").count == 2, "foreman answered for the target")
                #expect(await fake.requests(to: "/api/tags").count >= 2, "the unknown model did not poll again")
            }
        }

        @Test("a full queue answers Ollama's 503 with Retry-After")
        func queueFull503() async throws {
            try await Harness.run(configure: { $0.maxQueue = 2 }) { harness in
                await harness.fake.pause()
                try await withThrowingTaskGroup(of: Int.self) { group in
                    group.addTask { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false)).status }
                    await harness.fake.waitForGenerations(1)  // one running
                    group.addTask { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false)).status }
                    try await harness.waitForQueueDepth(1)
                    group.addTask {
                        let response = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false))
                        #expect(response.headers.first(name: "X-Foreman-Queue-Position") == "2")  // behind one queued job
                        return response.status
                    }
                    try await harness.waitForQueueDepth(2)  // two waiting: the queue is full
                    let rejected = try await harness.request(.POST, "/api/chat", json: Harness.chatBody())
                    #expect(rejected.status == 503)
                    #expect(rejected.body == #"{"error":"server busy, please try again.  maximum pending requests exceeded"}"#)
                    #expect(rejected.headers.first(name: "Retry-After") != nil)
                    await harness.fake.resume()
                    let statuses = try await group.reduce(into: []) { $0.append($1) }
                    #expect(statuses == [200, 200, 200])
                }
                #expect(await harness.fake.completedGenerations == 3)
            }
        }

        @Test("FOREMAN_MAX_WAIT ends a queued call with 503 and Retry-After, and never cuts a generation that started")
        func waitBoundCoversOnlyTheQueue() async throws {
            // Models load at once here: the wait bound rightly covers a load, which happens before the head.
            let fake = FakeOllamaState(models: FakeModel.defaults.map { var model = $0; model.loadTime = .zero; return model })
            try await Harness.run(fake: fake, configure: { $0.maxWait = .milliseconds(300) }) { harness in
                await harness.fake.pause()  // the first call's head and first line arrive, then it is held
                let running = try await harness.stream("/api/chat", json: Harness.chatBody(tokens: 3))
                var reader = LineReader(running)
                _ = try #require(try await reader.next())
                let queued = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, content: "late"))
                #expect(queued.status == 503)
                #expect(queued.error == "timed out waiting in the queue")
                #expect(queued.headers.first(name: "Retry-After") == "5")
                // The running call has outlived its own wait bound by now (it started before the queued one was sent).
                await harness.fake.resume()
                var rest: [[String: Any]] = []
                while let line = try await reader.next() { rest.append(line) }
                #expect(rest.last?["done"] as? Bool == true)
                #expect(rest.allSatisfy { $0["error"] == nil })
                #expect(await harness.fake.completedGenerations == 1)
                #expect(await harness.fake.requests(to: "/api/chat").count == 1)  // the timed-out call never reached it
            }
        }

        @Test("a non-streamed generation that outlasts FOREMAN_MAX_WAIT at a reachable target is not cut")
        func waitBoundSparesARunningNonStreamedCall() async throws {
            let fake = FakeOllamaState(models: FakeModel.defaults.map { var model = $0; model.loadTime = .zero; return model })
            try await Harness.run(fake: fake, configure: { $0.maxWait = .milliseconds(300) }) { harness in
                await harness.fake.pause()  // holds the generation; a non-streamed answer's head comes with its end
                async let running = harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, tokens: 3))
                await harness.fake.waitForGenerations(1)
                // Sent after the first reached the target, so by its 503 the first has outlived its own wait bound.
                let queued = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, content: "late"))
                #expect(queued.status == 503)
                await harness.fake.resume()
                let answer = try await running
                #expect(answer.status == 200)
                #expect(try answer.jsonObject()["done"] as? Bool == true)
                #expect(await harness.fake.completedGenerations == 1)
            }
        }

        @Test("a caller that disconnects while queued never reaches the target; the log has its 499 and the answered call's 200")
        func disconnectWhileQueued() async throws {
            let lines = LogLines()
            let logger = lines.logger()
            try await Harness.run(logger: logger) { harness in
                await harness.fake.pause()
                async let first = harness.request(.POST, "/api/chat", json: Harness.chatBody(stream: false, content: "first"))
                await harness.fake.waitForGenerations(1)
                let second = Task { try await harness.request(.POST, "/api/chat", json: Harness.chatBody(content: "second")) }
                try await harness.waitForQueueDepth(1)
                second.cancel()  // AsyncHTTPClient closes the connection
                try await harness.waitForQueueDepth(0)
                await harness.fake.resume()
                let answered = try await first
                #expect(answered.status == 200)
                let chats = await harness.fake.requests(to: "/api/chat")
                #expect(chats.count == 1)
                #expect(chats.first?.body.contains("first") == true)
                #expect(answered.headers.first(name: "Server") == "foreman")
                #expect(answered.headers.first(name: "Date")?.hasSuffix(" GMT") == true)

                // Both waited in the queue: each is logged when its wait ends, with its real status and its job.
                let job = try #require(answered.headers.first(name: "X-Foreman-Job-Id"))
                let fields = lines.all.map(LogfmtReader.fields)
                let requests = fields.filter { $0["msg"] == "request" && $0["path"] == "/api/chat" }
                #expect(requests.first { $0["job"] == job }?["status"] == "200")
                let left = try #require(requests.first { $0["job"] != job }, "\(requests)")
                #expect(left["status"] == "499")
                let cancelled = fields.first { $0["msg"]?.hasPrefix("job ") == true && $0["state"] == "cancelled" }
                #expect(cancelled?["job"] != nil && cancelled?["job"] == left["job"])
            }
        }

        @Test("a caller that disconnects mid-stream aborts the upstream request")
        func disconnectWhileRunning() async throws {
            try await Harness.run { harness in
                await harness.fake.pause()
                let (firstLine, gotFirstLine) = AsyncStream<Void>.makeStream()
                let reading = Task {
                    let response = try await harness.stream("/api/chat", json: Harness.chatBody(tokens: 50))
                    var reader = LineReader(response)
                    _ = try await reader.next()
                    gotFirstLine.yield()
                    while try await reader.next() != nil {}
                }
                for await _ in firstLine { break }
                reading.cancel()  // AsyncHTTPClient closes the connection, as a client going away does
                await harness.fake.resume()
                try await eventually("upstream abort") { await harness.fake.abortedGenerations == 1 }
                #expect(await harness.fake.completedGenerations == 0)
                try await eventually("worker idle") { try await harness.health()["running_job"] is NSNull }
            }
        }

        @Test("a streamed call is logged once, as its head goes out: when it ends, and when its caller leaves mid-stream")
        func streamedCallLoggedOnce() async throws {
            let lines = LogLines()
            try await Harness.run(logger: lines.logger()) { harness in
                let ended = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(tokens: 3))
                #expect(ended.status == 200 && ended.lines.count == 4)
                let endedJob = try #require(ended.headers.first(name: "X-Foreman-Job-Id"))

                await harness.fake.pause()
                let (head, gotHead) = AsyncStream<String>.makeStream()
                let reading = Task {
                    let response = try await harness.stream("/api/chat", json: Harness.chatBody(tokens: 50))
                    gotHead.yield(response.headers.first(name: "X-Foreman-Job-Id") ?? "")
                    var reader = LineReader(response)
                    while try await reader.next() != nil {}
                }
                var leftJob = ""
                for await job in head {
                    leftJob = job
                    break
                }
                // The box holds the rest of the stream: the line is there because the head went out.
                try await eventually("the request line of a stream under way") {
                    lines.all.map(LogfmtReader.fields).contains { $0["msg"] == "request" && $0["job"] == leftJob }
                }
                reading.cancel()
                await harness.fake.resume()
                try await eventually("the left call's end") {
                    lines.all.map(LogfmtReader.fields).contains { $0["job"] == leftJob && $0["state"] == "cancelled" }
                }

                let requests = lines.all.map(LogfmtReader.fields).filter { $0["msg"] == "request" && $0["path"] == "/api/chat" }
                #expect(requests.filter { $0["job"] == endedJob }.map { $0["status"] } == ["200"])
                #expect(requests.filter { $0["job"] == leftJob }.map { $0["status"] } == ["200"])
                #expect(requests.allSatisfy { $0["duration_ms"].flatMap(Double.init) != nil })
            }
        }

        @Test("upstream errors keep their status and body; a broken stream ends with one error line")
        func upstreamErrors() async throws {
            try await Harness.run { harness in
                await harness.fake.inject(FakeFailure(path: "/api/chat", status: 429, error: "rate limit exceeded"))
                let limited = try await harness.request(.POST, "/api/chat", json: Harness.chatBody())
                #expect(limited.status == 429)
                #expect(limited.error == "rate limit exceeded")

                let embedOnly = try await harness.request(.POST, "/api/chat", json: Harness.chatBody(model: "nomic-embed-text"))
                #expect(embedOnly.status == 400)
                #expect(embedOnly.error == #""nomic-embed-text" does not support chat"#)

                await harness.fake.inject(FakeFailure(path: "/api/chat", error: "model runner crashed", afterTokens: 2))
                let broken = try await harness.request(.POST, "/api/chat", json: Harness.chatBody())
                #expect(broken.status == 200)
                let lines = broken.lines
                #expect(lines.count == 3)
                #expect(lines.last?["error"] as? String == "model runner crashed")
                #expect(lines.allSatisfy { $0["done"] as? Bool != true })
            }
        }

        @Test("bad input always gets a 4xx JSON error")
        func badInput() async throws {
            try await Harness.run(configure: { $0.maxBodyBytes = 1024 }) { harness in
                let cases: [(String, String, String?, Int, String?)] = [
                    ("POST", "/api/chat", "{bad", 400, nil),
                    ("POST", "/api/chat", "", 400, "missing request body"),
                    ("POST", "/api/chat", "[1,2]", 400, "invalid request body: expected a JSON object"),
                    ("POST", "/api/chat", #"{"model":5}"#, 400, "invalid request body: field 'model' must be a string"),
                    ("POST", "/api/chat", #"{"messages":[]}"#, 400, "model is required"),
                    ("POST", "/api/generate", #"{"prompt":"x"}"#, 404, "model '' not found"),
                    ("POST", "/api/chat", #"{"model":"llama3.2","messages":"hi"}"#, 400, "invalid request body: field 'messages' must be an array of message objects"),
                    ("POST", "/api/chat", #"{"model":"llama3.2","stream":"yes"}"#, 400, "invalid request body: field 'stream' must be a boolean"),
                    ("POST", "/api/embed", #"{"model":"nomic-embed-text","input":5}"#, 400, "invalid input type"),
                    ("POST", "/api/chat", #"{"model":"llama3.2","messages":[],"x":""#, 400, nil),
                    ("POST", "/api/chat", "{\"model\":\"" + String(repeating: "a", count: 2000) + "\"}", 413, "request body too large"),
                    ("GET", "/api/chat", nil, 405, "method GET not allowed on /api/chat"),
                    ("GET", "/api/nope", nil, 404, "no route for GET /api/nope"),
                ]
                for (method, path, body, status, message) in cases {
                    let response = try await harness.request(.init(rawValue: method), path, json: body)
                    #expect(response.status == status, "\(method) \(path) \(body ?? "")")
                    let error = try #require(response.error, "\(method) \(path): \(response.body)")
                    if let message { #expect(error == message) }
                }
                #expect(await harness.fake.requests(to: "/api/chat").isEmpty)
                #expect(try await harness.health()["status"] as? String == "ok")
            }
        }

        @Test("tags, ps, show, version and embeddings pass through")
        func passThrough() async throws {
            try await Harness.run { harness in
                let tags = try await harness.request(.GET, "/api/tags").jsonObject()
                #expect((tags["models"] as? [Any])?.count == 3)
                #expect(try await harness.request(.GET, "/api/version").jsonObject()["version"] as? String == "0.32.15")
                let show = try await harness.request(.POST, "/api/show", json: #"{"model":"llama3.2"}"#)
                #expect(try show.jsonObject()["model_info"] is [String: Any])
                let missing = try await harness.request(.POST, "/api/show", json: #"{"model":"ghost"}"#)
                #expect(missing.status == 404)
                #expect(missing.error == "model 'ghost:latest' not found")
                let embed = try await harness.request(.POST, "/api/embed", json: #"{"model":"nomic-embed-text","input":["a","b"]}"#)
                #expect((try embed.jsonObject()["embeddings"] as? [Any])?.count == 2)
                let legacy = try await harness.request(.POST, "/api/embeddings", json: #"{"model":"nomic-embed-text","prompt":"a"}"#)
                #expect((try legacy.jsonObject()["embedding"] as? [Any])?.count == 8)
                let ps = try await harness.request(.GET, "/api/ps").jsonObject()
                #expect((ps["models"] as? [[String: Any]])?.first?["name"] as? String == "nomic-embed-text:latest")
            }
        }
    }
}
