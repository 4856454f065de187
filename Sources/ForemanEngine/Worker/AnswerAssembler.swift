import ForemanDomain
import Foundation
import NIOCore

/// Builds Ollama's non-streaming answer from a streamed one line by line, as the lines arrive (ADR 0024): the text
/// fields are kept appended, still JSON-escaped, and the tool calls as their JSON; nothing else of the earlier lines
/// is kept. At the end the last line is parsed once, and the text fields set in it.
///
/// Ollama's own rule (`writeChatResponse`): text fields are concatenated, tool calls appended, and every other field
/// comes from the last chunk.
public struct AnswerAssembler: Sendable {
    private let kind: JobKind
    /// The text fields' escaped contents so far, by name (`content`, `thinking`; `response` for generate).
    private var texts: [String: [UInt8]] = [:]
    /// Each tool call's JSON, in order.
    private var toolCalls: [ArraySlice<UInt8>] = []
    private var lines = 0
    /// The last line, and the last line that is a JSON object, which gives every other field.
    private var last: ByteBuffer?
    private var lastObject: ByteBuffer?

    public init(kind: JobKind) {
        self.kind = kind
    }

    /// The first line, read only once a second arrives: a whole answer in one line (a non-streamed call) is kept as
    /// it came, and costs no reading.
    private var unread: ByteBuffer?

    /// Takes the next line of the answer.
    public mutating func append(_ line: ByteBuffer) {
        lines += 1
        last = line
        if lines == 1 {
            unread = line
            return
        }
        if let first = unread {
            unread = nil
            read(first)
        }
        read(line)
    }

    private mutating func read(_ line: ByteBuffer) {
        guard let first = line.readableBytesView.first(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }), first == UInt8(ascii: "{") else { return }
        lastObject = line
        guard kind == .chat || kind == .generate else { return }
        let bytes = Array(line.readableBytesView)
        if kind == .generate {
            collect(["response", "thinking"], in: bytes[...])
            return
        }
        guard let message = RawJSONFields.ranges(["message"], in: bytes)["message"] else { return }
        let inner = Array(bytes[message])
        collect(["content", "thinking"], in: inner[...])
        if let calls = RawJSONFields.ranges(["tool_calls"], in: inner)["tool_calls"] {
            toolCalls += Self.elements(of: inner[calls])
        }
    }

    /// The answer in Ollama's non-streaming shape; a single line (a non-streamed body) as it is.
    public func finished() -> Data? {
        guard let last else { return nil }
        if lines == 1 { return Data(last.readableBytesView) }
        guard let lastObject, var result = (try? JSONSerialization.jsonObject(with: Data(lastObject.readableBytesView))) as? [String: Any] else {
            return Data(last.readableBytesView)
        }
        switch kind {
        case .chat:
            var message = (result["message"] as? [String: Any]) ?? ["role": "assistant"]
            message["content"] = text("content") ?? ""
            if let thinking = text("thinking"), !thinking.isEmpty { message["thinking"] = thinking }
            if !toolCalls.isEmpty, let calls = try? JSONSerialization.jsonObject(with: Data("[".utf8 + Array(toolCalls.joined(separator: [UInt8(ascii: ",")])) + "]".utf8)) {
                message["tool_calls"] = calls
            }
            result["message"] = message
        case .generate:
            result["response"] = text("response") ?? ""
            if let thinking = text("thinking"), !thinking.isEmpty { result["thinking"] = thinking }
        case .embed, .messages, .responses:
            break
        }
        return try? JSONSerialization.data(withJSONObject: result, options: [.sortedKeys, .withoutEscapingSlashes])
    }

    /// Appends the escaped contents of the string fields `names` of the object `bytes`.
    private mutating func collect(_ names: Set<String>, in bytes: ArraySlice<UInt8>) {
        let array = Array(bytes)
        for (name, range) in RawJSONFields.ranges(names, in: array) {
            let value = array[range]
            // A string value: its contents between the quotes, still escaped; anything else is no text.
            guard value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") else { continue }
            texts[name, default: []] += value.dropFirst().dropLast()
        }
    }

    /// Field `name`'s text: its escaped pieces read as one JSON string, once.
    private func text(_ name: String) -> String? {
        guard let escaped = texts[name] else { return nil }
        return (try? JSONSerialization.jsonObject(with: Data([UInt8(ascii: "\"")] + escaped + [UInt8(ascii: "\"")]), options: .fragmentsAllowed)) as? String
    }

    /// The elements of a JSON array's text, each as its own text; an empty list for anything but a non-empty array.
    static func elements(of array: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var inner = array
        while let first = inner.first, [0x20, 0x09, 0x0A, 0x0D].contains(first) { inner = inner.dropFirst() }
        while let last = inner.last, [0x20, 0x09, 0x0A, 0x0D].contains(last) { inner = inner.dropLast() }
        guard inner.first == UInt8(ascii: "["), inner.last == UInt8(ascii: "]") else { return [] }
        inner = inner.dropFirst().dropLast()
        // Each element is one value: split at the commas between them, outside strings, objects and arrays.
        var elements: [ArraySlice<UInt8>] = []
        var depth = 0
        var inString = false
        var escaped = false
        var start = inner.startIndex
        for index in inner.indices {
            let byte = inner[index]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ",") where depth == 0:
                elements.append(inner[start..<index])
                start = inner.index(after: index)
            default: break
            }
        }
        let rest = inner[start...]
        if rest.contains(where: { ![0x20, 0x09, 0x0A, 0x0D].contains($0) }) { elements.append(rest) }
        return elements
    }
}
