import Foundation
import OniCore
import Synchronization
import OniEnvironments
import Testing

/// The NetHack environment against the real game: loading, determinism, and
/// step-for-step parity with NLE 1.3.0's Python package on the same seeds
/// and actions. Needs `bash deploy/setup.sh` (libnethack) and, for parity,
/// the Python `nle` package in the test venv `deploy/test.sh` makes.
@Suite(.serialized) struct NetHackTests {
    /// The 64-bit LCG both sides draw actions from.
    struct Actions {
        var state: UInt64
        mutating func next(_ count: Int) -> Int {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Int((state >> 33) % UInt64(count))
        }
    }

    struct Step: Equatable, CustomStringConvertible {
        var reward: Double, done: Bool, message: String?, blstats: [Int]?

        /// Rewards are Float32 here and float64 in Python: equal to 1e-5 relative.
        static func == (a: Step, b: Step) -> Bool {
            abs(a.reward - b.reward) <= 1e-5 * max(1, abs(b.reward)) && a.done == b.done && a.message == b.message && a.blstats == b.blstats
        }
        var description: String { "reward \(reward) done \(done) message \(message ?? "-") blstats \(blstats.map { "\($0)" } ?? "-")" }
    }

    /// Plays `steps` steps of `name` the way nle_reference.py does.
    static func play(_ name: String, seed: UInt64, steps: Int, actionsSeed: UInt64) throws -> [Step] {
        let env = try NetHackEnvironment(name: name)
        var actions = Actions(state: actionsSeed)
        var episode: UInt64 = 0
        try env.reset(seed: seed &+ episode)
        var status = [UInt8](repeating: 0, count: env.observationFields[1].byteCount)
        var rows: [Step] = []
        for _ in 0..<steps {
            let outcome = try env.step(actions.next(env.actionCount))
            let reward = (Double(outcome.reward) * 1e6).rounded() / 1e6  // as the reference prints it
            if outcome.done {
                rows.append(Step(reward: reward, done: true, message: nil, blstats: nil))
                episode += 1
                try env.reset(seed: seed &+ episode)
            } else {
                status.withUnsafeMutableBytes { env.writeObservation(field: 1, into: $0) }
                let blstats = status.withUnsafeBytes { raw in (0..<27).map { Int(raw.load(fromByteOffset: 4 * $0, as: Int32.self)) } }
                rows.append(Step(reward: reward, done: false, message: outcome.message, blstats: blstats))
            }
        }
        return rows
    }

    static var referencePython: String {
        ProcessInfo.processInfo.environment["ONI_TEST_PYTHON"]
            ?? FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent(".cache/oni/test-venv/bin/python").path
    }

    /// The Python package's steps for the same task, seeds and actions.
    static func reference(_ task: String, seed: UInt64, steps: Int, actionsSeed: UInt64) throws -> [Step] {
        let script = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Reference/nle_reference.py")
        guard FileManager.default.isExecutableFile(atPath: referencePython) else { throw ReferenceError(status: -1) }
        let process = Process()
        process.executableURL = URL(fileURLWithPath: referencePython)
        process.arguments = [script.path, task, "\(seed)", "\(steps)", "\(actionsSeed)"]
        let output = Pipe()
        process.standardOutput = output
        try process.run()
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        guard process.terminationStatus == 0 else { throw ReferenceError(status: process.terminationStatus) }
        return try String(decoding: data, as: UTF8.self).split(separator: "\n").map { line in
            let row = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
            return Step(
                reward: (row["reward"] as! NSNumber).doubleValue, done: row["done"] as! Bool, message: row["message"] as? String,
                blstats: (row["blstats"] as? [NSNumber])?.map(\.intValue))
        }
    }

    struct ReferenceError: Error, CustomStringConvertible {
        var status: Int32
        var description: String {
            (status < 0 ? "\(NetHackTests.referencePython) not found" : "nle_reference.py exited \(status)")
                + "; the Python nle==1.3.0 package is needed there (bash deploy/test.sh makes that venv, or set ONI_TEST_PYTHON)"
        }
    }

    @Test(arguments: [
        ("score", UInt64(11), 5000), ("staircase", UInt64(23), 5000), ("oracle", UInt64(37), 5000),
        ("staircase-pet", UInt64(41), 5000), ("gold", UInt64(43), 5000), ("eat", UInt64(47), 5000), ("scout", UInt64(53), 5000),
    ])
    func matchesThePythonPackageStepForStep(task: String, seed: UInt64, steps: Int) throws {
        let ours = try Self.play("nethack:\(task)", seed: seed, steps: steps, actionsSeed: seed * 7)
        let theirs = try Self.reference(task, seed: seed, steps: steps, actionsSeed: seed * 7)
        #expect(theirs.count == steps)
        if let first = zip(ours, theirs).enumerated().first(where: { $0.element.0 != $0.element.1 }) {
            Issue.record("step \(first.offset) differs:\n  oni:    \(first.element.0)\n  python: \(first.element.1)")
        }
        // The runs must be long enough to mean something: an episode the game itself ended (death
        // or the task's success, not the step limit, which any long enough run reaches), real messages.
        let ends = ours.indices.filter { ours[$0].done }
        let lengths = zip([-1] + ends, ends).map { $1 - $0 }
        #expect(lengths.contains { $0 < 5000 }, "no episode ended before the step limit (lengths \(lengths))")
        #expect(Set(ours.compactMap(\.message)).count >= 5)
    }

