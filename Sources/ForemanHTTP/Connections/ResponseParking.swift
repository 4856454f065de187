import Hummingbird
import Synchronization

/// Where a route leaves a response that cannot be written yet, to be finished by the connection's own loop
/// (``ForemanHTTP1Channel``) after the router and its middlewares have returned.
///
/// A native call that waits in the queue does not know its status until its job starts. Waiting inside the route
/// would keep every async frame between the connection and the route alive for the whole wait, and a task keeps
/// the slabs those frames took until it ends (ADR 0024). Parked, the wait holds only the loop's few frames: the
/// routing ran in a child task whose memory went back when it returned.
///
/// Middlewares that act on a response's final status are told it (``onFinished(_:)``) instead of reading the
/// placeholder response the route returned.
public final class ResponseParking: Sendable {
    /// Finishes a parked response: the answer to write, or `nil` when nobody is left to read one (the caller hung
    /// up, or the server is going away) and the connection closes unanswered.
    public typealias Finish = @Sendable () async -> Response?
    /// Told how a parked response was finished: the answer, or `nil` for none.
    public typealias Observer = @Sendable (Response?) -> Void

    /// A parked response: how to finish it, and who is told how it was.
    ///
    /// A struct, not a bare optional closure: a closure held in a generic container is called through
    /// reabstraction thunks, each an async frame of the wait.
    public struct Parked: Sendable {
        /// Waits for the answer; the connection's task calls it.
        public let finish: Finish
        var observers: [Observer] = []

        /// Tells the observers how the response was finished.
        public func report(_ response: Response?) {
            for observer in observers { observer(response) }
        }
    }

    private let parked = Mutex<Parked?>(nil)

    public init() {}

    /// Parks `finish`: the route's own return value is then a placeholder, never written.
    public func park(_ finish: @escaping Finish) {
        parked.withLock { $0 = Parked(finish: finish) }
    }

    /// Whether a response is parked.
    public var isParked: Bool { parked.withLock { $0 != nil } }

    /// Has `observer` told how the parked response is finished. Does nothing when nothing is parked.
    public func onFinished(_ observer: @escaping Observer) {
        parked.withLock { $0?.observers.append(observer) }
    }

    /// Takes the parked response, leaving nothing parked.
    public func take() -> Parked? {
        parked.withLock { current in
            defer { current = nil }
            return current
        }
    }
}

/// A request context that can park a response (``ResponseParking``).
public protocol ParkingRequestContext: RequestContext {
    /// `nil` where the server answers every response as the router returns it.
    var parking: ResponseParking? { get }
}
