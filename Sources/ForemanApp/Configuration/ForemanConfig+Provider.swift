import ForemanEngine

extension ForemanConfig {
    /// The settings of the provider at `FOREMAN_OLLAMA_URL`; the embeddings answer limit is the HTTP surface's.
    public func providerSettings(embeddingMaxResponseBytes: Int) -> Provider.Settings {
        var retry = targetRetry
        retry.maxAttempts = maxAttempts
        return Provider.Settings(
            scheduling: scheduling,
            embeddingModels: embedModels,
            pollInterval: pollInterval,
            inventoryRefreshMinimum: inventoryRefreshMinimum,
            embeddingConcurrency: embedConcurrency,
            embeddingNumCtx: embedNumCtx,
            embeddingMaxWaiting: maxQueue,
            embeddingMaxResponseBytes: embeddingMaxResponseBytes,
            retry: retry,
            maxQueue: maxQueue
        )
    }
}

extension ForemanConfig {
    /// The providers to build: the file's, or the one at `FOREMAN_OLLAMA_URL`, named `default`.
    public var providerDeclarations: [ProviderDeclaration] {
        providers ?? [ProviderDeclaration(name: "default", kind: .ollama, url: ollamaURL, token: ollamaToken)]
    }
}
