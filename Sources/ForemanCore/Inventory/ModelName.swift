import Foundation

/// Ollama model-name rules foreman needs: `[host/][namespace/]model[:tag]`, default tag `latest`.
public enum ModelName {
    /// The name with its tag made explicit, so `llama3.2` and `llama3.2:latest` compare equal.
    public static func normalized(_ name: String) -> String {
        let trimmed = name.trimmingCharacters(in: .whitespaces)
        let lastComponent = trimmed.split(separator: "/", omittingEmptySubsequences: false).last ?? ""
        return lastComponent.contains(":") ? trimmed : trimmed + ":latest"
    }
}
