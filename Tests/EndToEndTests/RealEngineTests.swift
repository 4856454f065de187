import ForemanApp
import ForemanDomain
import ForemanTestSupport
import Foundation
import Testing

extension ServerTests {
    /// foreman in front of real llama.cpp `llama-server`s (`scripts/realengine/`, small real models), driven by the
    /// official ollama-python client (`scripts/realengine-check.py`): the `openai` provider kind with real tokens,
    /// real timings and real error shapes (ADR 0017, ADR 0018).
    @Suite("Real engines through the ollama client")
    struct RealEngineTests {
        static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        static let environment = ProcessInfo.processInfo.environment
        static let venv = environment["REALENGINE_VENV"] ?? (NSHomeDirectory() + "/.cache/foreman-realengine/venv")
        /// `.ci/run` installs the engine and sets `FOREMAN_REALENGINE=1`, so there a missing engine fails the test
        /// rather than skipping it.
        static let required = environment["FOREMAN_REALENGINE"] == "1"
        static let installed = FileManager.default.isExecutableFile(atPath: venv + "/bin/python")

        @Test("chat streamed and whole, generate, embeddings and an unknown model, through foreman to real engines", .enabled(if: installed || required))
        func ollamaClientAgainstRealEngines() async throws {
            try #require(Self.installed, "no real engine at \(Self.venv): run scripts/realengine/setup.sh")
            let chatPort = try closedPort()
            let embedPort = try closedPort()
            defer { for port in [chatPort, embedPort] { Self.stopEngine(port: port) } }
            let chat = try await Self.run("scripts/realengine/start.sh", [String(chatPort), "chat"], environment: ["PARALLEL": "1"])
            try #require(chat.status == 0, "\(chat.output)")
            let embed = try await Self.run("scripts/realengine/start.sh", [String(embedPort), "embed"])
            try #require(embed.status == 0, "\(embed.output)")
            let (chatModel, embedModel) = (chat.output, embed.output)
            let providers = [
                ProviderDeclaration(name: "chat", kind: .openai, url: "http://127.0.0.1:\(chatPort)"),
                ProviderDeclaration(name: "embed", kind: .openai, url: "http://127.0.0.1:\(embedPort)"),
            ]
            try await Harness.runProviders(providers) { harness in
                let check = try await Self.run(
                    "scripts/realengine-check.py", [],
                    environment: [
                        "FOREMAN_URL": harness.baseURL, "FOREMAN_TOKEN": harness.token ?? "", "CHAT_MODEL": chatModel, "EMBED_MODEL": embedModel,
                    ]
                )
                #expect(check.status == 0, "\(check.output)")
                #expect(check.output.hasSuffix("checks passed"), "\(check.output)")
            }
        }

        /// Runs a script of the repository to its end; its output, trimmed, and exit status. The output goes through a
        /// file, so the engine the script leaves running holds no pipe of ours.
        static func run(_ script: String, _ arguments: [String], environment extra: [String: String] = [:]) async throws -> (output: String, status: Int32) {
            let log = FileManager.default.temporaryDirectory.appendingPathComponent("foreman-script-\(UUID().uuidString).log")
            _ = FileManager.default.createFile(atPath: log.path, contents: nil)
            defer { try? FileManager.default.removeItem(at: log) }
            let handle = try FileHandle(forWritingTo: log)
            let process = Process()
            // Foundation learns that a child ended when a socket it hands the child closes. The engine `start.sh` leaves
            // running would inherit that socket and hold it open: every descriptor past the standard three is closed
            // before the script starts. The test process's signal mask is not passed on either.
            process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
            process.arguments = [
                "python3", "-c",
                "import os, signal, sys; os.closerange(3, 65536); signal.pthread_sigmask(signal.SIG_SETMASK, []); "
                    + "[signal.signal(s, signal.SIG_DFL) for s in (signal.SIGTERM, signal.SIGINT)]; os.execv(sys.argv[1], sys.argv[1:])",
                root.appendingPathComponent(script).path,
            ] + arguments
            process.environment = environment.merging(extra) { _, new in new }
            process.standardOutput = handle
            process.standardError = handle
            let (exits, exited) = AsyncStream<Int32>.makeStream()
            process.terminationHandler = { process in
                exited.yield(process.terminationStatus)
                exited.finish()
            }
            try process.run()
            var status: Int32 = -1
            for await code in exits { status = code }
            try handle.close()
            let text = try String(contentsOf: log, encoding: .utf8)
            return (text.trimmingCharacters(in: .whitespacesAndNewlines), status)
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
