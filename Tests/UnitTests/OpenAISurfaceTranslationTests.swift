import ForemanTarget
import Foundation
import Testing

/// OpenAI calls as native ones and native answers as OpenAI's (ADR 0019), field by field against what Ollama's own
/// compatibility layer does (`openai/openai.go`, `middleware/openai.go`).
@Suite("The /v1 surface's translation")
struct OpenAISurfaceTranslationTests {
    private static func object(_ data: Data) throws -> [String: Any] {
        try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("a chat becomes Ollama's chat: messages, tools, format, think, stop, defaults, and the caller's own options")
    func chat() throws {
        let body = #"""
            {"model":"desk/qwen","stream":true,"max_tokens":12,"stop":"END","seed":7,"frequency_penalty":0.5,
             "response_format":{"type":"json_schema","json_schema":{"name":"x","schema":{"type":"object"}}},
             "reasoning_effort":"xhigh","logprobs":true,"top_logprobs":2,"keep_alive":"5m","options":{"num_ctx":8192,"temperature":0.2},
             "tools":[{"type":"function","function":{"name":"weather","parameters":{"type":"object"}}}],
             "messages":[
               {"role":"system","content":"be brief"},
               {"role":"user","content":[{"type":"text","text":"what is this?"},{"type":"image_url","image_url":{"url":"data:image/png;base64,aGk="}}]},
               {"role":"assistant","content":null,"tool_calls":[{"id":"call_1","type":"function","function":{"name":"weather","arguments":"{\"city\":\"Paris\"}"}}]},
               {"role":"tool","tool_call_id":"call_1","content":"sunny"}]}
            """#
        let native = try Self.object(try OpenAICallAsNative.chat(Data(body.utf8), model: "qwen"))
        #expect(native["model"] as? String == "qwen" && native["stream"] as? Bool == true)
        let options = try #require(native["options"] as? [String: Any])
        #expect(options["num_predict"] as? Int == 12 && options["stop"] as? [String] == ["END"] && options["seed"] as? Int == 7)
        #expect(options["temperature"] as? Double == 0.2, "the caller's own options win")
        #expect(options["top_p"] as? Double == 1.0 && options["num_ctx"] as? Int == 8192 && options["frequency_penalty"] as? Double == 0.5)
        #expect((native["format"] as? [String: Any])?["type"] as? String == "object")
        #expect(native["think"] as? String == "max" && native["logprobs"] as? Bool == true && native["top_logprobs"] as? Int == 2)
        #expect(native["keep_alive"] as? String == "5m" && (native["tools"] as? [Any])?.count == 1)
        let messages = try #require(native["messages"] as? [[String: Any]])
        #expect(messages.count == 5, "the text and the image parts are messages of their own")
        #expect(messages[1]["content"] as? String == "what is this?" && messages[2]["images"] as? [String] == ["aGk="])
        let call = try #require((messages[3]["tool_calls"] as? [[String: Any]])?.first)
        #expect(call["id"] as? String == "call_1")
        #expect(((call["function"] as? [String: Any])?["arguments"] as? [String: Any])?["city"] as? String == "Paris")
        #expect(messages[4]["tool_name"] as? String == "weather" && messages[4]["tool_call_id"] as? String == "call_1")
    }

    @Test("what Ollama's layer refuses is refused with its words", arguments: [
        (#"{"model":"m","messages":[]}"#, "[] is too short - 'messages'"),
        (#"{"model":"m","messages":[{"role":"user"}]}"#, "invalid message content type: <nil>"),
        (#"{"model":"m","messages":[{"role":"user","content":[{"type":"image_url","image_url":"https://x/y.png"}]}]}"#,
         "image URLs are not currently supported, please use base64 encoded data instead"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"reasoning_effort":"huge"}"#,
         #"invalid reasoning value: "huge" (must be "minimal", "low", "medium", "high", "xhigh", "ultra", "max", or "none")"#),
        (#"{"model":"m","messages":[{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":"{"}}]}]}"#,
         "invalid tool call arguments"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"max_tokens":"x"}"#,
         "invalid type for 'max_tokens' field: expected a whole number, got string"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"stream":"yes"}"#,
         "invalid type for 'stream' field: expected a boolean, got string"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"temperature":true}"#,
         "invalid type for 'temperature' field: expected a number, got bool"),
        (#"{"model":"m","messages":[{"role":"user","content":"hi"}],"options":"x"}"#,
         "invalid type for 'options' field: expected an object, got string"),
    ])
    func refusals(body: String, message: String) {
        #expect { try OpenAICallAsNative.chat(Data(body.utf8), model: "m") } throws: { ($0 as? TranslationError)?.description == message }
    }

    @Test("a completion becomes a generate; a stop list of other than strings is refused")
    func completion() throws {
        let native = try Self.object(try OpenAICallAsNative.completion(Data(#"{"model":"m","prompt":"p","top_p":0,"logprobs":3}"#.utf8), model: "m"))
        let options = try #require(native["options"] as? [String: Any])
        #expect(native["prompt"] as? String == "p" && native["stream"] as? Bool == false)
        #expect(options["top_p"] as? Double == 1.0 && options["temperature"] as? Double == 1.0 && options["frequency_penalty"] as? Int == 0)
        #expect(native["logprobs"] as? Bool == true && native["top_logprobs"] as? Int == 3)
        #expect { try OpenAICallAsNative.completion(Data(#"{"model":"m","stop":["a",1]}"#.utf8), model: "m") } throws: {
            ($0 as? TranslationError)?.description == "invalid type for 'stop' field: float64"
        }
        #expect { try OpenAICallAsNative.completion(Data(#"{"model":"m","prompt":["a"]}"#.utf8), model: "m") } throws: {
            ($0 as? TranslationError)?.description == "invalid type for 'prompt' field: expected a string, got []interface {}"
        }
    }

    private static func payloads(_ events: [String]) throws -> [[String: Any]] {
        try events.filter { $0 != "data: [DONE]\n\n" }.map { event in
            #expect(event.hasPrefix("data: ") && event.hasSuffix("\n\n"))
            return try Self.object(Data(event.dropFirst(6).dropLast(2).utf8))
        }
    }

    @Test("a streamed chat: role first, thinking split from content, no empty trailer, finish, usage, [DONE]")
    func streamedChat() throws {
        var answer = NativeAnswerAsOpenAI(shape: .chat, model: "desk/qwen", includeUsage: true, id: "chatcmpl-1")
        var events: [String] = []
        for line in [
            #"{"model":"qwen","created_at":"2026-12-05T10:00:00.123456789Z","message":{"role":"assistant","content":"","thinking":"hmm"},"done":false}"#,
            #"{"model":"qwen","created_at":"2026-12-05T10:00:01Z","message":{"role":"assistant","content":"Hi","thinking":"ok"},"done":false}"#,
            #"{"model":"qwen","created_at":"2026-12-05T10:00:02Z","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","prompt_eval_count":5,"eval_count":2}"#,
        ] {
            events += answer.events(forLine: Data(line.utf8))
        }
        #expect(events.last == "data: [DONE]\n\n")
        let chunks = try Self.payloads(events)
        #expect(chunks.count == 5, "\(events)")
        let deltas = chunks.compactMap { (($0["choices"] as? [[String: Any]])?.first?["delta"]) as? [String: Any] }
        #expect(deltas[0]["role"] as? String == "assistant" && deltas[0]["reasoning"] as? String == "hmm")
        #expect(deltas[1]["reasoning"] as? String == "ok" && deltas[1]["content"] == nil && deltas[1]["role"] == nil)
        #expect(deltas[2]["content"] as? String == "Hi" && deltas[2]["reasoning"] == nil)
        #expect(deltas[3].isEmpty && (chunks[3]["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "stop")
        #expect((chunks[4]["choices"] as? [Any])?.isEmpty == true)
        #expect((chunks[4]["usage"] as? [String: Any])?["total_tokens"] as? Int == 7)
        #expect(Set(chunks.compactMap { $0["created"] as? Int }) == [1_796_464_800], "one created for the whole stream: the first line's")
        #expect(chunks.allSatisfy { $0["id"] as? String == "chatcmpl-1" && $0["model"] as? String == "desk/qwen" && $0["object"] as? String == "chat.completion.chunk" })
    }

    @Test("a tool call's stream finishes with tool_calls; a whole answer is one chat.completion")
    func toolCalls() throws {
        var answer = NativeAnswerAsOpenAI(shape: .chat, model: "m", includeUsage: false)
        let call = #"{"message":{"role":"assistant","content":"","tool_calls":[{"id":"c1","function":{"index":0,"name":"f","arguments":{"a":1}}}]},"done":false}"#
        let events = answer.events(forLine: Data(call.utf8)) + answer.events(forLine: Data(#"{"message":{"content":""},"done":true,"done_reason":"stop"}"#.utf8))
        let chunks = try Self.payloads(events)
        let sent = try #require((((chunks[0]["choices"] as? [[String: Any]])?.first?["delta"] as? [String: Any])?["tool_calls"] as? [[String: Any]])?.first)
        #expect((sent["function"] as? [String: Any])?["arguments"] as? String == #"{"a":1}"# && sent["id"] as? String == "c1")
        #expect((chunks[1]["choices"] as? [[String: Any]])?.first?["finish_reason"] as? String == "tool_calls")

        let whole = try Self.object(try #require(answer.whole(Data(
            #"{"created_at":"2026-12-05T10:00:00Z","message":{"role":"assistant","content":"","tool_calls":[{"function":{"name":"f","arguments":{}}}]},"done":true,"done_reason":"stop","prompt_eval_count":3,"eval_count":4}"#.utf8
        ))))
        let choice = try #require((whole["choices"] as? [[String: Any]])?.first)
        #expect(whole["object"] as? String == "chat.completion" && choice["finish_reason"] as? String == "tool_calls")
        #expect((whole["usage"] as? [String: Any])?["completion_tokens"] as? Int == 4)
    }

    @Test("a whole answer is written in the field order of Ollama's layer, logprobs as OpenAI's content list")
    func wholeAnswerText() throws {
        let native = #"{"model":"qwen","created_at":"2026-12-05T10:00:00.5Z","message":{"role":"assistant","content":"Hi \"you\""},"done":true,"#
            + #""done_reason":"stop","prompt_eval_count":3,"eval_count":1,"logprobs":[{"token":"Hi"}]}"#
        let chat = NativeAnswerAsOpenAI(shape: .chat, model: "desk/qwen", includeUsage: false, id: "chatcmpl-7")
        let written = String(decoding: try #require(chat.whole(Data(native.utf8))), as: UTF8.self)
        #expect(written == #"{"id":"chatcmpl-7","object":"chat.completion","created":1796464800,"model":"desk/qwen","system_fingerprint":"fp_ollama","#
            + #""choices":[{"index":0,"message":{"role":"assistant","content":"Hi \"you\""},"finish_reason":"stop","logprobs":{"content":[{"token":"Hi"}]}}],"#
            + #""usage":{"prompt_tokens":3,"completion_tokens":1,"total_tokens":4}}"#)
        let completion = NativeAnswerAsOpenAI(shape: .completion, model: "qwen", includeUsage: false, id: "cmpl-7")
        let text = String(decoding: try #require(completion.whole(Data(#"{"created_at":"2026-12-05T10:00:00Z","response":"ok","done":true}"#.utf8))), as: UTF8.self)
        #expect(text == #"{"id":"cmpl-7","object":"text_completion","created":1796464800,"model":"qwen","system_fingerprint":"fp_ollama","#
            + #""choices":[{"text":"ok","index":0,"finish_reason":null}],"usage":{"prompt_tokens":0,"completion_tokens":0,"total_tokens":0}}"#)
    }

    @Test("embeddings: floats keep the box's digits; base64 is little-endian float32")
    func embeddings() throws {
        let native = Data(#"{"model":"e","embeddings":[[-0.48031285971001164,1]],"prompt_eval_count":3}"#.utf8)
        let floats = try #require(NativeAnswerAsOpenAI.embeddings(native, model: "e", base64: false))
        #expect(String(decoding: floats, as: UTF8.self).contains("-0.48031285971001164"))
        let encoded = try Self.object(try #require(NativeAnswerAsOpenAI.embeddings(native, model: "e", base64: true)))
        let text = try #require(((encoded["data"] as? [[String: Any]])?.first?["embedding"]) as? String)
        let bytes = try #require(Data(base64Encoded: text))
        #expect(bytes.count == 8)
        let values = (0..<2).map { index in Float(bitPattern: bytes[(index * 4)..<(index * 4 + 4)].enumerated().reduce(UInt32(0)) { $0 | UInt32($1.element) << (8 * $1.offset) }) }
        #expect(values == [Float(-0.48031285971001164), 1])
        #expect((encoded["usage"] as? [String: Any])?["prompt_tokens"] as? Int == 3)
    }
}
