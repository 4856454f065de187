@testable import ForemanHTTP
import NIOCore
import NIOEmbedded
import NIOHTTP1
import Testing

/// The framer must put on the wire exactly what NIO's encoder alone would: these tests write the same answers
/// through a server pipeline with and without it, and compare the bytes.
@Suite("Chunked body framer")
struct ChunkedBodyFramerTests {
    /// An answer to write: the request it answers, its head, its body parts.
    struct Exchange: CustomTestStringConvertible {
        var request = "POST /api/chat HTTP/1.1\r\nContent-Length: 0\r\n\r\n"
        var version = HTTPVersion.http1_1
        var status = HTTPResponseStatus.ok
        var headers: HTTPHeaders = ["content-type": "application/x-ndjson"]
        var parts: [Int] = [1, 15, 16, 255, 256, 4096, 0, 65_536, 65_537, 3]
        var testDescription: String { "\(request.split(separator: "\r\n").first ?? "") → \(version) \(status.code) \(headers)" }
    }

    static let exchanges: [Exchange] = [
        Exchange(),
        Exchange(request: "GET /api/ps HTTP/1.1\r\n\r\n"),
        Exchange(request: "HEAD /api/chat HTTP/1.1\r\n\r\n"),
        Exchange(request: "CONNECT box:80 HTTP/1.1\r\n\r\n"),
        Exchange(version: .http1_0),
        Exchange(headers: ["content-length": "\(Exchange().parts.reduce(0, +))"]),
        Exchange(headers: ["transfer-encoding": "chunked"]),
        Exchange(status: .noContent),
        Exchange(status: .notModified),
        Exchange(status: .badRequest, parts: [5, 7]),
    ]

    @Test("every answer's bytes are the encoder's own", arguments: exchanges)
    func sameBytesAsTheEncoder(_ exchange: Exchange) throws {
        let framed = try Self.wire(exchange, framer: true)
        let encoded = try Self.wire(exchange, framer: false)
        #expect(framed == encoded)
    }

    @Test("parts written straight to the framer take their place among the pipeline's", arguments: exchanges)
    func directWritesInOrder(_ exchange: Exchange) throws {
        let direct = try Self.wire(exchange, framer: true, direct: true)
        let encoded = try Self.wire(exchange, framer: false)
        #expect(direct == encoded)
    }

    @Test("a pipelined HEAD's answer is not framed, and the next one is")
    func pipelined() throws {
        let requests = "HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\nGET /c HTTP/1.1\r\n\r\n"
        let withFramer = try Self.channel(framer: true, requests: requests)
        let without = try Self.channel(framer: false, requests: requests)
        for _ in 0..<3 {
            let exchange = Exchange(parts: [3, 300])
            let framed = try Self.answer(exchange, on: withFramer, direct: true)
            let encoded = try Self.answer(exchange, on: without, direct: false)
            #expect(framed == encoded)
        }
    }

    @Test("an informational head answers no request: the answer after it does")
    func informational() throws {
        let requests = "HEAD /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n"
        let withFramer = try Self.channel(framer: true, requests: requests)
        let without = try Self.channel(framer: false, requests: requests)
        var wires = ["", ""]
        for (index, channel) in [withFramer, without].enumerated() {
            try channel.writeOutbound(HTTPServerResponsePart.head(HTTPResponseHead(version: .http1_1, status: .continue)))
            while let data = try channel.readOutbound(as: ByteBuffer.self) { wires[index] += String(buffer: data) }
            for _ in 0..<2 { wires[index] += try Self.answer(Exchange(parts: [3, 300]), on: channel, direct: index == 0) }
        }
        #expect(wires[0] == wires[1])
    }

    @Test("a chunk's length is its size in hexadecimal")
    func chunkLength() {
        for size in [1, 9, 10, 15, 16, 17, 255, 256, 4095, 4096, 65_535, 65_536] {
            let chunk = ChunkedBodyFramer.chunk(ByteBuffer(repeating: 0x61, count: size), allocator: ByteBufferAllocator())
            #expect(String(buffer: chunk) == String(size, radix: 16) + "\r\n" + String(repeating: "a", count: size) + "\r\n")
        }
    }

    /// The bytes `exchange` puts on the wire, through a pipeline with the framer or without, its parts written through
    /// the pipeline or, `direct`, straight to the framer where it takes them.
    static func wire(_ exchange: Exchange, framer: Bool, direct: Bool = false) throws -> String {
        try answer(exchange, on: channel(framer: framer, requests: exchange.request), direct: direct)
    }

    static func channel(framer: Bool, requests: String) throws -> EmbeddedChannel {
        let channel = EmbeddedChannel()
        try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: false)
        if framer {
            let decoder = try channel.pipeline.syncOperations.handler(type: ByteToMessageHandler<HTTPRequestDecoder>.self)
            try channel.pipeline.syncOperations.addHandler(ChunkedBodyFramer(), position: .after(decoder))
        }
        try channel.writeInbound(ByteBuffer(string: requests))
        while try channel.readInbound(as: HTTPServerRequestPart.self) != nil {}
        return channel
    }

    /// What answering `exchange` on `channel` puts on the wire, and what each write that fails throws, in order.
    static func answer(_ exchange: Exchange, on channel: EmbeddedChannel, direct: Bool) throws -> String {
        let framer = try? channel.pipeline.syncOperations.handler(type: ChunkedBodyFramer.self)
        var wire = ""
        func written() throws {
            while let data = try channel.readOutbound(as: IOData.self) {
                guard case .byteBuffer(let buffer) = data else { Issue.record("a file region"); continue }
                wire += String(buffer: buffer)
            }
        }
        func write(_ part: HTTPServerResponsePart) throws {
            do {
                try channel.writeOutbound(part)
            } catch {
                wire += "<\(error)>"
            }
            try written()
        }
        try write(.head(HTTPResponseHead(version: exchange.version, status: exchange.status, headers: exchange.headers)))
        for (index, size) in exchange.parts.enumerated() {
            let part = ByteBuffer(repeating: UInt8(ascii: "a") + UInt8(index % 26), count: size)
            if direct, let framer, framer.writeAndFlush(part) {
                try written()
                continue
            }
            try write(.body(.byteBuffer(part)))
        }
        try write(.end(nil))
        return wire
    }
}
