import ArgumentParser

@main
struct Oni: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oni",
        abstract: "Online intrinsic rewards from LLM feedback: run, watch and measure Oni.",
        subcommands: [
            RunCommand.self, MetricsCommand.self, EpisodesCommand.self, ReplayCommand.self, PlotCommand.self, StoreCommand.self, HealthCommand.self,
            KeysCommand.self, BenchCommand.self, ExecTiedCommand.self,
        ])
}
