import ForemanTestSupport
import Foundation
import NIOCore
import Testing

@testable import ForemanEngine
@testable import ForemanApp
@testable import ForemanHTTP

/// ``JSONShape`` is a shortcut past `JSONSerialization`: wherever it reads a body, it must read what Foundation reads,
/// and native request validation must answer exactly as it does through Foundation (ADR 0011).
@Suite("JSON shape")
struct JSONShapeTests {
    @Test("the scanner agrees with JSONSerialization, and validation agrees with the Foundation path, on random bodies", arguments: [1, 2, 3] as [UInt64])
    func agreesWithFoundation(seed: UInt64) throws {
        var scanned = 0
        for (body, bytes) in Self.randomBodies(seed: seed, Self.body) {
            let shape = bytes.withUnsafeBytes { JSONShape.scan($0) }
            let foundation = (try? JSONSerialization.jsonObject(with: Data(bytes))) as? [String: Any]
            if let shape {
                scanned += 1
                let reference = try #require(foundation, "the scanner read what Foundation refuses: \(body)")
                #expect(Set(shape.fields.keys) == Set(reference.keys), "\(body)")
                for (key, value) in reference {
                    let expected = JSONShape.Field(foundation: value)
                    let found = shape.fields[key]
                    #expect(found?.kind == expected.kind, "\(key) in \(body)")
                    #expect(found?.elements == expected.elements, "\(key) in \(body)")
                    if expected.kind == JSONShape.Kind.string || expected.kind == JSONShape.Kind.bool { #expect(found?.text == expected.text, "\(key) in \(body)") }
                }
            }
            for endpoint in [NativeRequest.Endpoint.chat, .generate, .embed, .embeddings, .show] {
                let answer = Result { () throws(RequestError) in try NativeRequest.parse(endpoint, body: ByteBuffer(bytes: bytes)) }
                let reference = Result { () throws(RequestError) in
                    try NativeRequest.parse(endpoint, object: try NativeRequest.jsonObject(ByteBuffer(bytes: bytes)))
                }
                #expect(answer == reference, "\(endpoint) \(body)")
            }
        }
        #expect(scanned > 1_000)  // most bodies are plain enough for the shortcut
    }

    @Test("POST /jobs bodies: the shortcut answers exactly as the Foundation path, on random bodies", arguments: [4, 5, 6] as [UInt64])
    func submissionsAgreeWithFoundation(seed: UInt64) {
        var accepted = 0
        for (body, bytes) in Self.randomBodies(seed: seed, Self.submission) {
            let answer = Result { () throws(RequestError) in try JobSubmission.parse(ByteBuffer(bytes: bytes)) }
            let reference = Result { () throws(RequestError) in try JobSubmission.parseThroughFoundation(bytes) }
            #expect(answer == reference, "\(body)")
            if case .success = answer { accepted += 1 }
        }
        #expect(accepted > 200)  // enough bodies get through every check to compare what is kept
    }

    @Test("plain request bodies take the shortcut; anything unusual is left to Foundation")
    func whatItReads() {
        func scans(_ text: String) -> Bool { Array(text.utf8).withUnsafeBytes { JSONShape.scan($0) } != nil }
        #expect(scans(#"{"model":"llama3.2","messages":[{"role":"user","content":"hi \"there\"\n"}],"stream":false,"options":{"num_predict":1}}"#))
        #expect(scans(#" { "a" : [ 1 , -2.5 , true , null , { } , [ ] ] } "#))
        #expect(!scans(#"{"prompt":"\u00e9"}"#))  // \u escapes
        #expect(!scans(#"{"prompt":"é"}"#))  // non-ASCII
        #expect(!scans(#"{"n":1e3}"#))  // exponent
        #expect(!scans(#"{"n":1234567890123456}"#))  // 16 digits
        #expect(!scans(#"{"a":1,"a":2}"#))  // duplicate top-level key
        #expect(!scans(#"{"a":"# + String(repeating: "[", count: 40) + String(repeating: "]", count: 40) + "}"))  // deep
        #expect(!scans(#"{"a":01}"#) && !scans(#"{"a":1.}"#) && !scans(#"{"a":-}"#) && !scans(#"{"a":tru}"#) && !scans(#"{"a":1,}"#))
        #expect(!scans(#"[1]"#) && !scans("") && !scans(#"{"a":1} x"#))
    }

    // MARK: Random bodies

    /// 3,000 bodies from `make`, a quarter of them broken by ``mutate(_:_:)``, with their bytes.
    private static func randomBodies(seed: UInt64, _ make: (inout SplitMix64) -> String) -> [(text: String, bytes: [UInt8])] {
        var random = SplitMix64(state: seed)
        return (0..<3_000).map { _ in
            var body = make(&random)
            if random.next() % 4 == 0 { body = mutate(body, &random) }
            return (body, Array(body.utf8))
        }
    }

    private static let keys = ["model", "name", "stream", "options", "keep_alive", "messages", "tools", "prompt", "system", "images", "input", "x"]

    private static func body(_ random: inout SplitMix64) -> String {
        var fields: [String] = []
        for key in keys where random.next() % 3 == 0 {
            fields.append(quoted(key) + ":" + value(&random, depth: 0))
        }
        if random.next() % 2 == 0 { fields.insert(#""model":"#  + pick(["\"llama3.2\"", "\" m \"", "\"\"", "null", "3", "\"a\\tb\""], &random), at: 0) }
        let spaces = pick(["", " ", "\n  "], &random)
        return "{" + spaces + fields.joined(separator: "," + spaces) + spaces + "}"
    }

    private static func value(_ random: inout SplitMix64, depth: Int) -> String {
        switch random.next() % (depth > 3 ? 4 : 6) {
        case 0: return pick(["\"text\"", "\"with \\\"quotes\\\" and \\\\ and \\n\"", "\"\\u00e9\"", "\"é\"", "\"\\/\"", "\"\""], &random)
        case 1: return pick(["0", "-1", "1.5", "-0.25", "1e3", "12345678901234567", "42"], &random)
        case 2: return pick(["true", "false"], &random)
        case 3: return "null"
        case 4:
            let count = Int(random.next() % 4)
            return "[" + (0..<count).map { _ in value(&random, depth: depth + 1) }.joined(separator: ",") + "]"
        default:
            let count = Int(random.next() % 3)
            return "{" + (0..<count).map { index in quoted("k\(index)") + ":" + value(&random, depth: depth + 1) }.joined(separator: ",") + "}"
        }
    }

    /// A `POST /jobs` body: mostly well-formed fields, each sometimes of the wrong kind or odd.
    private static func submission(_ random: inout SplitMix64) -> String {
        var fields: [String] = []
        if random.next() % 8 != 0 { fields.append(#""kind":"# + pick(["\"chat\"", "\"generate\"", "\"embed\"", "\"other\"", "3", "null"], &random)) }
        if random.next() % 8 != 0 {
            let plain = #"{"model":"m","messages":[{"role":"user","content":"hi"}],"prompt":"p","input":"x","stream":false}"#
            fields.append(#""request":"# + (random.next() % 2 == 0 ? plain : pick([body(&random), "[]", "\"{}\"", "null"], &random)))
        }
        if random.next() % 3 == 0 {
            let urls = ["\"http://127.0.0.1:9/hook\"", "\"https://example.com/h?a=1\"", "\"ftp://x\"", "\"not a url\"", "\"http://\"", "null", "1"]
            fields.append(#""state_webhook_url":"# + pick(urls, &random))
        }
        if random.next() % 2 == 0 {
            let priorities = ["5", "-3", "0", "5.0", "5.5", "-0.0", "1000000", "1000001", "-1000000.0", "1e2", "123456789012345", "true", "\"5\"", "null"]
            fields.append(#""priority":"# + pick(priorities, &random))
        }
        if random.next() % 3 == 0 {
            fields.append(#""metadata":"# + pick([#"{"a":[1,{"b":"c"}],"n":1.50}"#, "{}", "[]", "\"m\"", "null", #"{"é":1}"#], &random))
        }
        if random.next() % 5 == 0 { fields.append(#""x":"# + value(&random, depth: 0)) }
        var order = fields
        for index in order.indices.reversed() { order.swapAt(index, Int(random.next() % UInt64(index + 1))) }
        let spaces = pick(["", " ", "\n  "], &random)
        return "{" + spaces + order.joined(separator: "," + spaces) + spaces + "}"
    }

    /// A broken or odd variant: a byte dropped, changed or added somewhere.
    private static func mutate(_ body: String, _ random: inout SplitMix64) -> String {
        var bytes = Array(body.utf8)
        guard !bytes.isEmpty else { return body }
        let at = Int(random.next() % UInt64(bytes.count))
        let byte = pick(Array("{}[]\":,\\ 0-.etn\u{1}".utf8), &random)
        switch random.next() % 3 {
        case 0: bytes.remove(at: at)
        case 1: bytes[at] = byte
        default: bytes.insert(byte, at: at)
        }
        return String(decoding: bytes, as: UTF8.self)
    }

    private static func quoted(_ text: String) -> String { "\"" + text + "\"" }

    private static func pick<T>(_ options: [T], _ random: inout SplitMix64) -> T {
        options[Int(random.next() % UInt64(options.count))]
    }
}
