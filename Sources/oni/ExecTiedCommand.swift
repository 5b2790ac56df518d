import ArgumentParser
import CProcessControl
import Foundation

/// Runs a program that dies with the process that started it, even when that process is
/// SIGKILLed: `oni run` starts the local llama-server through this (the server, unlike
/// Oni's own roles, cannot watch for its parent itself).
struct ExecTiedCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "exec-tied",
        abstract: "Replace this process with PROGRAM, which the kernel SIGKILLs if the parent dies.",
        shouldDisplay: false)

    @Argument(parsing: .captureForPassthrough, help: "PROGRAM and its arguments (absolute path).") var command: [String] = []

    func run() throws {
        let words = command.first == "--" ? Array(command.dropFirst()) : command
        guard let program = words.first, program.hasPrefix("/") else {
            throw ValidationError("exec-tied needs an absolute PROGRAM path, got \(words.first ?? "nothing")")
        }
        // The parent `oni run` names itself; otherwise the one we have now.
        let parent = ProcessInfo.processInfo.environment["ONI_PARENT_PID"].flatMap { Int32($0) } ?? getppid()
        var argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) }
        argv.append(nil)
        let result = oni_exec_tied(program, argv, SIGKILL, parent)
        if result == -2 { throw ExitCode.failure }  // the parent died already: nobody would signal us
        throw ValidationError("exec-tied: cannot run \(program): \(String(cString: strerror(errno)))")
    }
}
