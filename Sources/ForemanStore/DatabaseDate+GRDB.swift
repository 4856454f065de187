import ForemanDomain
import Foundation
import GRDB

extension DatabaseDate {
    /// How job and delivery records store their dates.
    static let encoding = DatabaseDateEncodingStrategy.custom { storage($0) }
    /// How job and delivery records read their dates back (anything but foreman's own format goes to GRDB).
    static let decoding = DatabaseDateDecodingStrategy.custom(read)

    /// A stored date: foreman's own text, or anything else GRDB can read as a date.
    static func read(_ value: DatabaseValue) -> Date? {
        String.fromDatabaseValue(value).flatMap(date) ?? Date.fromDatabaseValue(value)
    }
}
