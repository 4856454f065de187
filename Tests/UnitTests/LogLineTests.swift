import ForemanEngine
@testable import ForemanApp
@testable import ForemanHTTP
import ForemanTestSupport
import Foundation
import GRDB
import Logging
import NIOCore
import Synchronization
import Testing

@Suite("Log lines")
struct LogLineTests {
    @Test("logfmt values are bare when plain, quoted and escaped otherwise, and read back as written")
    func logfmtValues() {
        let lines = LogLines()
        var logger = lines.logger("t")
        logger[metadataKey: "error"] = "overridden by each call"
        logger[metadataKey: "component"] = "test"
        let awkward = ["plain", "", "two words", #"say "hi""#, "a=b", #"back\slash"#, "line\nbreak\ttab", "émoji 🦙"]
        for (index, value) in awkward.enumerated() {
            logger.info("value \(index)", metadata: ["v": "\(value)", "error": "ollama target unreachable: connection refused"])
        }
        let read = lines.all.map(LogfmtReader.fields)
        #expect(read.map { $0["v"] } == awkward)
        #expect(read.allSatisfy { $0["error"] == "ollama target unreachable: connection refused" && $0["level"] == "info" })
        #expect(read.allSatisfy { $0["component"] == "test" })
        #expect(read.map { $0["msg"] } == awkward.indices.map { "value \($0)" })
        #expect(lines.all[0].contains(" v=plain"))
        #expect(lines.all.allSatisfy { $0.hasSuffix("\n") && $0.dropLast().allSatisfy { $0 != "\n" } })
    }

    @Test("a request's duration is milliseconds with two decimals, rounded")
    func durations() {
        let cases: [(Duration, String)] = [
            (.zero, "0.00"), (.microseconds(734), "0.73"), (.microseconds(735), "0.74"), (.microseconds(5), "0.01"),
            (.milliseconds(12), "12.00"), (.seconds(3) + .microseconds(99_996), "3100.00"), (.seconds(61), "61000.00"),
        ]
        for (duration, text) in cases {
            #expect(RequestLogMiddleware<ConnectionContext>.milliseconds(duration) == text)
        }
    }

    /// Bytes a ``LogLineWriter`` wrote, as text.
    final class Written: Sendable {
        private let text = Mutex("")
        var all: String { text.withLock { $0 } }
        @Sendable func append(_ bytes: UnsafeRawBufferPointer) { text.withLock { $0 += String(decoding: bytes, as: UTF8.self) } }
    }

    @Test("log lines go out from the writer's thread; a warning goes out before its call returns, with every line before it")
    func writerThread() async throws {
        let written = Written()
        // A window no test waits out: what is written here was written by a flush.
        let held = LogLineWriter(descriptor: -1, window: .seconds(3600), sink: written.append)
        var logger = Logger(label: "t") { LogfmtLogHandler(label: $0, write: held.append, flush: held.flush) }
        logger.logLevel = .info
        logger.info("first")
        logger.notice("second")
        #expect(written.all.isEmpty)
        logger.warning("third")
        #expect(written.all.split(separator: "\n").map { LogfmtReader.fields(String($0))["msg"] } == ["first", "second", "third"])

        let prompt = LogLineWriter(descriptor: -1, window: .milliseconds(1), sink: written.append)
        prompt.append(LogRecord(level: .info, message: "fourth"))
        try await eventually("the writer's thread wrote the line") { written.all.hasSuffix(" msg=fourth\n") }
    }

    @Test("lines logged at once from many threads are written whole; past the bound they are dropped and counted")
    func writerBoundAndWholeLines() {
        let written = Written()
        let writer = LogLineWriter(descriptor: -1, window: .seconds(3600), sink: written.append)
        DispatchQueue.concurrentPerform(iterations: 1000) { index in
            writer.append(LogRecord(level: .info, message: "line", fields: ["index": "\(index)", "pad": "\(String(repeating: "x", count: 40))"]))
        }
        writer.flush()
        let lines = written.all.split(separator: "\n").map { LogfmtReader.fields(String($0)) }
        #expect(lines.count == 1000)
        #expect(Set(lines.compactMap { $0["index"] }).count == 1000)
        #expect(lines.allSatisfy { $0["msg"] == "line" && $0["pad"]?.count == 40 })

        let small = Written()
        let bounded = LogLineWriter(descriptor: -1, window: .seconds(3600), limit: 2, sink: small.append)
        let record = LogRecord(level: .info, message: "kept")
        for _ in 0..<4 { bounded.append(record) }  // the third and fourth do not fit
        bounded.flush()
        #expect(small.all == record.line + record.line)
        bounded.append(LogRecord(level: .info, message: "after"))
        bounded.flush()
        let after = small.all.split(separator: "\n").dropFirst(2).map { LogfmtReader.fields(String($0)) }
        #expect(after.count == 2)
        #expect(after.first?["level"] == "warning" && after.first?["lines"] == "2", "\(after)")
        #expect(after.last?["msg"] == "after")
    }
}

