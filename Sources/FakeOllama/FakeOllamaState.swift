import Foundation

/// Everything the fake target remembers: residency, concurrency, the requests it saw, the failures it owes.
public actor FakeOllamaState {
    public var models: [FakeModel]
    /// Pause between two streamed tokens.
    public var tokenDelay: Duration
    /// How many of a streamed answer's lines (a chunk each) go out in one flush: a box that sends faster than it is read.
    public var linesPerWrite = 1
    /// How many models fit at once; loading one more makes the fake evict on its own, as Ollama does.
    public var maxLoaded: Int
    /// The words a reply is made of.
    public var replyWords = ["The", " sky", " is", " blue", " because", " of", " Rayleigh", " scattering", "."]

    public private(set) var requests: [RecordedRequest] = []
    /// Every model load, in order.
    public private(set) var loads: [String] = []
    /// Every unload asked for with `keep_alive: 0`, in order.
    public private(set) var unloads: [String] = []
    /// Models the fake had to evict itself because too many were loaded.
    public private(set) var selfEvictions: [String] = []
    public private(set) var maxResident = 0
    public private(set) var activeGenerations = 0
    public private(set) var maxConcurrentGenerations = 0
    public private(set) var completedGenerations = 0
    public private(set) var activeEmbeddings = 0
    /// Upstream requests that ended because the caller went away mid-stream.
    public private(set) var abortedGenerations = 0
    /// The exact bytes of every completed generation's response body, in order.
    public private(set) var sentBodies: [String] = []

    /// Loads of a model that was already resident with another `num_ctx`.
    public private(set) var reloads: [String] = []

    private struct Runner {
        var usedAt: Date
        var numCtx: Int
    }

    private var loaded: [String: Runner] = [:]
    private var failures: [FakeFailure] = []
    private var paused = false
    private var pauseWaiters: [CheckedContinuation<Void, Never>] = []
    private var generationWaiters: [(count: Int, continuation: CheckedContinuation<Void, Never>)] = []

    public init(models: [FakeModel] = FakeModel.defaults, tokenDelay: Duration = .milliseconds(20), maxLoaded: Int = 3) {
        self.models = models
        self.tokenDelay = tokenDelay
        self.maxLoaded = maxLoaded
    }

    // MARK: Test controls

    public func setTokenDelay(_ delay: Duration) { tokenDelay = delay }
    public func setLinesPerWrite(_ count: Int) { linesPerWrite = max(1, count) }
    public func setModels(_ models: [FakeModel]) { self.models = models }
    public func setReplyWords(_ words: [String]) { replyWords = words }
    public func inject(_ failure: FakeFailure) { failures.append(failure) }
    public func clearFailures() { failures.removeAll() }

    /// Holds every generation after its first token until ``resume()``.
    public func pause() { paused = true }

    public func resume() {
        paused = false
        let waiters = pauseWaiters
        pauseWaiters.removeAll()
        for waiter in waiters { waiter.resume() }
    }

    /// Returns once `count` generations have started (counting all since the fake began).
    public func waitForGenerations(_ count: Int) async {
        if generationsStarted >= count { return }
        await withCheckedContinuation { generationWaiters.append((count, $0)) }
    }

    public var resident: [String] { loaded.keys.sorted() }

    public func requests(to path: String) -> [RecordedRequest] { requests.filter { $0.path == path } }

    // MARK: Used by the routes

    private var generationsStarted = 0

    func record(_ request: RecordedRequest) { requests.append(request) }

    // MARK: Model management

    /// Blobs uploaded, by digest (`sha256:<hex>`), with their size.
    public private(set) var blobs: [String: Int] = [:]
    /// The greatest number of bytes of one blob upload held in memory at once.
    public private(set) var largestBlobChunk = 0

    func storeBlob(_ digest: String, size: Int, largestChunk: Int) {
        blobs[digest] = size
        largestBlobChunk = max(largestBlobChunk, largestChunk)
    }

    /// Adds `model` (a pull, a create or a copy made it), or replaces the one of that name.
    func install(_ model: FakeModel) {
        models.removeAll { Self.normalized($0.name) == Self.normalized(model.name) }
        models.append(model)
    }

    /// Removes the model named `name`; whether there was one.
    func remove(_ name: String) -> Bool {
        let before = models.count
        models.removeAll { Self.normalized($0.name) == Self.normalized(name) }
        return models.count < before
    }

    func model(named name: String) -> FakeModel? {
        let wanted = Self.normalized(name)
        return models.first { Self.normalized($0.name) == wanted }
    }

    static func normalized(_ name: String) -> String {
        (name.split(separator: "/").last ?? "").contains(":") ? name : name + ":latest"
    }

    func takeFailure(for path: String) -> FakeFailure? {
        guard let index = failures.firstIndex(where: { $0.path == nil || $0.path == path }) else { return nil }
        let failure = failures[index]
        if failure.times <= 1 { failures.remove(at: index) } else { failures[index].times -= 1 }
        return failure
    }

    /// Makes `model` resident with context `numCtx` (`nil`: the default), taking its load time if it was not
    /// loaded with that context (Ollama reloads a runner whose `num_ctx` differs); returns the load time spent.
    func ensureLoaded(_ model: FakeModel, numCtx: Int?) async -> Duration {
        let context = numCtx ?? Self.defaultNumCtx
        if let runner = loaded[model.name], runner.numCtx == context {
            loaded[model.name]?.usedAt = Date()
            return .zero
        }
        if loaded.removeValue(forKey: model.name) != nil { reloads.append(model.name) }
        while loaded.count >= maxLoaded, let victim = loaded.min(by: { $0.value.usedAt < $1.value.usedAt })?.key {
            loaded.removeValue(forKey: victim)
            selfEvictions.append(victim)
        }
        loaded[model.name] = Runner(usedAt: Date(), numCtx: context)
        loads.append(model.name)
        maxResident = max(maxResident, loaded.count)
        try? await Task.sleep(for: model.loadTime)
        return model.loadTime
    }

    static let defaultNumCtx = 4096

    func unload(_ name: String) {
        unloads.append(name)
        loaded.removeValue(forKey: name)
    }

    func generationStarted() {
        activeGenerations += 1
        generationsStarted += 1
        maxConcurrentGenerations = max(maxConcurrentGenerations, activeGenerations)
        let ready = generationWaiters.filter { $0.count <= generationsStarted }
        generationWaiters.removeAll { $0.count <= generationsStarted }
        for waiter in ready { waiter.continuation.resume() }
    }

    func recordSentBody(_ body: String) { sentBodies.append(body) }

    func generationEnded(completed: Bool) {
        activeGenerations -= 1
        if completed { completedGenerations += 1 } else { abortedGenerations += 1 }
    }

    func embeddingStarted() { activeEmbeddings += 1 }
    func embeddingEnded() { activeEmbeddings -= 1 }

    func waitWhilePaused() async {
        guard paused else { return }
        await withCheckedContinuation { pauseWaiters.append($0) }
    }

    func residentModels() -> [(FakeModel, Date, Int)] {
        loaded.compactMap { name, runner in models.first { $0.name == name }.map { ($0, runner.usedAt, runner.numCtx) } }
    }

    /// A JSON summary for `GET /_fake/state`.
    func summary() -> Data {
        let object: [String: Any] = [
            "resident": resident, "loads": loads, "unloads": unloads, "self_evictions": selfEvictions,
            "max_resident": maxResident, "reloads": reloads, "active_generations": activeGenerations,
            "max_concurrent_generations": maxConcurrentGenerations, "completed_generations": completedGenerations,
            "aborted_generations": abortedGenerations, "requests": requests.count,
        ]
        return (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data()
    }
}
