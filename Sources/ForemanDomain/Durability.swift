/// How far a committed state change must reach before the store reports it done (ADR 0010).
public enum Durability: Sendable, Equatable {
    /// On stable storage: survives a power cut.
    case full
    /// Committed, reaching stable storage with the next full commit: survives a crash of foreman; a power cut may
    /// lose it, never corrupt it.
    case deferred
}
