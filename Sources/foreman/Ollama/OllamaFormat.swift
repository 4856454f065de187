import ForemanDomain
import Foundation

/// How Ollama's CLI writes sizes, times and tables, so `foreman list` and `foreman ps` read as `ollama list` and
/// `ollama ps` do.
enum OllamaFormat {
    /// Decimal units, as `format.HumanBytes`: `2.0 GB` below ten, `13 GB` from ten.
    static func bytes(_ count: Int64) -> String {
        let units: [(Double, String)] = [(1e12, "TB"), (1e9, "GB"), (1e6, "MB"), (1e3, "KB")]
        guard let (size, unit) = units.first(where: { Double(count) >= $0.0 }) else { return "\(count) B" }
        let value = Double(count) / size
        if value >= 10 { return "\(Int(value)) \(unit)" }
        return value == value.rounded(.towardZero) ? "\(Int(value)) \(unit)" : String(format: "%.1f %@", value, unit)
    }

    /// "2 weeks ago", "4 minutes from now", as `format.HumanTime`.
    static func time(_ date: Date?, zero: String, now: Date = Date()) -> String {
        guard let date else { return zero }
        let delta = now.timeIntervalSince(date)
        if delta / 86_400 / 365 < -20 { return "Forever" }
        return delta < 0 ? duration(-delta) + " from now" : duration(delta) + " ago"
    }

    private static func duration(_ seconds: Double) -> String {
        let whole = Int(seconds)
        if whole < 1 { return "Less than a second" }
        if whole == 1 { return "1 second" }
        if whole < 60 { return "\(whole) seconds" }
        let minutes = whole / 60
        if minutes == 1 { return "About a minute" }
        if minutes < 60 { return "\(minutes) minutes" }
        let hours = Int((seconds / 3600).rounded())
        if hours == 1 { return "About an hour" }
        if hours < 48 { return "\(hours) hours" }
        if hours < 24 * 7 * 2 { return "\(hours / 24) days" }
        if hours < 24 * 30 * 2 { return "\(hours / 24 / 7) weeks" }
        if hours < 24 * 365 * 2 { return "\(hours / 24 / 30) months" }
        return "\(whole / 3600 / 24 / 365) years"
    }

    /// Left-aligned columns four spaces apart, no borders, as Ollama's tables.
    static func table(_ header: [String], _ rows: [[String]]) -> String {
        let all = [header] + rows
        let widths = header.indices.map { column in all.map { $0.indices.contains(column) ? $0[column].count : 0 }.max() ?? 0 }
        return all.map { row in
            row.enumerated().map { column, cell in cell.padding(toLength: widths[column], withPad: " ", startingAt: 0) }
                .joined(separator: "    ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }.joined(separator: "\n") + "\n"
    }

    /// A date from an RFC 3339 time as Ollama writes them.
    static func date(_ text: Any?) -> Date? {
        (text as? String).flatMap(DatabaseDate.unixSeconds(rfc3339:)).map { Date(timeIntervalSince1970: Double($0)) }
    }

    /// Running jobs as `ps` and `status` show them: `model (id)`, comma-separated, or `-` for none.
    static func running(_ jobs: Any?) -> String {
        let shown = (jobs as? [[String: Any]] ?? []).map { "\($0["model"] as? String ?? "") (\($0["id"] as? String ?? ""))" }
        return shown.isEmpty ? "-" : shown.joined(separator: ", ")
    }

    /// The first twelve characters of a digest, as the `ID` column shows it.
    static func shortID(_ digest: Any?) -> String {
        String(((digest as? String) ?? "").replacingOccurrences(of: "sha256:", with: "").prefix(12))
    }
}
