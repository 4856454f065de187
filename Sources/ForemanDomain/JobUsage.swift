/// What one call used at its box, as the box reported it (ADR 0022): what a key's usage and its tokens-per-day
/// allowance add up.
public struct JobUsage: Sendable, Equatable {
    /// Tokens the box read: Ollama's `prompt_eval_count`, OpenAI's `prompt_tokens`, Anthropic's `input_tokens`.
    public var promptTokens: Int
    /// Tokens the box wrote: `eval_count`, `completion_tokens`, `output_tokens`.
    public var generatedTokens: Int
    /// Seconds of generation: the box's `total_duration` when it reports one, else the call's time at the box.
    public var seconds: Double

    public init(promptTokens: Int = 0, generatedTokens: Int = 0, seconds: Double = 0) {
        self.promptTokens = promptTokens
        self.generatedTokens = generatedTokens
        self.seconds = seconds
    }

    /// What the tokens-per-day allowance counts: prompt and generated tokens.
    public var tokens: Int { promptTokens + generatedTokens }
}
