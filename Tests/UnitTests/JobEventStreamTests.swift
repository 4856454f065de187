import ForemanEngine
import NIOCore
import Testing

/// The stream a waiting caller reads its job's events from (ADR 0024).
@Suite("Job event stream")
struct JobEventStreamTests {
    /// A compact spelling of an event, to compare sequences.
    private static func label(_ event: JobEvent) -> String {
        switch event {
        case .started(let status, _): "started \(status)"
        case .lines(let lines): "lines " + lines.map { String(buffer: $0) }.joined(separator: "|")
        case .finished(let outcome): "finished \(outcome)"
        case .interrupted(let reason): "interrupted \(reason.rawValue)"
        }
    }

    @Test("events kept before the read and handed to a waiting reader arrive in order; the end after them; nothing after the end")
    func order() async {
        let stream = JobEventStream()
        stream.yield(.started(status: 200, contentType: nil))
        stream.yield(.lines([ByteBuffer(string: "a"), ByteBuffer(string: "b")]))
        let reader = Task {
            var labels: [String] = []
            for await event in stream { labels.append(Self.label(event)) }
            return labels
        }
        stream.yield(.lines([ByteBuffer(string: "c")]))
        stream.yield(.interrupted(.waitTimeout))
        stream.yield(.finished(.succeeded))
        stream.finish()
        stream.yield(.lines([ByteBuffer(string: "late")]))
        let labels = await reader.value
        #expect(labels == ["started 200", "lines a|b", "lines c", "interrupted timed out waiting for the target", "finished succeeded"])
    }

    @Test("a read after the end, and every read after it, is nil")
    func ended() async {
        let stream = JobEventStream()
        stream.finish()
        let first = await stream.next()
        let second = await stream.next()
        #expect(first == nil && second == nil)
    }

    @Test("a read by a cancelled task is nil, drops what the stream held and finishes it")
    func cancellation() async {
        let stream = JobEventStream()
        stream.yield(.started(status: 200, contentType: nil))
        stream.yield(.lines([ByteBuffer(string: "held")]))
        let reader = Task {
            var labels: [String] = []
            while let event = await stream.next() {
                labels.append(Self.label(event))
                // The reader cancels itself after its first event: the one still held must not be read.
                withUnsafeCurrentTask { $0?.cancel() }
            }
            return labels
        }
        let labels = await reader.value
        stream.yield(.lines([ByteBuffer(string: "after")]))
        let after = await stream.next()
        #expect(labels == ["started 200"])
        #expect(after == nil)
    }
}
