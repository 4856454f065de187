/// Which box a model-management call goes to (ADR 0023): pure, like ``ModelRoute/decide(_:among:)``.
extension ModelRoute {
    /// What routing knows of one provider for a model-management call.
    public struct ManagingCandidate: Sendable, Equatable {
        public var provider: String
        /// Its kind can manage models (an Ollama box; an OpenAI-compatible engine cannot).
        public var manages: Bool
        /// Its last inventory lists the model, or none has been read yet.
        public var hasModel: Bool

        public init(provider: String, manages: Bool, hasModel: Bool) {
            self.provider = provider
            self.manages = manages
            self.hasModel = hasModel
        }
    }

    /// Where a model-management call goes.
    public enum ManagingDecision: Sendable, Equatable {
        /// To this provider.
        case provider(String)
        /// The provider named cannot manage models: a 501 naming it.
        case cannotManage(String)
        /// No provider has the model the call is about: Ollama's 404.
        case notFound
        /// The name does not say which box: a 400 listing the providers that could take the call.
        case chooseAmong([String])
    }

    /// Where a call about `name` goes among `candidates`, listed by name.
    ///
    /// - A provider named takes the call (or answers that it cannot manage models).
    /// - With one provider, a bare name goes to it.
    /// - In a fleet, a bare name goes to the one box that can take it: for a call about a model that exists
    ///   (`existing`: a delete, a push, a copy's source, a create's base), the one box that lists it; for a call that
    ///   makes a model (a pull, a create from files), the one box that manages models. Otherwise nobody guesses.
    public static func manage(_ name: Name, existing: Bool, among candidates: [ManagingCandidate]) -> ManagingDecision {
        if let named = name.provider {
            guard let candidate = candidates.first(where: { $0.provider == named }) else { return .notFound }
            return candidate.manages ? .provider(named) : .cannotManage(named)
        }
        if candidates.count == 1, let only = candidates.first { return only.manages ? .provider(only.provider) : .cannotManage(only.provider) }
        let managing = candidates.filter(\.manages)
        let able = existing ? managing.filter(\.hasModel) : managing
        if able.count == 1, let one = able.first { return .provider(one.provider) }
        if existing, able.isEmpty { return .notFound }
        return .chooseAmong(managing.map(\.provider))
    }
}
