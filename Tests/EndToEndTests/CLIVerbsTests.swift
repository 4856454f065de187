import FakeOllama
import ForemanTestSupport
import Foundation
import Testing

extension ServerTests {
    /// The CLI's Ollama verbs against a running foreman (issue #18), driven as a person would by
    /// `scripts/cli-check.py`: through pipes, and on a pseudo-terminal for `run`'s conversation and `pull`'s bars.
    @Suite("CLI: Ollama's verbs")
    struct CLIVerbsTests {
        @Test("list, pull (piped and on a terminal), cp, rm, run (arguments, standard input, a conversation), show, ps, status; a server that is down; a closed pipe")
        func verbs() async throws {
            try await Harness.run { harness in
                let check = try await RepositoryScript.run(
                    "scripts/cli-check.py", [],
                    environment: ["FOREMAN": foremanBinary.path, "FOREMAN_HOST": "127.0.0.1:\(harness.port)", "FOREMAN_TOKEN": harness.token ?? ""]
                )
                #expect(check.status == 0 && check.output.hasSuffix("checks passed"), "\(check.output)")
                // The conversation on the terminal sent its history: the second turn carried the first.
                let chats = await harness.fake.requests(to: "/api/chat").compactMap {
                    (try? JSONSerialization.jsonObject(with: Data($0.body.utf8))) as? [String: Any]
                }
                let turns = chats.compactMap { ($0["messages"] as? [[String: Any]])?.compactMap { $0["content"] as? String } }
                #expect(turns.contains(["first question", "The sky is blue because of Rayleigh scattering.", "second question"]), "\(turns)")
                // `--format json --think` reach the box.
                #expect(chats.contains { $0["format"] as? String == "json" && $0["think"] as? Bool == true }, "\(chats)")
                // `run` of a model the box lacked pulled it first, as `ollama run` does.
                #expect(await harness.fake.requests(to: "/api/pull").contains { $0.body.contains("phi3") })
            }
        }

        @Test("a listing longer than a pipe holds, cut by `head`: foreman ends quietly with success")
        func closedPipe() async throws {
            let models = (0..<1500).map { FakeModel(name: "model-\($0):latest") }
            try await Harness.run(fake: FakeOllamaState(models: models)) { harness in
                let shell = Process()
                shell.executableURL = URL(fileURLWithPath: "/usr/bin/env")
                shell.arguments = ["bash", "-c", "set -o pipefail; '\(foremanBinary.path)' list | head -n 1 > /dev/null"]
                shell.environment = ["FOREMAN_HOST": "127.0.0.1:\(harness.port)", "FOREMAN_TOKEN": harness.token ?? "", "PATH": "/usr/bin:/bin"]
                let errors = Pipe()
                shell.standardError = errors
                try shell.run()
                let stderr = String(decoding: errors.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
                shell.waitUntilExit()
                #expect(shell.terminationStatus == 0 && stderr.isEmpty, "\(shell.terminationStatus): \(stderr)")
            }
        }
    }
}
