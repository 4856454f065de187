import ForemanTarget
import ForemanTestSupport
import Foundation
import NIOCore
import Testing

/// The `openai` kind's translation (ADR 0017), against answers a real `llama-server` gave (`Fixtures/`, captured from
/// `../shared/realengine` with SmolLM2-135M) and against OpenAI's documented shapes where the small model cannot
/// produce them (tool calls, reasoning).
@Suite("OpenAI-compatible engines: translation")
struct OpenAITranslationTests {
    static func fixture(_ name: String) throws -> Data {
        try Data(contentsOf: URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures/\(name)"))
    }

    static func object(_ line: String) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
    }

    /// Every line a streamed answer makes, the stream split into chunks at `cuts`.
    static func translate(_ stream: Data, cuts: [Int], model: String = "desk/smollm2") throws -> [String] {
        var splitter = SSEEventSplitter()
        var answer = OpenAIAnswer(model: model)
        var lines: [String] = []
        var start = 0
        for end in (cuts.filter { $0 > 0 && $0 < stream.count }.sorted() + [stream.count]) where end > start {
            for event in splitter.append(ByteBuffer(bytes: stream[start..<end])) { lines += try answer.lines(forEvent: event) }
            start = end
        }
        if let rest = splitter.finish() { lines += try answer.lines(forEvent: rest) }
        return lines + answer.finish()
    }

    @Test("a real streamed answer becomes Ollama's lines, however the bytes are cut", arguments: 0..<40)
    func realStream(seed: Int) throws {
        let stream = try Self.fixture("llama-server-chat-stream.sse")
        var random = SplitMix64(state: UInt64(seed))
        let cuts = seed == 0 ? [] : (0..<Int.random(in: 1...30, using: &random)).map { _ in Int.random(in: 1..<stream.count, using: &random) }
        let lines = try Self.translate(stream, cuts: cuts).map(Self.object)
        #expect(lines.dropLast().map { ($0["message"] as? [String: Any])?["content"] as? String } == ["I", "'m", " glad", " you", "'re"])
        #expect(lines.dropLast().allSatisfy { $0["done"] as? Bool == false && $0["model"] as? String == "desk/smollm2" })
        let last = try #require(lines.last)
        #expect(last["done"] as? Bool == true)
        #expect(last["done_reason"] as? String == "length")
        #expect(last["prompt_eval_count"] as? Int == 32)
        #expect(last["eval_count"] as? Int == 5)
        #expect(last["prompt_eval_duration"] as? Int == 24_058_000)
        #expect(last["eval_duration"] as? Int == 64_653_000)
        #expect(last["total_duration"] as? Int == 88_711_000)
        #expect(last["load_duration"] == nil, "never known: left out, not made up")
        #expect(((last["message"] as? [String: Any])?["content"] as? String) == "")
    }

    @Test("a real whole answer becomes Ollama's object")
    func realAnswer() throws {
        let object = try Self.object(OpenAIAnswer.object(fromAnswer: Self.fixture("llama-server-chat.json"), model: "smollm2"))
        #expect((object["message"] as? [String: Any])?["content"] as? String == "I'm glad you're")
        #expect((object["message"] as? [String: Any])?["role"] as? String == "assistant")
        #expect(object["done"] as? Bool == true && object["done_reason"] as? String == "length")
        #expect(object["prompt_eval_count"] as? Int == 32 && object["eval_count"] as? Int == 5)
        #expect(object["prompt_eval_duration"] as? Int == 16_715_000 && object["eval_duration"] as? Int == 59_353_000)
    }

    @Test("tool calls streamed in pieces go out whole, once; reasoning goes out as thinking")
    func toolCallsAndThinking() throws {
        let events = [
            #"{"choices":[{"index":0,"delta":{"role":"assistant","reasoning_content":"Weather "}}]}"#,
            #"{"choices":[{"index":0,"delta":{"reasoning_content":"needed."}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"id":"call_1","type":"function","function":{"name":"get_weather","arguments":""}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"{\"city\":"}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{"tool_calls":[{"index":0,"function":{"arguments":"\"Paris\"}"}}]}}]}"#,
            #"{"choices":[{"index":0,"delta":{},"finish_reason":"tool_calls"}]}"#,
            #"{"choices":[],"usage":{"prompt_tokens":40,"completion_tokens":12}}"#,
            "[DONE]",
        ]
        var answer = OpenAIAnswer(model: "qwen3")
        let lines = try events.flatMap { try answer.lines(forEvent: $0) }.map(Self.object)
        #expect(answer.finish().isEmpty, "the last line went out at [DONE]")
        #expect(lines.count == 4)
        #expect(lines.prefix(2).map { ($0["message"] as? [String: Any])?["thinking"] as? String } == ["Weather ", "needed."])
        let calls = try #require((lines[2]["message"] as? [String: Any])?["tool_calls"] as? [[String: Any]])
        #expect(calls.count == 1)
        #expect(calls.first?["id"] as? String == "call_1")
        let function = try #require(calls.first?["function"] as? [String: Any])
        #expect(function["name"] as? String == "get_weather")
        #expect((function["arguments"] as? [String: Any])?["city"] as? String == "Paris")
        #expect(lines[3]["done"] as? Bool == true && lines[3]["done_reason"] as? String == "stop")
        #expect(lines[3]["prompt_eval_count"] as? Int == 40 && lines[3]["eval_count"] as? Int == 12)
        #expect(lines[3]["eval_duration"] == nil, "no timings: no durations")
    }

