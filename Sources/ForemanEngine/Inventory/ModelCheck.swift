
/// Refuses a model the inventory does not list, after one fresh poll in case it was just pulled (at most one a
/// second, so made-up names cannot be used to hammer the target).
///
/// Only a successful poll can prove a model absent: while the target is unreachable the last known
/// inventory decides, and before any inventory is known the job is accepted and the target decides.
public struct ModelCheck: Sendable {
    let inventory: Inventory
    let poller: InventoryPoller

    public init(inventory: Inventory, poller: InventoryPoller) {
        self.inventory = inventory
        self.poller = poller
    }

    /// - Throws: ``JobServiceError/modelNotFound(_:)``.
    public func requireKnown(_ model: String) async throws {
        if inventory.contains(model) { return }
        let polled = await poller.refreshUnlessRecent()
        if inventory.contains(model) { return }
        let everKnown = await inventory.snapshot.tagsBody != nil
        if polled || everKnown {
            throw JobServiceError.modelNotFound(model)
        }
    }
}
