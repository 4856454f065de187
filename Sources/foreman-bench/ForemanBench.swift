import ArgumentParser

@main
struct ForemanBench: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "foreman-bench",
        abstract: "Benchmarks foreman against the fake Ollama target, in one process. Run by hand (release build), never in CI.",
        subcommands: [SchedulingCommand.self, ServiceCommand.self, MixedCommand.self, FleetCommand.self, KeyedCallCommand.self, BurstCommand.self, StreamCommand.self, DrainCommand.self, WaitingCommand.self]
    )
}
