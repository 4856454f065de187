import NIOCore

/// Splits a server-sent-events stream into the `data` of each event, as chunks arrive (an event's `data:` lines
/// joined by newlines, per the SSE format). Comments, `event:`, `id:` and `retry:` lines are dropped: OpenAI-compatible
/// engines put everything in `data`.
public struct SSEEventSplitter: Sendable {
    private var pending: [UInt8] = []
    private var data: [String] = []

    public init() {}

    /// The data of every event `chunk` completes.
    public mutating func append(_ chunk: ByteBuffer) -> [String] {
        var events: [String] = []
        pending.append(contentsOf: chunk.readableBytesView)
        var start = pending.startIndex
        while let newline = pending[start...].firstIndex(of: UInt8(ascii: "\n")) {
            var line = pending[start..<newline]
            if line.last == UInt8(ascii: "\r") { line = line.dropLast() }
            start = newline + 1
            if let event = take(line) { events.append(event) }
        }
        pending.removeSubrange(pending.startIndex..<start)
        return events
    }

    /// The data of an event the stream ended in the middle of, if any.
    public mutating func finish() -> String? {
        if !pending.isEmpty {
            let line = pending
            pending.removeAll()
            if let event = take(line[...]) { return event }
        }
        guard !data.isEmpty else { return nil }
        defer { data.removeAll() }
        return data.joined(separator: "\n")
    }

    /// Folds one line in; returns an event's data when `line` is the blank line that ends it.
    private mutating func take(_ line: ArraySlice<UInt8>) -> String? {
        if line.isEmpty {
            guard !data.isEmpty else { return nil }
            defer { data.removeAll() }
            return data.joined(separator: "\n")
        }
        let text = String(decoding: line, as: UTF8.self)
        guard text.hasPrefix("data:") else { return nil }
        var value = text.dropFirst(5)
        if value.first == " " { value = value.dropFirst() }
        data.append(String(value))
        return nil
    }
}
