import NIOCore

extension Duration {
    /// The same span as a NIO `TimeAmount`, to the nanosecond (at most about 292 years).
    public var timeAmount: TimeAmount {
        let (seconds, attoseconds) = components
        guard seconds < Int64.max / 1_000_000_000 else { return .nanoseconds(.max) }
        return .nanoseconds(seconds * 1_000_000_000 + attoseconds / 1_000_000_000)
    }
}
