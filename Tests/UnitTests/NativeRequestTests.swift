import ForemanEngine
@testable import ForemanApp
@testable import ForemanHTTP
import ForemanTestSupport
import Foundation
import GRDB
import Logging
import NIOCore
import Testing

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
