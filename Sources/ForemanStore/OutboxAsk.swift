/// How many of one endpoint's due events a read may return: `room` to start, past `busy` already under way.
public struct OutboxAsk: Sendable, Equatable {
    public var endpoint: String
    public var room: Int
    public var busy: Int

    public init(endpoint: String, room: Int, busy: Int) {
        self.endpoint = endpoint
        self.room = room
        self.busy = busy
    }
}
