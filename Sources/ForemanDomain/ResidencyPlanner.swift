/// Decides which resident models must go so that only the two slot models stay (ADR 0008).
///
/// Pure: it sees what `/api/ps` listed and the two slots, and answers the models to unload.
public enum ResidencyPlanner {
    /// The models in `resident` (as `/api/ps` names them, in its order, duplicates dropped) that are in
    /// neither slot. Names are compared with their tags made explicit (see ``ModelName``).
    public static func unloads(resident: [String], chatSlot: String?, embedSlot: String?) -> [String] {
        let keep = Set([chatSlot, embedSlot].compactMap { $0 }.map(ModelName.normalized))
        var seen = Set<String>()
        return resident.filter { name in
            let normalized = ModelName.normalized(name)
            return !keep.contains(normalized) && seen.insert(normalized).inserted
        }
    }
}
