import Foundation
import Synchronization

/// A WAL flush a test holds (ADR 0024): while held, each flush reports its start and waits for the test to let it go.
package final class HeldFlush: Sendable {
    package let started: AsyncStream<Void>
    private let startedContinuation: AsyncStream<Void>.Continuation
    private let gate = DispatchSemaphore(value: 0)
    private let state: Mutex<(holding: Bool, waiting: Int)>
    private let count = Atomic<Int>(0)

    /// - Parameter holding: whether flushes are held from the start; else they pass until ``hold()``.
    package init(holding: Bool = true) {
        (started, startedContinuation) = AsyncStream<Void>.makeStream()
        state = Mutex((holding, 0))
    }

    /// The flush to hand the store: SQLite's descriptor of the WAL goes to a real `fsync` once let go.
    package var flush: @Sendable (Int32) -> Int32 {
        { [self] descriptor in
            count.add(1, ordering: .relaxed)
            let held = state.withLock { state in
                if state.holding { state.waiting += 1 }
                return state.holding
            }
            if held {
                startedContinuation.yield()
                gate.wait()
            }
            return fsync(descriptor)
        }
    }

    /// Holds the flushes that start from now on.
    package func hold() { state.withLock { $0.holding = true } }

    /// Lets one held flush go (or the next one to be held).
    package func release() {
        state.withLock { $0.waiting -= 1 }
        gate.signal()
    }

    /// Lets every held flush go, and the later ones pass.
    package func open() {
        let waiting = state.withLock { state in
            state.holding = false
            defer { state.waiting = 0 }
            return state.waiting
        }
        for _ in 0..<max(0, waiting) { gate.signal() }
    }

    /// Flushes asked for so far, held or not.
    package var flushes: Int { count.load(ordering: .relaxed) }
}
