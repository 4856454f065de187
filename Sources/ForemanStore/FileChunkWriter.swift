import ForemanDomain
import Foundation

/// Writes a file's bytes into the store as they come, one chunk (``StoredFile/chunkBytes``) at a time, so that no
/// file is held whole in memory (ADR 0020).
public struct FileChunkWriter: Sendable {
    public let fileID: String
    private let store: any BatchStore
    private var pending = Data()
    private var nextSeq = 0
    /// Every byte written so far.
    public private(set) var bytes = 0

    public init(store: any BatchStore, fileID: String) {
        self.store = store
        self.fileID = fileID
    }

    public mutating func write(_ data: some Sequence<UInt8>) async throws {
        pending.append(contentsOf: data)
        while pending.count >= StoredFile.chunkBytes {
            let chunk = Data(pending.prefix(StoredFile.chunkBytes))
            pending = Data(pending.dropFirst(StoredFile.chunkBytes))
            try await store.appendChunk(fileID: fileID, seq: nextSeq, data: chunk)
            nextSeq += 1
            bytes += chunk.count
        }
    }

    /// Writes what is left; the file's size.
    public mutating func finish() async throws -> Int {
        if !pending.isEmpty {
            try await store.appendChunk(fileID: fileID, seq: nextSeq, data: pending)
            nextSeq += 1
            bytes += pending.count
            pending = Data()
        }
        return bytes
    }
}
