import ForemanEngine
import Foundation
import Logging
import ServiceLifecycle

/// Hands freed heap back to the system after a burst (ADR 0024): every `interval` it reads foreman's resident size
/// and, when ``TrimPolicy`` says so, asks glibc's `malloc_trim` to release its free pages.
///
/// Without it the pages of a burst stay resident, freed but mapped, until the process ends. Where there is no
/// `malloc_trim` (another C library, macOS) the service only waits for shutdown.
public struct HeapTrimmer: Service {
    let interval: Duration
    let policy: TrimPolicy
    /// Frees what can be rebuilt (SQLite's page caches) before a trim; it may finish after the trim, and the next
    /// one then finds its pages free.
    let releaseCaches: @Sendable () -> Void
    let logger: Logger

    public init(interval: Duration = .seconds(15), policy: TrimPolicy = TrimPolicy(), releaseCaches: @escaping @Sendable () -> Void = {}, logger: Logger) {
        self.interval = interval
        self.policy = policy
        self.releaseCaches = releaseCaches
        self.logger = logger
    }

    public func run() async throws {
        guard let trim = Self.mallocTrim, let idle = Self.residentBytes() else {
            try? await gracefulShutdown()
            return
        }
        while !Task.isShuttingDownGracefully, !Task.isCancelled {
            try? await gracefulShutdownAwareSleep(for: interval)
            guard !Task.isShuttingDownGracefully, let resident = Self.residentBytes(), policy.shouldTrim(resident: resident, idle: idle) else {
                continue
            }
            releaseCaches()
            let start = ContinuousClock.now
            _ = trim(0)
            let took = (ContinuousClock.now - start).components
            let after = Self.residentBytes() ?? resident
            logger.debug("heap trimmed", metadata: [
                "rss_before_mb": "\(resident >> 20)", "rss_after_mb": "\(after >> 20)", "idle_mb": "\(idle >> 20)",
                "duration_ms": "\(took.seconds * 1000 + took.attoseconds / 1_000_000_000_000_000)",
            ])
        }
    }

    /// glibc's `malloc_trim`, looked up at run time: Swift's Glibc module does not declare it.
    package static let mallocTrim: (@convention(c) (Int) -> Int32)? = {
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "malloc_trim") else { return nil }
        return unsafeBitCast(symbol, to: (@convention(c) (Int) -> Int32).self)
    }()

    /// The resident size from `/proc/self/statm`, in bytes; nil where there is none.
    package static func residentBytes() -> Int? {
        guard let text = try? String(contentsOfFile: "/proc/self/statm", encoding: .ascii) else { return nil }
        let fields = text.split(separator: " ")
        guard fields.count > 1, let pages = Int(fields[1]) else { return nil }
        return pages * Int(sysconf(Int32(_SC_PAGESIZE)))
    }
}
