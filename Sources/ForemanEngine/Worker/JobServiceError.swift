/// Why ``JobService`` refused a submission; each surface turns it into its own error shape.
public enum JobServiceError: Error, Equatable {
    /// Neither the inventory nor a fresh poll lists the model.
    case modelNotFound(String)
}
