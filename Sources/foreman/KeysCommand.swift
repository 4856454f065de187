import ArgumentParser
import ForemanApp
import Foundation

/// `foreman keys …`: manage the keys of a running foreman (ADR 0022), with an admin key.
struct KeysCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Create, list, change and revoke keys on a running foreman (FOREMAN_URL, FOREMAN_TOKEN: an admin key).",
        subcommands: [Create.self, List.self, Update.self, Revoke.self]
    )

    /// The fields `create` and `update` take.
    struct Fields: ParsableArguments {
        @Option(help: "Comma-separated: inference, jobs, models, admin.") var scopes: String?
        @Option(name: .customLong("priority-ceiling"), help: "The highest priority the key's jobs get.") var priorityCeiling: Int?
        @Option(name: .customLong("max-concurrent"), help: "Its generations queued or running at once (0: no cap).") var maxConcurrent: Int?
        @Option(name: .customLong("requests-per-minute"), help: "Requests that ask for work, per minute (0: no limit).") var requestsPerMinute: Int?
        @Option(name: .customLong("tokens-per-day"), help: "Prompt and generated tokens per UTC day (0: no limit).") var tokensPerDay: Int?

        func fields(name: String?) -> JobsClient.KeyFields {
            JobsClient.KeyFields(
                name: name, scopes: scopes.map { $0.split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) } },
                priorityCeiling: priorityCeiling, maxConcurrent: maxConcurrent, requestsPerMinute: requestsPerMinute, tokensPerDay: tokensPerDay
            )
        }
    }

    struct Create: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Create a key; prints it with its secret, shown this once.")
        @OptionGroup var connection: JobsCommand.Connection
        @Option(help: "1 to 64 of a-z, 0-9, '_' and '-'.") var name: String
        @OptionGroup var fields: Fields

        func validate() throws {
            guard fields.scopes != nil else { throw ValidationError("--scopes is required") }
        }

        func run() async throws {
            try printAnswer(try await CommandOutput.reaching { try await connection.client.createKey(fields.fields(name: name)) })
        }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List every key, revoked ones included; never a secret.")
        @OptionGroup var connection: JobsCommand.Connection
        func run() async throws { try printAnswer(try await CommandOutput.reaching { try await connection.client.keys() }) }
    }

    struct Update: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Change a key's name, scopes or limits.")
        @OptionGroup var connection: JobsCommand.Connection
        @Argument(help: "The key id.") var id: String
        @Option(help: "A new name.") var name: String?
        @OptionGroup var fields: Fields

        func run() async throws {
            try printAnswer(try await CommandOutput.reaching { try await connection.client.updateKey(id, fields.fields(name: name)) })
        }
    }

    struct Revoke: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Revoke a key: refused from now on; its queued work is cancelled.")
        @OptionGroup var connection: JobsCommand.Connection
        @Argument(help: "The key id.") var id: String
        func run() async throws { try printAnswer(try await CommandOutput.reaching { try await connection.client.revokeKey(id) }) }
    }
}
