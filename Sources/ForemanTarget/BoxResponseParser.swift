import NIOCore

/// Reads the responses of a box's connection as their bytes come: each one's head, then its body's bytes where they
/// lie in the reads, without the body's framing (ADR 0029).
///
/// A long stream is a chunk of the box's chunked encoding per line. NIO's general HTTP/1 decoder keeps a buffer of
/// its own, calls back into Swift for every piece of a chunk and makes a message part of each; this reads a chunk's
/// size line and hands on a slice of the read. It reads only what a box sends foreman: HTTP/1.0 and 1.1 responses
/// framed by `Content-Length`, by chunks or by the connection's close. Anything else is malformed, and the
/// connection is closed: a response read differently from how the box framed it would leave the next exchange on
/// that connection reading the rest of this one.
struct BoxResponseParser {
    /// What a response's head says that foreman needs.
    struct Head {
        var status: Int
        var contentType: String?
        var retryAfter: String?
        /// Whether the connection may carry another exchange after this response.
        var keepAlive: Bool
    }

    enum Event {
        case head(Head)
        /// Body bytes: a slice of the read that brought them.
        case body(ByteBuffer)
        case end
    }

    struct Malformed: Error, CustomStringConvertible {
        let description: String
    }

    /// The longest head, and the longest set of trailers, read.
    static let headLimit = 65_536
    /// The longest chunk size line read, extensions included.
    static let chunkSizeLineLimit = 4_096

    private enum Phase {
        /// No response expected: bytes now are malformed.
        case idle
        /// How many bytes of the blank line that ends a head the last bytes read were.
        case head(matched: Int)
        case fixed(remaining: Int)
        case chunkSize(ChunkSizeLine)
        case chunkData(remaining: Int)
        /// The `CRLF` after a chunk's data; whether its `CR` was read.
        case chunkEnd(sawCR: Bool)
        case trailers(TrailerLines)
        case untilClose
    }

    private var phase = Phase.idle
    /// The head read so far.
    private var head: [UInt8] = []
    private var answersHEAD = false

    /// Expects the response to a request just sent; `head` when that request was a `HEAD` (its response has no body).
    mutating func expectResponse(toHEAD head: Bool) {
        phase = .head(matched: 0)
        self.head = []
        answersHEAD = head
    }

    /// Whether the response being read ends when the connection closes, its body read to the close.
    var endsAtClose: Bool {
        if case .untilClose = phase { return true }
        return false
    }

    /// Reads `buffer`, emitting what it completes, in order. Throws ``Malformed`` when the bytes are not a response
    /// this reads, or come when none is expected.
    mutating func read(_ buffer: ByteBuffer, emit: (Event) -> Void) throws {
        var buffer = buffer
        while buffer.readableBytes > 0 {
            switch phase {
            case .idle:
                throw Malformed(description: "\(buffer.readableBytes) bytes from the box with no request sent")
            case .head(let matched):
                var matched = matched
                let used = buffer.withUnsafeReadableBytes { Self.scanForBlankLine($0, matched: &matched) }
                guard head.count + used <= Self.headLimit else { throw Malformed(description: "a response head over \(Self.headLimit) bytes") }
                head.append(contentsOf: buffer.readableBytesView.prefix(used))
                buffer.moveReaderIndex(forwardBy: used)
                guard matched == 4 else {
                    phase = .head(matched: matched)
                    return
                }
                head.removeLast(4)
                let bytes = head
                head = []
                try start(bytes, emit: emit)
            case .fixed(let remaining):
                let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                emit(.body(slice))
                if remaining == slice.readableBytes {
                    finish(emit)
                } else {
                    phase = .fixed(remaining: remaining - slice.readableBytes)
                }
            case .chunkSize(var line):
                let used = try buffer.withUnsafeReadableBytes { try line.scan($0) }
                buffer.moveReaderIndex(forwardBy: used)
                if !line.isComplete {
                    phase = .chunkSize(line)
                } else if line.size == 0 {
                    phase = .trailers(TrailerLines())
                } else {
                    phase = .chunkData(remaining: line.size)
                }
            case .chunkData(let remaining):
                let slice = buffer.readSlice(length: min(remaining, buffer.readableBytes))!
                emit(.body(slice))
                phase = remaining == slice.readableBytes ? .chunkEnd(sawCR: false) : .chunkData(remaining: remaining - slice.readableBytes)
            case .chunkEnd(let sawCR):
                let byte = buffer.readInteger(as: UInt8.self)!
                switch (sawCR, byte) {
                case (false, 0x0D): phase = .chunkEnd(sawCR: true)
                case (true, 0x0A): phase = .chunkSize(ChunkSizeLine())
                default: throw Malformed(description: "a chunk longer than its size")
                }
            case .trailers(var lines):
                let used = try buffer.withUnsafeReadableBytes { try lines.scan($0) }
                buffer.moveReaderIndex(forwardBy: used)
                if lines.isComplete {
                    finish(emit)  // trailers are read and dropped: foreman uses none
                } else {
                    phase = .trailers(lines)
                }
            case .untilClose:
                emit(.body(buffer))
                return
            }
        }
    }

