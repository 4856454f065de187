import ForemanEngine
@testable import ForemanApp
@testable import ForemanHTTP
import ForemanTarget
import ForemanTestSupport
import Foundation
import GRDB
import Logging
import NIOCore
import Testing

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
