import ForemanDomain
import Hummingbird

/// A request context that knows the key the request was made with (ADR 0022): the routes that hold work use it to
/// record and check ownership.
protocol KeyedContext: RequestContext {
    var caller: APIKey { get }
}

extension ConnectionContext: KeyedContext {}
