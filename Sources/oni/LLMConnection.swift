import ArgumentParser
import Foundation
import OniAnnotation
import OniOptions
import OniRuntime

/// The LLM a command talks to: the server the annotator options name (or ONI_LLM_BASE_URL), else
/// the local llama-server that deploy/setup-llm.sh installs, started for the command's duration.
struct LLMConnection {
    var config: LLMServerConfig
    /// The local server, when one was started (stop it when done).
    var server: LocalLLMProcess?
    /// SIGINT and SIGTERM stop the local server before the command exits, so an interrupted
    /// command never leaves a llama-server behind.
    private var interruption: [any DispatchSourceSignal] = []

    init(_ annotator: AnnotatorOptions, modelFile: String?, threads: Int, logPath: String, command: String) throws {
        if let remote = annotator.llmServer() {
            config = remote
            server = nil
            return
        }
        do {
            let local = try LocalLLM.locate(modelPath: modelFile)
            try? FileManager.default.createDirectory(atPath: (logPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
            Console.line("\(command): starting the local llama-server with \(local.modelName) (log: \(logPath))")
            let started = try LocalLLMProcess(local, port: LocalLLMProcess.freePort(), threads: threads, logPath: logPath)
            server = started
            interruption = [SIGINT, SIGTERM].map { number in
                signal(number, SIG_IGN)
                let source = DispatchSource.makeSignalSource(signal: number, queue: .global())
                source.setEventHandler {
                    started.stop()
                    exit(128 + number)
                }
                source.resume()
                return source
            }
            config = LLMServerConfig(baseURL: started.baseURL, model: local.identity)
            config.maxConcurrentRequests = annotator.llmConcurrency == 0 ? 1 : annotator.llmConcurrency
        } catch {
            Console.line("\(command): \(error)")
            throw ExitCode.failure
        }
    }

    /// The label mode `auto` stands for: log-probabilities from the local server, tags from any other.
    func labelMode(_ choice: LabelModeChoice) -> LabelMode { choice.mode ?? (server != nil ? .logprob : .tagged) }
}
