import Foundation

/// A calendar day in UTC: what usage is kept by, and when a key's tokens-per-day allowance starts again (ADR 0022).
public struct UTCDay: Sendable, Hashable, Comparable {
    /// Days since 1970-01-01.
    public let ordinal: Int

    public init(ordinal: Int) {
        self.ordinal = ordinal
    }

    /// The day `date` falls on, in UTC.
    public init(_ date: Date) {
        ordinal = Int((date.timeIntervalSince1970 / 86_400).rounded(.down))
    }

    /// Reads `yyyy-MM-dd`; `nil` for any other text or an impossible date.
    public init?(text: some StringProtocol) {
        let parts = text.split(separator: "-", omittingEmptySubsequences: false)
        guard parts.count == 3, parts[0].count == 4, parts[1].count == 2, parts[2].count == 2,
            parts.allSatisfy({ $0.utf8.allSatisfy { (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) } }),
            let year = Int(parts[0]), let month = Int(parts[1]), let day = Int(parts[2])
        else { return nil }
        let ordinal = DatabaseDate.daysFromCivil(year: year, month: month, day: day)
        // 2026-02-30 is not a day: it would come back as another.
        guard DatabaseDate.civilFromDays(ordinal) == (year, month, day) else { return nil }
        self.ordinal = ordinal
    }

    /// `yyyy-MM-dd`, as usage rows and the usage API write it.
    public var text: String {
        let (year, month, day) = DatabaseDate.civilFromDays(ordinal)
        func padded(_ value: Int, _ width: Int) -> String {
            let digits = String(value)
            return String(repeating: "0", count: max(0, width - digits.count)) + digits
        }
        return padded(year, 4) + "-" + padded(month, 2) + "-" + padded(day, 2)
    }

    /// The moment the next day begins.
    public var end: Date { Date(timeIntervalSince1970: Double(ordinal + 1) * 86_400) }

    public func adding(days: Int) -> UTCDay { UTCDay(ordinal: ordinal + days) }

    public static func < (a: UTCDay, b: UTCDay) -> Bool { a.ordinal < b.ordinal }
}
