@testable import ForemanApp
import Foundation
import Testing

@Suite("HTTP date")
struct HTTPDateTests {
    @Test("the Date header is RFC 9110's IMF-fixdate, in English whatever the locale")
    func imfFixdate() {
        #expect(HTTPDate.format(784_111_777) == "Sun, 06 Nov 1994 08:49:37 GMT")  // RFC 9110, section 5.6.7
        #expect(HTTPDate.format(0) == "Thu, 01 Jan 1970 00:00:00 GMT")
        #expect(HTTPDate.format(1_798_761_599) == "Thu, 31 Dec 2026 23:59:59 GMT")
        let now = HTTPDate().now
        let formatter = DateFormatter()
        formatter.locale = Locale(identifier: "en_US_POSIX")
        formatter.timeZone = TimeZone(identifier: "GMT")
        formatter.dateFormat = "EEE, dd MMM yyyy HH:mm:ss 'GMT'"
        let read = formatter.date(from: now)
        #expect(read.map { abs($0.timeIntervalSinceNow) < 5 } == true, "\(now)")
    }
}
