import ForemanDomain
import ForemanTarget
import Foundation
import Logging
import NIOCore

/// The embeddings fast lane (ADR 0008): embeddings go to the target beside the running generation, a bounded
/// number at a time, in arrival order, without ever waiting in the worker's queue.
///
/// It also keeps the embeddings slot: a call for a different embeddings model waits for the calls still
/// running on the current one, then the old model is unloaded before the new one is used.
public actor EmbeddingLane {
    private let residency: Residency
    private let target: any OllamaTarget
    private let concurrency: Int
    private let maxWaiting: Int
    private let defaultNumCtx: Int?
    private let logger: Logger

    private var inFlight = 0 {
        didSet { metrics.embeddingsInFlight(inFlight) }
    }
    private let metrics: ForemanMetrics
    /// Calls in flight on the embeddings-slot model (the slot may only change when this is zero).
    private var inFlightOnSlot = 0
    private var slotModel: String?
    private var swapping = false
    private var waiters: [Waiter] = []
    private var nextWaiterID = 0
    /// The `num_ctx` each embeddings model was last sent with (`nil` inside: the target's default).
    private var numCtx: [String: Int] = [:]

    private struct Waiter {
        var id: Int
        var slotModel: String?
        var continuation: CheckedContinuation<Admission, any Error>
    }

    private enum Admission {
        case ready
        /// The caller must swap the embeddings slot to its model, then call ``swapDone()``.
        case swap
    }

    /// Thrown when more calls are waiting than the lane holds; Ollama's own "server busy" answer fits.
    public struct Busy: Error {}

    public init(residency: Residency, target: any OllamaTarget, concurrency: Int, maxWaiting: Int, defaultNumCtx: Int?, metrics: ForemanMetrics = .disabled, logger: Logger) {
        self.metrics = metrics
        self.residency = residency
        self.target = target
        self.concurrency = max(1, concurrency)
        self.maxWaiting = maxWaiting
        self.defaultNumCtx = defaultNumCtx
        self.logger = logger
    }

    /// Calls in flight now.
    public var running: Int { inFlight }

    /// Sends an embeddings request (`path` is `/api/embed` or `/api/embeddings`) for `model` and returns the
    /// whole answer (embeddings answers are never streamed).
    ///
    /// - Throws: ``Busy``, ``TargetError``, `CancellationError`.
    public func send(path: String, model: String, body: ByteBuffer, maxResponseBytes: Int) async throws -> (status: Int, contentType: String?, body: ByteBuffer) {
        let role = await residency.role(of: model)
        // A name the target does not list cannot take the slot: the target would refuse it after foreman had
        // unloaded the real embeddings model for it.
        let listed = await residency.mayHold(model)
        let usesSlot = role != .chatOnly && listed
        let name = ModelName.normalized(model)
        let admission = try await admit(slotModel: usesSlot ? name : nil)
        defer { release(usesSlot: usesSlot) }
        var previousSlot: String??
        if case .swap = admission {
            defer { swapDone() }
            previousSlot = .some(try await residency.prepareForEmbed(name))
        }
        var bytes = Array(body.readableBytesView)
        if usesSlot {
            bytes = consistentOptions(bytes, model: name)
        } else if await residency.slots.chat != name {
            // Not an embedding model: the target loads it only to refuse; do not let it stay (ADR 0008).
            bytes = EmbedRequestRewriter.settingKeepAliveZero(in: bytes)
        }
        do {
            let response = try await target.send(TargetRequest(method: .POST, path: path, body: ByteBuffer(bytes: bytes)))
            let answer = try await response.body.collect(upTo: maxResponseBytes)
            metrics.embedding(status: response.status)
            if let previousSlot, !response.isSuccess {
                await revertSlot(from: name, to: previousSlot)
            }
            return (response.status, response.contentType, answer)
        } catch {
            metrics.embedding(status: nil)
            throw error
        }
    }

    /// Sends the remembered `num_ctx` when the caller set none, so the target never reloads the model for it.
    private func consistentOptions(_ body: [UInt8], model: String) -> [UInt8] {
        if let chosen = EmbedRequestRewriter.callerNumCtx(in: body) {
            numCtx[model] = chosen
            return body
        }
        guard let remembered = numCtx[model] ?? defaultNumCtx else { return body }
        numCtx[model] = remembered
        return EmbedRequestRewriter.settingNumCtx(remembered, in: body)
    }

    /// The target refused the model a swap moved the slot to: the slot names the previous model again, unless
    /// other calls on the new model are running (they will learn the same answer and the next swap settles it).
    private func revertSlot(from model: String, to previous: String?) async {
        guard slotModel == model, inFlightOnSlot == 1 else { return }
        slotModel = previous
        await residency.revertEmbed(from: model, to: previous)
    }

    // MARK: Admission

    private func admit(slotModel model: String?) async throws -> Admission {
        if waiters.isEmpty, let admission = tryAdmit(model) { return admission }
        guard waiters.count < maxWaiting else { throw Busy() }
        let id = nextWaiterID
        nextWaiterID += 1
        return try await withTaskCancellationHandler {
            try await withCheckedThrowingContinuation { continuation in
                waiters.append(Waiter(id: id, slotModel: model, continuation: continuation))
                if Task.isCancelled { abandon(id) }
            }
        } onCancel: {
            Task { await self.abandon(id) }
        }
    }

    /// Admits a call for `model` (`nil`: it does not use the slot) if it may run now.
    private func tryAdmit(_ model: String?) -> Admission? {
        guard inFlight < concurrency, !swapping else { return nil }
        guard let model else {
            inFlight += 1
            return .ready
        }
        if model == slotModel {
            inFlight += 1
            inFlightOnSlot += 1
            return .ready
        }
        guard inFlightOnSlot == 0 else { return nil }
        slotModel = model
        swapping = true
        inFlight += 1
        inFlightOnSlot += 1
        return .swap
    }

    private func swapDone() {
        swapping = false
        pump()
    }

    private func release(usesSlot: Bool) {
        inFlight -= 1
        if usesSlot { inFlightOnSlot -= 1 }
        pump()
    }

    /// Admits waiters strictly in arrival order, so a call for another embeddings model is not starved.
    private func pump() {
        while let first = waiters.first, let admission = tryAdmit(first.slotModel) {
            waiters.removeFirst()
            first.continuation.resume(returning: admission)
        }
    }

    private func abandon(_ id: Int) {
        guard let index = waiters.firstIndex(where: { $0.id == id }) else { return }
        waiters.remove(at: index).continuation.resume(throwing: CancellationError())
        pump()
    }
}
