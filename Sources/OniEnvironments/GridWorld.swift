import OniCore

/// A grid task instance: a seeded, deterministic dungeon room (or two) that
/// an agent moves through with the four compass moves and "search".
///
/// Observations: `chars` (uint8 [height, width], the ASCII map as NetHack
/// draws it), `status` (int32 [4]: hit points, has key, gold, steps) and
/// `message` (uint8 [64], the last message's bytes, zero-padded, as NLE's).
public final class GridWorld: Environment {
    /// Map width and height, the same for every task so that one network fits all.
    public static let width = 13
    public static let height = 7
    /// Bytes of the message observation.
    public static let messageLength = 64

    /// Actions: move north, east, south, west; search (wait a turn).
    public enum Action: Int, CaseIterable {
        case north, east, south, west, search
    }

    enum Cell: UInt8 {
        case floor = 46  // "."
        case horizontalWall = 45  // "-"
        case verticalWall = 124  // "|"
        case lockedDoor = 43  // "+"
        case stairs = 62  // ">"
    }

    struct Rat: Hashable {
        var x: Int
        var y: Int
    }

    public let task: GridTask
    public var name: String { "grid:\(task.rawValue)" }
    public var actionCount: Int { Action.allCases.count }
    public var actionNames: [String] { Action.allCases.map { "\($0)" } }
    public let observationFields: [ObservationField] = [
        ObservationField(name: "chars", elementType: .uint8, shape: [GridWorld.height, GridWorld.width]),
        ObservationField(name: "status", elementType: .int32, shape: [4]),
        ObservationField(name: "message", elementType: .uint8, shape: [GridWorld.messageLength]),
    ]

    private var rng = SeededGenerator(seed: 0)
    private var cells: [Cell] = []
    private var agentX = 0
    private var agentY = 0
    private var keysAt: [(x: Int, y: Int)] = []
    private var gold: [Int: Int] = [:]  // cell index -> amount
    private var rats: [Rat] = []
    private var hitPoints = 0
    private var keys = 0
    private var goldCollected = 0
    private var steps = 0
    private var finished = true
    private var message: [UInt8] = []

    public init(task: GridTask) {
        self.task = task
    }

    /// Builds the environment named `grid:TASK`.
    public convenience init(name: String) throws(EnvironmentError) {
        let parts = name.split(separator: ":", maxSplits: 1).map(String.init)
        guard parts.count == 2, parts[0] == "grid", let task = GridTask(rawValue: parts[1]) else {
            throw .unknownEnvironment(name: name, known: GridTask.allCases.map { "grid:\($0.rawValue)" })
        }
        self.init(task: task)
    }

    @discardableResult
    public func reset(seed: UInt64) -> String {
        rng = SeededGenerator(seed: seed)
        let w = Self.width, h = Self.height
        cells = [Cell](repeating: .floor, count: w * h)
        for x in 0..<w {
            cells[x] = .horizontalWall
            cells[(h - 1) * w + x] = .horizontalWall
        }
        for y in 1..<(h - 1) {
            cells[y * w] = .verticalWall
            cells[y * w + w - 1] = .verticalWall
        }
        keysAt = []
        gold = [:]
        rats = []
        hitPoints = 10
        keys = 0
        goldCollected = 0
        steps = 0
        finished = false

        var free = [Int]()
        switch task {
        case .keyroom:
            let wallX = w / 2
            for y in 1..<(h - 1) { cells[y * w + wallX] = .verticalWall }
            let doorY = 1 + rng.below(h - 2)
            cells[doorY * w + wallX] = .lockedDoor
            let left = interior(x: 1..<wallX)
            let right = interior(x: (wallX + 1)..<(w - 1))
            var leftFree = left
            let agent = take(&leftFree)
            (agentX, agentY) = (agent % w, agent / w)
            let key = take(&leftFree)
            keysAt = [(key % w, key / w)]
            var rightFree = right
            cells[take(&rightFree)] = .stairs
            let rat = take(&rightFree)
            rats = [Rat(x: rat % w, y: rat / w)]
        case .vault:
            let walls = [w / 3, 2 * w / 3]
            for wallX in walls {
                for y in 1..<(h - 1) { cells[y * w + wallX] = .verticalWall }
                cells[(1 + rng.below(h - 2)) * w + wallX] = .lockedDoor
            }
            var first = interior(x: 1..<walls[0])
            var second = interior(x: (walls[0] + 1)..<walls[1])
            var third = interior(x: (walls[1] + 1)..<(w - 1))
            let agent = take(&first)
            (agentX, agentY) = (agent % w, agent / w)
            keysAt = [take(&first), take(&second)].map { ($0 % w, $0 / w) }
            cells[take(&third)] = .stairs
        case .stairs:
            free = interior(x: 1..<(w - 1))
            let agent = take(&free)
            (agentX, agentY) = (agent % w, agent / w)
            cells[take(&free)] = .stairs
        case .gold:
            free = interior(x: 1..<(w - 1))
            let agent = take(&free)
            (agentX, agentY) = (agent % w, agent / w)
            for _ in 0..<5 { gold[take(&free)] = 1 + rng.below(9) }
        case .rats:
            free = interior(x: 1..<(w - 1))
            let agent = take(&free)
            (agentX, agentY) = (agent % w, agent / w)
            for _ in 0..<3 {
                let cell = take(&free)
                rats.append(Rat(x: cell % w, y: cell / w))
            }
        }
        message = Array(GridMessage.welcome.utf8)
        return GridMessage.welcome
    }

