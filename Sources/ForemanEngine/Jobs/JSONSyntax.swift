/// Checks that a text is one JSON object by RFC 8259's grammar, building nothing: the proof an answer spliced from a
/// stream's lines is JSON before it is stored as a job's `response.json`.
///
/// Foundation's `JSONSerialization` gave the same proof by building the whole object, which cost a `/jobs` job more
/// instructions than both of its commits' SQL (ADR 0041). This scanner allocates nothing. It is stricter than
/// Foundation's parser in three places, each where a client's own decoder (Go's, Python's) is strict too: it refuses a
/// comma before a closing bracket, a byte-order mark, and text in any encoding but UTF-8. Like Foundation's parser, it
/// refuses a lone UTF-16 surrogate escape, a malformed UTF-8 sequence, a number too large for a `Double` and nesting
/// deeper than 512.
public enum JSONSyntax {
    /// The deepest nesting of objects and arrays accepted, the outer object counted.
    public static let maximumDepth = 512

    /// Whether `bytes` hold exactly one JSON object, with nothing but whitespace around it.
    public static func isObject(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var scanner = Scanner(bytes: bytes)
        scanner.skipWhitespace()
        guard scanner.next == UInt8(ascii: "{"), scanner.value(depth: 0) else { return false }
        scanner.skipWhitespace()
        return scanner.index == bytes.count
    }

    public static func isObject(_ bytes: [UInt8]) -> Bool {
        bytes.withUnsafeBytes { isObject($0) }
    }
}

/// A cursor over the text, each method consuming one piece of the grammar and saying whether it was well formed.
private struct Scanner {
    let bytes: UnsafeRawBufferPointer
    var index = 0

    init(bytes: UnsafeRawBufferPointer) {
        self.bytes = bytes
    }

    /// The byte at the cursor; nil at the end.
    var next: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipWhitespace() {
        while let byte = next, byte == 0x20 || byte == 0x0A || byte == 0x0D || byte == 0x09 { index += 1 }
    }

    /// Whether the next byte is `byte`, which is then consumed.
    mutating func take(_ byte: UInt8) -> Bool {
        guard next == byte else { return false }
        index += 1
        return true
    }

    /// One value, whose containers open at nesting `depth`.
    mutating func value(depth: Int) -> Bool {
        switch next {
        case UInt8(ascii: "{"): return container(depth: depth + 1, closing: UInt8(ascii: "}"), member: true)
        case UInt8(ascii: "["): return container(depth: depth + 1, closing: UInt8(ascii: "]"), member: false)
        case UInt8(ascii: "\""): return string()
        case UInt8(ascii: "t"): return literal("true")
        case UInt8(ascii: "f"): return literal("false")
        case UInt8(ascii: "n"): return literal("null")
        case .some: return number()
        case nil: return false
        }
    }

    /// An object (each element a `member`: a name, a colon and a value) or an array, from its opening bracket.
    mutating func container(depth: Int, closing: UInt8, member: Bool) -> Bool {
        guard depth <= JSONSyntax.maximumDepth else { return false }
        index += 1
        skipWhitespace()
        if take(closing) { return true }
        while true {
            if member {
                guard next == UInt8(ascii: "\""), string() else { return false }
                skipWhitespace()
                guard take(UInt8(ascii: ":")) else { return false }
                skipWhitespace()
            }
            guard value(depth: depth) else { return false }
            skipWhitespace()
            if take(closing) { return true }
            guard take(UInt8(ascii: ",")) else { return false }
            skipWhitespace()
        }
    }

    mutating func literal(_ word: StaticString) -> Bool {
        let count = word.utf8CodeUnitCount
        guard bytes.count - index >= count else { return false }
        for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
        index += count
        return true
    }

