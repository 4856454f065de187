import Hummingbird
import NIOCore

/// The fake's request context: Hummingbird's basic one plus the connection, so an injected failure can drop it.
public struct FakeRequestContext: RequestContext {
    public var coreContext: CoreRequestContextStorage
    /// The connection the request arrived on.
    public let channel: any Channel

    public init(source: ApplicationRequestContextSource) {
        coreContext = .init(source: source)
        channel = source.channel
    }
}
