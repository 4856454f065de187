import ForemanEngine
import ForemanTestSupport
import Foundation
import Testing

/// The check that an answer spliced from a stream is one JSON object (ADR 0041).
@Suite("JSON syntax")
struct JSONSyntaxTests {
    private func accepts(_ text: String) -> Bool { JSONSyntax.isObject(Array(text.utf8)) }

    @Test("well-formed objects are accepted", arguments: [
        #"{}"#, " \t\r\n{ }\n", #"{"a":1}"#, #"{"a" : [ ] , "b":{}}"#, #"{"a":-0}"#, #"{"a":0.5e-3}"#, #"{"a":1E+5}"#,
        #"{"a":12.0e5}"#, #"{"a":[true,false,null]}"#, #"{"a":"\"\\\/\b\f\n\r\t"}"#, #"{"a":"\u00e9\u00E9"}"#,
        #"{"a":"\ud83d\ude00"}"#, #"{"é":"日本語 😀"}"#, #"{"a":1.7976931348623157e308}"#, #"{"a":1e-400}"#, #"{"a":0e999}"#,
        #"{"a":{"b":{"c":[1,[2,[3]]]}}}"#, #"{"a":"x","a":"y"}"#,
    ])
    func wellFormed(_ text: String) {
        #expect(accepts(text))
    }

    @Test("malformed text is refused", arguments: [
        "", " ", "[]", #""a""#, "1", "null", "{", "}", #"{"a"}"#, #"{"a":}"#, #"{"a" 1}"#, #"{a:1}"#, #"{'a':1}"#,
        #"{"a":1,}"#, #"{"a":[1,]}"#, #"{,}"#, #"{"a":1 "b":2}"#, #"{"a":01}"#, #"{"a":1.}"#, #"{"a":.5}"#, #"{"a":+1}"#,
        #"{"a":-}"#, #"{"a":1e}"#, #"{"a":1e+}"#, #"{"a":NaN}"#, #"{"a":Infinity}"#, #"{"a":tru}"#, #"{"a":True}"#,
        #"{"a":1e309}"#, #"{"a":-1.8E+308}"#, #"{"a":nul}"#, #"{"a":"\x"}"#, #"{"a":"\U00e9"}"#, #"{"a":"\u00g9"}"#, #"{"a":"\u00"}"#,
        #"{"a":"\ud800"}"#,
        #"{"a":"\udc00"}"#, #"{"a":"\ud800x"}"#, #"{"a":"\ud800\u0041"}"#, "{\"a\":\"\t\"}", "{\"a\":\"\n\"}",
        #"{"a":"open}"#, #"{"a":1}x"#, #"{"a":1}{}"#, "{\"a\":1}\u{0}", "\u{FEFF}{}", #"{"a":[1}"#, #"{"a":{]}"#,
    ])
    func malformed(_ text: String) {
        #expect(!accepts(text))
    }

