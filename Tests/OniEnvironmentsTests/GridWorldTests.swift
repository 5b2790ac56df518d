import OniCore
import OniEnvironments
import Testing

@Suite struct GridWorldTests {
    /// Plays `steps` seeded random actions and returns everything observable.
    func trace(_ task: GridTask, seed: UInt64, steps: Int) throws -> [String] {
        let env = GridWorld(task: task)
        var actions = SeededGenerator(seed: 99)
        var lines = [env.reset(seed: seed), env.render()]
        var episode: UInt64 = 0
        for _ in 0..<steps {
            let outcome = try env.step(actions.below(env.actionCount))
            lines.append("\(outcome.reward) \(outcome.done) \(outcome.success) \(outcome.message)")
            if outcome.done {
                episode += 1
                env.reset(seed: seed &+ episode)
            }
            lines.append(env.render())
        }
        return lines
    }

    @Test(arguments: GridTask.allCases)
    func deterministicForAFixedSeed(task: GridTask) throws {
        #expect(try trace(task, seed: 1, steps: 2000) == trace(task, seed: 1, steps: 2000))
        #expect(try trace(task, seed: 1, steps: 50) != trace(task, seed: 2, steps: 50))
    }

    @Test func keyroomNeedsKeyThenDoorThenStairs() throws {
        // Solve keyroom by breadth-first search over the map the env draws,
        // checking the messages and that reward comes only at the stairs.
        let env = GridWorld(task: .keyroom)
        env.reset(seed: 5)
        var messages: [String] = []
        var total: Float = 0
        var done = false
        var success = false
        for target in [UInt8(ascii: "("), UInt8(ascii: "+"), UInt8(ascii: ">")] {
            guard !done else { break }
            var guardSteps = 0
            while !done, guardSteps < 60 {
                guardSteps += 1
                guard let action = nextAction(env, toward: target) else { break }
                let outcome = try env.step(action)
                total += outcome.reward
                if !outcome.message.isEmpty { messages.append(outcome.message) }
                if outcome.reward != 0 { #expect(outcome.message == GridMessage.staircase) }
                done = outcome.done
                success = outcome.success
                if target == UInt8(ascii: "+"), outcome.message == GridMessage.unlockDoor { break }
                if target == UInt8(ascii: "("), outcome.message == GridMessage.findKey { break }
            }
        }
        #expect(messages.contains(GridMessage.findKey))
        #expect(messages.contains(GridMessage.unlockDoor))
        // The rat may kill the agent first on some seeds; seed 5 reaches the stairs.
        #expect(success)
        #expect(total == 1)
        #expect(messages.last == GridMessage.staircase)
    }

    @Test func vaultNeedsTwoKeysAndTwoDoorsBeforeTheStairs() throws {
        let env = GridWorld(task: .vault)
        env.reset(seed: 3)
        var messages: [String] = []
        var total: Float = 0
        var success = false
        var done = false
        let key = UInt8(ascii: "("), door = UInt8(ascii: "+"), stairs = UInt8(ascii: ">")
        for target in [key, door, key, door, stairs] {
            var steps = 0
            while !done, steps < 60 {
                steps += 1
                guard let action = nextAction(env, toward: target) else { break }
                let outcome = try env.step(action)
                total += outcome.reward
                if !outcome.message.isEmpty { messages.append(outcome.message) }
                if outcome.reward != 0 { #expect(outcome.message == GridMessage.staircase) }
                done = outcome.done
                success = outcome.success
                if outcome.message == GridMessage.findKey || outcome.message == GridMessage.unlockDoor { break }
            }
        }
        #expect(messages.filter { $0 == GridMessage.findKey }.count == 2)
        #expect(messages.filter { $0 == GridMessage.unlockDoor }.count == 2)
        #expect(success)
        #expect(total == 1)
        // Both keys are used up: the status's key count is back to 0 at the end.
        #expect(env.render().contains("Keys:0"))
    }

    @Test func lockedDoorSaysSoWithoutKey() throws {
        let env = GridWorld(task: .keyroom)
        for seed in UInt64(0)..<50 {
            env.reset(seed: seed)
            var sawLocked = false
            for _ in 0..<40 {
                guard let action = nextAction(env, toward: UInt8(ascii: "+")) else { break }
                let outcome = try env.step(action)
                if outcome.message == GridMessage.doorLocked { sawLocked = true; break }
                if outcome.message == GridMessage.findKey || outcome.done { break }
            }
            if sawLocked { return }
        }
        Issue.record("no seed in 0..<50 reached the locked door before the key")
    }

    @Test func observationMatchesRender() {
        let env = GridWorld(task: .gold)
        env.reset(seed: 3)
        let field = env.observationFields[0]
        var buffer = [UInt8](repeating: 0, count: field.byteCount)
        buffer.withUnsafeMutableBytes { env.writeObservation(field: 0, into: $0) }
        let rendered = env.render().split(separator: "\n").prefix(GridWorld.height).joined()
        #expect(String(decoding: buffer, as: UTF8.self) == rendered)
        #expect(buffer.filter { $0 == UInt8(ascii: "$") }.count == 5)
        #expect(buffer.filter { $0 == UInt8(ascii: "@") }.count == 1)
    }

    @Test func unknownNameIsATypedError() {
        #expect(throws: EnvironmentError.self) { try GridWorld(name: "grid:nope") }
        #expect(throws: EnvironmentError.self) { try EnvironmentFactory.make(name: "atari:pong") }
    }

    /// One step of a shortest path (4-connected, through '.', '>', '(', '$' and the target) to the nearest `target` cell.
    func nextAction(_ env: GridWorld, toward target: UInt8) -> Int? {
        let w = GridWorld.width, h = GridWorld.height
        var map = [UInt8](repeating: 0, count: w * h)
        map.withUnsafeMutableBytes { env.writeObservation(field: 0, into: $0) }
        guard let start = map.firstIndex(of: UInt8(ascii: "@")) else { return nil }
        let passable: Set<UInt8> = [UInt8(ascii: "."), UInt8(ascii: ">"), UInt8(ascii: "("), UInt8(ascii: "$"), UInt8(ascii: "r")]
        var firstMove = [Int: Int]()
        var queue = [start]
        var seen: Set<Int> = [start]
        let moves = [(0, -1), (1, 0), (0, 1), (-1, 0)]
        var head = 0
        while head < queue.count {
            let cell = queue[head]
            head += 1
            for (a, (dx, dy)) in moves.enumerated() {
                let x = cell % w + dx, y = cell / w + dy
                guard x >= 0, x < w, y >= 0, y < h else { continue }
                let next = y * w + x
                guard !seen.contains(next) else { continue }
                let move = cell == start ? a : firstMove[cell]!
                if map[next] == target { return move }
                guard passable.contains(map[next]) else { continue }
                seen.insert(next)
                firstMove[next] = move
                queue.append(next)
            }
        }
        return nil
    }
}
