import Foundation

/// A caller's key (ADR 0022): who it is, what it may do, and its limits. Its secret is never kept, only a hash of it.
public struct APIKey: Sendable, Equatable {
    /// What a key may use.
    public enum Scope: String, Sendable, CaseIterable, Comparable {
        /// Generations and embeddings, native and OpenAI's.
        case inference
        /// `/jobs`, files and batches.
        case jobs
        /// Ollama's model management.
        case models
        /// The keys API, usage, and everyone's work.
        case admin

        public static func < (a: Scope, b: Scope) -> Bool { a.rawValue < b.rawValue }
    }

    public var id: String
    /// Unique among keys; shown in listings, logs and metrics.
    public var name: String
    public var scopes: Set<Scope>
    /// The highest priority a `/jobs` submission of this key gets.
    public var priorityCeiling: Int?
    /// Its generations queued or running at once.
    public var maxConcurrent: Int?
    public var requestsPerMinute: Int?
    /// Prompt and generated tokens per UTC day.
    public var tokensPerDay: Int?
    public var createdAt: Date
    public var revokedAt: Date?

    public init(
        id: String = APIKey.makeID(), name: String, scopes: Set<Scope>, priorityCeiling: Int? = nil, maxConcurrent: Int? = nil,
        requestsPerMinute: Int? = nil, tokensPerDay: Int? = nil, createdAt: Date = Date(), revokedAt: Date? = nil
    ) {
        self.id = id
        self.name = name
        self.scopes = scopes
        self.priorityCeiling = priorityCeiling
        self.maxConcurrent = maxConcurrent
        self.requestsPerMinute = requestsPerMinute
        self.tokensPerDay = tokensPerDay
        self.createdAt = createdAt
        self.revokedAt = revokedAt
    }

    /// `FOREMAN_TOKEN`'s key: every scope, no limit, never stored.
    public static let bootstrap = APIKey(
        id: "key_admin", name: "admin", scopes: Set(Scope.allCases), createdAt: Date(timeIntervalSince1970: 0)
    )

    /// What a job, batch or file this key makes records as its owner: `nil` for the bootstrap key.
    public var ownerID: String? { id == Self.bootstrap.id ? nil : id }

    /// Whether this key may see and touch work owned by `owner`: its own, or anyone's with the admin scope.
    public func reaches(_ owner: String?) -> Bool {
        scopes.contains(.admin) || (owner != nil && owner == ownerID)
    }

    /// The listing filter for this key: its own work, or everything with the admin scope.
    public var listedOwner: String? { scopes.contains(.admin) ? nil : id }

    /// `key_` and a ULID in lowercase.
    public static func makeID() -> String {
        "key_" + JobID.make().dropFirst("job_".count).lowercased()
    }

    /// Whether `name` may name a key: 1 to 64 of `a`–`z`, `0`–`9`, `_` and `-`.
    public static func isValidName(_ name: String) -> Bool {
        (1...64).contains(name.utf8.count)
            && name.utf8.allSatisfy { (UInt8(ascii: "a")...UInt8(ascii: "z")).contains($0) || (UInt8(ascii: "0")...UInt8(ascii: "9")).contains($0) || $0 == UInt8(ascii: "_") || $0 == UInt8(ascii: "-") }
    }
}
