import NIOCore

/// Runs a task's jobs on one NIO event loop, so a task that mostly waits for that loop's channels resumes on the
/// thread that read its data instead of being handed to another thread.
///
/// A job's run against ``HTTP1Target`` prefers its loop (``Worker``, ADR 0011): writing the request, the response head and
/// every body chunk then cost no thread hand-off. Whatever runs with this preference must not block.
@available(macOS 15.0, *)
public final class EventLoopExecutor: TaskExecutor {
    let loop: any EventLoop

    public init(_ loop: any EventLoop) {
        self.loop = loop
    }

    public func enqueue(_ job: consuming ExecutorJob) {
        let job = UnownedJob(job)
        loop.execute { job.runSynchronously(on: self.asUnownedTaskExecutor()) }
    }
}

extension Task where Failure == Never {
    /// A task that prefers `loop` (see ``EventLoopExecutor``) when there is one and the platform has task executors,
    /// and runs on the global executor otherwise.
    @discardableResult
    public static func preferring(_ loop: (any EventLoop)?, _ operation: sending @escaping () async -> Success) -> Task {
        if #available(macOS 15.0, *), let loop {
            return Task(executorPreference: EventLoopExecutor(loop), operation: operation)
        }
        return Task(operation: operation)
    }
}
