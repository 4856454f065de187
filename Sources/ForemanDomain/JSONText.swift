import Foundation

/// Writes a JSON object field by field: every key present (`null` when empty), in the order written, and raw JSON
/// (a caller's `metadata`) embedded byte for byte.
public struct JSONObjectWriter: Sendable {
    private var text = "{"
    private var first = true

    public init() {}

    public mutating func bool(_ key: String, _ value: Bool) {
        append(key, value ? "true" : "false")
    }

    public mutating func string(_ key: String, _ value: String?) {
        append(key, value.map(Self.quoted) ?? "null")
    }

    public mutating func int(_ key: String, _ value: Int?) {
        append(key, value.map(String.init) ?? "null")
    }

    public mutating func date(_ key: String, _ value: Date?) {
        string(key, value.map(Timestamp.string))
    }

    /// Embeds `json` as it is (it must already be valid JSON); `nil` writes `null`.
    public mutating func raw(_ key: String, _ json: String?) {
        append(key, json ?? "null")
    }

    /// Embeds another object written field by field.
    public mutating func object(_ key: String, _ object: JSONObjectWriter) {
        append(key, object.finished())
    }

    public func finished() -> String { text + "}" }

    /// A JSON array of elements that are already JSON text.
    public static func array(_ elements: [String]) -> String {
        "[" + elements.joined(separator: ",") + "]"
    }

    private mutating func append(_ key: String, _ value: String) {
        if !first { text += "," }
        first = false
        text += Self.quoted(key) + ":" + value
    }

    /// A JSON string literal, escaping what RFC 8259 requires plus U+2028/U+2029 (line breaks to some parsers).
    public static func quoted(_ value: String) -> String {
        // Most values (ids, models, timestamps) need no escape: 0xE2 leads U+2028 and U+2029, so it takes the long way.
        if value.utf8.allSatisfy({ $0 >= 0x20 && $0 != UInt8(ascii: "\"") && $0 != UInt8(ascii: "\\") && $0 != 0xE2 }) {
            return "\"" + value + "\""
        }
        var out = "\""
        out.reserveCapacity(value.utf8.count + 2)
        for scalar in value.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case "\n": out += "\\n"
            case "\r": out += "\\r"
            case "\t": out += "\\t"
            case "\u{2028}": out += "\\u2028"
            case "\u{2029}": out += "\\u2029"
            default:
                if scalar.value < 0x20 {
                    out += String(format: "\\u%04x", scalar.value)
                } else {
                    out.unicodeScalars.append(scalar)
                }
            }
        }
        return out + "\""
    }
}

/// RFC 3339 UTC timestamps with milliseconds, as foreman writes them everywhere.
public enum Timestamp {
    public static func string(_ date: Date) -> String {
        DatabaseDate.iso8601(date)
    }

    /// Reads a timestamp foreman wrote.
    public static func date(_ text: String) -> Date? {
        DatabaseDate.date(text)
    }
}
