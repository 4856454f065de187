import ForemanDomain
import NIOCore

/// What a run keeps of the box's answer as it streams (ADR 0024): the answer assembled as it goes, the first and last
/// few lines (where the box writes its usage), and, for a `/jobs` job, its transcript, spooled to the store in parts.
/// A run's memory stays the same however long its answer.
struct AnswerRecord: Sendable {
    private(set) var assembler: AnswerAssembler
    /// A `/jobs` job's transcript, its artifact.
    var spool: TranscriptSpool?
    private var head: [ByteBuffer] = []
    private var tail = CircularBuffer<ByteBuffer>(initialCapacity: 8)
    private(set) var last: ByteBuffer?

    /// - Parameter spool: a `/jobs` job's transcript spool; nil for a run that keeps no transcript.
    init(kind: JobKind, spool: TranscriptSpool?) {
        assembler = AnswerAssembler(kind: kind)
        self.spool = spool
    }

    mutating func append(_ line: ByteBuffer) {
        assembler.append(line)
        spool?.append(line)
        if head.count < 4 {
            head.append(line)
        } else {
            if tail.count == 8 { tail.removeFirst() }
            tail.append(line)
        }
        last = line
    }

    /// The lines kept: the first four and the last eight.
    var kept: [ByteBuffer] { head + Array(tail) }
}
