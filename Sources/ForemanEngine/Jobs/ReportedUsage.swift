import ForemanDomain
import Foundation
import NIOCore

/// The usage a box reports in its answer (ADR 0022), in whichever shape it answered: Ollama's counts
/// (`prompt_eval_count`, `eval_count`, `total_duration`), OpenAI's `usage`, Anthropic's and the Responses API's
/// `usage` (top-level, or in `message` or `response`), or llama.cpp's `timings`.
public enum ReportedUsage {
    /// The usage reported in `lines`, an answer's lines as the box sent them (NDJSON, server-sent events, or one
    /// whole body). Counts are cumulative wherever they appear, so the largest of each is the call's. Only the
    /// lines where counts are ever written are read: the first few (Anthropic's `message_start`) and the last few.
    /// `runSeconds` stands in for the box's `total_duration` when it reports none.
    public static func of(lines: [ByteBuffer], runSeconds: Double) -> JobUsage {
        var figures = Figures()
        let head = lines.prefix(4).indices
        let tail = lines.suffix(8).indices.drop { $0 < head.upperBound }
        for index in Array(head) + Array(tail) where mentionsCounts(lines[index]) {
            figures.read(lines[index])
        }
        return figures.usage(runSeconds: runSeconds)
    }

    /// The usage in a whole embeddings answer: its counts are at its end (after the vectors, which can be many
    /// megabytes), so only its last kilobyte is read.
    public static func ofEmbeddings(_ body: ByteBuffer, runSeconds: Double) -> JobUsage {
        let tail = Array(body.readableBytesView.suffix(1024))
        let prompt = integer(after: promptEvalCount, in: tail) ?? integer(after: promptTokens, in: tail) ?? 0
        let nanoseconds = integer(after: totalDuration, in: tail)
        return JobUsage(promptTokens: prompt, seconds: nanoseconds.map { Double($0) / 1e9 } ?? runSeconds)
    }

    private static let usageKey = RawJSONFields.QuotedKey("usage")
    private static let evalCountKey = RawJSONFields.QuotedKey("eval_count")
    private static let timingsKey = RawJSONFields.QuotedKey("timings")

    private static func mentionsCounts(_ line: ByteBuffer) -> Bool {
        RawJSONFields.mentions(evalCountKey, in: line) || RawJSONFields.mentions(usageKey, in: line) || RawJSONFields.mentions(timingsKey, in: line)
    }

    /// The largest of each count seen so far.
    private struct Figures {
        var prompt = 0
        var generated = 0
        var nanoseconds: Int?
        /// llama.cpp's `timings`, read only when no `usage` or Ollama count says the same.
        var timedPrompt = 0
        var timedGenerated = 0

        mutating func read(_ line: ByteBuffer) {
            var bytes = Array(line.readableBytesView)
            // A server-sent event's data line: `data: {...}`.
            if bytes.starts(with: Array("data:".utf8)) { bytes.removeFirst(5) }
            // The fields are found without parsing the answer around them: a whole answer can be long, and this
            // runs on every call.
            let fields = RawJSONFields.ranges(Self.fields, in: bytes)
            func value(_ key: String) -> Any? {
                fields[key].flatMap { try? JSONSerialization.jsonObject(with: Data(bytes[$0]), options: .fragmentsAllowed) }
            }
            // Ollama's counts are plain integers, read as digits.
            func integer(_ key: String) -> Int? { fields[key].flatMap { ReportedUsage.digits(bytes[$0]) } }
            if let count = integer("prompt_eval_count") { prompt = max(prompt, count) }
            if let count = integer("eval_count") { generated = max(generated, count) }
            if let total = integer("total_duration") { nanoseconds = max(nanoseconds ?? 0, total) }
            guard fields["usage"] != nil || fields["timings"] != nil || fields["type"] != nil else { return }
            var holders = [value("usage") as? [String: Any]]
            // Anthropic's `message_start` and the Responses API's last event hold theirs one level down.
            for holder in ["message", "response"] where fields[holder] != nil && fields["type"] != nil {
                holders.append((value(holder) as? [String: Any])?["usage"] as? [String: Any])
            }
            for case let usage? in holders {
                note(&prompt, usage["prompt_tokens"] ?? usage["input_tokens"])
                note(&generated, usage["completion_tokens"] ?? usage["output_tokens"])
            }
            if let timings = value("timings") as? [String: Any] {
                note(&timedPrompt, timings["prompt_n"])
                note(&timedGenerated, timings["predicted_n"])
            }
        }

        private static let fields: Set<String> = ["prompt_eval_count", "eval_count", "total_duration", "usage", "message", "response", "type", "timings"]

        func usage(runSeconds: Double) -> JobUsage {
            JobUsage(
                promptTokens: prompt > 0 ? prompt : timedPrompt, generatedTokens: generated > 0 ? generated : timedGenerated,
                seconds: nanoseconds.map { Double($0) / 1e9 } ?? runSeconds
            )
        }

        private func note(_ figure: inout Int, _ value: Any?) {
            if let count = int(value) { figure = max(figure, count) }
        }

        private func int(_ value: Any?) -> Int? {
            guard let number = value as? NSNumber else { return nil }
            let count = number.int64Value
            return count >= 0 ? Int(count) : nil
        }
    }

    /// A non-negative integer written as plain digits; `nil` for anything else.
    static func digits(_ bytes: ArraySlice<UInt8>) -> Int? {
        guard !bytes.isEmpty, bytes.count <= 18 else { return nil }
        var value = 0
        for byte in bytes {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private static let promptEvalCount = Array(#""prompt_eval_count":"#.utf8)
    private static let promptTokens = Array(#""prompt_tokens":"#.utf8)
    private static let totalDuration = Array(#""total_duration":"#.utf8)

    /// The non-negative integer after the last `key` in `bytes` (spaces allowed before it).
    private static func integer(after key: [UInt8], in bytes: [UInt8]) -> Int? {
        guard bytes.count >= key.count else { return nil }
        for start in stride(from: bytes.count - key.count, through: 0, by: -1) where bytes[start..<(start + key.count)].elementsEqual(key) {
            let value = bytes[(start + key.count)...].drop { $0 == UInt8(ascii: " ") }
            return digits(value.prefix { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) })
        }
        return nil
    }
}