    /// Plays both with the same actions until an episode ends; every step must agree.
    static func expectLockstep(_ a: NetHackEnvironment, _ b: NetHackEnvironment, steps: Int, actionsSeed: UInt64) throws {
        var actions = Actions(state: actionsSeed)
        for _ in 0..<steps {
            let action = actions.next(a.actionCount)
            let (x, y) = try (a.step(action), b.step(action))
            #expect(x == y)
            if x.done { break }
        }
    }

    @Test func sameSeedSameGameAndCopiesAreIndependent() throws {
        // Two instances in one process, interleaved: each has its own copy of the game.
        let a = try NetHackEnvironment(name: "nethack:score")
        let b = try NetHackEnvironment(name: "nethack:score")
        #expect(try a.reset(seed: 5) == b.reset(seed: 5))
        try Self.expectLockstep(a, b, steps: 300, actionsSeed: 1)
        #expect(a.render() == b.render())
        _ = try b.reset(seed: 6)
        #expect(a.render() != b.render())
    }

    @Test func namesOptionsAndErrors() throws {
        let env = try NetHackEnvironment(name: "nethack:staircase,depth=3,actions=extended,max-steps=100")
        #expect(env.targetDepth == 3 && env.actionCount == 86 && env.stepLimit == 100)
        #expect(try NetHackEnvironment(name: "nethack:challenge").actionCount == 121)
        #expect(try NetHackEnvironment(name: "nethack:score").actionCount == 23)
        #expect(throws: EnvironmentError.self) { try NetHackEnvironment(name: "nethack:score,depth=3") }
        #expect(throws: EnvironmentError.self) { try NetHackEnvironment(name: "nethack:nowhere") }
        #expect(throws: EnvironmentError.self) { try NetHackEnvironment(name: "nethack:score,actions=all") }
        // A missing installation names where it looked and the command that installs it.
        do {
            _ = try NLEInstallation.locate(explicit: "/nonexistent/nle", environment: [:])
            Issue.record("found an installation that does not exist")
        } catch let error {
            #expect("\(error)".contains("/nonexistent/nle") && "\(error)".contains("deploy/setup.sh"))
        }
    }

    /// obs= asks libnethack for more buffers; they are filled, and asking for them does not change the game.
    @Test func optionalObservationsAreFilledAndLeaveTheGameAlone() throws {
        let rich = try NetHackEnvironment(name: "nethack:score,obs=chars+status+message+glyphs+tty_chars+tty_cursor+inv_letters+inv_strs+inv_glyphs+colors")
        let plain = try NetHackEnvironment(name: "nethack:score")
        #expect(rich.observationFields.map(\.name) == ["chars", "status", "message", "glyphs", "tty_chars", "tty_cursor", "inv_letters", "inv_strs", "inv_glyphs", "colors"])
        #expect(try rich.reset(seed: 9) == plain.reset(seed: 9))
        try Self.expectLockstep(rich, plain, steps: 200, actionsSeed: 4)
        func field(_ name: String) -> [UInt8] {
            let index = rich.observationFields.firstIndex { $0.name == name }!
            var bytes = [UInt8](repeating: 0, count: rich.observationFields[index].byteCount)
            bytes.withUnsafeMutableBytes { rich.writeObservation(field: index, into: $0) }
            return bytes
        }
        let tty = String(decoding: field("tty_chars"), as: UTF8.self)
        #expect(tty.contains("Dlvl:"))  // the bottom lines as the terminal shows them
        #expect(field("inv_letters").contains(UInt8(ascii: "a")))  // a Monk starts with items
        #expect(String(decoding: field("inv_strs"), as: UTF8.self).contains("leather gloves"))
        let glyphs = field("glyphs").withUnsafeBytes { raw in (0..<(21 * 79)).map { raw.load(fromByteOffset: 4 * $0, as: Int32.self) } }
        #expect(glyphs.allSatisfy { (0..<5976).contains($0) } && glyphs.contains { $0 != 2359 })
        #expect(throws: EnvironmentError.self) { try NetHackEnvironment(name: "nethack:score,obs=chars+screen_descriptions") }
    }

