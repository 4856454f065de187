@testable import ForemanTarget
import ForemanTestSupport
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The parser must read a box's responses as NIO's HTTP/1 decoder reads them: these tests read the same bytes with
/// both, split into reads at every place or at random places, and compare what each makes of them.
@Suite("Box response parser")
struct BoxResponseParserTests {
    /// Responses on one connection, one after another, and the methods of the requests they answer. foreman sends a
    /// request only once the last response has ended, so each response's bytes come after its request.
    struct Exchanges: CustomTestStringConvertible {
        var name: String
        var methods: [HTTPMethod]
        var responses: [String]
        var testDescription: String { name }

        init(name: String, methods: [HTTPMethod], wire: String...) {
            self.name = name
            self.methods = methods
            self.responses = wire
        }
    }

    static let body = #"{"model":"m","message":{"role":"assistant","content":"hi"},"done":false}"# + "\n"

    static let wellFormed: [Exchanges] = [
        Exchanges(name: "a length", methods: [.POST], wire: "HTTP/1.1 200 OK\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: \(body.utf8.count)\r\n\r\n" + body),
        Exchanges(name: "chunks, one line each", methods: [.POST], wire: "HTTP/1.1 200 OK\r\nContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n"
            + String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n" + String(body.utf8.count, radix: 16) + "\r\n" + body + "\r\n0\r\n\r\n"),
        Exchanges(name: "chunks with extensions, upper-case sizes and trailers", methods: [.GET], wire: "HTTP/1.1 200 OK\r\ntransfer-encoding:  Chunked \r\n\r\n"
            + "1A;name=value\r\nabcdefghijklmnopqrstuvwxyz\r\n3;x=y\r\nabc\r\n0\r\nX-Trailer: 1\r\nY: 2\r\n\r\n"),
        Exchanges(name: "read to the close, HTTP/1.0", methods: [.GET], wire: "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nto the end\r\nand on"),
        Exchanges(name: "read to the close, HTTP/1.1 without a length", methods: [.GET], wire: "HTTP/1.1 200 OK\r\n\r\nto the end"),
        Exchanges(name: "a transfer coding that is not chunked", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nbytes to the close"),
        Exchanges(name: "chunked, but not the last coding", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n2\r\nto the close"),
        Exchanges(name: "HTTP/1.0 kept alive", methods: [.GET, .GET], wire: "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nok", "HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nyes"),
        Exchanges(name: "several on one connection", methods: [.GET, .HEAD, .DELETE, .POST, .GET], wire:
            "HTTP/1.1 204 No Content\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nContent-Type: application/octet-stream\r\n\r\n",
            "HTTP/1.1 404 Not Found\r\nContent-Type: application/json\r\nContent-Length: 28\r\n\r\n{\"error\":\"model not found\"}\n",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 503 Service Unavailable\r\nRetry-After: 7\r\nContent-Length: 0\r\n\r\n",
            "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n"),
        Exchanges(name: "a close asked for", methods: [.POST], wire: "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 5\r\n\r\nerror"),
        Exchanges(name: "names and tokens in any case", methods: [.POST, .POST], wire:
            "HTTP/1.1 200 OK\r\nCONTENT-LENGTH: 2\r\ncontent-type: Text/Plain\r\n\r\nok",
            "HTTP/1.1 503 Service Unavailable\r\nRETRY-after: 3\r\ncOnNeCtIoN: Keep-Alive, CLOSE\r\nTransfer-ENCODING: CHUNKED\r\n\r\n2\r\nno\r\n0\r\n\r\n"),
        Exchanges(name: "chunked given in two fields, a body of many chunks", methods: [.POST], wire:
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n\r\n"
            + (1...40).map { String($0, radix: 16) + "\r\n" + String(repeating: "x", count: $0) + "\r\n" }.joined() + "0\r\n\r\n"),
    ]

    static let malformed: [Exchanges] = [
        Exchanges(name: "a length and chunks", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nContent-Length: 99\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nab\r\n0\r\n\r\n"),
        Exchanges(name: "the same length twice", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nContent-Length: 4\r\nContent-Length: 4\r\n\r\nabcd"),
        Exchanges(name: "two lengths", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nabcde"),
        Exchanges(name: "HTTP/2", methods: [.GET], wire: "HTTP/2 200\r\n\r\n"),
        Exchanges(name: "a four-digit status", methods: [.GET], wire: "HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"),
        Exchanges(name: "a header without a colon", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nBad Header\r\nContent-Length: 0\r\n\r\n"),
        Exchanges(name: "a header without a name", methods: [.GET], wire: "HTTP/1.1 200 OK\r\n: x\r\nContent-Length: 0\r\n\r\n"),
        Exchanges(name: "a folded header", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 0\r\n\r\n"),
        Exchanges(name: "a control character in a header", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nX: a\u{01}b\r\nContent-Length: 0\r\n\r\n"),
        Exchanges(name: "a length that is not a number", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nContent-Length: 5x\r\n\r\nabcde"),
        Exchanges(name: "a chunk size that is not hexadecimal", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"),
        Exchanges(name: "a chunk longer than its size", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabcd\r\n0\r\n\r\n"),
        Exchanges(name: "a chunk size line ended by LF alone", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\nabc\r\n0\r\n\r\n"),
        Exchanges(name: "a chunk size of 16 digits", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1000000000000000\r\n"),
        Exchanges(name: "an empty chunk size", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n;ext\r\n"),
        Exchanges(name: "an upgrade", methods: [.GET], wire: "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n\r\n"),
        Exchanges(name: "a response after the one asked for", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\nHTTP/1.1 200 OK\r\n"),
        Exchanges(name: "a head too large", methods: [.GET], wire: "HTTP/1.1 200 OK\r\n" + String(repeating: "X-Pad: \(String(repeating: "p", count: 1000))\r\n", count: 70) + "\r\n"),
        Exchanges(name: "a chunk size line too long", methods: [.GET], wire: "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n1;" + String(repeating: "e", count: 5000) + "\r\nx\r\n0\r\n\r\n"),
    ]

    @Test("every response read as NIO's decoder reads it, in reads split at every place", arguments: wellFormed)
    func everySplit(_ exchanges: Exchanges) throws {
        let responses = exchanges.responses.map { Array($0.utf8) }
        let expected = try Self.nioReads(exchanges.methods, responses.joined().map { $0 })
        for split in 0...(responses.map(\.count).max() ?? 0) {
            let reads = responses.map { [Array($0.prefix(split)), Array($0.dropFirst(split))] }
            let read = try Self.parserReads(exchanges.methods, reads)
            #expect(read == expected, "split at \(split)")
            if read != expected { return }
        }
    }

    @Test("every response read as NIO's decoder reads it, in reads split at random places", arguments: wellFormed)
    func randomSplits(_ exchanges: Exchanges) throws {
        var random = SplitMix64(state: 29)
        let responses = exchanges.responses.map { Array($0.utf8) }
        let expected = try Self.nioReads(exchanges.methods, responses.joined().map { $0 })
        for _ in 0..<200 {
            let reads = responses.map { response in
                var reads: [[UInt8]] = []
                var rest = response[...]
                while !rest.isEmpty {
                    let size = 1 + Int(random.next() % UInt64(min(rest.count, 1 + Int(random.next() % 40))))
                    reads.append(Array(rest.prefix(size)))
                    rest = rest.dropFirst(size)
                }
                return reads
            }
            let read = try Self.parserReads(exchanges.methods, reads)
            #expect(read == expected, "\(reads.map { $0.map(\.count) })")
            if read != expected { return }
        }
    }

    @Test("what is not a response this reads is refused, however it is split", arguments: malformed)
    func refused(_ exchanges: Exchanges) throws {
        let wire = Array(exchanges.responses.joined().utf8)
        for split in [0, wire.count / 3, wire.count / 2, wire.count - 1] {
            #expect(throws: BoxResponseParser.Malformed.self, "split at \(split)") {
                try Self.parserReads(exchanges.methods, [[Array(wire[..<split]), Array(wire[split...])]])
            }
        }
    }

    /// One line per thing read: a head's fields, the body's bytes between it and its end, the end, and the close.
    struct Transcript: Equatable, CustomStringConvertible {
        private(set) var lines: [String] = []
        private var body = ""
        private var lastHead = 0

        mutating func head(status: Int, contentType: String?, retryAfter: String?, keepAlive: Bool) {
            lastHead = lines.count
            lines.append("head \(status) type=\(contentType ?? "-") retry=\(retryAfter ?? "-") keepAlive=\(keepAlive)")
        }

        mutating func body(_ bytes: ByteBuffer) {
            body += String(buffer: bytes)
        }

        mutating func end() {
            if !body.isEmpty { lines.append("body \(body)") }
            body = ""
            lines.append("end")
        }

        /// The last head's response ended at the close: no other can follow it on the connection.
        mutating func endedAtClose() {
            lines[lastHead] = lines[lastHead].replacingOccurrences(of: "keepAlive=true", with: "keepAlive=false")
        }

        mutating func closed() {
            lines.append("closed")
        }

        var description: String { lines.joined(separator: "\n") }
    }

    /// What the parser makes of `reads`, the reads of each response in turn, each answering the request made with
    /// the next of `methods`, then the close.
    static func parserReads(_ methods: [HTTPMethod], _ reads: [[[UInt8]]]) throws -> Transcript {
        var parser = BoxResponseParser()
        var transcript = Transcript()
        var ended = false
        for (method, responseReads) in zip(methods, reads) {
            parser.expectResponse(toHEAD: method == .HEAD)
            ended = false
            for read in responseReads {
                try parser.read(ByteBuffer(bytes: read)) { event in
                    switch event {
                    case .head(let head):
                        transcript.head(status: head.status, contentType: head.contentType, retryAfter: head.retryAfter, keepAlive: head.keepAlive)
                    case .body(let bytes):
                        transcript.body(bytes)
                    case .end:
                        transcript.end()
                        ended = true
                    }
                }
            }
        }
        if !ended, parser.endsAtClose { transcript.end() }
        transcript.closed()
        return transcript
    }

    /// What NIO's client decoder makes of the same bytes, read at once: a response it ends only at the close says it
    /// keeps no connection, as no other can follow it.
    static func nioReads(_ methods: [HTTPMethod], _ wire: [UInt8]) throws -> Transcript {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.addHTTPClientHandlers()
        for method in methods {
            try channel.writeOutbound(HTTPClientRequestPart.head(HTTPRequestHead(version: .http1_1, method: method, uri: "/")))
            try channel.writeOutbound(HTTPClientRequestPart.end(nil))
        }
        while try channel.readOutbound(as: IOData.self) != nil {}
        var parts: [HTTPClientResponsePart] = []
        try channel.writeInbound(ByteBuffer(bytes: wire))
        while let part = try channel.readInbound(as: HTTPClientResponsePart.self) { parts.append(part) }
        _ = try? channel.finish()
        let atClose = parts.count
        while let part = try channel.readInbound(as: HTTPClientResponsePart.self) { parts.append(part) }
        var transcript = Transcript()
        for (index, part) in parts.enumerated() {
            switch part {
            case .head(let head):
                transcript.head(status: Int(head.status.code), contentType: head.headers.first(name: "Content-Type"),
                                retryAfter: head.headers.first(name: "Retry-After"), keepAlive: head.isKeepAlive)
            case .body(let bytes):
                transcript.body(bytes)
            case .end:
                transcript.end()
                if index >= atClose { transcript.endedAtClose() }
            }
        }
        transcript.closed()
        return transcript
    }
}
