/// The top-level fields of a JSON object, as far as foreman checks them: each value's kind, the text of a string
/// or a literal, and the kinds of an array's elements.
///
/// Every native call is validated, and `JSONSerialization` spent most of its time there building and bridging
/// Foundation objects that foreman then only asks "is this a string?" (ADR 0011). ``scan(_:)`` reads plain JSON in one
/// strict pass and gives up on anything else: non-ASCII bytes, `\u` escapes, exponents, more than 15 digits, duplicate
/// top-level keys, deep nesting. What it gives up on goes through `JSONSerialization` as before, error texts and all.
struct JSONShape {
    enum Kind: Hashable {
        case string, number, bool, null, object, array
    }

    struct Field {
        var kind: Kind
        /// A string's unescaped text, a number's digits, or `true` / `false` / `null`; nil for objects and arrays.
        var text: String?
        /// For an array, the kinds of its elements.
        var elements: Set<Kind> = []
        /// Where the value lies in the scanned bytes (nil when it came from Foundation).
        var range: Range<Int>? = nil
    }

    private(set) var fields: [String: Field] = [:]

    /// The shape of `bytes` if they are one plain JSON object (whitespace around it allowed), or nil.
    static func scan(_ bytes: UnsafeRawBufferPointer) -> JSONShape? {
        var reader = Reader(bytes: bytes)
        var shape = JSONShape()
        reader.skipWhitespace()
        let read = reader.object { key, reader in
            let key = reader.text(of: key)
            let start = reader.index
            guard var field = reader.field() else { return false }
            field.range = start..<reader.index
            return shape.fields.updateValue(field, forKey: key) == nil
        }
        reader.skipWhitespace()
        return read && reader.atEnd ? shape : nil
    }

    /// A strict reader of plain JSON; every method returns nil (or false) where it gives up.
    private struct Reader {
        let bytes: UnsafeRawBufferPointer
        var index = 0
        var depth = 0

        var atEnd: Bool { index == bytes.count }

        mutating func take(_ byte: UInt8) -> Bool {
            guard index < bytes.count, bytes[index] == byte else { return false }
            index += 1
            return true
        }

        mutating func skipWhitespace() {
            while index < bytes.count {
                switch bytes[index] {
                case 0x20, 0x09, 0x0A, 0x0D: index += 1
                default: return
                }
            }
        }

