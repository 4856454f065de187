import ForemanDomain
import ForemanStore
import ForemanTarget
import Logging

/// One GPU box behind foreman: its client, what it holds (the inventory and the two residency slots), and the two
/// workers that run its jobs, `concurrency` generations at a time beside the embeddings lane.
///
/// The engine holds a ``Fleet`` of these, each drained by its own workers (ADR 0017).
public struct Provider: Sendable {
    /// What shapes a provider's behaviour; the app's configuration makes it.
    public struct Settings: Sendable {
        public var scheduling: Scheduler.Policy
        /// Models declared as embeddings models (`FOREMAN_EMBED_MODELS`).
        public var embeddingModels: Set<String>
        public var pollInterval: Duration
        public var inventoryRefreshMinimum: Duration
        public var embeddingConcurrency: Int
        public var embeddingNumCtx: Int?
        /// Embeddings requests that may wait for the lane at once.
        public var embeddingMaxWaiting: Int
        /// The largest embeddings answer relayed.
        public var embeddingMaxResponseBytes: Int
        public var retry: Worker.RetryPolicy
        /// `FOREMAN_MAX_QUEUE`: jobs that may wait, in the store and in memory together.
        public var maxQueue: Int

        public init(
            scheduling: Scheduler.Policy, embeddingModels: Set<String>, pollInterval: Duration, inventoryRefreshMinimum: Duration,
            embeddingConcurrency: Int, embeddingNumCtx: Int?, embeddingMaxWaiting: Int, embeddingMaxResponseBytes: Int,
            retry: Worker.RetryPolicy, maxQueue: Int
        ) {
            self.scheduling = scheduling
            self.embeddingModels = embeddingModels
            self.pollInterval = pollInterval
            self.inventoryRefreshMinimum = inventoryRefreshMinimum
            self.embeddingConcurrency = embeddingConcurrency
            self.embeddingNumCtx = embeddingNumCtx
            self.embeddingMaxWaiting = embeddingMaxWaiting
            self.embeddingMaxResponseBytes = embeddingMaxResponseBytes
            self.retry = retry
            self.maxQueue = maxQueue
        }
    }

    /// Its name: the first segment of `provider/model` ids (ADR 0017).
    public let name: String
    public let kind: ProviderKind
    /// Generations at once at this box.
    public let concurrency: Int
    public let target: any OllamaTarget
    /// Its model-management client (ADR 0023); `nil` for an OpenAI-compatible engine, which cannot manage models.
    public let management: ModelManagementTarget?
    public let inventory: Inventory
    public let poller: InventoryPoller
    public let residency: Residency
    public let embeddings: EmbeddingLane
    /// Runs chat and generate jobs, `concurrency` at a time.
    public let generationWorker: Worker
    /// Runs `/jobs` embed jobs through the embeddings lane.
    public let embeddingsWorker: Worker

    /// - Parameters:
    ///   - inFleet: whether other providers share the queue: the workers then claim only the jobs this one may run.
    ///   - observer: told of the state changes of the native calls its worker runs (ADR 0016).
    public init(
        name: String = "default", kind: ProviderKind = .ollama, concurrency: Int = 1, inFleet: Bool = false,
        target: any OllamaTarget, management: ModelManagementTarget? = nil, settings: Settings, store: any JobStore, broker: JobBroker,
        observer: any JobTransitionObserver, metrics: ForemanMetrics, logger: Logger
    ) {
        self.name = name
        self.kind = kind
        self.concurrency = concurrency
        self.target = target
        self.management = kind == .ollama ? management : nil
        let metrics = metrics.forProvider(name)
        var logger = logger
        if inFleet { logger[metadataKey: "provider"] = "\(name)" }
        inventory = Inventory(metrics: metrics)
        residency = Residency(
            target: target, inventory: inventory, declaredEmbedding: settings.embeddingModels, trustFor: settings.pollInterval,
            managesTarget: kind == .ollama, metrics: metrics, logger: logger
        )
        embeddings = EmbeddingLane(
            residency: residency, target: target, concurrency: settings.embeddingConcurrency, maxWaiting: settings.embeddingMaxWaiting,
            defaultNumCtx: settings.embeddingNumCtx, metrics: metrics, logger: logger
        )
        let scope = ClaimScopeReader(provider: name, inventory: inventory, inFleet: inFleet)
        let generationWorker = Worker(
            store: store, inventory: inventory, broker: broker,
            lane: GenerationLane(
                target: target, residency: residency, policy: settings.scheduling, concurrency: concurrency, scope: scope, kind: kind
            ),
            retry: settings.retry, maxQueue: settings.maxQueue, observer: observer, metrics: metrics, logger: logger
        )
        let embeddingsWorker = Worker(
            store: store, inventory: inventory, broker: broker,
            lane: EmbeddingJobsLane(
                embeddings: embeddings, concurrency: settings.embeddingConcurrency, maxResponseBytes: settings.embeddingMaxResponseBytes, scope: scope
            ),
            retry: settings.retry, maxQueue: settings.maxQueue, observer: observer, metrics: metrics, logger: logger
        )
        self.generationWorker = generationWorker
        self.embeddingsWorker = embeddingsWorker
        // Back, or with other models: queued jobs it may now run are claimed without waiting for a submission.
        let workers = inFleet ? [generationWorker, embeddingsWorker] : []
        poller = InventoryPoller(
            target: target, inventory: inventory, interval: settings.pollInterval, minimumRefreshInterval: settings.inventoryRefreshMinimum,
            logger: logger, changed: { for worker in workers { worker.wake() } }
        )
    }

    /// The worker that runs jobs of `kind`.
    public func worker(for kind: JobKind) -> Worker {
        kind == .embed ? embeddingsWorker : generationWorker
    }
}

/// What a provider's workers may claim from the shared queue (ADR 0017): everything when it is alone; in a fleet, the
/// jobs bound to it and, while it answers, the unbound ones for a model it lists. Either way a claimed job records the
/// provider it runs on.
struct ClaimScopeReader: Sendable {
    let provider: String
    let inventory: Inventory
    let inFleet: Bool

    /// Whether `job` was given to this provider: every job when it is alone.
    func runsHere(_ job: Job) -> Bool {
        !inFleet || job.ranOn == provider
    }

    func scope() async -> ClaimScope? {
        guard inFleet else { return ClaimScope(provider: provider, models: nil) }
        let snapshot = await inventory.snapshot
        guard !snapshot.degraded else { return ClaimScope(provider: provider, models: []) }
        var spellings = snapshot.models
        for model in snapshot.models where model.hasSuffix(ModelName.defaultTagSuffix) {
            spellings.insert(String(model.dropLast(ModelName.defaultTagSuffix.count)))
        }
        return ClaimScope(provider: provider, models: spellings)
    }
}
