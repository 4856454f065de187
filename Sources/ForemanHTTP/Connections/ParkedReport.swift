import Hummingbird
import Synchronization

/// Tells a parked response's observers how it was finished, once, from whichever of its writer's paths gets there
/// first: the head written, the whole answer written, or the write given up.
final class ParkedReport: Sendable {
    private let parked: ResponseParking.Parked
    private let response: Response
    private let sent = Atomic<Bool>(false)

    init(_ parked: ResponseParking.Parked, _ response: Response) {
        self.parked = parked
        self.response = response
    }

    /// Tells the observers, the first time only.
    func send() {
        guard !sent.exchange(true, ordering: .relaxed) else { return }
        parked.report(response)
    }
}