    private mutating func finish(_ emit: (Event) -> Void) {
        phase = .idle
        emit(.end)
    }

    /// How many of `bytes` to take for the head: up to the end of its blank line, or all. `matched` is how many bytes
    /// of `CRLF CRLF` the bytes before ended with, and then how many these end with (4: the head is complete).
    private static func scanForBlankLine(_ bytes: UnsafeRawBufferPointer, matched: inout Int) -> Int {
        for (index, byte) in bytes.enumerated() {
            switch (matched, byte) {
            case (0, 0x0D), (2, 0x0D): matched += 1
            case (1, 0x0A): matched = 2
            case (3, 0x0A): matched = 4; return index + 1
            case (_, 0x0D): matched = 1
            default: matched = 0
            }
        }
        return bytes.count
    }

    /// A chunk size line read so far: hexadecimal digits, then nothing or extensions (read and dropped), then `CRLF`.
    struct ChunkSizeLine {
        private(set) var size = 0
        private var digits = 0
        private var length = 0
        private var inExtension = false
        private var sawCR = false
        private(set) var isComplete = false

        /// Reads `bytes` up to the line's end; how many it used.
        mutating func scan(_ bytes: UnsafeRawBufferPointer) throws -> Int {
            for (index, byte) in bytes.enumerated() {
                length += 1
                guard length <= BoxResponseParser.chunkSizeLineLimit else { throw Malformed(description: "a chunk size line over \(BoxResponseParser.chunkSizeLineLimit) bytes") }
                if sawCR {
                    guard byte == 0x0A, digits > 0 else { throw Malformed(description: "a malformed chunk size line") }
                    isComplete = true
                    return index + 1
                }
                if byte == 0x0D {
                    sawCR = true
                } else if inExtension {
                    guard byte == 0x09 || (byte >= 0x20 && byte != 0x7F) else { throw Malformed(description: "a control character in a chunk extension") }
                } else if let value = Self.hexValue(byte) {
                    digits += 1
                    guard digits <= 15 else { throw Malformed(description: "a chunk size too large") }
                    size = size << 4 | value
                } else if digits > 0, byte == UInt8(ascii: ";") {
                    inExtension = true
                } else {
                    throw Malformed(description: "a malformed chunk size")
                }
            }
            return bytes.count
        }

