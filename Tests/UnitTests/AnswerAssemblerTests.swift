@testable import ForemanEngine
import ForemanDomain
import Foundation
import NIOCore
import Testing

/// The non-streaming answer built line by line as a stream arrives (ADR 0024).
@Suite("Answer assembled as it streams")
struct AnswerAssemblerTests {
    private func assembled(_ kind: JobKind, _ lines: [String]) throws -> [String: Any] {
        var assembler = AnswerAssembler(kind: kind)
        for line in lines { assembler.append(ByteBuffer(string: line + "\n")) }
        let data = try #require(assembler.finished())
        return try #require(try JSONSerialization.jsonObject(with: data) as? [String: Any])
    }

    @Test("chat: escaped text across lines, thinking, tool calls from several lines, every other field from the last")
    func chat() throws {
        let object = try assembled(.chat, [
            #"{"model":"m","message":{"role":"assistant","content":"Say \"hi\"\n","thinking":"Plan: \u00e9"},"done":false}"#,
            #"{"model":"m","message":{"role":"assistant","content":"\\ done \ud83d\ude00","tool_calls":[{"function":{"name":"a","arguments":{"x":[1,2]}}}]},"done":false}"#,
            #"{"model":"m","message":{"role":"assistant","content":null,"tool_calls":[{"function":{"name":"b","arguments":{"s":"a,b]"}}},{"function":{"name":"c","arguments":{}}}]},"done":false}"#,
            #"{"model":"m","message":{"role":"assistant","content":""},"done":true,"done_reason":"stop","eval_count":3}"#,
        ])
        let message = try #require(object["message"] as? [String: Any])
        #expect(message["content"] as? String == "Say \"hi\"\n\\ done 😀")
        #expect(message["thinking"] as? String == "Plan: é")
        let names = (message["tool_calls"] as? [[String: Any]])?.compactMap { ($0["function"] as? [String: Any])?["name"] as? String }
        #expect(names == ["a", "b", "c"])
        #expect(object["done_reason"] as? String == "stop" && object["eval_count"] as? Int == 3)
    }

    @Test("generate: response and thinking appended; a line that is not an object leaves the last object's fields")
    func generate() throws {
        let object = try assembled(.generate, [
            #"{"response":"The","thinking":"t1","done":false}"#,
            #"{"response":" sky","done":false}"#,
            #"{"response":"","done":true,"total_duration":5}"#,
            "not json",
        ])
        #expect(object["response"] as? String == "The sky" && object["thinking"] as? String == "t1" && object["total_duration"] as? Int == 5)
    }

    @Test("the answer keeps the last line's field order and the box's escapes, byte for byte")
    func splicedAsText() throws {
        var assembler = AnswerAssembler(kind: .chat)
        for line in [
            #"{"model":"m","message":{"role":"assistant","content":"caf\u00e9 "},"done":false}"#,
            #"{"model":"m","message":{"role":"assistant","content":"\"ok\"","thinking":"t"},"done":false}"#,
            #"{"model":"m","created_at":"x","message":{"role":"assistant","content":""},"done_reason":"stop","done":true,"eval_count":2}"#,
        ] { assembler.append(ByteBuffer(string: line + "\n")) }
        let text = String(decoding: try #require(assembler.finished()), as: UTF8.self)
        #expect(text == #"{"model":"m","created_at":"x","message":{"role":"assistant","content":"caf\u00e9 \"ok\"","thinking":"t"},"done_reason":"stop","done":true,"eval_count":2}"#)

        var generate = AnswerAssembler(kind: .generate)
        for line in [#"{"response":"a","done":false}"#, #"{"done":true,"context":[1,2]}"#] { generate.append(ByteBuffer(string: line)) }
        #expect(String(decoding: try #require(generate.finished()), as: UTF8.self) == #"{"done":true,"context":[1,2],"response":"a"}"#)
    }

    @Test("broken lines from the box: no crash, and an answer that would not be JSON is the last line as it came")
    func brokenLines() throws {
        for broken in [#"{""#, #"{"message"#, #"{"message":"#, #"{"message":{"content":"a\"#, "{\"a\":\"\\", #"{"message":{"content":"x"},"done":tr"#] {
            var assembler = AnswerAssembler(kind: .chat)
            assembler.append(ByteBuffer(string: #"{"message":{"content":"a"},"done":false}"#))
            assembler.append(ByteBuffer(string: broken))
            let answer = try #require(assembler.finished())
            let isJSON = (try? JSONSerialization.jsonObject(with: answer)) != nil
            #expect(isJSON || answer == Data(broken.utf8), "\(broken)")
        }
        var control = AnswerAssembler(kind: .generate)
        control.append(ByteBuffer(string: "{\"response\":\"a\u{01}\",\"done\":false}"))
        control.append(ByteBuffer(string: #"{"done":true}"#))
        #expect(control.finished() == Data(#"{"done":true}"#.utf8))
    }

    @Test("a single line is the answer as it came; no line is no answer")
    func singleLine() throws {
        var one = AnswerAssembler(kind: .chat)
        one.append(ByteBuffer(string: #"{ "message" : {"content":"x"}, "done":true}"#))
        #expect(one.finished() == Data(#"{ "message" : {"content":"x"}, "done":true}"#.utf8))
        #expect(AnswerAssembler(kind: .chat).finished() == nil)
    }

    @Test("the elements of a JSON array, split outside strings, objects and arrays")
    func elements() {
        func split(_ text: String) -> [String] {
            AnswerAssembler.elements(of: Array(text.utf8)[...]).map { String(decoding: $0, as: UTF8.self).trimmingCharacters(in: .whitespaces) }
        }
        #expect(split(#"[{"a":"x,]"},[1,2], "s\"," ]"#) == [#"{"a":"x,]"}"#, "[1,2]", #""s\",""#])
        #expect(split("[]").isEmpty && split(" [ ] ").isEmpty && split("{}").isEmpty && split("null").isEmpty)
    }
}
