import ArgumentParser
import ForemanApp
import Foundation

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// `foreman pull`: pulls a model onto its box, with Ollama's progress bars.
struct PullCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "pull", abstract: "Pull a model onto its provider (as `ollama pull`).")
    @OptionGroup var connection: JobsCommand.Connection
    @Flag(help: "Use an insecure registry.") var insecure = false
    @Argument(help: "The model; in a fleet, provider/model.") var model: String

    func run() async throws {
        try await Self.pull(model, insecure: insecure, client: connection.client)
    }

    /// Pulls `model`, drawing its progress on standard error; a failure ends the command.
    static func pull(_ model: String, insecure: Bool, client: JobsClient) async throws {
        var progress = PullProgress()
        let failed = try await CommandOutput.reaching {
            try await client.streamLines("/api/pull", body: ["model": model, "insecure": insecure, "stream": true]) { line in
                if let error = line["error"] as? String {
                    progress.finish()
                    CommandOutput.fail(error, exitCode: CommandOutput.serverErrorCode)
                }
                progress.show(line)
            }
        }
        progress.finish()
        if let failed { _ = try OllamaAnswer.object(failed) }
    }
}

/// `foreman run`: a chat with a model, as `ollama run`: one answer to a prompt given as arguments or on standard
/// input, or, on a terminal, a conversation that keeps its history until `/bye`.
struct RunCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "run", abstract: "Chat with a model (as `ollama run`).")
    @OptionGroup var connection: JobsCommand.Connection
    @Option(help: "Answer format: json.") var format: String?
    @Flag(help: "Let a thinking model think, and show its thinking.") var think = false
    @Argument(help: "The model; in a fleet, provider/model.") var model: String
    @Argument(help: "The prompt; without one, standard input, or a conversation on a terminal.") var prompt: [String] = []

    func run() async throws {
        let client = connection.client
        // As `ollama run`: a model the box does not have is pulled first, with its progress.
        let shown = try await CommandOutput.reaching { try await client.show(model) }
        if shown.status == 404 { try await PullCommand.pull(model, insecure: false, client: client) }
        if !prompt.isEmpty {
            _ = try await answer(client, [["role": "user", "content": prompt.joined(separator: " ")]])
            return
        }
        guard isatty(STDIN_FILENO) == 1 else {
            let input = String(decoding: FileHandle.standardInput.readDataToEndOfFile(), as: UTF8.self)
            _ = try await answer(client, [["role": "user", "content": input]])
            return
        }
        var messages: [[String: Any]] = []
        while true {
            CommandOutput.emit(Data(">>> ".utf8))
            guard let line = readLine() else {
                CommandOutput.emit(Data("\n".utf8))
                return
            }
            let text = line.trimmingCharacters(in: .whitespaces)
            if text == "/bye" { return }
            if text == "/clear" {
                messages.removeAll()
                CommandOutput.emit(Data("Cleared session context\n".utf8))
                continue
            }
            if text.isEmpty { continue }
            messages.append(["role": "user", "content": text])
            messages.append(["role": "assistant", "content": try await answer(client, messages)])
            CommandOutput.emit(Data("\n".utf8))
        }
    }

    /// Streams the model's answer to `messages` to standard output and returns its text.
    private func answer(_ client: JobsClient, _ messages: [[String: Any]]) async throws -> String {
        var body: [String: Any] = ["model": model, "messages": messages, "stream": true]
        if let format { body["format"] = format }
        if think { body["think"] = true }
        var content = ""
        var thinking = false
        let failed = try await CommandOutput.reaching {
            try await client.streamLines("/api/chat", body: body) { line in
                if let error = line["error"] as? String { CommandOutput.fail(error, exitCode: CommandOutput.serverErrorCode) }
                let message = line["message"] as? [String: Any] ?? [:]
                if think, let part = message["thinking"] as? String, !part.isEmpty {
                    if !thinking { CommandOutput.emit(Data("Thinking...\n".utf8)) }
                    thinking = true
                    CommandOutput.emit(Data(part.utf8))
                }
                if let part = message["content"] as? String, !part.isEmpty {
                    if thinking {
                        CommandOutput.emit(Data("\n...done thinking.\n\n".utf8))
                        thinking = false
                    }
                    content += part
                    CommandOutput.emit(Data(part.utf8))
                }
            }
        }
        if let failed { _ = try OllamaAnswer.object(failed) }
        CommandOutput.emit(Data("\n".utf8))
        return content
    }
}
