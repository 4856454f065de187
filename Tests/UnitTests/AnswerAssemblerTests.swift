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
