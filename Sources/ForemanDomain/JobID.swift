import Foundation

/// Makes job identifiers that sort by creation time.
public enum JobID {
    private static let alphabet = Array("0123456789ABCDEFGHJKMNPQRSTVWXYZ".utf8)

    /// A new identifier: 48 bits of milliseconds and 80 random bits, ULID-style.
    public static func make(now: Date = Date()) -> String {
        let millis = UInt64(max(0, now.timeIntervalSince1970 * 1000))
        // Two 64-bit draws cover the 80 random bits: each draw is a `getrandom` call, so one per byte cost ten.
        var generator = SystemRandomNumberGenerator()
        let random: UInt64 = generator.next()
        // The 128 bits, most significant first: the milliseconds, then 16 and 64 random bits.
        let high = (millis & 0xFFFF_FFFF_FFFF) << 16 | random & 0xFFFF
        let low: UInt64 = generator.next()
        // 26 base-32 characters, with 2 leading zero bits so that 130 bits split evenly.
        return String(unsafeUninitializedCapacity: prefix.count + 26) { characters in
            for (offset, byte) in prefix.enumerated() { characters[offset] = byte }
            for digit in 0..<26 {
                let shift = 125 - 5 * digit
                let bits =
                    shift >= 64 ? high >> UInt64(shift - 64) : shift == 0 ? low : low >> UInt64(shift) | high << UInt64(64 - shift)
                characters[prefix.count + digit] = alphabet[Int(bits & 31)]
            }
            return prefix.count + 26
        }
    }

    private static let prefix = Array("job_".utf8)
}
