import Foundation

/// Where a new job stood in its lane's queue when it was committed.
public struct JobPlacement: Sendable, Equatable {
    /// 1 = next.
    public var position: Int
    /// When it should start, once recent run times are known.
    public var estimatedStartAt: Date?
}

extension JobPlacement {
    public init(position: Int) {
        self.init(position: position, estimatedStartAt: nil)
    }
}
