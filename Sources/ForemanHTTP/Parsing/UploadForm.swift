import MultipartKit
import NIOCore

/// A `multipart/form-data` upload of OpenAI's Files API read as it arrives (ADR 0021): the `purpose` field kept, the
/// `file` part's bytes handed out as they come and forgotten. Lives in one handler's task; never shared.
final class UploadForm {
    /// The longest `purpose` value read.
    static let maxFieldBytes = 1024

    private enum Part {
        case unknown, purpose, file, ignored
    }

    private let parser: MultipartParser
    private var headers: [String: String] = [:]
    private var part = Part.unknown
    private var field: [UInt8] = []
    private var fileBytes: [UInt8] = []
    private var fileEnded = false
    private var refusal: APIError?

    /// The `purpose` field, once its part ended.
    private(set) var purpose: String?
    /// The `file` part's file name, once the part began.
    private(set) var startedFile: String?

    init(boundary: String) {
        parser = MultipartParser(boundary: boundary)
        parser.onHeader = { [unowned self] name, value in headers[name.lowercased()] = value }
        parser.onBody = { [unowned self] buffer in body(&buffer) }
        parser.onPartComplete = { [unowned self] in complete() }
    }

    /// Reads the next piece of the body.
    func feed(_ chunk: ByteBuffer) throws(APIError) {
        do {
            try parser.execute(chunk)
        } catch {
            throw APIError(.badRequest, "the multipart body is malformed")
        }
        if let refusal { throw refusal }
    }

    /// The file's bytes read since the last call.
    func takeFileBytes() -> [UInt8] {
        defer { fileBytes.removeAll(keepingCapacity: true) }
        return fileBytes
    }

    /// Checks the body ended where a form may end.
    func finish() throws(APIError) {
        if let refusal { throw refusal }
        if startedFile != nil, !fileEnded { throw APIError(.badRequest, "the multipart body ended inside the 'file' part") }
    }

    private func body(_ buffer: inout ByteBuffer) {
        if case .unknown = part { begin() }
        switch part {
        case .purpose:
            field += buffer.readableBytesView
            if field.count > Self.maxFieldBytes { refusal = APIError(.badRequest, "the 'purpose' field is too long") }
        case .file:
            fileBytes += buffer.readableBytesView
        case .unknown, .ignored:
            break
        }
    }

    /// Names the part that begins, from its `Content-Disposition`.
    private func begin() {
        let disposition = headers["content-disposition"] ?? ""
        switch Self.parameter("name", in: disposition) {
        case "purpose":
            part = .purpose
        case "file":
            guard startedFile == nil else {
                refusal = APIError(.badRequest, "the form holds more than one 'file' part")
                part = .ignored
                return
            }
            part = .file
            startedFile = Self.parameter("filename", in: disposition) ?? "upload.jsonl"
        default:
            part = .ignored
        }
    }

    private func complete() {
        if case .unknown = part { begin() }  // a part with an empty body
        switch part {
        case .purpose: purpose = String(decoding: field, as: UTF8.self)
        case .file: fileEnded = true
        case .unknown, .ignored: break
        }
        part = .unknown
        headers = [:]
        field = []
    }

    /// A parameter of a `Content-Disposition` value (`form-data; name="file"; filename="a.jsonl"`), unquoted.
    static func parameter(_ name: String, in header: String) -> String? {
        for piece in header.split(separator: ";").dropFirst() {
            let pair = piece.split(separator: "=", maxSplits: 1)
            guard pair.count == 2, pair[0].trimmingCharacters(in: .whitespaces).lowercased() == name else { continue }
            var value = pair[1].trimmingCharacters(in: .whitespaces)
            if value.hasPrefix("\""), value.hasSuffix("\""), value.count >= 2 { value = String(value.dropFirst().dropLast()) }
            return value
        }
        return nil
    }
}
