import Foundation
import NIOCore

/// Finds the exact bytes of top-level fields in a JSON object, so foreman can keep a caller's `request` and
/// `metadata` byte for byte instead of re-encoding them (which would reorder keys and reformat numbers).
///
/// Call it only on text that has already parsed as a JSON object: it skips values without validating them.
public enum RawJSONFields {
    /// Where the value of each wanted top-level field lies in `bytes`.
    public static func ranges(_ keys: Set<String>, in bytes: [UInt8]) -> [String: Range<Int>] {
        var found: [String: Range<Int>] = [:]
        for member in members(of: bytes) where keys.contains(member.key) { found[member.key] = member.value }
        return found
    }

    /// One top-level field of an object: its name, and where its quoted name and its value lie.
    public struct Member: Sendable {
        public let key: String
        public let quotedKey: Range<Int>
        public let value: Range<Int>
    }

    /// Every top-level field of the object `bytes`, in order; none when `bytes` is not an object.
    public static func members(of bytes: [UInt8]) -> [Member] {
        bytes.withUnsafeBytes { text in
            var found: [Member] = []
            forEachMember(of: text) { quotedKey, value in
                let key = String(decoding: text[(quotedKey.lowerBound + 1)..<(quotedKey.upperBound - 1)], as: UTF8.self)
                found.append(Member(key: key, quotedKey: quotedKey, value: value))
            }
            return found
        }
    }

    /// Calls `body` with each top-level field of the object `bytes`, in order, where it lies: its quoted name and its
    /// value. Nothing is copied or decoded, so a caller that reads every line of a stream pays only for the scan.
    public static func forEachMember(of bytes: UnsafeRawBufferPointer, _ body: (_ quotedKey: Range<Int>, _ value: Range<Int>) -> Void) {
        var index = 0
        skipWhitespace(bytes, &index)
        guard index < bytes.count, bytes[index] == UInt8(ascii: "{") else { return }
        index += 1
        while index < bytes.count {
            skipWhitespace(bytes, &index)
            guard index < bytes.count, bytes[index] == UInt8(ascii: "\"") else { break }
            let quoteStart = index
            skipString(bytes, &index)
            // A name left open at the end of the text: no more fields.
            guard index - 1 > quoteStart, bytes[index - 1] == UInt8(ascii: "\"") else { break }
            let quotedKey = quoteStart..<index
            skipWhitespace(bytes, &index)
            guard index < bytes.count, bytes[index] == UInt8(ascii: ":") else { break }
            index += 1
            skipWhitespace(bytes, &index)
            let valueStart = index
            skipValue(bytes, &index)
            body(quotedKey, valueStart..<index)
            skipWhitespace(bytes, &index)
            guard index < bytes.count, bytes[index] == UInt8(ascii: ",") else { break }
            index += 1
        }
    }

    /// Whether the text at `range` of `bytes` is `key`, quoted.
    public static func isKey(_ key: QuotedKey, at range: Range<Int>, in bytes: UnsafeRawBufferPointer) -> Bool {
        guard range.count == key.bytes.count else { return false }
        return key.bytes.withUnsafeBytes { needle in
            memcmp(needle.baseAddress!, bytes.baseAddress! + range.lowerBound, range.count) == 0
        }
    }

    /// Whether `bytes`, past any leading whitespace, opens an object.
    public static func opensObject(_ bytes: UnsafeRawBufferPointer) -> Bool {
        var index = 0
        skipWhitespace(bytes, &index)
        return index < bytes.count && bytes[index] == UInt8(ascii: "{")
    }

    /// A key as it stands quoted in JSON text (`"name"`), made once for the searches of ``mentions(_:in:)``.
    public struct QuotedKey: Sendable {
        let bytes: [UInt8]

        public init(_ name: String) {
            bytes = Array(("\"" + name + "\"").utf8)
        }
    }

    /// Whether `key` occurs in `buffer`: a cheap test before a parse, never a proof. It runs on every native call (the
    /// answer's `"error"`, the request's `"num_ctx"`), so it is a plain byte search: the generic `firstRange(of:)`
    /// cost about 3% of foreman's CPU on a native call (ADR 0011).
    public static func mentions(_ key: QuotedKey, in buffer: ByteBuffer) -> Bool {
        let needle = key.bytes
        return buffer.withUnsafeReadableBytes { bytes in
            guard bytes.count >= needle.count else { return false }
            var start = 0
            while let quote = bytes[start...].firstIndex(of: UInt8(ascii: "\"")), quote + needle.count <= bytes.count {
                if needle.indices.allSatisfy({ bytes[quote + $0] == needle[$0] }) { return true }
                start = quote + 1
            }
            return false
        }
    }

    private static func isWhitespace(_ byte: UInt8) -> Bool {
        byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D
    }

    private static func skipWhitespace(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) {
        while index < bytes.count, isWhitespace(bytes[index]) { index += 1 }
    }

    /// From an opening quote to just past the closing one.
    private static func skipString(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) {
        index += 1
        while index < bytes.count {
            switch bytes[index] {
            case UInt8(ascii: "\\"): index += 2
            case UInt8(ascii: "\""): index += 1; return
            default: index += 1
            }
        }
        // An escape at the very end steps past it.
        index = min(index, bytes.count)
    }

    private static func skipValue(_ bytes: UnsafeRawBufferPointer, _ index: inout Int) {
        guard index < bytes.count else { return }
        switch bytes[index] {
        case UInt8(ascii: "\""):
            skipString(bytes, &index)
        case UInt8(ascii: "{"), UInt8(ascii: "["):
            var depth = 0
            while index < bytes.count {
                switch bytes[index] {
                case UInt8(ascii: "\""): skipString(bytes, &index); continue
                case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
                case UInt8(ascii: "}"), UInt8(ascii: "]"):
                    depth -= 1
                    if depth == 0 { index += 1; return }
                default: break
                }
                index += 1
            }
        default:
            while index < bytes.count {
                let byte = bytes[index]
                if byte == UInt8(ascii: ",") || byte == UInt8(ascii: "}") || byte == UInt8(ascii: "]") || isWhitespace(byte) { return }
                index += 1
            }
        }
    }
}
