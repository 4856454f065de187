/// Why ``JobService`` refused a submission; each surface turns it into its own error shape.
public enum JobServiceError: Error, Equatable {
    /// Neither the inventory nor a fresh poll lists the model.
    case modelNotFound(String)
    /// The key has `cap` generations queued or running already (ADR 0022).
    case overConcurrencyCap(key: String, cap: Int)
}
