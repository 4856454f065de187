/// The two lanes of the queue (ADR 0008): generations go one at a time, embeddings beside them.
public enum JobLane: Sendable, Hashable {
    case generation, embeddings
}
