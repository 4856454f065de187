import ForemanDomain
@testable import ForemanStore
import ForemanTestSupport
import Foundation
import Testing

@Suite("Claims within a provider's scope")
struct ClaimScopeTests {
    private static func job(_ model: String, provider: String? = nil, kind: JobKind = .chat, priority: Int = 0) -> Job {
        Job(kind: kind, origin: .jobs, model: model, provider: provider, priority: priority, request: Data("{}".utf8), stream: false)
    }

    @Test("a provider claims the jobs bound to it and the bare ones for its models, in the scheduler's order, and records itself")
    func scoped() async throws {
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 100)
        for job in [
            Self.job("mistral", provider: "b"), Self.job("llama3.2"), Self.job("qwen2.5:7b", priority: 5), Self.job("llama3.2", provider: "a"),
            Self.job("nomic-embed-text", kind: .embed), Self.job("nomic-embed-text", provider: "a", kind: .embed),
        ] {
            _ = try await store.enqueue(job)
        }
        let a = ClaimScope(provider: "a", models: ["llama3.2", "llama3.2:latest"])
        let b = ClaimScope(provider: "b", models: ["qwen2.5:7b", "nomic-embed-text"])

        // b's top tier is its own: the priority 5 job only it has, then the job bound to it.
        let first = try #require(try await store.claimNext(chatSlot: nil, policy: .init(), scope: b))
        #expect(first.model == "qwen2.5:7b" && first.ranOn == "b")
        #expect(try await store.claimNext(chatSlot: nil, policy: .init(), scope: b)?.model == "mistral")
        #expect(try await store.claimNext(chatSlot: nil, policy: .init(), scope: b) == nil, "the rest are a's or unknown to b")
        let bare = try #require(try await store.claimNext(chatSlot: nil, policy: .init(), scope: a))
        #expect(bare.provider == nil && bare.ranOn == "a")
        #expect(try await store.claimNext(chatSlot: nil, policy: .init(), scope: a)?.provider == "a")
        #expect(try await store.claimNext(chatSlot: nil, policy: .init(), scope: a) == nil)

        #expect(try await store.claimNextEmbed(scope: a)?.provider == "a", "a claims the embed job bound to it, not b's bare one")
        #expect(try await store.claimNextEmbed(scope: a) == nil)
        let embed = try #require(try await store.claimNextEmbed(scope: b))
        #expect(embed.provider == nil && embed.ranOn == "b")
        #expect(try await store.job(id: embed.id)?.ranOn == "b", "the row records where it ran")
    }

    @Test("a provider alone claims every job, bound or not, and still records itself")
    func alone() async throws {
        let store = try SQLiteJobStore(pool: try ForemanDatabase.open(path: temporaryDatabasePath()), maxQueue: 100)
        _ = try await store.enqueue(Self.job("mistral", provider: "elsewhere"))
        _ = try await store.enqueue(Self.job("llama3.2"))
        let alone = ClaimScope(provider: "default", models: nil)
        #expect(try await store.claimNext(chatSlot: nil, policy: .init(), scope: alone)?.ranOn == "default")
        #expect(try await store.claimNext(chatSlot: nil, policy: .init(), scope: alone)?.ranOn == "default")
        #expect(try await store.claimNext(chatSlot: nil, policy: .init(), scope: alone) == nil)
    }

    @Test("ClaimScope.admits is the store's filter")
    func admits() {
        let scope = ClaimScope(provider: "a", models: ["llama3.2"])
        #expect(scope.admits(Self.job("llama3.2")))
        #expect(scope.admits(Self.job("anything", provider: "a")))
        #expect(!scope.admits(Self.job("llama3.2", provider: "b")))
        #expect(!scope.admits(Self.job("qwen")))
        #expect(ClaimScope(provider: "a", models: nil).admits(Self.job("llama3.2", provider: "b")), "alone, everything")
    }
}
