import NIOCore

/// The Ollama server foreman fronts, seen as "send a request, get a streamed response".
///
/// ``LiveOllamaTarget`` speaks HTTP to a real (or fake) Ollama; tests of pure logic can supply their own.
public protocol OllamaTarget: Sendable {
    /// Sends `request` and returns once the response head has arrived.
    ///
    /// - Throws: ``TargetError/unreachable(_:)`` when no response head arrived (connection refused, DNS,
    ///   timeout); `CancellationError` when the calling task was cancelled.
    func send(_ request: TargetRequest) async throws -> TargetResponse

    /// The event loop a request sent from `current` (the loop the caller runs on, if any) goes out on, when the
    /// target's connections live on event loops: a task that mostly talks to the target runs best there (see
    /// ``EventLoopExecutor``).
    func eventLoop(near current: (any EventLoop)?) -> (any EventLoop)?
}

extension OllamaTarget {
    public func eventLoop(near current: (any EventLoop)?) -> (any EventLoop)? { nil }
}
