#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// The process's limit on open files (`RLIMIT_NOFILE`): every client connection takes one.
public enum DescriptorLimit {
    #if os(Linux)
    private static let resource = Int32(RLIMIT_NOFILE.rawValue)
    #else
    private static let resource = RLIMIT_NOFILE
    #endif

    /// The soft limit now (a very large or unlimited one counts as 1,048,576).
    public static var current: Int {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0 else { return 1024 }
        return limit.rlim_cur > rlim_t(1 << 20) ? 1 << 20 : Int(limit.rlim_cur)
    }

    /// Raises the soft limit to the hard one, as Go's runtime does at start: the default soft limit (1,024 on most
    /// Linux systems) is far below what a server with many waiting callers needs.
    public static func raiseToHardLimit() {
        var limit = rlimit()
        guard getrlimit(resource, &limit) == 0, limit.rlim_cur < limit.rlim_max else { return }
        limit.rlim_cur = limit.rlim_max
        #if canImport(Darwin)
        // macOS refuses a soft limit above OPEN_MAX however high the hard limit is.
        limit.rlim_cur = min(limit.rlim_cur, rlim_t(OPEN_MAX))
        #endif
        _ = setrlimit(resource, &limit)
    }
}
