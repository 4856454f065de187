/// Where the client commands find foreman (issue #18): `FOREMAN_HOST` read as Ollama reads `OLLAMA_HOST`, a
/// `host:port`, a bare host, `:port`, or a URL; the default port is foreman's, 8080.
public enum ForemanHost {
    /// The base URL `text` names; an empty text is the default, `http://127.0.0.1:8080`. A bind address (`0.0.0.0`,
    /// `::`) is reached on loopback, as a client must.
    public static func url(_ text: String) -> String {
        var rest = Substring(text.trimmingCharacters(in: .whitespaces))
        var scheme = "http"
        var defaultPort = "8080"
        if let range = rest.range(of: "://") {
            scheme = String(rest[..<range.lowerBound]).lowercased()
            rest = rest[range.upperBound...]
            if scheme == "https" { defaultPort = "443" } else if scheme == "http", !rest.isEmpty { defaultPort = "80" }
        }
        var path = ""
        if let slash = rest.firstIndex(of: "/") {
            path = String(rest[slash...])
            rest = rest[..<slash]
            while path.hasSuffix("/") { path.removeLast() }
        }
        var host = "127.0.0.1"
        var port = defaultPort
        if rest.hasPrefix("[") {  // [v6] or [v6]:port
            if let close = rest.firstIndex(of: "]") {
                host = String(rest[rest.index(after: rest.startIndex)..<close])
                let after = rest[rest.index(after: close)...]
                if after.hasPrefix(":"), let value = Int(after.dropFirst()), (0...65535).contains(value) { port = String(value) }
            }
        } else if let colon = rest.lastIndex(of: ":"), rest.firstIndex(of: ":") == colon {
            let name = rest[..<colon]
            if !name.isEmpty { host = String(name) }
            if let value = Int(rest[rest.index(after: colon)...]), (0...65535).contains(value) { port = String(value) }
        } else if rest.contains(":") {
            host = String(rest)  // a bare IPv6 address
        } else if !rest.isEmpty {
            host = String(rest)
        }
        if host == "0.0.0.0" { host = "127.0.0.1" }
        if host == "::" { host = "::1" }
        let shownHost = host.contains(":") ? "[" + host + "]" : host
        return scheme + "://" + shownHost + ":" + port + path
    }
}
