import ArgumentParser
import OniOptions
import OniRuntime

@main
struct AnnotatorCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "oni-annotator",
        abstract: "Label game messages with an LLM for the learner.",
        discussion: """
            Serves AnnotationRequests on a ROUTER socket and asks an OpenAI-compatible server \
            (vLLM, llama.cpp's llama-server, Ollama, FastChat) whether each message shows progress \
            toward the goal. The API key is read from ONI_LLM_API_KEY (or OPENAI_API_KEY), never \
            from the command line. Stops on SIGINT/SIGTERM. --config FILE takes options from a \
            JSON or YAML file; the command line's win.
            """,
        version: BuildInfo.current.versionLine)

    @OptionGroup var configFile: ConfigFileOption
    @OptionGroup(title: "Socket and id") var wiring: AnnotatorWiring
    @OptionGroup(title: "Annotator") var annotator: AnnotatorOptions
    @OptionGroup(title: "Every role") var role: RoleOptions

    static func main() {
        main(OptionSources.arguments(for: Self.self))
    }

    func validate() throws {
        _ = try RoleEntries.annotator(wiring: wiring, annotator: annotator, role: role)
    }

    func run() throws {
        let entry = try RoleEntries.annotator(wiring: wiring, annotator: annotator, role: role)
        try RoleMain.run(
            logLevel: role.logLevel.rawValue, label: "oni.annotator",
            curve: .from(role.curve, clientKey: nil, binds: true, connects: false)
        ) { transport, stop, logger in
            try entry.body(transport, stop, logger)
        }
    }
}
