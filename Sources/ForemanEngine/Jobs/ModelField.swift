import ForemanDomain
import Foundation

/// Rewrites the top-level `model` of a request body, leaving every other byte as the caller sent it: a
/// `provider/model` id reaches its box as the box names the model (ADR 0017).
public enum ModelField {
    /// `body` with its top-level `model` set to `model`; `body` itself when it has no such field.
    public static func replacing<Bytes: Collection<UInt8>>(in body: Bytes, with model: String) -> [UInt8] {
        let bytes = Array(body)
        guard let range = RawJSONFields.ranges(["model"], in: bytes)["model"] else { return bytes }
        var rewritten = Array(bytes[..<range.lowerBound])
        rewritten.append(contentsOf: JSONObjectWriter.quoted(model).utf8)
        rewritten.append(contentsOf: bytes[range.upperBound...])
        return rewritten
    }
}
