import ForemanDomain
import Foundation

/// Adjusts an embeddings request before it goes to the target (ADR 0008), editing the caller's text in place
/// so every other byte (numbers, key order) reaches the target as the caller wrote it.
public enum EmbedRequestRewriter {
    /// The `options.num_ctx` the caller set, if it is a whole number.
    public static func callerNumCtx(in body: [UInt8]) -> Int? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(body)) as? [String: Any],
            let options = object["options"] as? [String: Any], let value = options["num_ctx"], JSONValue.isNumber(value),
            let number = value as? NSNumber, number.doubleValue == number.doubleValue.rounded()
        else { return nil }
        return number.intValue
    }

    /// `body` with `options.num_ctx` set to `numCtx`. Only call it when the caller did not set one.
    public static func settingNumCtx(_ numCtx: Int, in body: [UInt8]) -> [UInt8] {
        let field = #""num_ctx":"# + String(numCtx)
        guard let range = RawJSONFields.ranges(["options"], in: body)["options"] else {
            return insertingField(#""options":{"# + field + "}", into: body)
        }
        if body[range.lowerBound] == UInt8(ascii: "{") {
            return insertingAfterBrace(field, at: range.lowerBound, in: body)
        }
        // `"options": null`
        var edited = body
        edited.replaceSubrange(range, with: Array(("{" + field + "}").utf8))
        return edited
    }

    /// `body` with `keep_alive` set to 0, so the target releases the model right after answering.
    public static func settingKeepAliveZero(in body: [UInt8]) -> [UInt8] {
        guard let range = RawJSONFields.ranges(["keep_alive"], in: body)["keep_alive"] else {
            return insertingField(#""keep_alive":0"#, into: body)
        }
        var edited = body
        edited.replaceSubrange(range, with: Array("0".utf8))
        return edited
    }

    /// Adds `field` as the first member of the top-level object.
    private static func insertingField(_ field: String, into body: [UInt8]) -> [UInt8] {
        guard let brace = body.firstIndex(of: UInt8(ascii: "{")) else { return body }
        return insertingAfterBrace(field, at: brace, in: body)
    }

    private static func insertingAfterBrace(_ field: String, at brace: Int, in body: [UInt8]) -> [UInt8] {
        var next = brace + 1
        while next < body.count, [0x20, 0x09, 0x0A, 0x0D].contains(body[next]) { next += 1 }
        let isEmpty = next < body.count && body[next] == UInt8(ascii: "}")
        var edited = body
        edited.insert(contentsOf: Array((isEmpty ? field : field + ",").utf8), at: brace + 1)
        return edited
    }
}
