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
    /// The main text's escaped contents so far: `content` for chat, `response` for generate.
    private var text: [UInt8] = []
    /// `thinking`'s escaped contents so far.
    private var thinking: [UInt8] = []
    /// The tool calls' JSON so far, each element after the first after a comma.
    private var toolCalls: [UInt8] = []
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

    /// Reads the line where it lies: every line of a stream is read, so nothing of it is copied but its text.
    private mutating func read(_ line: ByteBuffer) {
        line.withUnsafeReadableBytes { bytes in
            guard RawJSONFields.opensObject(bytes) else { return }
            lastObject = line
            switch kind {
            case .chat:
                var message: Range<Int>?
                RawJSONFields.forEachMember(of: bytes) { key, value in
                    if RawJSONFields.isKey(Self.messageKey, at: key, in: bytes) { message = value }
                }
                guard let message else { return }
                readFields(of: UnsafeRawBufferPointer(rebasing: bytes[message]), text: Self.contentKey, readsToolCalls: true)
            case .generate:
                readFields(of: bytes, text: Self.responseKey, readsToolCalls: false)
            case .embed, .messages, .responses:
                break
            }
        }
    }

    /// Reads the text fields of `object` (a chat line's message, or a generate line): its text, its thinking and, for
    /// chat, its tool calls, in one pass. A field given twice counts once, as the last of them, as a JSON decoder
    /// reads it.
    private mutating func readFields(of object: UnsafeRawBufferPointer, text textKey: RawJSONFields.QuotedKey, readsToolCalls: Bool) {
        var content: Range<Int>?
        var thinking: Range<Int>?
        var calls: Range<Int>?
        RawJSONFields.forEachMember(of: object) { key, value in
            if RawJSONFields.isKey(textKey, at: key, in: object) {
                content = value
            } else if RawJSONFields.isKey(Self.thinkingKey, at: key, in: object) {
                thinking = value
            } else if readsToolCalls, RawJSONFields.isKey(Self.toolCallsKey, at: key, in: object) {
                calls = value
            }
        }
        Self.appendContents(of: content, in: object, to: &text)
        Self.appendContents(of: thinking, in: object, to: &self.thinking)
        if let calls {
            let array = UnsafeRawBufferPointer(rebasing: object[calls])
            for element in Self.elements(of: array) {
                if !toolCalls.isEmpty { toolCalls.append(UInt8(ascii: ",")) }
                toolCalls += array[element]
            }
        }
    }

    /// The names looked for in each line, quoted as they stand in its text.
    private static let messageKey = RawJSONFields.QuotedKey("message")
    private static let contentKey = RawJSONFields.QuotedKey("content")
    private static let thinkingKey = RawJSONFields.QuotedKey("thinking")
    private static let toolCallsKey = RawJSONFields.QuotedKey("tool_calls")
    private static let responseKey = RawJSONFields.QuotedKey("response")

    /// Appends the contents of the string value at `range`, between its quotes and still escaped; anything but a
    /// string is no text.
    private static func appendContents(of range: Range<Int>?, in bytes: UnsafeRawBufferPointer, to text: inout [UInt8]) {
        guard let range, range.count >= 2, bytes[range.lowerBound] == UInt8(ascii: "\""), bytes[range.upperBound - 1] == UInt8(ascii: "\"") else { return }
        text += bytes[(range.lowerBound + 1)..<(range.upperBound - 1)]
    }

    /// The answer in Ollama's non-streaming shape; a single line (a non-streamed body) as it is.
    ///
    /// It is the last object line with its text fields and tool calls set to what the whole stream said, spliced in
    /// as text: the box's own field order and escapes are kept, and nothing is parsed or re-encoded (ADR 0024). What
    /// is spliced is checked to be a JSON object (``JSONSyntax``, ADR 0041); when it is not, the last line is kept as
    /// it came.
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
            let calls = toolCalls.isEmpty ? nil : [UInt8(ascii: "[")] + toolCalls + [UInt8(ascii: "]")]
            let fields: [(String, [UInt8]?)] = [("content", quoted(text) ?? Array(#""""#.utf8)), ("thinking", quoted(thinking)), ("tool_calls", calls)]
            let spliced = Self.object(message, RawJSONFields.members(of: message), setting: fields)
            answer = Self.object(object, members, setting: [("message", spliced)])
        case .generate:
            let fields: [(String, [UInt8]?)] = [("response", quoted(text) ?? Array(#""""#.utf8)), ("thinking", quoted(thinking))]
            answer = Self.object(object, RawJSONFields.members(of: object), setting: fields)
        case .embed, .messages, .responses:
            answer = object
        }
        guard JSONSyntax.isObject(answer) else { return Data(last.readableBytesView) }
        return Data(answer)
    }

    /// A text field's escaped pieces, joined, as one JSON string; nil when the stream gave it no text.
    private func quoted(_ escaped: [UInt8]) -> [UInt8]? {
        guard !escaped.isEmpty else { return nil }
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

    /// Where the elements of the JSON array `array` lie, each as its own text; none for anything but a non-empty array.
    static func elements(of array: UnsafeRawBufferPointer) -> [Range<Int>] {
        func isWhitespace(_ byte: UInt8) -> Bool { byte == 0x20 || byte == 0x09 || byte == 0x0A || byte == 0x0D }
        var lower = 0
        var upper = array.count
        while lower < upper, isWhitespace(array[lower]) { lower += 1 }
        while upper > lower, isWhitespace(array[upper - 1]) { upper -= 1 }
        guard upper - lower >= 2, array[lower] == UInt8(ascii: "["), array[upper - 1] == UInt8(ascii: "]") else { return [] }
        // Each element is one value: split at the commas between them, outside strings, objects and arrays.
        var elements: [Range<Int>] = []
        var depth = 0
        var inString = false
        var escaped = false
        var start = lower + 1
        for index in (lower + 1)..<(upper - 1) {
            let byte = array[index]
            if inString {
                if escaped { escaped = false } else if byte == UInt8(ascii: "\\") { escaped = true } else if byte == UInt8(ascii: "\"") { inString = false }
                continue
            }
            switch byte {
            case UInt8(ascii: "\""): inString = true
            case UInt8(ascii: "{"), UInt8(ascii: "["): depth += 1
            case UInt8(ascii: "}"), UInt8(ascii: "]"): depth -= 1
            case UInt8(ascii: ",") where depth == 0:
                elements.append(start..<index)
                start = index + 1
            default: break
            }
        }
        if array[start..<(upper - 1)].contains(where: { !isWhitespace($0) }) { elements.append(start..<(upper - 1)) }
        return elements
    }
}
