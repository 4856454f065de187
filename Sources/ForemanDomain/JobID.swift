import Foundation

/// Makes job identifiers that sort by creation time.
public enum JobID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// A new identifier: 48 bits of milliseconds and 80 random bits, ULID-style.
    public static func make(now: Date = Date()) -> String {
        var value = [UInt8](repeating: 0, count: 16)
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        for i in 0..<6 { value[i] = UInt8((millis >> (8 * UInt64(5 - i))) & 0xFF) }
        // Two 64-bit draws cover the 80 random bits: each draw is a `getrandom` call, so one per byte cost ten.
        var rng = SystemRandomNumberGenerator()
        let high: UInt64 = rng.next(), low: UInt64 = rng.next()
        for i in 6..<8 { value[i] = UInt8(truncatingIfNeeded: high >> (8 * UInt64(i - 6))) }
        for i in 8..<16 { value[i] = UInt8(truncatingIfNeeded: low >> (8 * UInt64(i - 8))) }
        // 128 bits → 26 base-32 characters, most significant first.
        var chars: [UInt8] = Array("job_".utf8)
        chars.reserveCapacity(30)
        var bitBuffer: UInt32 = 0
        var bitCount = 2  // pad 2 leading zero bits so 130 bits split evenly
        for byte in value {
            bitBuffer = (bitBuffer << 8) | UInt32(byte)
            bitCount += 8
            while bitCount >= 5 {
                bitCount -= 5
                chars.append(alphabet[Int((bitBuffer >> UInt32(bitCount)) & 31)])
            }
        }
        return String(decoding: chars, as: UTF8.self)
    }
}
