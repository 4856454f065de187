import ForemanDomain
import Foundation
import Logging

/// Writes each log record as one logfmt line: `ts=… level=… msg=… key=value …`, keys sorted, a value quoted
/// when it needs to be.
///
/// swift-log's `StreamLogHandler` writes metadata values as they are, so an error text with a space or an `=` in it
/// could not be told apart from the next key by a log shipper (ADR 0011). Each line is appended whole to its writer's
/// buffer, so lines logged at once from several threads never interleave.
public struct LogfmtLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (String) -> Void
    private let flush: @Sendable () -> Void

    /// - Parameters:
    ///   - write: where each finished line (with its newline) goes; standard error, a batch at a time from a thread of
    ///     its own (``LogLineWriter``), unless a test says otherwise.
    ///   - flush: called after a line of level warning or worse: it is written before the call returns, with every
    ///     line before it.
    public init(
        label: String,
        write: @escaping @Sendable (String) -> Void = LogLineWriter.standardError.append,
        flush: @escaping @Sendable () -> Void = LogLineWriter.standardError.flush
    ) {
        self.write = write
        self.flush = flush
    }

    public subscript(metadataKey key: String) -> Logger.Metadata.Value? {
        get { metadata[key] }
        set { metadata[key] = newValue }
    }

    public func log(event: LogEvent) {
        // The call's own metadata wins over the provider's, which wins over the logger's.
        var fields = event.metadata ?? [:]
        if let provided = metadataProvider?.get(), !provided.isEmpty { fields.merge(provided) { own, _ in own } }
        if !metadata.isEmpty { fields.merge(metadata) { own, _ in own } }
        var line = ""
        line.reserveCapacity(96 + 40 * fields.count)
        line += "ts=" + Timestamp.string(Date()) + " level=" + event.level.rawValue + " msg=" + Self.value(event.message.description)
        for key in fields.keys.sorted() {
            line += " " + key + "=" + Self.value(fields[key]!.description)
        }
        line += "\n"
        write(line)
        if event.level >= .warning { flush() }
    }

    /// `text` as a logfmt value: bare when it holds no space, quote, `=`, backslash or control character, else a
    /// quoted string with JSON's escapes (which logfmt readers, Go's `strconv.Unquote` among them, accept).
    static func value(_ text: String) -> String {
        let bare = !text.isEmpty && !text.utf8.contains { $0 <= 0x20 || $0 == UInt8(ascii: "\"") || $0 == UInt8(ascii: "=") || $0 == UInt8(ascii: "\\") || $0 == 0x7F }
        return bare ? text : JSONObjectWriter.quoted(text)
    }
}
