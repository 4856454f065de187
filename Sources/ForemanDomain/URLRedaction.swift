/// Hides the user information (`user:password@`) of every URL in a text before it is logged or shown.
///
/// Webhook and target URLs may carry credentials in their userinfo. Those belong to whoever configured them, not to
/// the log reader or another caller reading a job: the whole userinfo becomes `***`, the rest of the URL stays
/// so an operator can still tell which receiver it was.
public enum URLRedaction {
    /// `text` with the userinfo of each URL in it replaced by `***`. Finds URLs in prose and in JSON, escaped
    /// slashes (`https:\/\/`) included.
    public static func redactingUserinfo(in text: String) -> String {
        guard text.contains("@") else { return text }
        var output = ""
        var rest = Substring(text)
        while let start = authorityStart(in: rest) {
            output += rest[..<start]
            rest = rest[start...]
            // The authority ends at the first path, query or fragment delimiter, quote or space.
            let end = rest.firstIndex { "/\\?#\"' \t\r\n<>".contains($0) } ?? rest.endIndex
            if let at = rest[..<end].lastIndex(of: "@") {
                output += "***"
                rest = rest[at...]
            }
        }
        return output + rest
    }

    /// Where the authority after the next `://` (or `:\/\/`) begins.
    private static func authorityStart(in text: Substring) -> Substring.Index? {
        var searchFrom = text.startIndex
        while let colon = text[searchFrom...].firstIndex(of: ":") {
            let after = text[text.index(after: colon)...]
            for separator in ["//", #"\/\/"#] where after.hasPrefix(separator) {
                return text.index(colon, offsetBy: 1 + separator.count)
            }
            searchFrom = text.index(after: colon)
        }
        return nil
    }
}