    @Test func stepLimitEndsTheEpisodeAndTheObservationIsTheMap() throws {
        let env = try NetHackEnvironment(name: "nethack:score,max-steps=20")
        try env.reset(seed: 3)
        var map = [UInt8](repeating: 0, count: env.observationFields[0].byteCount)
        map.withUnsafeMutableBytes { env.writeObservation(field: 0, into: $0) }
        #expect(map.contains(UInt8(ascii: "@")))
        var steps = 0, done = false
        while !done && steps < 50 {
            done = try env.step(19).done  // '.' waits a turn
            steps += 1
        }
        #expect(done && steps <= 20)
    }
}

/// Faults and scale: a game that cannot run is a typed error, not a crash; many instances on
/// several threads play exactly as they do one at a time.
@Suite(.serialized) struct NetHackFaultTests {
    @Test func aGameWhoseFilesAreGoneFailsWithATypedError() throws {
        let env = try NetHackEnvironment(name: "nethack:score")
        try env.reset(seed: 1)
        _ = try env.step(0)
        try FileManager.default.removeItem(at: env.gameDirectory)
        do {
            try env.reset(seed: 2)
            Issue.record("a game without its data file started")
        } catch {
            #expect(error.environment == "nethack:score")
            #expect(error.reason.contains("ended right after it started"))
        }
        // The instance stays failed; a new one plays.
        #expect(throws: EnvironmentFault.self) { try env.step(0) }
        let fresh = try NetHackEnvironment(name: "nethack:score")
        #expect(try !fresh.reset(seed: 2).isEmpty || fresh.render().contains("@"))
    }

    /// What an instance did, step by step, folded into one number (FNV-1a over rewards, ends,
    /// messages and status lines), with its count of episodes and distinct messages.
    struct Fingerprint: Equatable {
        var hash: UInt64 = 0xCBF2_9CE4_8422_2325
        var episodes = 0
        var messages = Set<String>()

        mutating func mix<T>(_ value: T) {
            withUnsafeBytes(of: value) { for byte in $0 { hash = (hash ^ UInt64(byte)) &* 0x100_0000_01B3 } }
        }
    }

    /// Plays `env` for one step with the next action of `actions`; a finished episode is reset
    /// with the instance's next seed.
    static func step(_ env: NetHackEnvironment, _ actions: inout NetHackTests.Actions, seed: UInt64, _ print: inout Fingerprint) throws {
        let outcome = try env.step(actions.next(env.actionCount))
        print.mix(outcome.reward)
        print.mix(outcome.done)
        for byte in outcome.message.utf8 { print.mix(byte) }
        print.messages.insert(outcome.message)
        if outcome.done {
            print.episodes += 1
            try env.reset(seed: seed &+ UInt64(print.episodes) &* 1000)
        } else {
            var status = [UInt8](repeating: 0, count: env.observationFields[1].byteCount)
            status.withUnsafeMutableBytes { env.writeObservation(field: 1, into: $0) }
            for byte in status { print.mix(byte) }
        }
    }

    @Test func thirtyTwoInstancesOnTwoThreadsPlayAsEachDoesAlone() throws {
        let count = 32, stepsEach = 100_000 / 32
        let name = "nethack:score,max-steps=400"  // short episodes: many resets on both threads
        // Two threads, sixteen instances each, stepped in turn as a worker steps them.
        let together = Mutex<[Int: Fingerprint]>([:])
        let failure = Mutex<String?>(nil)
        DispatchQueue.concurrentPerform(iterations: 2) { thread in
            do {
                let mine = Array(stride(from: thread, to: count, by: 2))
                let envs = try mine.map { _ in try NetHackEnvironment(name: name) }
                var actions = mine.map { NetHackTests.Actions(state: UInt64($0) &* 31 &+ 7) }
                var prints = mine.map { _ in Fingerprint() }
                for (k, index) in mine.enumerated() { try envs[k].reset(seed: UInt64(index)) }
                for _ in 0..<stepsEach {
                    for (k, index) in mine.enumerated() { try Self.step(envs[k], &actions[k], seed: UInt64(index), &prints[k]) }
                }
                together.withLock { for (k, index) in mine.enumerated() { $0[index] = prints[k] } }
            } catch {
                failure.withLock { $0 = "\(error)" }
            }
        }
        #expect(failure.withLock { $0 } == nil)
        // The same seeds and actions, one instance at a time on this thread.
        for index in 0..<count {
            let env = try NetHackEnvironment(name: name)
            var actions = NetHackTests.Actions(state: UInt64(index) &* 31 &+ 7)
            var alone = Fingerprint()
            try env.reset(seed: UInt64(index))
            for _ in 0..<stepsEach { try Self.step(env, &actions, seed: UInt64(index), &alone) }
            let parallel = together.withLock { $0[index] }
            #expect(parallel == alone, "instance \(index) played differently beside 31 others on two threads")
            #expect(alone.episodes >= 5 && alone.messages.count >= 5, "instance \(index): \(alone.episodes) episodes, \(alone.messages.count) messages")
        }
    }
}
