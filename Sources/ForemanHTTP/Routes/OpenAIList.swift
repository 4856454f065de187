import ForemanDomain

/// OpenAI's list pages: the `limit` parameter read and checked, and the `{"object":"list", …}` envelope around the
/// items.
enum OpenAIList {
    static func limit(_ text: String?, default fallback: Int, maximum: Int) throws -> Int {
        guard let text else { return fallback }
        guard let limit = Int(text), (1...maximum).contains(limit) else {
            throw APIError(.badRequest, "Invalid value for 'limit': '\(text)'. Expected a whole number from 1 to \(maximum).")
        }
        return limit
    }

    /// `items` (JSON objects) as a page, with the ids of its first and last and whether more follow.
    static func render(_ items: [String], ids: [String], hasMore: Bool) -> String {
        var writer = JSONObjectWriter()
        writer.string("object", "list")
        writer.raw("data", JSONObjectWriter.array(items))
        writer.string("first_id", ids.first)
        writer.string("last_id", ids.last)
        writer.bool("has_more", hasMore)
        return writer.finished()
    }
}