    @Test("an engine's error, streamed or whole, becomes its message")
    func errors() {
        var answer = OpenAIAnswer(model: "m")
        let error = #"{"error":{"code":400,"message":"the request exceeds the available context size","type":"exceed_context_size_error"}}"#
        #expect(throws: TranslationError.self) { try answer.lines(forEvent: error) }
        #expect(throws: TranslationError.self) { try OpenAIAnswer.object(fromAnswer: Data(error.utf8), model: "m") }
        #expect(OpenAIAnswer.errorMessage(["error": ["message": "model 'x' not found"]]) == "model 'x' not found")
    }

    @Test("a native chat body becomes an OpenAI body: options mapped where the engine has them, the rest reported")
    func request() throws {
        let native = #"""
            {"model":"desk/qwen","messages":[
              {"role":"system","content":"Be brief."},
              {"role":"user","content":"What is this?","images":["aGVsbG8="]},
              {"role":"assistant","content":"","tool_calls":[{"function":{"name":"look","arguments":{"at":"it"}}}]},
              {"role":"tool","content":"a cat","tool_name":"look"}],
             "format":{"type":"object","properties":{"a":{"type":"string"}}},
             "options":{"temperature":0.2,"top_k":20,"num_predict":64,"num_ctx":8192,"seed":7,"stop":["\n\n"]},
             "keep_alive":"5m"}
            """#
        let translation = try OpenAIRequest.chat(Data(native.utf8), model: "qwen")
        let body = try #require(try JSONSerialization.jsonObject(with: translation.body) as? [String: Any])
        #expect(translation.stream)
        #expect(body["model"] as? String == "qwen")
        #expect((body["stream_options"] as? [String: Any])?["include_usage"] as? Bool == true)
        #expect(body["temperature"] as? Double == 0.2 && body["top_k"] as? Int == 20 && body["seed"] as? Int == 7)
        #expect(body["max_tokens"] as? Int == 64 && body["stop"] as? [String] == ["\n\n"])
        #expect(body["num_ctx"] == nil)
        #expect(translation.unhonoured == ["options.num_ctx", "keep_alive"])
        let format = try #require(body["response_format"] as? [String: Any])
        #expect(format["type"] as? String == "json_schema")
        let messages = try #require(body["messages"] as? [[String: Any]])
        #expect(messages.map { $0["role"] as? String } == ["system", "user", "assistant", "tool"])
        let parts = try #require(messages[1]["content"] as? [[String: Any]])
        #expect(parts.map { $0["type"] as? String } == ["text", "image_url"])
        #expect((parts[1]["image_url"] as? [String: Any])?["url"] as? String == "data:image/png;base64,aGVsbG8=")
        let call = try #require((messages[2]["tool_calls"] as? [[String: Any]])?.first)
        #expect((call["function"] as? [String: Any])?["arguments"] as? String == #"{"at":"it"}"#)
        #expect(call["type"] as? String == "function" && call["id"] as? String == "call_2_0")
        #expect(messages[3]["name"] as? String == "look")

        let plain = try OpenAIRequest.chat(Data(#"{"model":"m","messages":[],"stream":false,"format":"json","options":{"num_predict":-1}}"#.utf8), model: "m")
        let plainBody = try #require(try JSONSerialization.jsonObject(with: plain.body) as? [String: Any])
        #expect(!plain.stream && plainBody["stream_options"] == nil && plainBody["max_tokens"] == nil)
        #expect((plainBody["response_format"] as? [String: Any])?["type"] as? String == "json_object")
    }

    @Test("server-sent events: CRLF, comments and other fields, data over several lines")
    func sseFraming() {
        var splitter = SSEEventSplitter()
        let text = ": keep-alive\r\nevent: message\r\ndata: {\"a\":\r\ndata: 1}\r\n\r\nid: 3\ndata:[DONE]\n\n"
        #expect(splitter.append(ByteBuffer(string: text)) == ["{\"a\":\n1}", "[DONE]"])
        #expect(splitter.finish() == nil)
        #expect(splitter.append(ByteBuffer(string: "data: cut")) == [])
        #expect(splitter.finish() == "cut")
    }
}
