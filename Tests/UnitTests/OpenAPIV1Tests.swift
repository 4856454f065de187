import ForemanDomain
@testable import ForemanHTTP
import Foundation
import Hummingbird
import Testing

/// Keeps `docs/openapi-v1.json` in step with the `/v1` routes and the objects foreman writes.
@Suite("OpenAPI document for /v1")
struct OpenAPIV1Tests {
    static var document: [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi-v1.json")
        let data = (try? Data(contentsOf: url)) ?? Data()
        return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:]
    }

    static func schema(_ name: String) -> [String: Any] {
        (((document["components"] as? [String: Any])?["schemas"] as? [String: Any])?[name] as? [String: Any]) ?? [:]
    }

    @Test("documented paths and methods are exactly the /v1 routes")
    func paths() throws {
        let paths = try #require(Self.document["paths"] as? [String: [String: Any]])
        var documented: [String: Set<String>] = [:]
        for (path, item) in paths {
            documented[path] = Set(item.keys.filter { ["get", "post", "delete", "put", "patch"].contains($0) })
        }
        var routes = OpenAIRoutes.routes
        routes.merge(FilesRoutes<ConnectionContext>.routes) { a, _ in a }
        routes.merge(BatchesRoutes<ConnectionContext>.routes) { a, _ in a }
        // `/v1/models/**`: an id may hold slashes.
        routes["/v1/models/{model}"] = [.get]
        var routed: [String: Set<String>] = [:]
        for (path, methods) in routes {
            let parameters = ["/v1/files/:id": "file_id", "/v1/batches/:id": "batch_id"]
            var documentedPath = path
            for (prefix, name) in parameters where path.hasPrefix(prefix) {
                documentedPath = prefix.replacingOccurrences(of: ":id", with: "{\(name)}") + path.dropFirst(prefix.count)
            }
            routed[documentedPath] = Set(methods.map { $0.rawValue.lowercased() })
        }
        #expect(documented == routed)
    }

    @Test("the Batch and File schemas list exactly the keys foreman writes, all required")
    func objects() throws {
        var batch = Batch(endpoint: "/v1/completions", inputFileID: "file-1", metadata: #"{"a":"b"}"#, webhookURL: nil)
        batch.errors = #"{"object":"list","data":[]}"#
        let file = StoredFile(purpose: .batch, filename: "a.jsonl")
        for (name, rendered) in [("Batch", BatchDocument.render(batch)), ("File", FileDocument.render(file))] {
            let object = try #require(try JSONSerialization.jsonObject(with: Data(rendered.utf8)) as? [String: Any])
            let schema = Self.schema(name)
            #expect(Set(((schema["properties"] as? [String: Any]) ?? [:]).keys) == Set(object.keys), "\(name)")
            #expect(Set((schema["required"] as? [String]) ?? []) == Set(object.keys), "\(name)")
        }
        let statuses = ((Self.schema("Batch")["properties"] as? [String: Any])?["status"] as? [String: Any])?["enum"] as? [String]
        #expect(statuses == Batch.Status.allCases.map(\.rawValue))
    }
}
