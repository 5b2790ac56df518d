import Foundation
import Logging
import OniRuntime
import OniStorage
import OniTestSupport
import OniTransport
import Testing

/// Several "hosts" on one machine: network namespaces joined by veth pairs to a bridge
/// (iproute2). Needs root, as CI has.
final class TestNetwork {
    /// The namespaces made, by host name.
    private(set) var namespaces: [String: String] = [:]
    /// Each host's address.
    private(set) var addresses: [String: String] = [:]
    /// The address of this (the test's) namespace on the network.
    let ownAddress: String
    private let prefix: String
    private let subnet: String
    private var rootLink: String?

    static var available: Bool { geteuid() == 0 && FileManager.default.isExecutableFile(atPath: "/usr/sbin/ip") }

    @discardableResult
    static func ip(_ arguments: [String]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/sbin/ip")
        process.arguments = arguments
        let pipe = Pipe()
        process.standardOutput = pipe
        process.standardError = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        guard process.terminationStatus == 0 else {
            throw RuntimeError.invalidConfiguration("ip \(arguments.joined(separator: " ")) failed: \(output)")
        }
        return output
    }

    /// A bridge in its own namespace, one namespace per host, and a link from the test's own namespace.
    init(hosts: [String]) throws {
        let tag = getpid() % 10_000
        prefix = "oni\(tag)"
        subnet = "10.231.\(20 + Int(tag) % 200)"
        ownAddress = "\(subnet).254"
        let hub = "\(prefix)-hub"
        try Self.ip(["netns", "add", hub])
        namespaces["hub"] = hub
        try Self.ip(["-n", hub, "link", "add", "br0", "type", "bridge"])
        try Self.ip(["-n", hub, "link", "set", "br0", "up"])
        for (index, host) in hosts.enumerated() {
            let namespace = "\(prefix)-\(host)"
            try Self.ip(["netns", "add", namespace])
            namespaces[host] = namespace
            let address = "\(subnet).\(index + 1)"
            addresses[host] = address
            try link(namespace: namespace, name: "\(prefix)h\(index)", address: address)
        }
        // The test process talks to the hosts (status queries, the LLM it serves) over the same network.
        let outside = "\(prefix)r"
        try Self.ip(["link", "add", outside, "type", "veth", "peer", "name", "\(outside)p", "netns", hub])
        rootLink = outside
        try Self.ip(["addr", "add", "\(ownAddress)/24", "dev", outside])
        try Self.ip(["link", "set", outside, "up"])
        try Self.ip(["-n", hub, "link", "set", "\(outside)p", "master", "br0", "up"])
    }

    private func link(namespace: String, name: String, address: String) throws {
        let hub = namespaces["hub"]!
        try Self.ip(["-n", hub, "link", "add", name, "type", "veth", "peer", "name", "eth0", "netns", namespace])
        try Self.ip(["-n", hub, "link", "set", name, "master", "br0", "up"])
        try Self.ip(["-n", namespace, "addr", "add", "\(address)/24", "dev", "eth0"])
        try Self.ip(["-n", namespace, "link", "set", "eth0", "up"])
        try Self.ip(["-n", namespace, "link", "set", "lo", "up"])
    }

    deinit {
        if let rootLink { _ = try? Self.ip(["link", "del", rootLink]) }
        for namespace in namespaces.values { _ = try? Self.ip(["netns", "del", namespace]) }
    }
}

@Suite(.serialized) struct MultiHostTests {
    let logger = Logger(label: "oni.test.multihost")

