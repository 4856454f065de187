import Foundation

/// The keys API (ADR 0022), for `foreman keys …`.
extension JobsClient {
    /// A key's fields as the keys API takes them: only those set are sent; a limit given as 0 is sent as `null`
    /// (lifted).
    public struct KeyFields: Sendable {
        public var name: String?
        public var scopes: [String]?
        public var priorityCeiling: Int?
        public var maxConcurrent: Int?
        public var requestsPerMinute: Int?
        public var tokensPerDay: Int?

        public init(
            name: String? = nil, scopes: [String]? = nil, priorityCeiling: Int? = nil, maxConcurrent: Int? = nil, requestsPerMinute: Int? = nil,
            tokensPerDay: Int? = nil
        ) {
            self.name = name
            self.scopes = scopes
            self.priorityCeiling = priorityCeiling
            self.maxConcurrent = maxConcurrent
            self.requestsPerMinute = requestsPerMinute
            self.tokensPerDay = tokensPerDay
        }

        var body: [String: Any] {
            var body: [String: Any] = [:]
            if let name { body["name"] = name }
            if let scopes { body["scopes"] = scopes }
            if let priorityCeiling { body["priority_ceiling"] = priorityCeiling }
            for (field, value) in [("max_concurrent", maxConcurrent), ("requests_per_minute", requestsPerMinute), ("tokens_per_day", tokensPerDay)] {
                if let value { body[field] = value == 0 ? NSNull() : value }
            }
            return body
        }
    }

    public func createKey(_ fields: KeyFields) async throws -> Answer {
        try await send(.POST, "/admin/keys", body: try JSONSerialization.data(withJSONObject: fields.body, options: [.sortedKeys]))
    }

    public func keys() async throws -> Answer {
        try await send(.GET, "/admin/keys")
    }

    public func updateKey(_ id: String, _ fields: KeyFields) async throws -> Answer {
        try await send(.PATCH, "/admin/keys/\(Self.escape(id))", body: try JSONSerialization.data(withJSONObject: fields.body, options: [.sortedKeys]))
    }

    public func revokeKey(_ id: String) async throws -> Answer {
        try await send(.DELETE, "/admin/keys/\(Self.escape(id))")
    }

    /// Usage by key, model and UTC day (`GET /admin/usage`), from day `from` to day `to` (`yyyy-MM-dd`), of key `key`
    /// (a name or an id) or of every key.
    public func usage(from: String?, to: String?, key: String?) async throws -> Answer {
        let query = [("from", from), ("to", to), ("key", key)].compactMap { name, value in value.map { name + "=" + Self.escape($0) } }
        return try await send(.GET, "/admin/usage" + (query.isEmpty ? "" : "?" + query.joined(separator: "&")))
    }
}
