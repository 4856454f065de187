import ForemanEngine
import HummingbirdCore
import Logging
import Synchronization

/// How many client connections foreman holds open at once, across its listeners, so that it never runs out of file
/// descriptors.
///
/// Without a bound, a flood of connections takes every descriptor; each further `accept` then fails with `EMFILE`
/// while the listening socket stays readable, and the event loop spins on it (NIO keeps its read pending after a
/// failed accept). At the bound foreman stops accepting: new connections wait in the kernel's backlog, the open
/// ones are served as before, and accepting resumes as soon as one closes. A part of the descriptor limit stays in
/// reserve for what foreman opens itself: the database, the target, webhook receivers. The budget is consulted
/// once per read of a listening socket, and one read accepts up to four connections, so the count can pass the
/// limit by three per listener; the reserve absorbs that.
public final class ConnectionBudget: Sendable {
    public let limit: Int
    private let open = Atomic<Int>(0)
    /// Set while the limit is reached: the condition is logged once per burst, not once per connection.
    private let full = Atomic<Bool>(false)
    private let metrics: ForemanMetrics
    private let logger: Logger

    public init(limit: Int, metrics: ForemanMetrics, logger: Logger) {
        self.limit = max(1, limit)
        self.metrics = metrics
        self.logger = logger
        metrics.openConnections(0, limit: self.limit)
    }

    /// The limit for a process allowed `descriptors` open files: a quarter (at most 256) kept in reserve.
    public static func limit(forDescriptors descriptors: Int) -> Int {
        max(16, descriptors - min(256, descriptors / 4))
    }

    /// What a listener consults; one per listener, all counting against this budget.
    public var delegate: Delegate { Delegate(budget: self) }

    fileprivate func opened() {
        let count = open.wrappingAdd(1, ordering: .relaxed).newValue
        metrics.openConnections(count, limit: limit)
        if count >= limit, !full.exchange(true, ordering: .relaxed) {
            logger.warning(
                "connection limit reached; new connections wait until one closes",
                metadata: ["limit": "\(limit)", "descriptor_limit": "\(DescriptorLimit.current)"]
            )
        }
    }

    fileprivate func closed() {
        let count = open.wrappingSubtract(1, ordering: .relaxed).newValue
        metrics.openConnections(count, limit: limit)
        // Hysteresis: under a sustained flood the count hovers at the limit, and each flip would log again.
        if count <= limit * 9 / 10, full.exchange(false, ordering: .relaxed) {
            logger.notice("accepting connections again", metadata: ["open": "\(count)"])
        }
    }

    fileprivate var accepting: Bool { open.load(ordering: .relaxed) < limit }

    /// Hummingbird's hook into a listener's accept loop.
    public struct Delegate: AvailableConnectionsDelegate {
        let budget: ConnectionBudget

        public mutating func connectionOpened() { budget.opened() }
        public mutating func connectionClosed() { budget.closed() }
        public func isAcceptingNewConnections() -> Bool { budget.accepting }
    }
}
