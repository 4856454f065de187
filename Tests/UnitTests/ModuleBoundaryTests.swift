@testable import ForemanStore
import Foundation
import Testing

/// The module graph of ADR 0014, read from the sources: what each module may import.
@Suite("Module boundaries")
struct ModuleBoundaryTests {
    static let sources = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("Sources")

    /// Every module `module`'s files import, with the file that imports it.
    static func imports(of module: String) throws -> [(module: String, file: String)] {
        let folder = sources.appendingPathComponent(module)
        let files = try #require(FileManager.default.enumerator(atPath: folder.path)).compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        #expect(!files.isEmpty, "no sources in \(folder.path)")
        return try files.flatMap { file in
            try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8).split(separator: "\n")
                .compactMap { line -> (String, String)? in
                    let words = line.split(separator: " ")
                    guard let index = words.firstIndex(of: "import"), index + 1 < words.count,
                        words[..<index].allSatisfy({ $0.hasPrefix("@") || ["public", "package", "internal"].contains($0) })
                    else { return nil }
                    return (String(words[index + 1]), file)
                }
        }
    }

    /// What each module may import besides the C library (ADR 0014's table).
    static let allowed: [String: Set<String>] = [
        "ForemanDomain": ["Foundation", "Synchronization"],
        "ForemanTarget": ["ForemanDomain", "Foundation", "AsyncHTTPClient", "NIOCore", "NIOHTTP1", "NIOPosix", "Synchronization"],
        // NIOCore for its CircularBuffer alone (the queue's order); ServiceLifecycle for the WAL checkpointer.
        "ForemanStore": ["ForemanDomain", "Foundation", "GRDB", "GRDBSQLite", "SQLite3", "Logging", "NIOCore", "ServiceLifecycle", "Synchronization"],
        // The engine holds no SQL and no HTTP server: the store and the target clients do that for it.
        "ForemanEngine": [
            "ForemanDomain", "ForemanStore", "ForemanTarget", "Foundation", "AsyncHTTPClient", "CoreMetrics", "Crypto", "Logging",
            "NIOCore", "NIOHTTP1", "NIOPosix", "ServiceLifecycle", "Synchronization",
        ],
        // The surfaces: no SQL, no lifecycle of their own; the store only for its values (`JobSnapshot`, `JobDocument`).
        "ForemanHTTP": [
            "ForemanDomain", "ForemanEngine", "ForemanStore", "ForemanTarget", "Foundation", "Crypto", "HTTPTypes", "Hummingbird",
            "HummingbirdCore", "Logging", "NIOCore", "NIOHTTP1", "NIOHTTPTypes", "NIOHTTPTypesHTTP1", "Prometheus", "Synchronization",
            // `POST /v1/files`' streaming multipart parser (ADR 0021).
            "MultipartKit",
        ],
    ]

    @Test("each module imports only what ADR 0014 allows it: the domain no NIO, GRDB or Hummingbird", arguments: allowed.keys.sorted())
    func importsAreAllowed(module: String) throws {
        let allowed = Self.allowed[module, default: []].union(["Glibc", "Darwin"])
        for (imported, file) in try Self.imports(of: module) {
            #expect(allowed.contains(imported), "\(module)/\(file) imports \(imported)")
        }
    }

    @Test("the HTTP surfaces reach jobs through JobService alone: never the store, a worker or the database")
    func routesGoThroughTheService() throws {
        let forbidden = ["JobStore", "SQLiteJobStore", "Worker", "JobBroker", "DatabasePool", "GRDB"]
        let folder = Self.sources.appendingPathComponent("ForemanHTTP")
        let files = try #require(FileManager.default.enumerator(atPath: folder.path)).compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        #expect(files.count > 10)
        for file in files {
            let code = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8).split(separator: "\n")
                .filter { !$0.trimmingCharacters(in: .whitespaces).hasPrefix("//") }
            for name in forbidden {
                let uses = code.filter { $0.range(of: "\\b\(name)\\b", options: .regularExpression) != nil }
                #expect(uses.isEmpty, "ForemanHTTP/\(file) uses \(name): \(uses.first ?? "")")
            }
        }
    }

    @Test("the engine knows the store by its protocol alone: only the wiring names SQLiteJobStore")
    func engineUsesTheProtocol() throws {
        let folder = Self.sources.appendingPathComponent("ForemanEngine")
        let files = try #require(FileManager.default.enumerator(atPath: folder.path)).compactMap { $0 as? String }.filter { $0.hasSuffix(".swift") }
        for file in files {
            let code = try String(contentsOf: folder.appendingPathComponent(file), encoding: .utf8)
            #expect(!code.contains("SQLiteJobStore"), "ForemanEngine/\(file) names SQLiteJobStore")
        }
    }
}
