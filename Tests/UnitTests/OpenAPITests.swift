import ForemanEngine
import ForemanDomain
@testable import ForemanApp
@testable import ForemanHTTP
@testable import ForemanStore
import ForemanTestSupport
import Foundation
import Hummingbird
import Testing

#if canImport(Glibc)
import Glibc
#endif

/// Keeps `docs/openapi-jobs.json` in step with the code.
@Suite("OpenAPI document for /jobs")
struct OpenAPITests {
    static var document: [String: Any] {
        let url = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi-jobs.json")
        let data = (try? Data(contentsOf: url)) ?? Data()
        return ((try? JSONSerialization.jsonObject(with: data)) as? [String: Any]) ?? [:]
    }

    static func schema(_ name: String) -> [String: Any] {
        (((document["components"] as? [String: Any])?["schemas"] as? [String: Any])?[name] as? [String: Any]) ?? [:]
    }

    @Test("documented paths and methods are exactly the routes")
    func paths() throws {
        let paths = try #require(Self.document["paths"] as? [String: [String: Any]])
        var documented: [String: Set<String>] = [:]
        for (path, item) in paths {
            documented[path] = Set(item.keys.filter { ["get", "post", "delete", "put", "patch"].contains($0) })
        }
        var routed: [String: Set<String>] = [:]
        for (path, methods) in JobsRoutes<ConnectionContext>.routes {
            let openAPIPath = path.split(separator: "/").map { $0.hasPrefix(":") ? "{\($0.dropFirst())}" : String($0) }.joined(separator: "/")
            routed["/" + openAPIPath] = Set(methods.map { $0.rawValue.lowercased() })
        }
        #expect(documented == routed)
    }

    @Test("the Job schema lists exactly the keys foreman writes, all required")
    func jobSchema() throws {
        let job = Job(kind: .chat, origin: .jobs, model: "m", request: Data("{}".utf8), stream: true, metadata: #"{"a":1}"#)
        let rendered = JobDocument.render(job, queuePosition: 1, artifacts: [ArtifactInfo(name: "response.json", contentType: "application/json", size: 2)])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(rendered.utf8)) as? [String: Any])
        let schema = Self.schema("Job")
        let properties = try #require(schema["properties"] as? [String: Any])
        #expect(Set(properties.keys) == Set(object.keys))
        #expect(Set((schema["required"] as? [String]) ?? []) == Set(object.keys))
        let artifact = try #require((object["artifacts"] as? [[String: Any]])?.first)
        #expect(Set(((Self.schema("Artifact")["properties"] as? [String: Any]) ?? [:]).keys) == Set(artifact.keys))
    }

    @Test("enums match the Swift types")
    func enums() {
        #expect(Self.schema("State")["enum"] as? [String] == JobState.allCases.map(\.rawValue))
        #expect(Self.schema("Kind")["enum"] as? [String] == JobKind.allCases.map(\.rawValue))
        #expect(Self.schema("SubmittableKind")["enum"] as? [String] == JobKind.submittable.map(\.rawValue))
        #expect(Self.schema("Origin")["enum"] as? [String] == JobOrigin.allCases.map(\.rawValue))
    }
}
