import ForemanDomain
import Foundation
import Logging

/// One log record as it was logged, turned into its logfmt line (`ts=… level=… msg=… key=value …`, keys sorted, a
/// value quoted when it needs to be) only when it is written.
///
/// Formatting (the time as text, the keys sorted, each value checked for quoting) is work an event loop need not do,
/// and a native call logs twice before its request reaches the box: a record is what the caller's thread keeps, and
/// ``LogLineWriter`` formats it on its own thread (ADR 0025). A metadata value's `description` is read then too.
public struct LogRecord: Sendable {
    public var time: Date
    public var level: Logger.Level
    public var message: String
    public var fields: Logger.Metadata

    public init(time: Date = Date(), level: Logger.Level, message: String, fields: Logger.Metadata = [:]) {
        self.time = time
        self.level = level
        self.message = message
        self.fields = fields
    }

    /// The record's logfmt line, with its newline.
    public var line: String {
        var line = ""
        append(to: &line)
        return line
    }

    /// Appends the record's logfmt line, with its newline, to `text`.
    public func append(to text: inout String) {
        text.reserveCapacity(text.utf8.count + 96 + 40 * fields.count)
        text += "ts=" + Timestamp.string(time) + " level=" + level.rawValue + " msg=" + Self.value(message)
        for key in fields.keys.sorted() {
            text += " " + key + "=" + Self.value(fields[key]!.description)
        }
        text += "\n"
    }

    /// `text` as a logfmt value: bare when it holds no space, quote, `=`, backslash or control character, else a
    /// quoted string with JSON's escapes (which logfmt readers, Go's `strconv.Unquote` among them, accept).
    static func value(_ text: String) -> String {
        let bare = !text.isEmpty && !text.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\\") || $0 == 0x7F }
        return bare ? text : JSONObjectWriter.quoted(text)
    }
}
