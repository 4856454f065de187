import ForemanApp
import ForemanDomain
import ForemanTestSupport
import Foundation
import Testing

extension ServerTests {
    /// foreman in front of real llama.cpp `llama-server`s (`scripts/realengine/`, small real models), driven by the
    /// official ollama-python client (`scripts/realengine-check.py`) and the official openai client
    /// (`scripts/openai-python-check.py`, with `/v1/responses`) and the official anthropic client
    /// (`scripts/anthropic-python-check.py`, `/v1/messages`), and batches (`scripts/openai-batch-check.py`): the `openai`
    /// provider kind with real tokens, real timings and real error
    /// shapes (ADR 0017, ADR 0018, ADR 0019).
    @Suite("Real engines through the ollama and openai clients")
    struct RealEngineTests {
        static let environment = ProcessInfo.processInfo.environment
        static let venv = environment["REALENGINE_VENV"] ?? (NSHomeDirectory() + "/.cache/foreman-realengine/venv")
        /// `.ci/run` installs the engine and sets `FOREMAN_REALENGINE=1`, so there a missing engine fails the test
        /// rather than skipping it.
        static let required = environment["FOREMAN_REALENGINE"] == "1"
        static let installed = FileManager.default.isExecutableFile(atPath: venv + "/bin/python")

        @Test("both clients: chats streamed and whole, generations, embeddings and unknown models, through foreman to real engines", .enabled(if: installed || required))
        func ollamaClientAgainstRealEngines() async throws {
            try #require(Self.installed, "no real engine at \(Self.venv): run scripts/realengine/setup.sh")
            let chatPort = try closedPort()
            let embedPort = try closedPort()
            defer { for port in [chatPort, embedPort] { Self.stopEngine(port: port) } }
            let chat = try await RepositoryScript.run("scripts/realengine/start.sh", [String(chatPort), "chat"], environment: ["PARALLEL": "1"])
            try #require(chat.status == 0, "\(chat.output)")
            let embed = try await RepositoryScript.run("scripts/realengine/start.sh", [String(embedPort), "embed"])
            try #require(embed.status == 0, "\(embed.output)")
            let (chatModel, embedModel) = (chat.output, embed.output)
            let providers = [
                ProviderDeclaration(name: "chat", kind: .openai, url: "http://127.0.0.1:\(chatPort)"),
                ProviderDeclaration(name: "embed", kind: .openai, url: "http://127.0.0.1:\(embedPort)"),
            ]
            try await Harness.runProviders(providers) { harness in
                let check = try await RepositoryScript.run(
                    "scripts/realengine-check.py", [],
                    environment: [
                        "FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": harness.token ?? "", "CHAT_MODEL": chatModel, "EMBED_MODEL": embedModel,
                    ]
                )
                #expect(check.status == 0, "\(check.output)")
                #expect(check.output.hasSuffix("checks passed"), "\(check.output)")
                let openAI = try await RepositoryScript.run(
                    "scripts/openai-python-check.py", [],
                    environment: [
                        "FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": harness.token ?? "", "CHAT_MODEL": chatModel, "EMBED_MODEL": embedModel,
                        "BOX": "engine",
                    ]
                )
                #expect(openAI.status == 0 && openAI.output.hasSuffix("checks passed"), "\(openAI.output)")
                let anthropic = try await RepositoryScript.run(
                    "scripts/anthropic-python-check.py", [],
                    environment: ["FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": harness.token ?? "", "CHAT_MODEL": chatModel]
                )
                #expect(anthropic.status == 0 && anthropic.output.hasSuffix("checks passed"), "\(anthropic.output)")
                // A small batch of each endpoint, run by the real engines (ADR 0020).
                let batch = [
                    "FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": harness.token ?? "", "MODEL": chatModel, "EMBED_MODEL": embedModel, "BOX": "engine",
                    "LINES": "4",
                ]
                let created = try await RepositoryScript.run("scripts/openai-batch-check.py", ["create"], environment: batch)
                try #require(created.status == 0, "\(created.output)")
                let line = try #require(created.output.split(separator: "\n").first { $0.hasPrefix("result ") })
                let batchID = try #require((try JSONSerialization.jsonObject(with: Data(line.dropFirst("result ".count).utf8)) as? [String: Any])?["batch"] as? String)
                let finished = try await RepositoryScript.run("scripts/openai-batch-check.py", ["finish", batchID], environment: batch)
                #expect(finished.status == 0 && finished.output.hasSuffix("checks passed"), "\(finished.output)")
                let endpoints = try await RepositoryScript.run("scripts/openai-batch-check.py", ["endpoints"], environment: batch)
                #expect(endpoints.status == 0 && endpoints.output.hasSuffix("checks passed"), "\(endpoints.output)")

                // A key's usage is what the real engines reported, in each surface's answer (ADR 0022).
                let key = try await KeysTests.create(harness, "real", ["inference"])
                var reported = KeyUsageTests.Reported()
                for (path, body) in [
                    ("/api/chat", #"{"model":""# + chatModel + #"","messages":[{"role":"user","content":"hi"}],"stream":false,"options":{"num_predict":5}}"#),
                    ("/v1/chat/completions", #"{"model":""# + chatModel + #"","messages":[{"role":"user","content":"hi"}],"max_tokens":4}"#),
                    ("/api/embed", #"{"model":""# + embedModel + #"","input":["one","two"]}"#),
                ] {
                    let answer = try await harness.request(.POST, path, json: body, token: .some(key.secret))
                    try #require(answer.status == 200, "\(path): \(answer.body)")
                    reported = reported + KeyUsageTests.reported(try answer.jsonObject())
                }
                let (used, usage) = try await KeyUsageTests.used(harness, "real")
                #expect(used == reported && used.prompt > 0 && used.generated > 0, "\(usage)")
            }
        }

        static func stopEngine(port: Int) {
            let run = environment["REALENGINE_RUN"] ?? (NSHomeDirectory() + "/.cache/foreman-realengine/run")
            let pidFile = "\(run)/llama-server-\(port).pid"
            guard let text = try? String(contentsOfFile: pidFile, encoding: .utf8), let pid = Int32(text.trimmingCharacters(in: .whitespacesAndNewlines)) else { return }
            kill(pid, SIGTERM)
            try? FileManager.default.removeItem(atPath: pidFile)
        }
    }
}
