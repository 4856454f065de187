import Foundation

/// Type tests for `JSONSerialization` values that hold on Linux too, where every `NSNumber` also casts to `Bool`.
public enum JSONValue {
    private static let booleanType = type(of: NSNumber(value: true))

    public static func isBool(_ value: Any) -> Bool {
        guard let number = value as? NSNumber else { return false }
        return type(of: number) == booleanType
    }

    public static func isNumber(_ value: Any) -> Bool {
        value is NSNumber && !isBool(value)
    }
}