    /// The learner, the annotator and two workers each on its own host, with CURVE on:
    /// they find each other only by address, and training and labelling go on across them.
    @Test(.enabled(if: TestNetwork.available)) func trainingRunsAcrossFourHosts() throws {
        let network = try TestNetwork(hosts: ["learner", "annotator", "worker-a", "worker-b"])
        // The namespaces go when `network` does: keep it to the end.
        defer { withExtendedLifetime(network) {} }
        let llm = try FakeLLMServer(host: network.ownAddress) { message, _ in
            .reply(message.contains("key") || message.contains("unlock") ? "<label>yes</label>" : "<label>no</label>")
        }
        defer { llm.stop() }
        let run = FileManager.default.temporaryDirectory.appendingPathComponent("oni-run-\(UUID().uuidString)").path
        let keys = run + "-keys"
        defer { for path in [run, keys] { try? FileManager.default.removeItem(atPath: path) } }
        try CurveSecurity.generateDirectory(keys)
        let learnerHost = network.addresses["learner"]!
        let annotatorHost = network.addresses["annotator"]!
        func tcp(_ host: String, _ port: Int) -> String { "tcp://\(host):\(port)" }

        let learner = try ChildProcess(
            "oni-learner",
            [
                "--run-dir", run, "--experience-bind", "tcp://*:5555", "--params-bind", "tcp://*:5556", "--metrics-bind", "tcp://*:5557",
                "--control-bind", "tcp://*:5558", "--annotator", tcp(annotatorHost, 5560), "--curve", keys, "--metrics-interval", "0.3",
                "--embedding", "2", "--filters", "2", "--hidden", "16",
            ], namespace: network.namespaces["learner"])
        defer { learner.stop() }
        let annotator = try ChildProcess(
            "oni-annotator", ["--bind", "tcp://*:5560", "--llm-url", llm.baseURL.absoluteString, "--no-cache", "--curve", keys],
            namespace: network.namespaces["annotator"])
        defer { annotator.stop() }
        var workers: [ChildProcess] = []
        for (index, host) in ["worker-a", "worker-b"].enumerated() {
            workers.append(
                try ChildProcess(
                    "oni-worker",
                    [
                        "--id", host, "--env", "grid:keyroom", "--num-envs", "4", "--rollout-length", "16", "--seed", "\(index + 1)",
                        "--experience", tcp(learnerHost, 5555), "--params", tcp(learnerHost, 5556), "--heartbeat-seconds", "0.5", "--curve", keys,
                    ], name: host, namespace: network.namespaces[host]))
        }
        defer { for worker in workers { worker.stop() } }

        // The test asks the learner from its own namespace, across the bridge, with a client key.
        let context = try ZMQContext(security: CurveSecurity.load(directory: keys, binds: false, connects: true), logger: logger)
        func status() -> [String: Double] {
            ((try? StatusClient.query(tcp(learnerHost, 5558), transport: context, timeoutMilliseconds: 2000, logger: logger)) ?? nil)?.values ?? [:]
        }
        let trained = eventually(seconds: 120) {
            let s = status()
            return s["workers/live"] == 2 && (s["learner/policy_version"] ?? 0) >= 5 && (s["messages/labelled"] ?? 0) >= 2
                && (s["learner/rollouts"] ?? 0) >= 40
                && (s["annotation/annotators_live"] ?? 0) >= 1
        }
        #expect(trained, "\(status())\nlearner: \(learner.output)\nannotator: \(annotator.output)\nworker: \(workers[0].output)")
        #expect(workers.allSatisfy { $0.isRunning })
        #expect(learner.stop() == 0)
        // Both workers' rollouts arrived, and both acted with params the learner published across the bridge.
        let store = try RunStore(path: run + "/oni.sqlite", readOnly: true)
        let actingWorkers = try store.database.prepare("SELECT count(DISTINCT worker_id) FROM rollouts WHERE policy_version >= 1")
        #expect(try actingWorkers.step())
        #expect(actingWorkers.int(0) == 2, "\(workers[0].output)")
        // The hosts really are apart: the learner cannot be reached on the test's loopback.
        let loopback = try ZMQContext(security: CurveSecurity.load(directory: keys, binds: false, connects: true), logger: logger)
        #expect(((try? StatusClient.query("tcp://127.0.0.1:5558", transport: loopback, timeoutMilliseconds: 500, logger: logger)) ?? nil) == nil)
    }
}