    /// `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`, and within a `Double`'s range: a number that overflows
    /// it is refused, as Foundation's parser and Go's decoder refuse it.
    mutating func number() -> Bool {
        let start = index
        _ = take(UInt8(ascii: "-"))
        if !take(UInt8(ascii: "0")) {
            guard let first = next, (UInt8(ascii: "1")...UInt8(ascii: "9")).contains(first) else { return false }
            skipDigits()
        }
        if take(UInt8(ascii: ".")) {
            guard skipDigits() else { return false }
        }
        var scaled = false
        if take(UInt8(ascii: "e")) || take(UInt8(ascii: "E")) {
            if !take(UInt8(ascii: "+")) { _ = take(UInt8(ascii: "-")) }
            guard skipDigits() else { return false }
            scaled = true
        }
        // Only an exponent or more than 308 digits can overflow: the common number is never converted.
        guard scaled || index - start > 308 else { return true }
        return Double(String(decoding: UnsafeRawBufferPointer(rebasing: bytes[start..<index]), as: UTF8.self))?.isFinite ?? false
    }

    /// Consumes digits; whether there was at least one.
    @discardableResult
    mutating func skipDigits() -> Bool {
        let start = index
        while let byte = next, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) { index += 1 }
        return index > start
    }

    /// A string, from its opening quote to past its closing one.
    mutating func string() -> Bool {
        index += 1
        while let byte = next {
            switch byte {
            case UInt8(ascii: "\""):
                index += 1
                return true
            case UInt8(ascii: "\\"):
                index += 1
                guard escape() else { return false }
            case ..<0x20:
                return false
            case ..<0x80:
                index += 1
            default:
                guard utf8Sequence() else { return false }
            }
        }
        return false
    }

    /// What follows a backslash. A `\u` escape of a high surrogate must be followed by one of a low surrogate.
    mutating func escape() -> Bool {
        guard let byte = next else { return false }
        index += 1
        switch byte {
        case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"), UInt8(ascii: "b"), UInt8(ascii: "f"), UInt8(ascii: "n"),
            UInt8(ascii: "r"), UInt8(ascii: "t"):
            return true
        case UInt8(ascii: "u"):
            guard let unit = hexUnit() else { return false }
            switch unit {
            case 0xD800...0xDBFF:
                guard take(UInt8(ascii: "\\")), take(UInt8(ascii: "u")), let low = hexUnit() else { return false }
                return (0xDC00...0xDFFF).contains(low)
            case 0xDC00...0xDFFF:
                return false
            default:
                return true
            }
        default:
            return false
        }
    }

    /// Four hex digits, as a UTF-16 code unit.
    mutating func hexUnit() -> UInt16? {
        guard bytes.count - index >= 4 else { return nil }
        var unit: UInt16 = 0
        for _ in 0..<4 {
            let byte = bytes[index]
            let digit: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): digit = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): digit = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): digit = byte - UInt8(ascii: "A") + 10
            default: return nil
            }
            unit = unit << 4 | UInt16(digit)
            index += 1
        }
        return unit
    }

    /// A multi-byte UTF-8 sequence, well formed by the Unicode standard's table 3-7: no overlong form, no surrogate,
    /// nothing past U+10FFFF.
    mutating func utf8Sequence() -> Bool {
        let lead = bytes[index]
        let count: Int
        var second: ClosedRange<UInt8> = 0x80...0xBF
        switch lead {
        case 0xC2...0xDF: count = 2
        case 0xE0: count = 3; second = 0xA0...0xBF
        case 0xE1...0xEC, 0xEE...0xEF: count = 3
        case 0xED: count = 3; second = 0x80...0x9F
        case 0xF0: count = 4; second = 0x90...0xBF
        case 0xF1...0xF3: count = 4
        case 0xF4: count = 4; second = 0x80...0x8F
        default: return false
        }
        guard bytes.count - index >= count, second.contains(bytes[index + 1]) else { return false }
        for offset in 2..<count where !(0x80...0xBF).contains(bytes[index + offset]) { return false }
        index += count
        return true
    }
}
