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
        let parent = getppid()
        guard oni_set_parent_death_signal(SIGKILL) == 0 else {
            throw ValidationError("exec-tied: prctl(PR_SET_PDEATHSIG) failed: \(String(cString: strerror(errno)))")
        }
        // The parent may have died before the request took effect: then nobody would signal us.
        guard getppid() == parent else { throw ExitCode.failure }
        var argv: [UnsafeMutablePointer<CChar>?] = words.map { strdup($0) }
        argv.append(nil)
        execv(program, argv)
        throw ValidationError("exec-tied: cannot run \(program): \(String(cString: strerror(errno)))")
    }
}
