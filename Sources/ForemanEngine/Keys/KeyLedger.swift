import ForemanDomain
import Foundation
import Synchronization

/// Each key's running account (ADR 0022): its generations queued or running, the tokens it used today, and its usage
/// series on `/metrics`. Admission reads and reserves from it; every call's end settles in it.
///
/// Ends are told by the ``JobTransitionObserver``, which is called synchronously as each change is committed (or, for a
/// native call, as it happens), before the caller is answered. The account is therefore a lock around a dictionary,
/// not an actor: a message to an actor could arrive after the caller's next request, which would then be refused for
/// work that had already ended. No critical section does more than a dictionary update.
public final class KeyLedger: Sendable {
    private struct Account {
        /// Generations queued or running: `/jobs` jobs and native calls, not batch lines.
        var active = 0
        /// Prompt and generated tokens on `day`.
        var day = UTCDay(ordinal: 0)
        var tokens = 0
        /// The key's usage series, made on first use.
        var counters: KeyCounters?
    }

    private struct State {
        var accounts: [String: Account] = [:]
        /// Each key's name, the label of its series.
        var names: [String: String] = [APIKey.bootstrap.id: APIKey.bootstrap.name]
    }

    private let state = Mutex(State())
    private let metrics: ForemanMetrics

    public init(metrics: ForemanMetrics = .disabled) {
        self.metrics = metrics
    }

    /// Whether a concurrency cap counts `job`: a key's generation, not a batch line (a batch is bounded by its
    /// lines) and not an embedding.
    public static func counts(_ job: Job) -> Bool {
        job.owner != nil && job.kind != .embed && job.origin != .batch
    }

    /// Starts from the store's figures: each key's generations queued or running, and its tokens on `day`.
    public func load(active: [String: Int], tokens: [String: Int], on day: UTCDay) {
        state.withLock { state in
            for id in Set(state.accounts.keys).union(active.keys).union(tokens.keys) {
                var account = state.accounts[id] ?? Account()
                account.active = active[id] ?? 0
                (account.day, account.tokens) = (day, tokens[id] ?? 0)
                state.accounts[id] = account
            }
        }
    }

    /// Key `id` is now named `name`; `nil`: it was revoked, and its series go.
    public func name(_ id: String, _ name: String?) {
        let retired = state.withLock { state -> KeyCounters? in
            guard state.names[id] != name else { return nil }
            state.names[id] = name
            defer { state.accounts[id]?.counters = nil }
            return state.accounts[id]?.counters
        }
        retired?.destroy()
    }

    /// Counts one more generation of key `owner`, unless it has `cap` already; whether it did.
    public func reserve(owner: String, cap: Int?) -> Bool {
        state.withLock { state in
            let active = state.accounts[owner]?.active ?? 0
            if let cap, active >= cap { return false }
            state.accounts[owner, default: Account()].active = active + 1
            return true
        }
    }

    /// Counts one generation of key `owner` less: it ended, or was never admitted after ``reserve(owner:cap:)``.
    public func release(owner: String) {
        state.withLock { state in
            if let active = state.accounts[owner]?.active, active > 0 { state.accounts[owner]?.active = active - 1 }
        }
    }

    /// Key `owner`'s generations queued or running.
    public func active(owner: String) -> Int {
        state.withLock { $0.accounts[owner]?.active ?? 0 }
    }

    /// Key `owner`'s prompt and generated tokens on `day`.
    public func tokens(owner: String, on day: UTCDay) -> Int {
        state.withLock { state in
            guard let account = state.accounts[owner], account.day == day else { return 0 }
            return account.tokens
        }
    }

    /// A request of `key` was refused for its `limit` (`rate`, `tokens` or `concurrency`): counted on `/metrics`.
    public func refused(_ key: APIKey, limit: String) {
        metrics.keyRefusal(name: key.name, limit: limit)
    }

    /// `job` ended: its reservation goes, and its usage is added.
    func ended(_ job: Job) {
        if Self.counts(job), let owner = job.owner { release(owner: owner) }
        if let usage = job.usage { add(usage, owner: job.owner, on: UTCDay(job.finishedAt ?? Date())) }
    }

    /// Adds a call's usage to key `owner`'s account (`nil`: the bootstrap key's) and to its series.
    public func add(_ usage: JobUsage, owner: String?, on day: UTCDay) {
        let id = owner ?? APIKey.bootstrap.id
        let counters = state.withLock { state -> KeyCounters? in
            var account = state.accounts[id] ?? Account()
            if account.day < day { (account.day, account.tokens) = (day, 0) }
            if account.day == day { account.tokens += usage.tokens }
            if account.counters == nil, let name = state.names[id] { account.counters = metrics.keyCounters(name: name) }
            state.accounts[id] = account
            return account.counters
        }
        counters?.add(usage)
    }
}
