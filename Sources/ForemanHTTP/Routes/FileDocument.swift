import ForemanDomain

/// A stored file as OpenAI's `file` object.
enum FileDocument {
    static func render(_ file: StoredFile) -> String {
        var writer = JSONObjectWriter()
        writer.string("id", file.id)
        writer.string("object", "file")
        writer.int("bytes", file.bytes)
        writer.int("created_at", Int(file.createdAt.timeIntervalSince1970))
        writer.string("filename", file.filename)
        writer.string("purpose", file.purpose.rawValue)
        writer.string("status", file.status.rawValue)
        writer.raw("expires_at", nil)
        writer.raw("status_details", nil)
        return writer.finished()
    }
}
