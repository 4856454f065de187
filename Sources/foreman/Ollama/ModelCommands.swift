import ArgumentParser
import ForemanApp
import Foundation

/// `foreman list`: the models of every box, as `ollama list` shows them.
struct ListCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "list", abstract: "List models (as `ollama list`).", aliases: ["ls"])
    @OptionGroup var connection: JobsCommand.Connection
    @Argument(help: "Only the models whose name starts with this.") var prefix: String?

    func run() async throws {
        let answer = try await CommandOutput.reaching { try await connection.client.tags() }
        let models = try OllamaAnswer.object(answer)["models"] as? [[String: Any]] ?? []
        let rows = models.compactMap { model -> [String]? in
            let name = model["name"] as? String ?? ""
            if let prefix, !name.lowercased().hasPrefix(prefix.lowercased()) { return nil }
            let size = (model["size"] as? NSNumber)?.int64Value ?? 0
            return [name, OllamaFormat.shortID(model["digest"]), OllamaFormat.bytes(size), OllamaFormat.time(OllamaFormat.date(model["modified_at"]), zero: "Never")]
        }
        CommandOutput.emit(Data(OllamaFormat.table(["NAME", "ID", "SIZE", "MODIFIED"], rows).utf8))
    }
}

/// `foreman rm`: deletes models, as `ollama rm`.
struct RemoveCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "rm", abstract: "Remove models (as `ollama rm`).")
    @OptionGroup var connection: JobsCommand.Connection
    @Argument(help: "The models.") var models: [String]

    func run() async throws {
        for model in models {
            _ = try OllamaAnswer.object(try await CommandOutput.reaching { try await connection.client.delete(model) }, emptyIsFine: true)
            CommandOutput.emit(Data("deleted '\(model)'\n".utf8))
        }
    }
}

/// `foreman cp`: copies a model, as `ollama cp`.
struct CopyCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "cp", abstract: "Copy a model (as `ollama cp`).")
    @OptionGroup var connection: JobsCommand.Connection
    @Argument(help: "The model to copy.") var source: String
    @Argument(help: "The new name.") var destination: String

    func run() async throws {
        _ = try OllamaAnswer.object(try await CommandOutput.reaching { try await connection.client.copy(source, to: destination) }, emptyIsFine: true)
        CommandOutput.emit(Data("copied '\(source)' to '\(destination)'\n".utf8))
    }
}

/// `foreman show`: a model's details, as `ollama show`.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(commandName: "show", abstract: "Show a model's details (as `ollama show`).")
    @OptionGroup var connection: JobsCommand.Connection
    @Argument(help: "The model.") var model: String

    func run() async throws {
        let shown = try OllamaAnswer.object(try await CommandOutput.reaching { try await connection.client.show(model) })
        let details = shown["details"] as? [String: Any] ?? [:]
        let info = shown["model_info"] as? [String: Any] ?? [:]
        let architecture = info["general.architecture"] as? String ?? details["family"] as? String
        func infoValue(_ suffix: String) -> String? {
            guard let architecture, let value = info[architecture + "." + suffix] else { return nil }
            return "\(value)"
        }
        var text = "  Model\n"
        for (label, value) in [
            ("architecture", architecture), ("parameters", details["parameter_size"] as? String), ("context length", infoValue("context_length")),
            ("embedding length", infoValue("embedding_length")), ("quantization", details["quantization_level"] as? String),
        ] {
            if let value { text += "    " + label.padding(toLength: 20, withPad: " ", startingAt: 0) + value + "\n" }
        }
        if let capabilities = shown["capabilities"] as? [String], !capabilities.isEmpty {
            text += "\n  Capabilities\n" + capabilities.map { "    \($0)\n" }.joined()
        }
        if let parameters = shown["parameters"] as? String, !parameters.isEmpty {
            text += "\n  Parameters\n" + parameters.split(separator: "\n").map { "    \($0)\n" }.joined()
        }
        if let license = shown["license"] as? String, !license.isEmpty {
            text += "\n  License\n" + license.split(separator: "\n").prefix(2).map { "    \($0)\n" }.joined()
        }
        CommandOutput.emit(Data((text + "\n").utf8))
    }
}

/// An answer of Ollama's API as the Ollama verbs read it: a JSON object, or one line on standard error with its
/// `error` text and a non-zero exit.
enum OllamaAnswer {
    static func object(_ answer: JobsClient.Answer, emptyIsFine: Bool = false) throws -> [String: Any] {
        guard answer.isSuccess else {
            CommandOutput.fail(answer.errorMessage, exitCode: CommandOutput.exitCode(forStatus: answer.status))
        }
        if emptyIsFine, answer.body.isEmpty { return [:] }
        guard let object = answer.object else { CommandOutput.fail("foreman's answer is not JSON", exitCode: CommandOutput.serverErrorCode) }
        return object
    }
}
