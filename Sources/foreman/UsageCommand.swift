import ArgumentParser
import ForemanApp

/// `foreman usage`: what each key used of a running foreman, by model and UTC day (ADR 0022), with an admin key.
struct UsageCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "usage",
        abstract: "Show usage by key, model and UTC day: requests, tokens and generation seconds (FOREMAN_TOKEN: an admin key)."
    )

    @OptionGroup var connection: JobsCommand.Connection
    @Option(help: "The first day, yyyy-MM-dd (UTC).") var from: String?
    @Option(help: "The last day, yyyy-MM-dd (UTC).") var to: String?
    @Option(help: "One key, by name or id.") var key: String?

    func run() async throws {
        try printAnswer(try await CommandOutput.reaching { try await connection.client.usage(from: from, to: to, key: key) })
    }
}
