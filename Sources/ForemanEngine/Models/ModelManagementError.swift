/// Why a model-management call was refused before it reached a box (ADR 0023); each becomes its HTTP answer in one
/// place.
public enum ModelManagementError: Error, Equatable {
    /// The provider is an OpenAI-compatible engine: it cannot `verb` models (501).
    case cannotManage(provider: String, verb: String)
    /// No provider here can manage models (501).
    case noProviderManages(verb: String)
    /// A bare name in a fleet: the caller must name one of these providers (400).
    case chooseProvider(model: String, among: [String])
    /// A blob in a fleet: the caller must name the provider in `X-Foreman-Provider` (400).
    case blobNeedsProvider(among: [String])
    /// No provider has the model (404).
    case notFound(String)
    /// A copy's destination names another provider than its source (400).
    case copyAcrossProviders(source: String, destination: String)
    /// Generations for the model are queued or running on the box (409).
    case busy(model: String, provider: String, generations: Int)
}
