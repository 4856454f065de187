import ArgumentParser
import ForemanApp
import ForemanEngine
import ForemanDomain
import Foundation

/// `foreman jobs …`: talk to a running foreman's `/jobs` API.
struct JobsCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "jobs",
        abstract: "Submit and follow asynchronous jobs on a running foreman (FOREMAN_URL, FOREMAN_TOKEN).",
        subcommands: [Submit.self, Get.self, List.self, Cancel.self, ArtifactCommand.self]
    )

    struct Connection: ParsableArguments {
        @Option(help: "foreman's base URL (FOREMAN_URL, default http://127.0.0.1:8080).")
        var url: String?

        @Option(help: "foreman's address as host:port or a URL, as OLLAMA_HOST is read (FOREMAN_HOST).")
        var host: String?

        @Option(help: "Bearer token (FOREMAN_TOKEN).")
        var token: String?

        var client: JobsClient {
            let environment = ProcessInfo.processInfo.environment
            let base = url ?? host.map(ForemanHost.url) ?? environment["FOREMAN_URL"] ?? ForemanHost.url(environment["FOREMAN_HOST"] ?? "")
            return JobsClient(baseURL: base, token: token ?? environment["FOREMAN_TOKEN"], client: JobsClient.commandLineHTTPClient)
        }
    }

    struct Submit: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Submit a job; prints the job object.")
        @OptionGroup var connection: Connection
        @Option(help: "chat, generate or embed.") var kind: String = "chat"
        @Option(help: "The model.") var model: String
        @Option(help: "The prompt (the user message for chat, the input for embed).") var prompt: String
        @Option(help: "URL that receives a POST on every state change.") var webhook: String?
        @Option(help: "Higher runs first.") var priority: Int?
        @Option(name: .customLong("idempotency-key"), help: "Resubmitting with the same key returns the original job.") var idempotencyKey: String?
        @Flag(help: "Wait until the job ends, then print it.") var wait = false

        func validate() throws {
            guard let parsed = JobKind(rawValue: kind), JobKind.submittable.contains(parsed) else { throw ValidationError("--kind must be chat, generate or embed") }
        }

        func run() async throws {
            guard let kind = JobKind(rawValue: kind) else { throw ValidationError("--kind must be chat, generate or embed") }
            let client = connection.client
            var answer = try await CommandOutput.reaching { try await client.submit(
                kind: kind,
                request: JobsClient.nativeRequest(kind: kind, model: model, prompt: prompt),
                webhook: webhook,
                priority: priority,
                idempotencyKey: idempotencyKey
            ) }
            if wait, answer.isSuccess, let id = answer.object?["id"] as? String {
                answer = try await CommandOutput.reaching { try await client.waitUntilFinished(id) }
            }
            try printAnswer(answer)
        }
    }

    struct Get: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Print a job object.")
        @OptionGroup var connection: Connection
        @Argument(help: "The job id.") var id: String
        func run() async throws { try printAnswer(try await CommandOutput.reaching { try await connection.client.get(id) }) }
    }

    struct List: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "List jobs, newest first.")
        @OptionGroup var connection: Connection
        @Option(help: "queued, running, succeeded, failed or cancelled.") var state: String?
        @Option(help: "chat, generate, embed, messages or responses.") var kind: String?
        @Option(help: "api, jobs or openai.") var origin: String?
        @Option(help: "Page size (at most 200).") var limit: Int?
        @Option(help: "next_cursor of the previous page.") var cursor: String?
        func run() async throws {
            try printAnswer(try await CommandOutput.reaching { try await connection.client.list(state: state, kind: kind, origin: origin, limit: limit, cursor: cursor) })
        }
    }

    struct Cancel: AsyncParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Cancel a queued or running job.")
        @OptionGroup var connection: Connection
        @Argument(help: "The job id.") var id: String
        func run() async throws { try printAnswer(try await CommandOutput.reaching { try await connection.client.cancel(id) }) }
    }

    struct ArtifactCommand: AsyncParsableCommand {
        static let configuration = CommandConfiguration(commandName: "artifact", abstract: "Write an artifact's bytes to standard output.")
        @OptionGroup var connection: Connection
        @Argument(help: "The job id.") var id: String
        @Argument(help: "response.json or transcript.ndjson.") var name: String
        func run() async throws { try printAnswer(try await CommandOutput.reaching { try await connection.client.artifact(id, name: name) }) }
    }
}
