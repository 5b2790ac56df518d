import ArgumentParser
import Foundation
import OniRuntime
import OniTransport

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make CURVE keys for encrypted, authenticated sockets (--curve DIR on every role).",
        discussion: """
            `oni keys generate DIR` writes the servers' pair (server.key, server.pub), a client pair \
            for the learner and the tools (client.key), one pair per worker (worker-0.key … ; a \
            worker started with --curve DIR uses DIR/ID.key when its id has one) and \
            authorized_clients, the client keys the learner and annotator admit (remove a line to \
            shut one worker out). `oni keys add-client DIR NAME` adds a pair NAME.key/NAME.pub and \
            admits it. `oni keys export DIR NAME OUT` copies to OUT only what client NAME needs \
            (server.pub and its own pair): give that directory to the worker's host, never the \
            server's secret. Secret keys are written with mode 600 and refused if others can read \
            them or they belong to another user; authorized_clients is refused if others can write \
            it. Start every role with --curve DIR.
            """,
        subcommands: [Generate.self, AddClient.self, Export.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Make a key directory: server pair, a client pair, one pair per worker, authorized_clients.")
        @Argument(help: "Directory to create (mode 700); existing key files are never overwritten.") var directory: String
        @Option(help: "Worker key pairs to make (worker-0 … worker-N-1; more later with add-client).") var workers = 4

        func validate() throws {
            guard (0...10_000).contains(workers) else { throw ValidationError("--workers must be in 0...10000") }
        }

        func run() throws {
            do {
                try CurveSecurity.generateDirectory(directory, workers: workers)
                let security = try CurveSecurity.load(directory: directory, binds: true, connects: true)
                let workerFiles = workers == 0 ? "" : ", worker-0.key … worker-\(workers - 1).key"
                Console.line("oni keys: wrote \(directory)/server.key, server.pub, client.key, client.pub\(workerFiles), authorized_clients")
                Console.line("  server key \(security.serverPublic.z85)")
                Console.line("  client key \(security.client!.publicKey.z85)")
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    struct AddClient: ParsableCommand {
        static let configuration = CommandConfiguration(commandName: "add-client", abstract: "Add a client pair NAME.key/NAME.pub and admit it.")
        @Argument(help: "The key directory.") var directory: String
        @Argument(help: "Name of the client (letters, digits, - and _).") var name: String

        func validate() throws {
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "-" || $0 == "_" }), name != "server" else {
                throw ValidationError("NAME must be letters, digits, - and _ (and not 'server'), got '\(name)'")
            }
        }

        func run() throws {
            do {
                let key = try CurveSecurity.addClient(directory, name: name)
                Console.line("oni keys: wrote \(directory)/\(name).key and \(name).pub; admitted \(key.z85)")
            } catch {
                throw ValidationError(error.description)
            }
        }
    }

    struct Export: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Copy what one client needs (server.pub and its pair) into a directory of its own.")
        @Argument(help: "The key directory.") var directory: String
        @Argument(help: "The client's name (worker-0, …).") var name: String
        @Argument(help: "Directory to write (mode 700): give it to that client's host with --curve.") var output: String

        func run() throws {
            do {
                try CurveSecurity.export(directory, name: name, to: output)
                Console.line("oni keys: wrote \(output)/server.pub, \(name).key, \(name).pub (no server secret)")
            } catch {
                throw ValidationError(error.description)
            }
        }
    }
}
