import ForemanDomain
import ForemanStore
import ForemanTarget
import Logging

/// One GPU box behind foreman: its client, what it holds (the inventory and the two residency slots), and the two
/// workers that run its jobs, one generation at a time beside the embeddings lane.
///
/// The engine holds a list of these. Today the list has one element; a fleet makes it several, each drained by its
/// own worker.
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

    public let target: any OllamaTarget
    public let inventory: Inventory
    public let poller: InventoryPoller
    public let residency: Residency
    public let embeddings: EmbeddingLane
    /// Runs chat and generate jobs, one at a time.
    public let generationWorker: Worker
    /// Runs `/jobs` embed jobs through the embeddings lane.
    public let embeddingsWorker: Worker

    /// - Parameter observer: told of the state changes of the native calls its worker runs (ADR 0016).
    public init(
        target: any OllamaTarget, settings: Settings, store: any JobStore, broker: JobBroker, observer: any JobTransitionObserver,
        metrics: ForemanMetrics, logger: Logger
    ) {
        self.target = target
        inventory = Inventory(metrics: metrics)
        poller = InventoryPoller(
            target: target, inventory: inventory, interval: settings.pollInterval, minimumRefreshInterval: settings.inventoryRefreshMinimum,
            logger: logger
        )
        residency = Residency(
            target: target, inventory: inventory, declaredEmbedding: settings.embeddingModels, trustFor: settings.pollInterval,
            metrics: metrics, logger: logger
        )
        embeddings = EmbeddingLane(
            residency: residency, target: target, concurrency: settings.embeddingConcurrency, maxWaiting: settings.embeddingMaxWaiting,
            defaultNumCtx: settings.embeddingNumCtx, metrics: metrics, logger: logger
        )
        generationWorker = Worker(
            store: store, inventory: inventory, broker: broker,
            lane: GenerationLane(target: target, residency: residency, policy: settings.scheduling),
            retry: settings.retry, maxQueue: settings.maxQueue, observer: observer, metrics: metrics, logger: logger
        )
        embeddingsWorker = Worker(
            store: store, inventory: inventory, broker: broker,
            lane: EmbeddingJobsLane(
                embeddings: embeddings, concurrency: settings.embeddingConcurrency, maxResponseBytes: settings.embeddingMaxResponseBytes
            ),
            retry: settings.retry, maxQueue: settings.maxQueue, observer: observer, metrics: metrics, logger: logger
        )
    }

    /// The worker that runs jobs of `kind`.
    func worker(for kind: JobKind) -> Worker {
        kind == .embed ? embeddingsWorker : generationWorker
    }
}