        private static func hexValue(_ byte: UInt8) -> Int? {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): Int(byte - UInt8(ascii: "0"))
            case UInt8(ascii: "a")...UInt8(ascii: "f"): Int(byte - UInt8(ascii: "a")) + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): Int(byte - UInt8(ascii: "A")) + 10
            default: nil
            }
        }
    }

    /// The trailer lines after a chunked body's last chunk, read so far: lines up to an empty one.
    struct TrailerLines {
        private var lineLength = 0
        private var total = 0
        private var sawCR = false
        private(set) var isComplete = false

        /// Reads `bytes` up to the empty line; how many it used.
        mutating func scan(_ bytes: UnsafeRawBufferPointer) throws -> Int {
            for (index, byte) in bytes.enumerated() {
                total += 1
                guard total <= BoxResponseParser.headLimit else { throw Malformed(description: "trailers over \(BoxResponseParser.headLimit) bytes") }
                if sawCR {
                    guard byte == 0x0A else { throw Malformed(description: "a malformed trailer line") }
                    sawCR = false
                    if lineLength == 0 {
                        isComplete = true
                        return index + 1
                    }
                    lineLength = 0
                } else if byte == 0x0D {
                    sawCR = true
                } else {
                    lineLength += 1
                }
            }
            return bytes.count
        }
    }

    /// Reads a head (`bytes`, without its blank line) and emits it, with the end when its response has no body.
    private mutating func start(_ bytes: [UInt8], emit: (Event) -> Void) throws {
        let parsed = try Self.parseHead(bytes)
        var answer = parsed.head
        switch answer.status {
        case 101:
            throw Malformed(description: "101 Switching Protocols from the box: foreman asks for no upgrade")
        case 100..<200:
            phase = .head(matched: 0)  // an interim response: the final one follows
            return
        default:
            break
        }
        // How the body is framed (RFC 9112, 6.3); `nil`: there is none.
        let body: Phase?
        if answersHEAD || answer.status == 204 || answer.status == 304 {
            body = nil
        } else if let chunked = parsed.chunkedLast {
            body = chunked ? .chunkSize(ChunkSizeLine()) : .untilClose
        } else if let length = parsed.contentLength {
            body = length == 0 ? nil : .fixed(remaining: length)
        } else {
            body = .untilClose
        }
        if case .untilClose = body { answer.keepAlive = false }  // the close ends it: no other response can follow
        emit(.head(answer))
        if let body { phase = body } else { finish(emit) }
    }

    /// A head: what foreman is told of it, and how its body is framed.
    private struct ParsedHead {
        var head: Head
        var contentLength: Int?
        /// Whether the last transfer coding is `chunked`; `nil` when there is no `Transfer-Encoding`.
        var chunkedLast: Bool?
    }

    private static func parseHead(_ bytes: [UInt8]) throws -> ParsedHead {
        var lines = Lines(bytes: bytes)
        let statusLine = lines.next() ?? []
        // `HTTP/1.x NNN[ reason]`
        let at = statusLine.startIndex
        guard statusLine.count >= 12, statusLine.starts(with: "HTTP/1.".utf8),
              statusLine[at + 7] == UInt8(ascii: "0") || statusLine[at + 7] == UInt8(ascii: "1"),
              statusLine[at + 8] == UInt8(ascii: " "),
              statusLine[(at + 9)...(at + 11)].allSatisfy(isDigit), statusLine.count == 12 || statusLine[at + 12] == UInt8(ascii: " ")
        else { throw Malformed(description: "a malformed status line") }
        let http10 = statusLine[at + 7] == UInt8(ascii: "0")
        let status = statusLine[(at + 9)...(at + 11)].reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
        var parsed = ParsedHead(head: Head(status: status, keepAlive: !http10))
        var close = false, keepAlive = false
        while let line = lines.next() {
            guard let colon = line.firstIndex(of: UInt8(ascii: ":")), colon > line.startIndex, line[..<colon].allSatisfy(isTokenCharacter) else {
                throw Malformed(description: "a malformed header line")
            }
            let value = trimmed(line[(colon + 1)...])
            guard value.allSatisfy({ $0 == 0x09 || ($0 >= 0x20 && $0 != 0x7F) }) else { throw Malformed(description: "a control character in a header") }
            let name = line[..<colon]
            if equalsLowercase(name, "content-length") {
                guard !value.isEmpty, value.count <= 18, value.allSatisfy(isDigit) else { throw Malformed(description: "a malformed Content-Length") }
                let length = value.reduce(0) { $0 * 10 + Int($1 - UInt8(ascii: "0")) }
                guard parsed.contentLength == nil else { throw Malformed(description: "two Content-Lengths") }
                parsed.contentLength = length
            } else if equalsLowercase(name, "transfer-encoding") {
                var chunkedLast = parsed.chunkedLast ?? false
                forEachToken(of: value) { chunkedLast = equalsLowercase($0, "chunked") }
                parsed.chunkedLast = chunkedLast
            } else if equalsLowercase(name, "connection") {
                forEachToken(of: value) { token in
                    if equalsLowercase(token, "close") { close = true } else if equalsLowercase(token, "keep-alive") { keepAlive = true }
                }
            } else if equalsLowercase(name, "content-type") {
                parsed.head.contentType = String(decoding: value, as: UTF8.self)
            } else if equalsLowercase(name, "retry-after") {
                parsed.head.retryAfter = String(decoding: value, as: UTF8.self)
            }
        }
        if close {
            parsed.head.keepAlive = false
        } else if http10, keepAlive {
            parsed.head.keepAlive = true
        }
        if parsed.chunkedLast != nil, parsed.contentLength != nil {
            // Two framings: a box and a reader may pick different ones (RFC 9112, 6.3, calls it a smuggling attempt).
            throw Malformed(description: "both a Transfer-Encoding and a Content-Length")
        }
        return parsed
    }

    /// A head's lines, split at each `CRLF`; the last runs to the end of the bytes.
    private struct Lines: IteratorProtocol {
        let bytes: [UInt8]
        var start = 0
        var ended = false

        mutating func next() -> ArraySlice<UInt8>? {
            guard !ended else { return nil }
            var index = start
            while index + 1 < bytes.count {
                if bytes[index] == 0x0D, bytes[index + 1] == 0x0A {
                    defer { start = index + 2 }
                    return bytes[start..<index]
                }
                index += 1
            }
            ended = true
            return bytes[start...]
        }
    }

    private static func trimmed(_ bytes: ArraySlice<UInt8>) -> ArraySlice<UInt8> {
        var bytes = bytes
        while let first = bytes.first, first == 0x20 || first == 0x09 { bytes.removeFirst() }
        while let last = bytes.last, last == 0x20 || last == 0x09 { bytes.removeLast() }
        return bytes
    }

    /// Calls `body` with each comma-separated token of a header value, trimmed, in order; empty ones are skipped.
    private static func forEachToken(of value: ArraySlice<UInt8>, _ body: (ArraySlice<UInt8>) -> Void) {
        var start = value.startIndex
        while start <= value.endIndex {
            let end = value[start...].firstIndex(of: UInt8(ascii: ",")) ?? value.endIndex
            let token = trimmed(value[start..<end])
            if !token.isEmpty { body(token) }
            start = end + 1
        }
    }

    /// Whether `bytes`, a header's name or a token of its value, are `known` (written in lowercase) in any case. Both
    /// are ASCII (RFC 9110), so they are compared as bytes, without a `String` made and lowercased for each line.
    private static func equalsLowercase(_ bytes: ArraySlice<UInt8>, _ known: StaticString) -> Bool {
        let known = UnsafeBufferPointer(start: known.utf8Start, count: known.utf8CodeUnitCount)
        return bytes.count == known.count && zip(bytes, known).allSatisfy { lowercased($0) == $1 }
    }

    /// `byte` lowercased if it is an ASCII capital.
    private static func lowercased(_ byte: UInt8) -> UInt8 {
        byte >= UInt8(ascii: "A") && byte <= UInt8(ascii: "Z") ? byte | 0x20 : byte
    }

    private static func isDigit(_ byte: UInt8) -> Bool {
        byte >= UInt8(ascii: "0") && byte <= UInt8(ascii: "9")
    }

    /// RFC 9110's `tchar`.
    private static func isTokenCharacter(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"), UInt8(ascii: "0")...UInt8(ascii: "9"),
             UInt8(ascii: "!"), UInt8(ascii: "#"), UInt8(ascii: "$"), UInt8(ascii: "%"), UInt8(ascii: "&"), UInt8(ascii: "'"),
             UInt8(ascii: "*"), UInt8(ascii: "+"), UInt8(ascii: "-"), UInt8(ascii: "."), UInt8(ascii: "^"), UInt8(ascii: "_"),
             UInt8(ascii: "`"), UInt8(ascii: "|"), UInt8(ascii: "~"):
            true
        default:
            false
        }
    }
}
