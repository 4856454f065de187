import ForemanStore
import Foundation
import NIOCore

/// A `/jobs` job's transcript as it streams (ADR 0024): lines gather into a part, and each full part is written to
/// the store as it fills, so a run holds one part in memory whatever the answer's length. At the finish, what
/// followed the last part becomes the artifact's row.
struct TranscriptSpool: Sendable {
    /// How much a part holds before it is written.
    static let partBytes = 64 << 10

    /// The lines not yet written.
    private(set) var pending = Data()
    /// Parts written in this attempt.
    private(set) var written = 0
    /// Whether parts are still written: after a failed write the rest stays here, to be written with the finish.
    private var writing = true
    /// Whether an earlier run or attempt of the job may have written parts.
    let mayFindStaleParts: Bool

    init(mayFindStaleParts: Bool) {
        self.mayFindStaleParts = mayFindStaleParts
    }

    /// Takes the next line.
    mutating func append(_ line: ByteBuffer) {
        pending.append(contentsOf: line.readableBytesView)
    }

    /// The part to write now, if one has filled.
    var full: (index: Int, data: Data)? {
        writing && pending.count >= Self.partBytes ? (written, pending) : nil
    }

    /// The full part was written.
    mutating func wrote() {
        written += 1
        pending = Data()
    }

    /// The full part could not be written: the rest of the transcript stays in memory.
    mutating func writeFailed() {
        writing = false
    }

    /// The transcript's artifact at the finish: its last part, after the ones written; nil when there was no line.
    func artifact(jobID: String) -> Artifact? {
        guard written > 0 || !pending.isEmpty else { return nil }
        return Artifact(
            jobID: jobID, name: Artifact.transcript, contentType: "application/x-ndjson", data: pending, followsParts: written > 0,
            mayFindStaleParts: mayFindStaleParts
        )
    }
}
