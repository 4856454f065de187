/// What a provider's box speaks (ADR 0017).
public enum ProviderKind: String, Sendable, CaseIterable {
    /// Ollama's native API: everything foreman does, two-slot residency included.
    case ollama
    /// An OpenAI-compatible engine (llama.cpp's `llama-server`, llama-swap, vLLM): native calls are translated.
    case openai
}
