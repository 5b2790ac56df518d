import ArgumentParser
import Foundation
import OniOptions

@main
struct Oni: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oni",
        abstract: "Online intrinsic rewards from LLM feedback: run, watch and measure Oni.",
        version: BuildInfo.current.versionLine,
        subcommands: [
            RunCommand.self, EvaluateCommand.self, WatchCommand.self, LabelEvalCommand.self, MetricsCommand.self, EpisodesCommand.self, ReplayCommand.self, PlotCommand.self, StoreCommand.self, HealthCommand.self,
            KeysCommand.self, BenchCommand.self, ExecTiedCommand.self,
        ])

    /// Aliases in Oni's spelling everywhere; `oni run --config FILE` expanded before parsing.
    static func main() async {
        // A reader that went away (a closed pipe) must not kill a run mid-flight.
        signal(SIGPIPE, SIG_IGN)
        var arguments = OptionAliases.canonical(Array(CommandLine.arguments.dropFirst()))
        if arguments.first == "run" { arguments = ["run"] + OptionSources.arguments(for: RunCommand.self, Array(arguments.dropFirst())) }
        await main(arguments)
    }
}
