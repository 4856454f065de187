import Synchronization

/// The slots of one provider's lane: at most `capacity` runs hold one at once, and a closed lane hands out none.
///
/// "One generation at a time" is a capacity of one. The worker takes a slot before it claims a job and keeps it in
/// the run; a native call that starts at once takes one before its row is written. Whoever cannot get a slot does
/// not start: there is no flag to forget to set or clear. A slot returns when the run holding it lets go of it,
/// so it can be neither kept after its run nor given back twice.
public final class GenerationSlots: Sendable {
    public let capacity: Int
    private let held = Atomic<Int>(0)
    private let closed = Atomic<Bool>(false)
    /// Set when a slot was asked for and none was free: the next slot given back calls `available`.
    private let refused = Atomic<Bool>(false)
    private let available: @Sendable () -> Void

    /// - Parameter available: called when a slot comes back after someone was refused one.
    public init(capacity: Int, available: @escaping @Sendable () -> Void = {}) {
        self.capacity = max(1, capacity)
        self.available = available
    }

    /// A free slot, or `nil` when every slot is held or the lane is closed.
    public func take() -> GenerationSlot? {
        guard !closed.load(ordering: .acquiring) else { return nil }
        while true {
            var current = held.load(ordering: .acquiring)
            while current < capacity {
                let (exchanged, original) = held.compareExchange(expected: current, desired: current + 1, ordering: .acquiringAndReleasing)
                if exchanged { return GenerationSlot(self) }
                current = original
            }
            // Say so before looking again: a slot given back between the two looks then either sees the flag and
            // calls `available`, or is seen free here.
            refused.store(true, ordering: .sequentiallyConsistent)
            if held.load(ordering: .sequentiallyConsistent) >= capacity { return nil }
        }
    }

    /// Calls `available` once a slot is free: now if one is, else when the next one comes back. Whoever has work
    /// waiting without having asked for a slot (a native call queued in memory) is then sure to be woken.
    public func callWhenFree() {
        refused.store(true, ordering: .sequentiallyConsistent)
        // A slot given back since the store above has taken the flag and called `available` already.
        if held.load(ordering: .sequentiallyConsistent) < capacity, refused.exchange(false, ordering: .sequentiallyConsistent) {
            available()
        }
    }

    /// Stops handing out slots; runs that hold one keep it until they end.
    public func close() {
        closed.store(true, ordering: .releasing)
    }

    public var isClosed: Bool { closed.load(ordering: .acquiring) }

    /// Slots held now.
    public var inUse: Int { held.load(ordering: .acquiring) }

    fileprivate func giveBack() {
        held.wrappingSubtract(1, ordering: .sequentiallyConsistent)
        if refused.exchange(false, ordering: .sequentiallyConsistent) { available() }
    }
}

/// The right to run one generation in a lane of ``GenerationSlots``; it goes back to its lane when released.
public final class GenerationSlot: Sendable {
    private let slots: GenerationSlots

    fileprivate init(_ slots: GenerationSlots) {
        self.slots = slots
    }

    deinit {
        slots.giveBack()
    }
}