    public func step(_ action: Int) throws(EnvironmentFault) -> StepOutcome {
        guard !finished else { throw EnvironmentFault(environment: name, reason: "step() after the episode ended; call reset(seed:) first") }
        guard (0..<actionCount).contains(action) else { throw EnvironmentFault(environment: name, reason: "action \(action) outside 0..<\(actionCount)") }
        steps += 1
        var reward: Float = 0
        var message = ""
        var done = false
        var success = false

        let (dx, dy): (Int, Int) =
            switch Action(rawValue: action)! {
            case .north: (0, -1)
            case .east: (1, 0)
            case .south: (0, 1)
            case .west: (-1, 0)
            case .search: (0, 0)
            }
        if dx != 0 || dy != 0 {
            let tx = agentX + dx, ty = agentY + dy
            let target = ty * Self.width + tx
            if let ratIndex = rats.firstIndex(of: Rat(x: tx, y: ty)) {
                if rng.below(4) == 0 {
                    message = GridMessage.missRat
                } else {
                    rats.remove(at: ratIndex)
                    message = GridMessage.killRat
                    if task == .rats {
                        reward += 1
                        if rats.isEmpty { done = true; success = true }
                    }
                }
            } else {
                switch cells[target] {
                case .horizontalWall, .verticalWall:
                    message = GridMessage.wall
                case .lockedDoor:
                    if keys > 0 {
                        keys -= 1
                        cells[target] = .floor
                        message = GridMessage.unlockDoor
                    } else {
                        message = GridMessage.doorLocked
                    }
                case .floor, .stairs:
                    agentX = tx
                    agentY = ty
                    if let key = keysAt.firstIndex(where: { $0.x == tx && $0.y == ty }) {
                        keysAt.remove(at: key)
                        keys += 1
                        message = GridMessage.findKey
                    } else if let amount = gold.removeValue(forKey: target) {
                        goldCollected += amount
                        message = GridMessage.gold(amount)
                        if task == .gold {
                            reward += Float(amount) * 0.1
                            if gold.isEmpty { done = true; success = true }
                        }
                    } else if cells[target] == .stairs {
                        message = GridMessage.staircase
                        if task == .keyroom || task == .vault || task == .stairs {
                            reward += 1
                            done = true
                            success = true
                        }
                    }
                }
            }
        }

        if !done { moveRats(&message, &done) }
        if !done && steps >= task.stepLimit { done = true }
        finished = done
        self.message = Array(message.utf8)
        return StepOutcome(reward: reward, done: done, success: success, message: message)
    }

    /// Rats next to the agent bite (one hit point); the others wander.
    private func moveRats(_ message: inout String, _ done: inout Bool) {
        for i in rats.indices {
            let rat = rats[i]
            if abs(rat.x - agentX) + abs(rat.y - agentY) == 1 {
                if rng.below(3) == 0 {
                    hitPoints -= 1
                    if message.isEmpty { message = GridMessage.ratBites }
                    if hitPoints <= 0 {
                        message = GridMessage.die
                        done = true
                        return
                    }
                }
                continue
            }
            let moves = [(0, -1), (1, 0), (0, 1), (-1, 0)]
            let (mx, my) = moves[rng.below(4)]
            let nx = rat.x + mx, ny = rat.y + my
            let cell = cells[ny * Self.width + nx]
            let blocked = (nx == agentX && ny == agentY) || rats.contains(Rat(x: nx, y: ny))
            if (cell == .floor || cell == .stairs) && !blocked {
                rats[i] = Rat(x: nx, y: ny)
            }
        }
    }

    public func writeObservation(field fieldIndex: Int, into buffer: UnsafeMutableRawBufferPointer) {
        switch fieldIndex {
        case 0:
            fillMap(buffer.bindMemory(to: UInt8.self))
        case 2:
            let count = min(message.count, buffer.count)
            for i in 0..<buffer.count { buffer[i] = i < count ? message[i] : 0 }
        default:
            for (i, value) in [Int32(hitPoints), Int32(keys), Int32(goldCollected), Int32(steps)].enumerated() {
                buffer.storeBytes(of: value.littleEndian, toByteOffset: 4 * i, as: Int32.self)
            }
        }
    }

    public func render() -> String {
        var map = [UInt8](repeating: 0, count: Self.width * Self.height)
        map.withUnsafeMutableBufferPointer { fillMap($0) }
        var lines: [String] = []
        for y in 0..<Self.height {
            lines.append(String(decoding: map[(y * Self.width)..<((y + 1) * Self.width)], as: UTF8.self))
        }
        lines.append("HP:\(hitPoints) Keys:\(keys) $:\(goldCollected) T:\(steps)")
        return lines.joined(separator: "\n")
    }

    private func fillMap(_ out: UnsafeMutableBufferPointer<UInt8>) {
        for i in cells.indices { out[i] = cells[i].rawValue }
        for (cell, _) in gold { out[cell] = UInt8(ascii: "$") }
        for key in keysAt { out[key.y * Self.width + key.x] = UInt8(ascii: "(") }
        for rat in rats { out[rat.y * Self.width + rat.x] = UInt8(ascii: "r") }
        out[agentY * Self.width + agentX] = UInt8(ascii: "@")
    }

    private func interior(x range: Range<Int>) -> [Int] {
        var result = [Int]()
        for y in 1..<(Self.height - 1) {
            for x in range { result.append(y * Self.width + x) }
        }
        return result
    }

    /// Removes and returns a uniformly chosen cell from `free`.
    private func take(_ free: inout [Int]) -> Int {
        free.swapAt(rng.below(free.count), free.count - 1)
        return free.removeLast()
    }
}