        /// A top-level value, with what ``JSONShape/Field`` keeps of it.
        mutating func field() -> Field? {
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "\""):
                return string().map { Field(kind: .string, text: $0) }
            case UInt8(ascii: "["):
                var elements: Set<Kind> = []
                return array { kind in elements.insert(kind) } ? Field(kind: .array, elements: elements) : nil
            case UInt8(ascii: "{"):
                return object() ? Field(kind: .object) : nil
            default:
                let start = index
                guard let kind = scalar() else { return nil }
                return Field(kind: kind, text: String(decoding: bytes[start..<index], as: UTF8.self))
            }
        }

        /// Any value; returns its kind.
        mutating func value() -> Kind? {
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "\""): return skipString() == nil ? nil : .string
            case UInt8(ascii: "["): return array { _ in } ? .array : nil
            case UInt8(ascii: "{"): return object() ? .object : nil
            default: return scalar()
            }
        }

        /// `{ "key": value, … }`, with `member` reading each value after its key. A key is made a `String` only where
        /// it is kept (``text(of:)``): the keys inside the values are only checked.
        mutating func object(_ member: (QuotedString, inout Reader) -> Bool = { _, reader in reader.value() != nil }) -> Bool {
            sequence(open: UInt8(ascii: "{"), close: UInt8(ascii: "}")) { reader in
                guard let key = reader.skipString() else { return false }
                reader.skipWhitespace()
                guard reader.take(UInt8(ascii: ":")) else { return false }
                reader.skipWhitespace()
                return member(key, &reader)
            }
        }

        /// `[ value, … ]`, telling `element` the kind of each.
        mutating func array(_ element: (Kind) -> Void) -> Bool {
            sequence(open: UInt8(ascii: "["), close: UInt8(ascii: "]")) { reader in
                guard let kind = reader.value() else { return false }
                element(kind)
                return true
            }
        }

        /// `open`, items separated by commas, `close`; `item` reads one item.
        private mutating func sequence(open: UInt8, close: UInt8, _ item: (inout Reader) -> Bool) -> Bool {
            guard take(open), enter() else { return false }
            defer { depth -= 1 }
            skipWhitespace()
            if take(close) { return true }
            repeat {
                skipWhitespace()
                guard item(&self) else { return false }
                skipWhitespace()
            } while take(UInt8(ascii: ","))
            return take(close)
        }

        private mutating func enter() -> Bool {
            depth += 1
            return depth <= 32
        }

        /// Where a string's contents lie in the bytes, and whether any of them is escaped.
        struct QuotedString {
            var contents: Range<Int>
            var escaped: Bool
        }

        /// A string of printable ASCII with the short escapes, read past without being made a `String`.
        mutating func skipString() -> QuotedString? {
            guard take(UInt8(ascii: "\"")) else { return nil }
            let start = index
            var escaped = false
            while index < bytes.count {
                let byte = bytes[index]
                index += 1
                switch byte {
                case UInt8(ascii: "\""):
                    return QuotedString(contents: start..<(index - 1), escaped: escaped)
                case UInt8(ascii: "\\"):
                    guard index < bytes.count, Self.unescaped(bytes[index]) != nil else { return nil }  // `\u` too: Foundation decides
                    index += 1
                    escaped = true
                case 0x20...0x7E:
                    continue
                default:
                    return nil  // control characters (invalid) and non-ASCII (UTF-8 to validate): Foundation decides
                }
            }
            return nil
        }

        /// A string of printable ASCII with the short escapes; its unescaped text.
        mutating func string() -> String? {
            guard let string = skipString() else { return nil }
            return text(of: string)
        }

        /// The unescaped text of a string ``skipString()`` read.
        func text(of string: QuotedString) -> String {
            let contents = UnsafeRawBufferPointer(rebasing: bytes[string.contents])
            guard string.escaped else { return String(decoding: contents, as: UTF8.self) }
            var text: [UInt8] = []
            text.reserveCapacity(contents.count)
            var escape = false
            for byte in contents {
                if escape {
                    text.append(Self.unescaped(byte) ?? byte)
                    escape = false
                } else if byte == UInt8(ascii: "\\") {
                    escape = true
                } else {
                    text.append(byte)
                }
            }
            return String(decoding: text, as: UTF8.self)
        }

        /// The byte a short escape `\` `byte` stands for; nil for `u` and anything invalid.
        private static func unescaped(_ byte: UInt8) -> UInt8? {
            switch byte {
            case UInt8(ascii: "\""), UInt8(ascii: "\\"), UInt8(ascii: "/"): byte
            case UInt8(ascii: "b"): 0x08
            case UInt8(ascii: "f"): 0x0C
            case UInt8(ascii: "n"): 0x0A
            case UInt8(ascii: "r"): 0x0D
            case UInt8(ascii: "t"): 0x09
            default: nil
            }
        }

        /// `true`, `false`, `null` or a number without exponent and of at most 15 digits.
        mutating func scalar() -> Kind? {
            guard index < bytes.count else { return nil }
            switch bytes[index] {
            case UInt8(ascii: "t"): return literal("true") ? .bool : nil
            case UInt8(ascii: "f"): return literal("false") ? .bool : nil
            case UInt8(ascii: "n"): return literal("null") ? .null : nil
            default: break
            }
            _ = take(UInt8(ascii: "-"))
            var digits = 0
            guard index < bytes.count, (0x30...0x39).contains(bytes[index]) else { return nil }
            if bytes[index] == 0x30 {
                index += 1
                digits = 1
            } else {
                while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1; digits += 1 }
            }
            if take(UInt8(ascii: ".")) {
                let before = digits
                while index < bytes.count, (0x30...0x39).contains(bytes[index]) { index += 1; digits += 1 }
                guard digits > before else { return nil }
            }
            guard digits <= 15, index == bytes.count || bytes[index] | 0x20 != UInt8(ascii: "e") else { return nil }
            return .number
        }

        private mutating func literal(_ word: StaticString) -> Bool {
            let count = word.utf8CodeUnitCount
            guard index + count <= bytes.count else { return false }
            for offset in 0..<count where bytes[index + offset] != word.utf8Start[offset] { return false }
            index += count
            return true
        }
    }
}
