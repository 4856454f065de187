import ForemanEngine
import Synchronization
import Testing

/// The slots that hold "one generation at a time" (ADR 0014).
@Suite("Generation slots")
struct GenerationSlotsTests {
    @Test("under any interleaving of takers on many threads, never more slots held than the capacity", arguments: [1, 2, 4])
    func neverAboveCapacity(capacity: Int) async {
        let slots = GenerationSlots(capacity: capacity)
        let holding = Count()
        let most = Count()
        await withTaskGroup(of: Void.self) { group in
            for _ in 0..<8 {
                group.addTask {
                    for round in 0..<5000 {
                        guard let slot = slots.take() else { continue }
                        let now = holding.value.wrappingAdd(1, ordering: .sequentiallyConsistent).newValue
                        most.value.max(now, ordering: .sequentiallyConsistent)
                        if round.isMultiple(of: 7) { await Task.yield() }
                        holding.value.wrappingSubtract(1, ordering: .sequentiallyConsistent)
                        withExtendedLifetime(slot) {}
                    }
                }
            }
        }
        #expect(most.value.load(ordering: .sequentiallyConsistent) <= capacity)
        #expect(most.value.load(ordering: .sequentiallyConsistent) >= 1)
        #expect(slots.inUse == 0, "a slot was not given back")
    }

    @Test("a slot goes back when released; a closed lane hands out none; a refusal is answered by the next slot back")
    func lifecycle() {
        let calls = Count()
        let slots = GenerationSlots(capacity: 1) { calls.value.wrappingAdd(1, ordering: .relaxed) }
        var first: GenerationSlot? = slots.take()
        #expect(first != nil)
        #expect(slots.take() == nil)  // refused: the slot's return owes a call
        #expect(calls.value.load(ordering: .relaxed) == 0)
        first = nil
        #expect(calls.value.load(ordering: .relaxed) == 1)
        #expect(slots.inUse == 0)
        var second = slots.take()
        second = nil  // nobody was refused meanwhile: no call
        #expect(calls.value.load(ordering: .relaxed) == 1)
        slots.close()
        #expect(slots.take() == nil)
        #expect(second == nil && first == nil)
    }

    @Test("no refusal is lost: whoever is refused while a slot comes back either gets it or is called", arguments: 0..<20)
    func noLostWake(round: Int) async {
        let calls = Count()
        let slots = GenerationSlots(capacity: 1) { calls.value.wrappingAdd(1, ordering: .sequentiallyConsistent) }
        var held = slots.take()
        let got = await withTaskGroup(of: Bool.self) { group in
            group.addTask { slots.take() != nil }
            held = nil
            return await group.next() ?? false
        }
        #expect(held == nil)
        #expect(got || calls.value.load(ordering: .sequentiallyConsistent) == 1)
    }
}

/// A counter tasks share.
final class Count: Sendable {
    let value = Atomic<Int>(0)
}
