import Logging

/// Hands each log record, as a ``LogRecord``, to be written as one logfmt line: `ts=… level=… msg=… key=value …`,
/// keys sorted, a value quoted when it needs to be.
///
/// swift-log's `StreamLogHandler` writes metadata values as they are, so an error text with a space or an `=` in it
/// could not be told apart from the next key by a log shipper (ADR 0011). Each record becomes one line, appended
/// whole, so lines logged at once from several threads never interleave.
public struct LogfmtLogHandler: LogHandler {
    public var logLevel: Logger.Level = .info
    public var metadata: Logger.Metadata = [:]
    public var metadataProvider: Logger.MetadataProvider?
    private let write: @Sendable (LogRecord) -> Void
    private let flush: @Sendable () -> Void

    /// - Parameters:
    ///   - write: where each record goes; standard error, formatted and written a batch at a time from a thread of
    ///     its own (``LogLineWriter``), unless a test says otherwise.
    ///   - flush: called after a record of level warning or worse: its line is written before the call returns,
    ///     with every line before it.
    public init(
        label: String,
        write: @escaping @Sendable (LogRecord) -> Void = LogLineWriter.standardError.append,
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
        write(LogRecord(level: event.level, message: event.message.description, fields: fields))
        if event.level >= .warning { flush() }
    }
}
