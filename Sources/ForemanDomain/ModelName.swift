import Foundation

/// Ollama model-name rules foreman needs: `[host/][namespace/]model[:tag]`, default tag `latest`.
public enum ModelName {
    /// The name with its tag made explicit, so `llama3.2` and `llama3.2:latest` compare equal.
    public static func normalized(_ name: String) -> String {
        let trimmed = trimmed(name)
        // Bytes, as Ollama reads a name: looking for a `Character` breaks the name into grapheme clusters, on every
        // native call and every look at the queue.
        let bytes = trimmed.utf8
        let lastComponent = bytes.lastIndex(of: UInt8(ascii: "/")).map { bytes[bytes.index(after: $0)...] } ?? bytes[...]
        return lastComponent.contains(UInt8(ascii: ":")) ? trimmed : trimmed + defaultTagSuffix
    }

    /// What ``normalized(_:)`` appends to a name without a tag.
    public static let defaultTagSuffix = ":latest"

    /// `text` without leading and trailing `.whitespaces`. A name with none (nearly all) is returned as it is:
    /// Foundation's trimming goes through `NSString` on every call, and names are compared on every native call
    /// (ADR 0011, ADR 0012).
    public static func trimmed(_ text: String) -> String {
        guard let first = text.unicodeScalars.first, let last = text.unicodeScalars.last,
            mayBeWhitespace(first) || mayBeWhitespace(last)
        else { return text }
        return text.trimmingCharacters(in: .whitespaces)
    }

    /// Whether `scalar` may be one of `.whitespaces`, answered for ASCII without `CharacterSet`: a name's ends are
    /// nearly always ASCII, and the set's lookup is code a native call would otherwise run cold.
    private static func mayBeWhitespace(_ scalar: Unicode.Scalar) -> Bool {
        scalar.isASCII ? scalar == " " || scalar == "\t" : CharacterSet.whitespaces.contains(scalar)
    }
}
