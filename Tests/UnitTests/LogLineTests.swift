import ForemanEngine
@testable import ForemanApp
@testable import ForemanHTTP
import ForemanTestSupport
import Foundation
import GRDB
import Logging
import NIOCore
import Testing

@Suite("Log lines")
struct LogLineTests {
    @Test("logfmt values are bare when plain, quoted and escaped otherwise, and read back as written")
    func logfmtValues() {
        let lines = LogLines()
        var logger = Logger(label: "t") { LogfmtLogHandler(label: $0, write: lines.append) }
        logger.logLevel = .info
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
}
