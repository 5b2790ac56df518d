import ArgumentParser
import Foundation
import OniRuntime
import OniTransport

struct KeysCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "keys",
        abstract: "Make CURVE keys for encrypted, authenticated sockets (--curve DIR on every role).",
        discussion: """
            `oni keys generate DIR` writes the servers' pair (server.key, server.pub), one client \
            pair (client.key, client.pub) and authorized_clients, the client keys the learner and \
            annotator admit. `oni keys add-client DIR NAME` adds a pair NAME.key/NAME.pub and admits \
            it (give it to a role with --curve-client-key). Secret keys are written with mode 600 \
            and refused if others can read them; copy the directory to every host (or mount it as \
            a secret) and start every role with --curve DIR.
            """,
        subcommands: [Generate.self, AddClient.self])

    struct Generate: ParsableCommand {
        static let configuration = CommandConfiguration(abstract: "Make a key directory: server pair, one client pair, authorized_clients.")
        @Argument(help: "Directory to create (mode 700); existing key files are never overwritten.") var directory: String

        func run() throws {
            do {
                try CurveSecurity.generateDirectory(directory)
                let security = try CurveSecurity.load(directory: directory, binds: true, connects: true)
                Console.line("oni keys: wrote \(directory)/server.key, server.pub, client.key, client.pub, authorized_clients")
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
}
