/// foreman's version, reported by `foreman --version` and in `User-Agent`.
public enum ForemanVersion {
    public static let current = "0.1.0"
}
