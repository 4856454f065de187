import Hummingbird
import Synchronization

/// Where a route leaves a response that cannot be written yet, to be finished by ``ForemanServer`` at the top of the
/// connection's task, after the router and its middlewares have returned.
///
/// A native call that waits in the queue does not know its status until its job starts. Waiting inside the route
/// would keep every async frame between the connection and the route alive for the whole wait, and a task keeps
/// the slabs those frames took until it ends (ADR 0024). Parked, the wait holds only the server's few frames: the
/// routing ran in a child task whose memory went back when it returned.
///
/// Middlewares that act on a response's final status wrap the parked finish (``decorate(_:)``) instead of reading the
/// placeholder response the route returned.
public final class ResponseParking: Sendable {
    /// Finishes a parked response: the answer to write, or `nil` when nobody is left to read one (the caller hung
    /// up, or the server is going away) and the connection closes unanswered.
    public typealias Finish = @Sendable () async -> Response?

    private let finish = Mutex<Finish?>(nil)

    public init() {}

    /// Parks `finish`: the route's own return value is then a placeholder, never written.
    public func park(_ finish: @escaping Finish) {
        self.finish.withLock { $0 = finish }
    }

    /// Whether a response is parked.
    public var isParked: Bool { finish.withLock { $0 != nil } }

    /// Wraps the parked finish in `around`, which is given the inner finish to call. Does nothing when nothing is
    /// parked.
    public func decorate(_ around: @escaping @Sendable (Finish) async -> Response?) {
        finish.withLock { current in
            guard let inner = current else { return }
            current = { await around(inner) }
        }
    }

    /// Takes the parked finish, leaving nothing parked.
    public func take() -> Finish? {
        finish.withLock { current in
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
