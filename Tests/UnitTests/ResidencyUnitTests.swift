import ForemanEngine
import ForemanDomain
@testable import ForemanApp
@testable import ForemanHTTP
import ForemanTestSupport
import Foundation
import GRDB
import Logging
import NIOCore
import Testing

@Suite("Residency planner, model roles and embeddings options")
struct ResidencyUnitTests {
    @Test("the planner unloads exactly the resident models in neither slot, over random resident sets")
    func plannerProperty() {
        let names = ["a", "a:latest", "b:7b", "c", "e", "e:latest", "f:v1"]
        var random = SplitMix64(state: 42)
        for _ in 0..<500 {
            let resident = (0..<Int(random.next() % 6)).map { _ in names[Int(random.next() % UInt64(names.count))] }
            let chat: String? = random.next() % 4 == 0 ? nil : names[Int(random.next() % UInt64(names.count))]
            let embed: String? = random.next() % 4 == 0 ? nil : names[Int(random.next() % UInt64(names.count))]
            let unloads = ResidencyPlanner.unloads(resident: resident, chatSlot: chat, embedSlot: embed)
            let keep = Set([chat, embed].compactMap { $0 }.map(ModelName.normalized))
            let after = Set(resident.map(ModelName.normalized)).subtracting(unloads.map(ModelName.normalized))
            #expect(after.isSubset(of: keep), "at most the two slot models stay")
            #expect(after.count <= 2)
            #expect(unloads.allSatisfy { !keep.contains(ModelName.normalized($0)) }, "a slot model is never unloaded")
            #expect(Set(unloads.map(ModelName.normalized)).count == unloads.count, "each model is unloaded once")
        }
    }

    @Test("roles: FOREMAN_EMBED_MODELS first, then /api/show capabilities, unknown models are either")
    func roles() {
        let classifier = ModelClassifier(
            declaredEmbedding: ["bge-m3"],
            capabilities: [
                "nomic-embed-text:latest": ModelCapabilities(digest: "1", capabilities: ["embedding"]),
                "llama3.2:latest": ModelCapabilities(digest: "2", capabilities: ["completion", "tools"]),
                "hybrid:latest": ModelCapabilities(digest: "3", capabilities: ["completion", "embedding"]),
                "bge-m3:latest": ModelCapabilities(digest: "4", capabilities: ["completion"]),
            ]
        )
        #expect(classifier.role(of: "nomic-embed-text") == .embeddingOnly)
        #expect(classifier.role(of: "llama3.2:latest") == .chatOnly)
        #expect(classifier.role(of: "hybrid") == .either)
        #expect(classifier.role(of: "bge-m3:latest") == .embeddingOnly)
        #expect(classifier.role(of: "never-seen") == .either)
    }

    @Test("num_ctx and keep_alive are set by editing the caller's text, nothing else changes")
    func rewriter() {
        func edit(_ text: String, _ change: ([UInt8]) -> [UInt8]) -> String { String(decoding: change(Array(text.utf8)), as: UTF8.self) }
        #expect(edit(#"{"model":"e","input":"x"}"#) { EmbedRequestRewriter.settingNumCtx(8192, in: $0) } == #"{"options":{"num_ctx":8192},"model":"e","input":"x"}"#)
        #expect(edit(#"{"model":"e","options":{"temperature":0.10}}"#) { EmbedRequestRewriter.settingNumCtx(512, in: $0) } == #"{"model":"e","options":{"num_ctx":512,"temperature":0.10}}"#)
        #expect(edit(#"{"model":"e","options":{ }}"#) { EmbedRequestRewriter.settingNumCtx(512, in: $0) } == #"{"model":"e","options":{"num_ctx":512 }}"#)
        #expect(edit(#"{"model":"e","options":null}"#) { EmbedRequestRewriter.settingNumCtx(512, in: $0) } == #"{"model":"e","options":{"num_ctx":512}}"#)
        #expect(edit(#"{"model":"e","keep_alive":"5m"}"#) { EmbedRequestRewriter.settingKeepAliveZero(in: $0) } == #"{"model":"e","keep_alive":0}"#)
        #expect(edit(#" {"model":"e"}"#) { EmbedRequestRewriter.settingKeepAliveZero(in: $0) } == #" {"keep_alive":0,"model":"e"}"#)
        #expect(EmbedRequestRewriter.callerNumCtx(in: Array(#"{"options":{"num_ctx":2048}}"#.utf8)) == 2048)
        #expect(EmbedRequestRewriter.callerNumCtx(in: Array(#"{"options":{"num_ctx":"big"}}"#.utf8)) == nil)
        #expect(EmbedRequestRewriter.callerNumCtx(in: Array(#"{"model":"e"}"#.utf8)) == nil)
    }
}
