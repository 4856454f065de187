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

    @Test("the domain imports nothing but Foundation and the C library: no NIO, GRDB or Hummingbird")
    func domainIsPure() throws {
        let allowed: Set = ["Foundation", "Glibc", "Darwin", "Synchronization"]
        for (module, file) in try Self.imports(of: "ForemanDomain") {
            #expect(allowed.contains(module), "ForemanDomain/\(file) imports \(module)")
        }
    }
}
