/// When foreman hands freed heap back to the system (ADR 0024): a pure rule over two readings of its resident size.
///
/// glibc keeps what a burst freed: a thousand waiting callers leave their pages mapped long after they are answered.
/// A trim gives back every free page, but it walks the heap holding each arena's lock, so it is made only when there
/// is something to give back: the resident size stands well above its idle figure.
public struct TrimPolicy: Sendable, Equatable {
    /// How far above the idle size the resident size must stand, at least, before a trim is worth its walk.
    public var margin: Int = 2 << 20
    /// The same, as a fraction of the idle size, when that is larger.
    public var fraction = 0.05

    public init() {}

    /// Whether to trim now, with `resident` bytes resident, `idle` the size after startup.
    public func shouldTrim(resident: Int, idle: Int) -> Bool {
        resident - idle >= max(margin, Int(Double(idle) * fraction))
    }
}
