import ForemanDomain
import ForemanStore

/// Usage as `GET /admin/usage` shows it (ADR 0022): one object per key, model and UTC day, and their totals.
enum UsageDocument {
    /// `names` gives each key id its name (a key that is gone keeps its id).
    static func render(_ rows: [UsageRow], names: [String: String]) -> String {
        var total = UsageRow(keyID: "", model: "", day: UTCDay(ordinal: 0), requests: 0, promptTokens: 0, generatedTokens: 0, generationSeconds: 0)
        let rendered = rows.map { row in
            total.requests += row.requests
            total.promptTokens += row.promptTokens
            total.generatedTokens += row.generatedTokens
            total.generationSeconds += row.generationSeconds
            var writer = JSONObjectWriter()
            writer.string("day", row.day.text)
            writer.string("key", names[row.keyID] ?? row.keyID)
            writer.string("key_id", row.keyID)
            writer.string("model", row.model)
            figures(row, into: &writer)
            return writer.finished()
        }
        var totals = JSONObjectWriter()
        figures(total, into: &totals)
        var writer = JSONObjectWriter()
        writer.raw("usage", JSONObjectWriter.array(rendered))
        writer.object("total", totals)
        return writer.finished()
    }

    private static func figures(_ row: UsageRow, into writer: inout JSONObjectWriter) {
        writer.int("requests", row.requests)
        writer.int("prompt_tokens", row.promptTokens)
        writer.int("generated_tokens", row.generatedTokens)
        writer.int("total_tokens", row.promptTokens + row.generatedTokens)
        // Milliseconds are as fine as a generation's time is worth.
        writer.raw("generation_seconds", String((row.generationSeconds * 1000).rounded() / 1000))
    }
}
