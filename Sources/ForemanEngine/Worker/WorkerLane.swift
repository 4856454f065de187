import ForemanDomain
import ForemanStore
import ForemanTarget
import Foundation
import NIOCore

/// What makes one lane's worker what it is (ADR 0008): which jobs it claims, how many run at once, and how a job
/// reaches the box. The ``Worker`` holds everything the lanes share: the runs, their slots, cancellation, the drain.
public protocol WorkerLane: Sendable {
    /// Runs at once: the capacity of the worker's ``GenerationSlots``.
    var capacity: Int { get }
    /// What the box speaks: it decides the request a job sends (``OutboundRequest``).
    var providerKind: ProviderKind { get }
    /// Whether `job` runs in this lane: its kind, and in a fleet its provider.
    func owns(_ job: Job) -> Bool
    /// Marks this lane's next job running and returns it; `nil` when none waits.
    func claim(from store: any JobStore) async throws -> Job?
    /// Which of the native calls waiting in memory runs next (ADR 0016), by the rule the store's claim follows.
    /// `lastStarted`: when each key last had a call started, for the keys' turns (ADR 0022).
    func choose(among waiting: [Scheduler.Candidate], now: Date, lastStarted: [String: Int64]) async -> Scheduler.Decision?
    /// Sends `job`'s request to the box, after whatever the lane prepares first. Throws ``TargetError`` as a target does.
    func send(_ request: TargetRequest, for job: Job) async throws -> TargetResponse
    /// The event loop a run should prefer, given the caller's (see ``OllamaTarget/eventLoop(near:)``).
    func eventLoop(near current: (any EventLoop)?) -> (any EventLoop)?
}

/// Chat and generate jobs, `concurrency` at a time (one unless the providers file says otherwise), picked by the
/// ``Scheduler``; the chat slot is given the job's model first.
public struct GenerationLane: WorkerLane {
    let target: any OllamaTarget
    let residency: Residency
    let policy: Scheduler.Policy
    let concurrency: Int
    let scope: ClaimScopeReader?
    public let providerKind: ProviderKind

    public init(target: any OllamaTarget, residency: Residency, policy: Scheduler.Policy) {
        self.init(target: target, residency: residency, policy: policy, concurrency: 1, scope: nil, kind: .ollama)
    }

    init(
        target: any OllamaTarget, residency: Residency, policy: Scheduler.Policy, concurrency: Int, scope: ClaimScopeReader?, kind: ProviderKind
    ) {
        self.target = target
        self.residency = residency
        self.policy = policy
        self.concurrency = concurrency
        self.scope = scope
        self.providerKind = kind
    }

    public var capacity: Int { max(1, concurrency) }

    private static let numCtxKey = RawJSONFields.QuotedKey("num_ctx")

    public func owns(_ job: Job) -> Bool { job.kind.lane == .generation && (scope?.runsHere(job) ?? true) }

    public func claim(from store: any JobStore) async throws -> Job? {
        try await store.claimNext(chatSlot: await residency.slots.chat, policy: policy, scope: await scope?.scope())
    }

    public func choose(among waiting: [Scheduler.Candidate], now: Date, lastStarted: [String: Int64]) async -> Scheduler.Decision? {
        Scheduler.decide(queue: waiting, chatSlot: await residency.slots.chat, now: now, policy: policy, lastStarted: lastStarted)
    }

    public func send(_ request: TargetRequest, for job: Job) async throws -> TargetResponse {
        guard providerKind == .ollama, !job.kind.isRelayed, let body = request.body else {
            try await prepare(job.model, numCtx: nil)
            return try await target.send(request)
        }
        // A model runs with the context size it was last sent with: an OpenAI call that asks for none gets it, so it
        // does not make Ollama reload the model for another (ADR 0019). A native call keeps Ollama's behaviour. The
        // body is parsed only when it names `num_ctx` at all, and the size is settled in the visit that prepares the slot.
        let asked = RawJSONFields.mentions(Self.numCtxKey, in: body) ? EmbedRequestRewriter.callerNumCtx(in: Array(body.readableBytesView)) : nil
        guard let added = try await prepare(job.model, numCtx: (asked, job.origin == .openai)) else {
            return try await target.send(request)
        }
        let edited = EmbedRequestRewriter.settingNumCtx(added, in: Array(body.readableBytesView))
        return try await target.send(TargetRequest(method: request.method, path: request.path, body: ByteBuffer(bytes: edited)))
    }

    public func eventLoop(near current: (any EventLoop)?) -> (any EventLoop)? {
        target.eventLoop(near: current)
    }

    /// Prepares the chat slot for a generation on `model` and returns the `num_ctx` to add, visiting the residency
    /// only when it has something to do: a visit puts the run behind all else waiting on its loop (ADR 0026).
    @discardableResult
    private func prepare(_ model: String, numCtx: (asked: Int?, inheriting: Bool)?) async throws -> Int? {
        if let added = residency.preparedGeneration(model, numCtx: numCtx) { return added }
        return try await residency.prepareForGeneration(model, numCtx: numCtx)
    }
}

/// `/jobs` embed jobs, a few at once, sent through the ``EmbeddingLane`` so that they share its admission and its
/// slot with the native embeddings calls.
public struct EmbeddingJobsLane: WorkerLane {
    let embeddings: EmbeddingLane
    let concurrency: Int
    let maxResponseBytes: Int
    let scope: ClaimScopeReader?
    /// `/jobs` embed jobs are native calls whatever the box: the embeddings lane translates for an engine.
    public var providerKind: ProviderKind { .ollama }

    public init(embeddings: EmbeddingLane, concurrency: Int, maxResponseBytes: Int) {
        self.init(embeddings: embeddings, concurrency: concurrency, maxResponseBytes: maxResponseBytes, scope: nil)
    }

    init(embeddings: EmbeddingLane, concurrency: Int, maxResponseBytes: Int, scope: ClaimScopeReader?) {
        self.embeddings = embeddings
        self.concurrency = concurrency
        self.maxResponseBytes = maxResponseBytes
        self.scope = scope
    }

    public var capacity: Int { max(1, concurrency) }

    private static let numCtxKey = RawJSONFields.QuotedKey("num_ctx")

    public func owns(_ job: Job) -> Bool { job.kind.lane == .embeddings && (scope?.runsHere(job) ?? true) }

    public func claim(from store: any JobStore) async throws -> Job? {
        try await store.claimNextEmbed(scope: await scope?.scope())
    }

    /// Native embeddings calls never wait here: they take the ``EmbeddingLane`` directly.
    public func choose(among waiting: [Scheduler.Candidate], now: Date, lastStarted: [String: Int64]) async -> Scheduler.Decision? { nil }

    public func send(_ request: TargetRequest, for job: Job) async throws -> TargetResponse {
        let answer = try await embeddings.send(path: request.path, model: job.model, body: request.body ?? ByteBuffer(), maxResponseBytes: maxResponseBytes)
        return TargetResponse(status: answer.status, contentType: answer.contentType, body: TargetBody(buffers: [answer.body]))
    }

    public func eventLoop(near current: (any EventLoop)?) -> (any EventLoop)? { nil }
}
