import ForemanDomain

/// What one key used of one model on one UTC day (ADR 0022): a row of the `usage` table, and of the usage API.
public struct UsageRow: Sendable, Equatable {
    /// The key's id (`key_admin` for the bootstrap key).
    public var keyID: String
    /// The model as its box names it.
    public var model: String
    public var day: UTCDay
    public var requests: Int
    public var promptTokens: Int
    public var generatedTokens: Int
    public var generationSeconds: Double

    public init(keyID: String, model: String, day: UTCDay, requests: Int, promptTokens: Int, generatedTokens: Int, generationSeconds: Double) {
        self.keyID = keyID
        self.model = model
        self.day = day
        self.requests = requests
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.generationSeconds = generationSeconds
    }

    /// One call's usage: a request, with the tokens and seconds its box reported.
    public init(keyID: String, model: String, day: UTCDay, usage: JobUsage) {
        self.init(
            keyID: keyID, model: model, day: day, requests: 1, promptTokens: usage.promptTokens, generatedTokens: usage.generatedTokens,
            generationSeconds: usage.seconds
        )
    }

    /// The usage of `job`, which ended with ``Job/usage`` set: its key's, on the day it finished.
    public init?(of job: Job) {
        guard let usage = job.usage else { return nil }
        self.init(keyID: job.owner ?? APIKey.bootstrap.id, model: job.model, day: UTCDay(job.finishedAt ?? job.createdAt), usage: usage)
    }

    /// `rows` added up by key, model and day, in the order each first appears.
    public static func summed(_ rows: [UsageRow]) -> [UsageRow] {
        guard rows.count > 1 else { return rows }
        var sums: [UsageRow] = []
        var index: [String: Int] = [:]
        for row in rows {
            let key = row.keyID + "\u{0}" + row.model + "\u{0}" + String(row.day.ordinal)
            guard let at = index[key] else {
                index[key] = sums.count
                sums.append(row)
                continue
            }
            sums[at].requests += row.requests
            sums[at].promptTokens += row.promptTokens
            sums[at].generatedTokens += row.generatedTokens
            sums[at].generationSeconds += row.generationSeconds
        }
        return sums
    }
}
