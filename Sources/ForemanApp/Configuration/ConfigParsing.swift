import ForemanEngine
import Foundation

/// A listening address, `host:port`.
public struct HostPort: Sendable, Equatable, CustomStringConvertible {
    public var host: String
    public var port: Int

    public init(host: String, port: Int) {
        self.host = host
        self.port = port
    }

    public var description: String { host.contains(":") ? "[\(host)]:\(port)" : "\(host):\(port)" }

    /// Whether only this machine can reach the address.
    public var isLoopback: Bool {
        host == "localhost" || host == "::1" || host.hasPrefix("127.")
    }

    /// Parses `host:port`, `[v6]:port` or `:port` (all interfaces is spelled `0.0.0.0:port`).
    public static func parse(_ raw: String, variable: String) throws(ConfigError) -> HostPort {
        let text = raw.trimmingCharacters(in: .whitespaces)
        let host: Substring
        let portText: Substring
        if text.hasPrefix("["), let close = text.firstIndex(of: "]") {
            host = text[text.index(after: text.startIndex)..<close]
            let rest = text[text.index(after: close)...]
            guard rest.hasPrefix(":") else { throw invalid(raw, variable) }
            portText = rest.dropFirst()
        } else if let colon = text.lastIndex(of: ":") {
            host = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            throw invalid(raw, variable)
        }
        guard let port = Int(portText), (0...65535).contains(port), !host.isEmpty else { throw invalid(raw, variable) }
        return HostPort(host: String(host), port: port)
    }

    private static func invalid(_ raw: String, _ variable: String) -> ConfigError {
        ConfigError(variable: variable, message: "expected host:port (for example 127.0.0.1:8080), got '\(raw)'")
    }
}

/// Parses durations such as `500ms`, `1s`, `2m`, `1h`, `7d`; a bare number means seconds.
public enum DurationParser {
    public static func parse(_ raw: String, variable: String) throws(ConfigError) -> Duration {
        let text = raw.trimmingCharacters(in: .whitespaces).lowercased()
        let units: [(suffix: String, seconds: Double)] = [("ms", 0.001), ("s", 1), ("m", 60), ("h", 3600), ("d", 86400)]
        for unit in units where text.hasSuffix(unit.suffix) {
            let number = text.dropLast(unit.suffix.count)
            // "ms" must win over "s"; "5ms" also ends in "s" but "5m" is not a number.
            guard let value = Double(number), value >= 0, value.isFinite else { continue }
            return .milliseconds(Int64((value * unit.seconds * 1000).rounded()))
        }
        if let value = Double(text), value >= 0, value.isFinite {
            return .milliseconds(Int64((value * 1000).rounded()))
        }
        throw ConfigError(variable: variable, message: "expected a duration such as 500ms, 30s, 2m, 1h or 7d, got '\(raw)'")
    }
}

/// Parses byte sizes such as `512KB`, `32MB`, `1GB` (binary multiples) or a bare number of bytes.
public enum ByteSizeParser {
    public static func parse(_ raw: String, variable: String) throws(ConfigError) -> Int {
        let text = raw.trimmingCharacters(in: .whitespaces).uppercased()
        let units: [(suffix: String, factor: Int)] = [
            ("KIB", 1 << 10), ("MIB", 1 << 20), ("GIB", 1 << 30), ("KB", 1 << 10), ("MB", 1 << 20), ("GB", 1 << 30), ("B", 1),
        ]
        for unit in units where text.hasSuffix(unit.suffix) {
            if let value = Int(text.dropLast(unit.suffix.count).trimmingCharacters(in: .whitespaces)), value > 0 {
                return value * unit.factor
            }
        }
        if let value = Int(text), value > 0 { return value }
        throw ConfigError(variable: variable, message: "expected a size such as 512KB or 32MB, got '\(raw)'")
    }
}
