/// What one webhook receiver is: the scheme, host and port of its URL (ADR 0013, ADR 0015).
///
/// Deliveries are limited and rested per endpoint, so this runs for every event written; it reads the text
/// directly instead of through Foundation's URL parser, whose international-domain handling cost more than the
/// rest of the write. The URL was checked when the job was submitted.
public enum WebhookEndpoint {
    /// `scheme://host:port` of `url`, lowercased; the port is empty when the URL names none.
    public static func of(_ url: String) -> String {
        guard let separator = url.range(of: "://") else { return url }
        let scheme = url[..<separator.lowerBound].lowercased()
        var authority = url[separator.upperBound...].prefix { $0 != "/" && $0 != "?" && $0 != "#" }
        if let at = authority.lastIndex(of: "@") { authority = authority[authority.index(after: at)...] }
        let host: Substring
        var port: Substring = ""
        if authority.hasPrefix("["), let close = authority.firstIndex(of: "]") {
            host = authority[...close]
            let rest = authority[authority.index(after: close)...]
            if rest.hasPrefix(":") { port = rest.dropFirst() }
        } else if let colon = authority.lastIndex(of: ":") {
            host = authority[..<colon]
            port = authority[authority.index(after: colon)...]
        } else {
            host = authority
        }
        return "\(scheme)://\(host.lowercased()):\(port)"
    }
}
