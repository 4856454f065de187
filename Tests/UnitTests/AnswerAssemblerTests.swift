@testable import ForemanEngine
import ForemanDomain
import ForemanTestSupport
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

    @Test("over random chat streams, the answer's text, thinking and tool calls are what a JSON decoder reads from the lines")
    func randomChatStreams() throws {
        var random = SplitMix64(state: 11)
        let pieces = ["a", " ", "é", "\"", "\\", "\n", "😀", "}", "{", "]", ",", ":", "content", "\u{01}"]
        func text() -> String { (0..<Int(random.next() % 4)).map { _ in pieces[Int(random.next() % UInt64(pieces.count))] }.joined() }
        func space() -> String { ["", " ", "\n ", "\t"][Int(random.next() % 4)] }
        for round in 0..<300 {
            var lines: [String] = []
            var content = ""
            var thinking = ""
            var calls: [String] = []
            for index in 0..<(1 + Int(random.next() % 5)) {
                var message: [(String, Any)] = [("role", "assistant")]
                let said = text()
                switch random.next() % 4 {
                case 0: break
                case 1: message.append(("content", NSNull()))
                default:
                    message.append(("content", said))
                    content += said
                }
                if random.next() % 3 == 0 {
                    let thought = text()
                    message.append(("thinking", thought))
                    thinking += thought
                }
                if random.next() % 4 == 0 {
                    let names = (0..<Int(random.next() % 3)).map { "f\(round)_\(index)_\($0)" }
                    message.append(("tool_calls", names.map { ["function": ["name": $0, "arguments": ["s": text()]]] }))
                    calls += names
                }
                message.shuffle(using: &random)
                // A field outside the message that holds the same names must not count.
                var fields: [(String, Any)] = [("model", "m"), ("message", message), ("done", false), ("options", ["content": "no", "thinking": "no"])]
                fields.shuffle(using: &random)
                lines.append(Self.object(fields, space: space))
            }
            lines.append(#"{"model":"m","message":{"role":"assistant","content":""},"done":true,"eval_count":7}"#)
            let answer = try assembled(.chat, lines)
            let message = try #require(answer["message"] as? [String: Any])
            #expect(message["content"] as? String == content, "\(lines)")
            #expect(message["thinking"] as? String == (thinking.isEmpty ? nil : thinking), "\(lines)")
            let names = (message["tool_calls"] as? [[String: Any]])?.compactMap { ($0["function"] as? [String: Any])?["name"] as? String }
            #expect(names == (calls.isEmpty ? nil : calls), "\(lines)")
            #expect(answer["eval_count"] as? Int == 7 && answer["done"] as? Bool == true)
        }
    }

    @Test("a text field given twice in a line counts once, as its last value, as a JSON decoder reads it")
    func repeatedField() throws {
        let answer = try assembled(.chat, [
            #"{"message":{"content":"first","content":"a"},"done":false}"#,
            #"{"message":{"content":"b"},"message":{"content":"c"},"done":true}"#,
        ])
        #expect((answer["message"] as? [String: Any])?["content"] as? String == "ac")
    }

    /// A JSON object with `fields` in their order, whitespace from `space` between its tokens.
    private static func object(_ fields: [(String, Any)], space: () -> String) -> String {
        func value(_ any: Any) -> String {
            if let fields = any as? [(String, Any)] { return object(fields, space: space) }
            let data = try! JSONSerialization.data(withJSONObject: any, options: [.fragmentsAllowed, .sortedKeys])
            return String(decoding: data, as: UTF8.self)
        }
        let members = fields.map { space() + value($0.0) + space() + ":" + space() + value($0.1) + space() }
        return "{" + members.joined(separator: ",") + "}"
    }

    @Test("the elements of a JSON array, split outside strings, objects and arrays")
    func elements() {
        func split(_ text: String) -> [String] {
            Array(text.utf8).withUnsafeBytes { array in
                AnswerAssembler.elements(of: array).map { String(decoding: array[$0], as: UTF8.self).trimmingCharacters(in: .whitespaces) }
            }
        }
        #expect(split(#"[{"a":"x,]"},[1,2], "s\"," ]"#) == [#"{"a":"x,]"}"#, "[1,2]", #""s\",""#])
        #expect(split("[]").isEmpty && split(" [ ] ").isEmpty && split("{}").isEmpty && split("null").isEmpty)
    }
}
