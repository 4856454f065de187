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
            collect(Self.generateTexts, from: RawJSONFields.ranges(Self.generateTexts, in: bytes), in: bytes)
            return
        }
        guard let message = RawJSONFields.ranges(Self.message, in: bytes)["message"] else { return }
        let inner = Array(bytes[message])
        // One pass over the message finds its text and its tool calls: every line of a stream is read.
        let fields = RawJSONFields.ranges(Self.messageFields, in: inner)
        collect(Self.chatTexts, from: fields, in: inner)
        if let calls = fields["tool_calls"] {
            toolCalls += Self.elements(of: inner[calls])
        }
    }

    /// The names looked for in each line. Made once: a set literal in `read` would be an allocation for every line.
    private static let message: Set<String> = ["message"]
    private static let chatTexts: Set<String> = ["content", "thinking"]
    private static let messageFields = chatTexts.union(["tool_calls"])
    private static let generateTexts: Set<String> = ["response", "thinking"]

    /// The answer in Ollama's non-streaming shape; a single line (a non-streamed body) as it is.
    ///
    /// It is the last object line with its text fields and tool calls set to what the whole stream said, spliced in
    /// as text: the box's own field order and escapes are kept, and nothing is parsed or re-encoded but a check that
    /// the result is JSON. Re-encoding through `JSONSerialization` with sorted keys cost a `/jobs` job more CPU than
    /// its two commits (ADR 0024).
    public func finished() -> Data? {
        guard let last else { return nil }
        if lines == 1 { return Data(last.readableBytesView) }
        guard let lastObject else { return Data(last.readableBytesView) }
        let object = Array(lastObject.readableBytesView)
        let answer: [UInt8]
        switch kind {
        case .chat:
            let members = RawJSONFields.members(of: object)
            var message: [UInt8] = Array(#"{"role":"assistant"}"#.utf8)
            if let range = members.last(where: { $0.key == "message" })?.value, object[range].first == UInt8(ascii: "{") {
                message = Array(object[range])
            }
            var calls: [UInt8]?
            if !toolCalls.isEmpty { calls = Array("[".utf8) + Array(toolCalls.joined(separator: [UInt8(ascii: ",")])) + Array("]".utf8) }
            let fields: [(String, [UInt8]?)] = [("content", quoted("content") ?? Array(#""""#.utf8)), ("thinking", quoted("thinking")), ("tool_calls", calls)]
            let spliced = Self.object(message, RawJSONFields.members(of: message), setting: fields)
            answer = Self.object(object, members, setting: [("message", spliced)])
        case .generate:
            let fields: [(String, [UInt8]?)] = [("response", quoted("response") ?? Array(#""""#.utf8)), ("thinking", quoted("thinking"))]
            answer = Self.object(object, RawJSONFields.members(of: object), setting: fields)
        case .embed, .messages, .responses:
            answer = object
        }
        guard (try? JSONSerialization.jsonObject(with: Data(answer))) != nil else { return Data(last.readableBytesView) }
        return Data(answer)
    }

    /// Field `name`'s text as one JSON string, its escaped pieces joined; nil when the stream gave it no text.
    private func quoted(_ name: String) -> [UInt8]? {
        guard let escaped = texts[name], !escaped.isEmpty else { return nil }
        return [UInt8(ascii: "\"")] + escaped + [UInt8(ascii: "\"")]
    }

    /// The object `bytes`, whose fields are `members`, with each field of `fields` that has a value set to it: in its
    /// place if the object has the field, else added at the end. A field without a value is left as the object has it.
    static func object(_ bytes: [UInt8], _ members: [RawJSONFields.Member], setting fields: [(name: String, value: [UInt8]?)]) -> [UInt8] {
        var out: [UInt8] = [UInt8(ascii: "{")]
        out.reserveCapacity(bytes.count + fields.reduce(0) { $0 + ($1.value?.count ?? 0) })
        var written = Set<String>()
        for member in members {
            let value = fields.first(where: { $0.name == member.key })?.value
            // A field given twice is written once, with its value.
            if value != nil, written.contains(member.key) { continue }
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            out += bytes[member.quotedKey]
            out.append(UInt8(ascii: ":"))
            if let value {
                out += value
                written.insert(member.key)
            } else {
                out += bytes[member.value]
            }
        }
        for field in fields where !written.contains(field.name) && !members.contains(where: { $0.key == field.name }) {
            guard let value = field.value else { continue }
            if out.count > 1 { out.append(UInt8(ascii: ",")) }
            out += Array("\"\(field.name)\":".utf8) + value
        }
        out.append(UInt8(ascii: "}"))
        return out
    }

    /// Appends the escaped contents of the string fields `names` of the object `bytes`, whose fields lie at `fields`.
    private mutating func collect(_ names: Set<String>, from fields: [String: Range<Int>], in bytes: [UInt8]) {
        for (name, range) in fields where names.contains(name) {
            let value = bytes[range]
            // A string value: its contents between the quotes, still escaped; anything else is no text.
            guard value.count >= 2, value.first == UInt8(ascii: "\""), value.last == UInt8(ascii: "\"") else { continue }
            texts[name, default: []] += value.dropFirst().dropLast()
        }
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
