import ForemanDomain
import ForemanEngine
import Foundation
import NIOCore
import ForemanTestSupport
import Testing

@Suite("Model routing in a fleet (ADR 0017)")
struct ModelRouteTests {
    typealias Candidate = ModelRoute.Candidate
    let fleet: Set<String> = ["mac", "desk", "emb-1"]

    @Test("the first segment names a provider only when it is a configured provider's name")
    func names() {
        #expect(ModelRoute.name("desk/qwen2.5:7b", providers: fleet) == .init(provider: "desk", model: "qwen2.5:7b"))
        #expect(ModelRoute.name("desk/org/model:Q4", providers: fleet) == .init(provider: "desk", model: "org/model:Q4"))
        #expect(ModelRoute.name("llama3.2", providers: fleet) == .init(provider: nil, model: "llama3.2"))
        #expect(ModelRoute.name("library/llama3.2", providers: fleet) == .init(provider: nil, model: "library/llama3.2"))
        #expect(ModelRoute.name("hf.co/org/repo:Q4_K_M", providers: fleet) == .init(provider: nil, model: "hf.co/org/repo:Q4_K_M"))
        #expect(ModelRoute.name("Desk/qwen", providers: fleet) == .init(provider: nil, model: "Desk/qwen"))
        #expect(ModelRoute.name("desk/qwen", providers: []) == .init(provider: nil, model: "desk/qwen"))
    }

    @Test("a named provider: there, even while away; not when it is online without the model")
    func named() {
        let name = ModelRoute.Name(provider: "desk", model: "qwen")
        #expect(ModelRoute.decide(name, among: [Candidate(provider: "desk", online: true, hasModel: true)]) == .provider("desk"))
        #expect(ModelRoute.decide(name, among: [Candidate(provider: "desk", online: false, hasModel: false)]) == .provider("desk"))
        #expect(ModelRoute.decide(name, among: [Candidate(provider: "desk", online: true, hasModel: false), Candidate(provider: "mac", online: true, hasModel: true)]) == .notFound)
    }

    @Test("a bare name: online first, then resident, then least loaded, then the first listed; an away provider only when no online one has it")
    func bare() {
        let name = ModelRoute.Name(provider: nil, model: "llama3.2")
        let away = Candidate(provider: "mac", online: false, hasModel: true, resident: true)
        let idle = Candidate(provider: "desk", online: true, hasModel: true, load: 0)
        let busyResident = Candidate(provider: "emb-1", online: true, hasModel: true, resident: true, load: 3)
        #expect(ModelRoute.decide(name, among: [away, idle]) == .provider("desk"))
        #expect(ModelRoute.decide(name, among: [away, idle, busyResident]) == .provider("emb-1"))
        #expect(ModelRoute.decide(name, among: [away]) == .provider("mac"))
        #expect(ModelRoute.decide(name, among: [Candidate(provider: "desk", online: true, hasModel: false)]) == .notFound)
        let twin = Candidate(provider: "mac", online: true, hasModel: true, load: 0)
        #expect(ModelRoute.decide(name, among: [twin, idle]) == .provider("mac"))
        #expect(ModelRoute.decide(name, among: [idle, twin]) == .provider("desk"))
    }