    @Test("UTF-8: every well-formed sequence is accepted, and overlong forms, surrogates, stray and cut bytes refused")
    func utf8() {
        func object(_ bytes: [UInt8]) -> [UInt8] { Array(#"{"a":""#.utf8) + bytes + Array(#""}"#.utf8) }
        for scalar in [0x80, 0x7FF, 0x800, 0xD7FF, 0xE000, 0xFFFD, 0xFFFF, 0x10000, 0x10FFFF] {
            #expect(JSONSyntax.isObject(object(Array(String(Unicode.Scalar(scalar)!).utf8))), "U+\(String(scalar, radix: 16))")
        }
        let refused: [[UInt8]] = [
            [0x80], [0xBF], [0xC0, 0x80], [0xC1, 0xBF], [0xC3], [0xE0, 0x80, 0x80], [0xE0, 0x9F, 0xBF], [0xED, 0xA0, 0x80],
            [0xED, 0xBF, 0xBF], [0xE2, 0x82], [0xF0, 0x80, 0x80, 0x80], [0xF0, 0x8F, 0xBF, 0xBF], [0xF4, 0x90, 0x80, 0x80],
            [0xF5, 0x80, 0x80, 0x80], [0xFF], [0xF0, 0x9F, 0x98], [0xC3, 0x41],
        ]
        for bytes in refused { #expect(!JSONSyntax.isObject(object(bytes)), "\(bytes)") }
    }

    @Test("a number of more than 308 digits is refused only when it overflows a Double")
    func longNumbers() {
        #expect(accepts(#"{"a":1"# + String(repeating: "0", count: 308) + "}"))
        #expect(!accepts(#"{"a":1"# + String(repeating: "0", count: 309) + "}"))
        #expect(accepts(#"{"a":0."# + String(repeating: "9", count: 400) + "}"))
    }

    @Test("nesting: 512 levels with the outer object are accepted, 513 refused, and far deeper costs no crash")
    func depth() {
        func nested(_ arrays: Int) -> String { #"{"a":"# + String(repeating: "[", count: arrays) + String(repeating: "]", count: arrays) + "}" }
        #expect(accepts(nested(JSONSyntax.maximumDepth - 1)))
        #expect(!accepts(nested(JSONSyntax.maximumDepth)))
        #expect(!accepts(nested(100_000)))
    }

    /// Texts made by mutating well-formed objects, judged by this check and by Foundation's parser. They must agree but
    /// where this check is documented to be stricter: a comma before a closing bracket, a byte-order mark, and text
    /// Foundation would read as UTF-16 or UTF-32 (a NUL among its first bytes).
    @Test("agrees with Foundation's parser on 20,000 mutated objects")
    func agreesWithFoundation() throws {
        var random = SplitMix64(state: 0x5EED_0041)
        let alphabet = Array(#"{}[]:,"\/ btfnru0123456789.eE+-aAxé"#.utf8) + [0x00, 0x0A, 0x80, 0xC3, 0xA9, 0xED, 0xF0, 0xFF]
        var compared = 0
        var accepted = 0
        for _ in 0..<20_000 {
            var bytes = Array(Self.document(depth: 0, &random).utf8)
            for _ in 0..<Int.random(in: 0...3, using: &random) {
                let position = Int.random(in: 0...bytes.count, using: &random)
                switch Int.random(in: 0..<3, using: &random) {
                case 0 where position < bytes.count: bytes.remove(at: position)
                case 1 where position < bytes.count: bytes[position] = alphabet.randomElement(using: &random)!
                default: bytes.insert(alphabet.randomElement(using: &random)!, at: position)
                }
            }
            let foundation = (try? JSONSerialization.jsonObject(with: Data(bytes))) is [String: Any]
            let mine = JSONSyntax.isObject(bytes)
            if mine == foundation {
                compared += 1
                accepted += mine ? 1 : 0
                continue
            }
            let text = String(decoding: bytes, as: UTF8.self)
            let documentedDifference =
                !mine && (text.contains(/,\s*[\]}]/) || bytes.starts(with: [0xEF, 0xBB, 0xBF]) || bytes.prefix(4).contains(0))
            #expect(documentedDifference, "this check says \(mine), Foundation \(foundation): \(bytes)")
        }
        // Both kinds of answer were seen often enough for the agreement to mean something.
        #expect(compared > 19_000)
        #expect(accepted > 5_000)
        #expect(compared - accepted > 5_000)
    }

    /// A random well-formed JSON object, shallow and short.
    private static func document(depth: Int, _ random: inout SplitMix64) -> String {
        let members = (0..<Int.random(in: 0...3, using: &random)).map { index in
            #""k\#(index)":"# + value(depth: depth + 1, &random)
        }
        return "{" + members.joined(separator: ",") + "}"
    }

    private static func value(depth: Int, _ random: inout SplitMix64) -> String {
        switch Int.random(in: 0..<(depth < 3 ? 8 : 6), using: &random) {
        case 0: return "true"
        case 1: return "null"
        case 2: return String(Int.random(in: -1000...1000, using: &random))
        case 3: return ["0.5", "-1e3", "2E-2", "0", "-0.25e+1"].randomElement(using: &random)!
        case 4: return [#""""#, #""text""#, #""é\n\"\u00e9""#, #""\ud83d\ude00""#].randomElement(using: &random)!
        case 5: return "false"
        case 6: return "[" + (0..<Int.random(in: 0...3, using: &random)).map { _ in value(depth: depth + 1, &random) }.joined(separator: ",") + "]"
        default: return document(depth: depth, &random)
        }
    }
}
