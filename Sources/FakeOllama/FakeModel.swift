import Foundation

/// A model the fake target pretends to have installed.
public struct FakeModel: Sendable, Equatable {
    /// Full name with tag, for example `llama3.2:latest`.
    public var name: String
    /// Ollama capabilities: `completion`, `embedding`, `tools`, `thinking`, ...
    public var capabilities: [String]
    /// How long loading it into memory takes.
    public var loadTime: Duration
    public var family: String
    public var size: Int64

    public init(name: String, capabilities: [String] = ["completion"], loadTime: Duration = .zero, family: String = "llama", size: Int64 = 2_019_393_189) {
        self.name = name
        self.capabilities = capabilities
        self.loadTime = loadTime
        self.family = family
        self.size = size
    }

    public var canEmbed: Bool { capabilities.contains("embedding") }
    public var canGenerate: Bool { capabilities.contains("completion") }

    /// A stable 64-hex digest (Ollama's CLI slices the first 12 characters).
    public var digest: String {
        var hash: UInt64 = 0xcbf2_9ce4_8422_2325
        for byte in name.utf8 { hash = (hash ^ UInt64(byte)) &* 0x0100_0000_01b3 }
        return String(repeating: String(format: "%016llx", hash), count: 4)
    }

    /// The models a newcomer gets: two chat models, one that also thinks, and an embedding model.
    public static let defaults: [FakeModel] = [
        FakeModel(name: "llama3.2:latest", loadTime: .milliseconds(300)),
        FakeModel(name: "qwen2.5:7b", capabilities: ["completion", "tools"], loadTime: .milliseconds(500), family: "qwen2"),
        FakeModel(name: "nomic-embed-text:latest", capabilities: ["embedding"], loadTime: .milliseconds(100), family: "nomic-bert", size: 274_302_450),
    ]
}

/// A request the fake target received, for tests to inspect.
public struct RecordedRequest: Sendable, Equatable {
    public var method: String
    public var path: String
    public var host: String?
    public var authorization: String?
    public var body: String
}

/// A failure the fake target has been told to produce.
public struct FakeFailure: Sendable, Equatable, Codable {
    /// Only requests to this path fail; `nil` matches every path.
    public var path: String?
    /// The HTTP status of the failure (ignored when `afterTokens` is set: the stream has begun with 200).
    public var status: Int
    public var error: String
    /// When set, the stream starts normally and breaks after this many tokens with an `{"error"}` line.
    public var afterTokens: Int?
    /// How many requests it applies to.
    public var times: Int
    /// When set, the connection closes once the request has arrived, with no answer at all.
    public var drop: Bool
    /// Sent as `Retry-After` with the failure's status.
    public var retryAfter: Int?

    public init(path: String? = nil, status: Int = 500, error: String = "fake failure", afterTokens: Int? = nil, times: Int = 1, drop: Bool = false, retryAfter: Int? = nil) {
        self.path = path
        self.status = status
        self.error = error
        self.afterTokens = afterTokens
        self.times = times
        self.drop = drop
        self.retryAfter = retryAfter
    }

    public init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: CodingKeys.self)
        path = try container.decodeIfPresent(String.self, forKey: .path)
        status = try container.decodeIfPresent(Int.self, forKey: .status) ?? 500
        error = try container.decodeIfPresent(String.self, forKey: .error) ?? "fake failure"
        afterTokens = try container.decodeIfPresent(Int.self, forKey: .afterTokens)
        times = try container.decodeIfPresent(Int.self, forKey: .times) ?? 1
        drop = try container.decodeIfPresent(Bool.self, forKey: .drop) ?? false
        retryAfter = try container.decodeIfPresent(Int.self, forKey: .retryAfter)
    }

    enum CodingKeys: String, CodingKey { case path, status, error, afterTokens = "after_tokens", times, drop, retryAfter = "retry_after" }
}
