extension ForemanConfig {
    /// The settings of the provider at `FOREMAN_OLLAMA_URL`.
    public var providerSettings: Provider.Settings {
        var settings = Provider.Settings()
        settings.scheduling = scheduling
        settings.embeddingModels = embedModels
        settings.pollInterval = pollInterval
        settings.inventoryRefreshMinimum = inventoryRefreshMinimum
        settings.embeddingConcurrency = embedConcurrency
        settings.embeddingNumCtx = embedNumCtx
        settings.embeddingMaxWaiting = maxQueue
        settings.retry = targetRetry
        settings.retry.maxAttempts = maxAttempts
        return settings
    }
}
