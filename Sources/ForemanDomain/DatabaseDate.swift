import Foundation

/// Dates as foreman stores them (GRDB's own text, `yyyy-MM-dd HH:mm:ss.SSS` in UTC) and shows them
/// (`yyyy-MM-ddTHH:mm:ss.SSSZ`), written and read with arithmetic.
///
/// GRDB writes every `Date` through a `DateFormatter` and reads it back through a `Calendar`. Both load ICU's
/// locale data on first use (about 5 MB of resident memory) and cost microseconds for each date of each row, on
/// every state change of every job (ADR 0010). The text is byte for byte what GRDB writes, so rows written before
/// and after mix, and text comparisons in SQL (`finished_at < ?`) still order by time.
public enum DatabaseDate {
    /// `yyyy-MM-dd HH:mm:ss.SSS` in UTC, the form in the database.
    public static func storage(_ date: Date) -> String {
        format(date, separator: " ", suffix: "")
    }

    /// `yyyy-MM-ddTHH:mm:ss.SSSZ`, the form in JSON.
    public static func iso8601(_ date: Date) -> String {
        format(date, separator: "T", suffix: "Z")
    }

    /// Reads either form back; `nil` for any other text.
    public static func date(_ text: String) -> Date? {
        var utf8 = Array(text.utf8)
        if utf8.count == 24, utf8[23] == UInt8(ascii: "Z") { utf8.removeLast() }
        guard utf8.count == 23, utf8[10] == UInt8(ascii: " ") || utf8[10] == UInt8(ascii: "T") else { return nil }
        func number(_ range: Range<Int>) -> Int? { decimal(utf8[range]) }
        let separators: [(Int, UInt8)] = [(4, UInt8(ascii: "-")), (7, UInt8(ascii: "-")), (13, UInt8(ascii: ":")), (16, UInt8(ascii: ":")), (19, UInt8(ascii: "."))]
        guard separators.allSatisfy({ utf8[$0.0] == $0.1 }) else { return nil }
        guard let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19), let millis = number(20..<23),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = ((days * 24 + hour) * 60 + minute) * 60 + second
        return Date(timeIntervalSince1970: Double(seconds) + Double(millis) / 1000)
    }

    /// Whole seconds since 1970 of any RFC 3339 time (`2026-12-05T15:45:00.123456789-07:00`), as Ollama writes
    /// `created_at` and `modified_at`: any fraction, `Z` or an offset. `nil` for any other text.
    public static func unixSeconds(rfc3339 text: String) -> Int? {
        let utf8 = Array(text.utf8)
        guard utf8.count >= 20 else { return nil }
        func number(_ range: Range<Int>) -> Int? { decimal(utf8[range]) }
        let separators: [(Int, UInt8)] = [(4, UInt8(ascii: "-")), (7, UInt8(ascii: "-")), (13, UInt8(ascii: ":")), (16, UInt8(ascii: ":"))]
        guard separators.allSatisfy({ utf8[$0.0] == $0.1 }), [UInt8(ascii: "T"), UInt8(ascii: "t"), UInt8(ascii: " ")].contains(utf8[10]),
            let year = number(0..<4), let month = number(5..<7), let day = number(8..<10),
            let hour = number(11..<13), let minute = number(14..<16), let second = number(17..<19),
            (1...12).contains(month), (1...31).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var index = 19
        if utf8[index] == UInt8(ascii: ".") {
            index += 1
            let digits = index
            while index < utf8.count, (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(utf8[index]) { index += 1 }
            guard index > digits else { return nil }
        }
        guard index < utf8.count else { return nil }
        var offset = 0
        switch utf8[index] {
        case UInt8(ascii: "Z"), UInt8(ascii: "z"):
            guard index + 1 == utf8.count else { return nil }
        case UInt8(ascii: "+"), UInt8(ascii: "-"):
            guard index + 6 == utf8.count, utf8[index + 3] == UInt8(ascii: ":"),
                let hours = number(index + 1..<index + 3), let minutes = number(index + 4..<index + 6), hours < 24, minutes < 60
            else { return nil }
            offset = (hours * 60 + minutes) * 60 * (utf8[index] == UInt8(ascii: "-") ? -1 : 1)
        default:
            return nil
        }
        let days = daysFromCivil(year: year, month: month, day: day)
        return ((days * 24 + hour) * 60 + minute) * 60 + second - offset
    }

    /// The value of ASCII decimal digits; `nil` if any byte is not one.
    private static func decimal(_ digits: ArraySlice<UInt8>) -> Int? {
        var value = 0
        for byte in digits {
            guard (UInt8(ascii: "0")...UInt8(ascii: "9")).contains(byte) else { return nil }
            value = value * 10 + Int(byte - UInt8(ascii: "0"))
        }
        return value
    }

    private static func format(_ date: Date, separator: Character, suffix: String) -> String {
        // The nearest whole millisecond, as GRDB's formatter writes it.
        let totalMillis = Int((date.timeIntervalSince1970 * 1000).rounded())
        let (days, millisOfDay) = floorDivide(totalMillis, 86_400_000)
        let (year, month, day) = civilFromDays(days)
        let seconds = millisOfDay / 1000
        var text = ""
        text.reserveCapacity(24)
        append(&text, year, width: 4)
        text.append("-")
        append(&text, month, width: 2)
        text.append("-")
        append(&text, day, width: 2)
        text.append(separator)
        append(&text, seconds / 3600, width: 2)
        text.append(":")
        append(&text, seconds / 60 % 60, width: 2)
        text.append(":")
        append(&text, seconds % 60, width: 2)
        text.append(".")
        append(&text, millisOfDay % 1000, width: 3)
        text.append(suffix)
        return text
    }

    private static func append(_ text: inout String, _ value: Int, width: Int) {
        let digits = String(value)
        if digits.count < width { text.append(String(repeating: "0", count: width - digits.count)) }
        text.append(digits)
    }

    private static func floorDivide(_ value: Int, _ divisor: Int) -> (quotient: Int, remainder: Int) {
        let quotient = value >= 0 ? value / divisor : -((-value + divisor - 1) / divisor)
        return (quotient, value - quotient * divisor)
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
    public static func daysFromCivil(year: Int, month: Int, day: Int) -> Int {
        let y = month <= 2 ? year - 1 : year
        let era = floorDivide(y, 400).quotient
        let yearOfEra = y - era * 400
        let dayOfYear = (153 * (month + (month > 2 ? -3 : 9)) + 2) / 5 + day - 1
        let dayOfEra = yearOfEra * 365 + yearOfEra / 4 - yearOfEra / 100 + dayOfYear
        return era * 146_097 + dayOfEra - 719_468
    }

    /// The proleptic Gregorian date `days` after 1970-01-01 (Howard Hinnant's `civil_from_days`).
    public static func civilFromDays(_ days: Int) -> (year: Int, month: Int, day: Int) {
        let z = days + 719_468
        let era = floorDivide(z, 146_097).quotient
        let dayOfEra = z - era * 146_097
        let yearOfEra = (dayOfEra - dayOfEra / 1460 + dayOfEra / 36524 - dayOfEra / 146_096) / 365
        let dayOfYear = dayOfEra - (365 * yearOfEra + yearOfEra / 4 - yearOfEra / 100)
        let shiftedMonth = (5 * dayOfYear + 2) / 153
        let day = dayOfYear - (153 * shiftedMonth + 2) / 5 + 1
        let month = shiftedMonth < 10 ? shiftedMonth + 3 : shiftedMonth - 9
        return (yearOfEra + era * 400 + (month <= 2 ? 1 : 0), month, day)
    }
}