    @Test("random fleets: each rule holds whatever the providers' states", arguments: 0..<300)
    func randomFleets(seed: Int) {
        var random = SplitMix64(state: UInt64(seed))
        let names = ["a", "b", "c", "d", "e"]
        let candidates = names.shuffled(using: &random).prefix(Int.random(in: 1...5, using: &random)).map { provider in
            Candidate(
                provider: provider, online: Bool.random(using: &random), hasModel: Bool.random(using: &random),
                resident: Bool.random(using: &random), load: Double(Int.random(in: 0...3, using: &random))
            )
        }
        // A bare name.
        let bare = ModelRoute.decide(.init(provider: nil, model: "m"), among: candidates)
        let servers = candidates.filter { $0.online && $0.hasModel }
        switch bare {
        case .notFound:
            #expect(!candidates.contains { $0.hasModel }, "\(candidates)")
        case .provider(let chosen):
            let pick = candidates.first { $0.provider == chosen }!
            #expect(pick.hasModel)
            if servers.isEmpty {
                #expect(pick.provider == candidates.first { $0.hasModel }?.provider)
            } else {
                #expect(pick.online)
                let pool = servers.contains { $0.resident } ? servers.filter { $0.resident } : servers
                #expect(pool.contains(pick), "a resident provider was passed over: \(candidates)")
                #expect(pool.allSatisfy { $0.load >= pick.load }, "a less loaded provider was passed over: \(candidates)")
                #expect(pool.first { $0.load == pick.load } == pick, "an equal provider listed earlier was passed over: \(candidates)")
            }
        }
        // Each provider by name.
        for candidate in candidates {
            let decision = ModelRoute.decide(.init(provider: candidate.provider, model: "m"), among: candidates)
            #expect(decision == (candidate.online && !candidate.hasModel ? .notFound : .provider(candidate.provider)))
        }
        #expect(ModelRoute.decide(.init(provider: "z", model: "m"), among: candidates) == .notFound)
    }
}

@Suite("Fleet listings and model rewrites")
struct FleetListingTests {
    private static func names(_ buffer: ByteBuffer) throws -> [String] {
        let object = try #require(try JSONSerialization.jsonObject(with: Data(buffer.readableBytesView)) as? [String: Any])
        return (object["models"] as? [[String: Any]] ?? []).compactMap { $0["name"] as? String }
    }

    @Test("every model under provider/model, and bare where exactly one list has it; other fields kept")
    func merge() throws {
        let a = ByteBuffer(string: #"{"models":[{"name":"llama3.2:latest","model":"llama3.2:latest","size":2019393189},{"name":"qwen2.5:7b"}]}"#)
        let b = ByteBuffer(string: #"{"models":[{"name":"llama3.2","size":1},{"name":"hf.co/org/repo:Q4"}]}"#)
        let merged = ModelListing.merge([("a", a), ("b", b), ("c", ByteBuffer(string: "not a list"))])
        #expect(try Self.names(merged) == ["a/llama3.2:latest", "a/qwen2.5:7b", "qwen2.5:7b", "b/llama3.2", "b/hf.co/org/repo:Q4", "hf.co/org/repo:Q4"])
        let object = try #require(try JSONSerialization.jsonObject(with: Data(merged.readableBytesView)) as? [String: Any])
        let first = try #require((object["models"] as? [[String: Any]])?.first)
        #expect(first["model"] as? String == "a/llama3.2:latest" && (first["size"] as? NSNumber)?.int64Value == 2_019_393_189)
    }

    @Test("the model is replaced, every other byte kept")
    func rewrite() {
        let body = #"{ "stream":false, "model" : "b/mistral","messages":[{"model":"x"}]}"#
        #expect(String(decoding: ModelField.replacing(in: Array(body.utf8), with: "mistral"), as: UTF8.self) == #"{ "stream":false, "model" : "mistral","messages":[{"model":"x"}]}"#)
        #expect(String(decoding: ModelField.replacing(in: Array(#"{"prompt":"p"}"#.utf8), with: "m"), as: UTF8.self) == #"{"prompt":"p"}"#)
        #expect(String(decoding: ModelField.replacing(in: Array(#"{"model":"a/q\"x"}"#.utf8), with: "q\"x"), as: UTF8.self) == #"{"model":"q\"x"}"#)
    }
}

@Suite("Cheap looks into a body")
struct RawJSONMentionTests {
    @Test("a quoted name is found wherever it is; a name inside another is not")
    func mentions() {
        let key = RawJSONFields.QuotedKey("num_ctx")
        #expect(RawJSONFields.mentions(key, in: ByteBuffer(string: #"{"options":{"num_ctx":8}}"#)))
        #expect(!RawJSONFields.mentions(key, in: ByteBuffer(string: #"{"options":{"num_ctx_x":8}}"#)))
        #expect(!RawJSONFields.mentions(key, in: ByteBuffer(string: #"{"model":"m"}"#)))
        #expect(RawJSONFields.mentions(key, in: ByteBuffer(string: #""num_ctx""#)))
        #expect(!RawJSONFields.mentions(key, in: ByteBuffer(string: #""num_ct"#)))
    }
}
