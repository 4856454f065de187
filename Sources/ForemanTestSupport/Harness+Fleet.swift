import FakeOllama
import ForemanApp
import ForemanDomain
import Foundation
import Logging

extension Harness {
    /// One provider of a fleet under test: a fake box and how the providers file declares it.
    package struct FleetMember: Sendable {
        package var name: String
        package var kind: ProviderKind
        package var box: FakeBox
        package var concurrency: Int

        package init(_ name: String, kind: ProviderKind = .ollama, models: [FakeModel], concurrency: Int = 1, tokenDelay: Duration = .milliseconds(2)) {
            self.name = name
            self.kind = kind
            self.box = FakeBox(state: FakeOllamaState(models: models, tokenDelay: tokenDelay))
            self.concurrency = concurrency
        }
    }

    /// Starts a fake box per member and a foreman whose providers file declares them all, runs `body` once each box has
    /// been polled, and stops everything. `harness.fake` is the first member's.
    package static func runFleet<T: Sendable>(
        _ members: [FleetMember],
        token: String? = "secret",
        configure: @Sendable (inout ForemanConfig) -> Void = { _ in },
        _ body: (Harness) async throws -> T
    ) async throws -> T {
        var declarations: [ProviderDeclaration] = []
        for member in members {
            try await member.box.start()
            declarations.append(
                ProviderDeclaration(name: member.name, kind: member.kind, url: await member.box.url, concurrency: member.concurrency)
            )
        }
        do {
            let result = try await runProviders(declarations, fake: members[0].box.state, token: token, configure: configure) { harness in
                // Until a box has been polled foreman cannot tell which models it has: a bare name could go anywhere.
                try await eventually("every provider polled") {
                    let providers = try await harness.health()["providers"] as? [[String: Any]] ?? []
                    return providers.count == members.count && providers.allSatisfy { $0["last_poll_at"] is String }
                }
                return try await body(harness)
            }
            for member in members { await member.box.stop() }
            return result
        } catch {
            for member in members { await member.box.stop() }
            throw error
        }
    }

    /// Starts a foreman whose providers file declares `providers` (already listening, or not), runs `body`, and stops
    /// it. `fake` is what `harness.fake` answers: a state nobody serves unless the caller serves it.
    package static func runProviders<T: Sendable>(
        _ providers: [ProviderDeclaration],
        fake: FakeOllamaState = FakeOllamaState(),
        token: String? = "secret",
        configure: @Sendable (inout ForemanConfig) -> Void = { _ in },
        _ body: (Harness) async throws -> T
    ) async throws -> T {
        try await runForeman(
            fake: fake, fakePort: 0, token: token, databasePath: temporaryDatabasePath(),
            configure: { config in
                config.providers = providers
                configure(&config)
            },
            body
        )
    }
}
