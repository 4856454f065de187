@testable import ForemanApp
import ForemanDomain
import ForemanTestSupport
import Foundation
import Testing

@Suite("The providers file (ADR 0017)")
struct ProvidersFileTests {
    static let example = """
        # The issue's example, plus an embeddings box.
        [providers.mac]
        kind = "ollama"
        url = "http://192.168.1.20:11434"
        token = "secret-1"

        [providers.desk]
        kind = "openai"
        url = "http://192.168.1.30:8401"
        concurrency = 2

        [providers.emb-1]
        kind = "openai"
        url = "https://embed.example:443/"
        """

    @Test("a fleet reads back sorted by name, with the defaults filled in")
    func reads() throws {
        #expect(try ProvidersFile.parse(Self.example, file: "p.toml") == [
            ProviderDeclaration(name: "desk", kind: .openai, url: "http://192.168.1.30:8401", concurrency: 2),
            ProviderDeclaration(name: "emb-1", kind: .openai, url: "https://embed.example:443/"),
            ProviderDeclaration(name: "mac", kind: .ollama, url: "http://192.168.1.20:11434", token: "secret-1"),
        ])
    }

    @Test("whatever it does not know stops startup, naming the file, the provider and the key", arguments: [
        (#"[providers.desk]\#nkind = "openai"\#nurl = "http://h:1"\#nconcurency = 2"#,
         #"p.toml: provider "desk": key "concurency" is not known (kind, url, token, concurrency)"#),
        (#"[providers.desk]\#nkind = "vllm"\#nurl = "http://h:1""#, #"p.toml: provider "desk": key "kind" must be "ollama" or "openai", not "vllm""#),
        (#"[providers.desk]\#nurl = "http://h:1""#, #"p.toml: provider "desk": key "kind" must be "ollama" or "openai""#),
        (#"[providers.desk]\#nkind = "ollama""#, #"p.toml: provider "desk": key "url" must be a string (http://host:port)"#),
        (#"[providers.desk]\#nkind = "ollama"\#nurl = "ftp://h""#, #"p.toml: provider "desk": key "url" must be an http:// or https:// URL, not "ftp://h""#),
        (#"[providers.desk]\#nkind = "ollama"\#nurl = "http://h:1/v1""#,
         #"p.toml: provider "desk": key "url" must be the box's address alone, without a path, query or fragment: "http://h:1/v1""#),
        (#"[providers.desk]\#nkind = "ollama"\#nurl = "http://h:1"\#nconcurrency = 0"#,
         #"p.toml: provider "desk": key "concurrency" must be a whole number from 1 to 64"#),
        (#"[providers.desk]\#nkind = "ollama"\#nurl = "http://h:1"\#nconcurrency = "2""#,
         #"p.toml: provider "desk": key "concurrency" must be a whole number from 1 to 64"#),
        (#"[providers.desk]\#nkind = "ollama"\#nurl = "http://h:1"\#ntoken = """#,
         #"p.toml: provider "desk": key "token" must be a non-empty string of visible ASCII characters"#),
        (#"[providers.Desk]\#nkind = "ollama"\#nurl = "http://h:1""#, #"p.toml: provider "Desk": the name must be lowercase letters, digits and dashes"#),
        (#"[providers.library]\#nkind = "ollama"\#nurl = "http://h:1""#, #"p.toml: provider "library": the name is a namespace of Ollama's model names"#),
        (#"[provider.desk]\#nkind = "ollama""#, #"p.toml: table or key "provider" is not known (only [providers.NAME] tables)"#),
        ("# nothing yet", "p.toml: declares no provider (one [providers.NAME] table per box)"),
        (#"providers = 3"#, "p.toml: declares no provider (one [providers.NAME] table per box)"),
        (#"[providers]\#ndesk = 3"#, #"p.toml: provider "desk": must be a table"#),
    ])
    func refuses(text: String, message: String) {
        #expect(throws: ConfigError(variable: "FOREMAN_PROVIDERS", message: message)) { try ProvidersFile.parse(text, file: "p.toml") }
    }

    @Test("a file that is not TOML says where")
    func notTOML() {
        do {
            _ = try ProvidersFile.parse("[providers.desk]\nkind = \n", file: "p.toml")
            Issue.record("parsed")
        } catch {
            #expect(error.message.hasPrefix("p.toml: line 2: "), "\(error.message)")
        }
    }

    @Test("a missing file is named")
    func missing() {
        #expect(throws: ConfigError.self) { try ProvidersFile.read(path: "/nonexistent/providers.toml") }
    }

    @Test("FOREMAN_PROVIDERS is read at startup; without it FOREMAN_OLLAMA_URL is the one provider, named default")
    func fromTheEnvironment() throws {
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("providers-\(UUID().uuidString).toml").path
        try Self.example.write(toFile: path, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(atPath: path) }
        let fleet = try ForemanConfig.resolve(environment: ["FOREMAN_PROVIDERS": path])
        #expect(fleet.providerDeclarations.map(\.name) == ["desk", "emb-1", "mac"])
        let alone = try ForemanConfig.resolve(environment: ["FOREMAN_OLLAMA_URL": "http://box:11434", "FOREMAN_OLLAMA_TOKEN": "t"])
        #expect(alone.providers == nil)
        #expect(alone.providerDeclarations == [ProviderDeclaration(name: "default", kind: .ollama, url: "http://box:11434", token: "t")])
        do {
            _ = try ForemanConfig.resolve(environment: ["FOREMAN_PROVIDERS": "/nonexistent/providers.toml"])
            Issue.record("resolved")
        } catch {
            #expect(error.description.hasPrefix("FOREMAN_PROVIDERS: /nonexistent/providers.toml"), "\(error.description)")
        }
    }
}
