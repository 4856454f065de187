import ForemanDomain
import Foundation
import NIOCore

/// Ollama's non-streaming response from the lines of a streamed one, and the error line that ends a failed stream.
public enum ResponseAssembler {
    /// The final response for `lines` of a `kind` job; a single line (a non-streamed body) is kept as it is. The
    /// lines are fed to an ``AnswerAssembler``, as a run feeds them while they arrive.
    public static func assemble(kind: JobKind, lines: [ByteBuffer]) -> Data? {
        var assembler = AnswerAssembler(kind: kind)
        for line in lines { assembler.append(line) }
        return assembler.finished()
    }

    /// The `error` text of a line such as `{"error":"..."}`, which is how Ollama ends a failed stream.
    public static func errorMessage(in line: ByteBuffer) -> String? {
        guard RawJSONFields.mentions(errorKey, in: line) else { return nil }
        return json(line)?["error"] as? String
    }

    /// Every successful answer is scanned for it.
    private static let errorKey = RawJSONFields.QuotedKey("error")

    private static func json(_ line: ByteBuffer) -> [String: Any]? {
        (try? JSONSerialization.jsonObject(with: Data(line.readableBytesView))) as? [String: Any]
    }
}
