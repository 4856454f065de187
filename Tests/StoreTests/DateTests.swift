import ForemanEngine
import ForemanDomain
@testable import ForemanApp
@testable import ForemanHTTP
@testable import ForemanStore
import ForemanTestSupport
import Foundation
import GRDB
import Logging
import NIOCore
import Testing

@Suite("Dates")
struct DateTests {
    @Test("foreman's date text is GRDB's, byte for byte, and reads back to the millisecond", arguments: [1, 2] as [UInt64])
    func matchesGRDB(seed: UInt64) throws {
        var random = SplitMix64(state: seed)
        // From 1900 to 2200, with the edges of days, leap days and the epoch among them.
        var dates = [0, -1, 951_782_400, 951_868_799.999, 4_107_542_400].map { Date(timeIntervalSince1970: $0) }
        dates += (0..<500).map { _ in Date(timeIntervalSince1970: Double(Int64(random.next() % 9_467_280_000_000) - 2_208_988_800_000) / 1000) }
        dates += (0..<500).map { _ in Date(timeIntervalSince1970: Double(Int64(random.next() % 9_467_280_000_000_000) - 2_208_988_800_000_000) / 1_000_000) }
        for date in dates {
            let ours = DatabaseDate.storage(date)
            #expect(ours == String.fromDatabaseValue(date.databaseValue), "\(date.timeIntervalSince1970)")
            let back = try #require(DatabaseDate.date(ours))
            #expect(abs(back.timeIntervalSince(date)) < 0.001)
            #expect(DatabaseDate.date(DatabaseDate.iso8601(date)) == back)
        }
    }

    @Test("JSON timestamps are ISO 8601 in UTC with milliseconds; other text is refused")
    func iso8601() {
        #expect(Timestamp.string(Date(timeIntervalSince1970: 1_795_379_093.3114)) == "2026-11-22T20:24:53.311Z")
        let read = Timestamp.date("2026-11-22T20:24:53.311Z")?.timeIntervalSince1970 ?? 0
        #expect(abs(read - 1_795_379_093.311) < 0.000_01)
        for bad in ["", "2026-11-21", "2026-13-21T20:24:53.311Z", "2026-11-21T20:24:53.31Z", "2026-11-21X20:24:53.311Z", "２026-11-21T20:24:53.311Z"] {
            #expect(Timestamp.date(bad) == nil, "\(bad)")
        }
    }

    @Test("an RFC 3339 time as Ollama writes it reads to the second: any fraction, Z or an offset; other text is refused")
    func rfc3339() {
        for text in ["2026-12-05T10:00:00.123456789Z", "2026-12-05T11:30:00+01:30", "2026-12-05T02:00:00.5-08:00", "2026-12-05 10:00:00z"] {
            #expect(DatabaseDate.unixSeconds(rfc3339: text) == 1_796_464_800, "\(text)")
        }
        #expect(DatabaseDate.unixSeconds(rfc3339: "1969-12-31T23:59:59Z") == -1)
        let bad = [
            "", "2026-12-05", "2026-12-05T10:00:00", "2026-12-05T10:00:00.Z", "2026-12-05T10:00:00+0100", "2026-12-05T10:00:00Zjunk",
            "2026-13-05T10:00:00Z", "2026-12-05T10:00:00+01:00x", "2026-12-05T10:60:00Z", "2026-12-05X10:00:00Z", "２026-12-05T10:00:00Z",
        ]
        for text in bad { #expect(DatabaseDate.unixSeconds(rfc3339: text) == nil, "\(text)") }
        // Against Foundation's own reader and writer, in UTC and at offsets either side.
        var random = SplitMix64(state: 3)
        for offset in [0, -25_200, 19_800] {
            let formatter = ISO8601DateFormatter()
            formatter.timeZone = TimeZone(secondsFromGMT: offset)
            for _ in 0..<200 {
                let seconds = Int(random.next() % 6_000_000_000) - 2_000_000_000
                let text = formatter.string(from: Date(timeIntervalSince1970: Double(seconds)))
                #expect(DatabaseDate.unixSeconds(rfc3339: text) == seconds, "\(text)")
            }
        }
    }
}
