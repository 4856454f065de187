import Foundation

/// Reads logfmt lines (what `LogfmtLogHandler` writes) back into their fields, as a log shipper would.
package enum LogfmtReader {
    /// Reads one logfmt line back into its fields.
    package static func fields(_ line: String) -> [String: String] {
        var fields: [String: String] = [:]
        var rest = Substring(line.trimmingCharacters(in: .newlines))
        while !rest.isEmpty {
            let key = rest.prefix { $0 != "=" }
            rest = rest.dropFirst(key.count + 1)
            var value = ""
            if rest.first == "\"" {
                rest = rest.dropFirst()
                while let character = rest.first, character != "\"" {
                    rest = rest.dropFirst()
                    if character == "\\", let escaped = rest.first {
                        rest = rest.dropFirst()
                        value.append(["n": "\n", "r": "\r", "t": "\t"][escaped] ?? escaped)
                    } else {
                        value.append(character)
                    }
                }
                rest = rest.dropFirst()
            } else {
                value = String(rest.prefix { $0 != " " })
                rest = rest.dropFirst(value.count)
            }
            fields[String(key)] = value
            rest = rest.drop { $0 == " " }
        }
        return fields
    }
}
