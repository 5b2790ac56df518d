import Foundation
import OniCore
import OniEnvironments
import Testing

/// ONI's staircase rules on real descents: a scripted explorer walks the first level (by the
/// glyphs: floor, corridors, doorways, doors) until it sees the down staircase, walks there and
/// goes down.
@Suite(.serialized) struct NetHackStairsWalkTests {
    static let (rows, columns) = (21, 79)
    /// NetHack 3.6's map glyphs as NLE builds it: the cmap glyphs start at the dark stone.
    static let cmap = 2359
    static let downStairs = cmap + 24
    /// Doorways, open and closed doors, floor (lit and dark), corridors, both staircases.
    static let passable: Set<Int> = Set([12, 13, 14, 15, 16, 19, 20, 21, 22, 23, 24].map { cmap + $0 })

    struct Explorer {
        let env: NetHackEnvironment
        var blocked: Set<Int> = []

        func glyphs() -> [Int] {
            var raw = [UInt8](repeating: 0, count: env.observationFields[3].byteCount)
            raw.withUnsafeMutableBytes { env.writeObservation(field: 3, into: $0) }
            return raw.withUnsafeBytes { bytes in (0..<(rows * columns)).map { Int(bytes.load(fromByteOffset: 4 * $0, as: Int32.self)) } }
        }

        func hero() -> Int { NetHackONIRulesTests.status(env, 1) * columns + NetHackONIRulesTests.status(env, 0) }

        /// Whether the hero may stand on `glyph`: map features it can cross, and monsters and objects on them.
        static func walkable(_ glyph: Int) -> Bool { passable.contains(glyph) || glyph < cmap }

        /// The first orthogonal move (task actions 1–4) toward the nearest cell `goal` accepts.
        func move(toward goal: (Int, [Int]) -> Bool) -> Int? {
            let map = glyphs()
            let start = hero()
            var first = [start: 0]
            var queue = [start], head = 0
            while head < queue.count {
                let cell = queue[head]
                head += 1
                if cell != start && goal(cell, map) { return first[cell] }
                for (action, dx, dy) in [(1, 0, -1), (2, 1, 0), (3, 0, 1), (4, -1, 0)] {
                    let (x, y) = (cell % columns + dx, cell / columns + dy)
                    guard (0..<columns).contains(x), (0..<rows).contains(y) else { continue }
                    let next = y * columns + x
                    guard first[next] == nil, !blocked.contains(next), Self.walkable(map[next]) else { continue }
                    first[next] = first[cell] == 0 ? action : first[cell]
                    queue.append(next)
                }
            }
            return nil
        }

        /// Explores until it stands on the down staircase and takes it; the step outcomes, or nil.
        mutating func descend(limit: Int = 3000) throws -> [StepOutcome]? {
            var outcomes: [StepOutcome] = []
            var visits: [Int: Int] = [:]
            var stairs: Int?  // once seen (the hero standing on it hides it)
            for _ in 0..<limit {
                let map = glyphs(), here = hero()
                visits[here, default: 0] += 1
                stairs = stairs ?? map.firstIndex(of: downStairs)
                if stairs == nil && visits[here]! > 40 { blocked.insert(here) }  // stuck: look elsewhere
                let action: Int
                if let stairs, stairs == here {
                    action = 18
                } else if let stairs, let toStairs = move(toward: { cell, _ in cell == stairs }) {
                    action = toStairs
                } else if let toFrontier = move(toward: { cell, map in
                    // A cell next to unexplored stone, not yet stood on.
                    visits[cell] == nil && [(-1, 0), (1, 0), (0, -1), (0, 1)].contains { dx, dy in
                        let (x, y) = (cell % columns + dx, cell / columns + dy)
                        return (0..<columns).contains(x) && (0..<rows).contains(y) && map[y * columns + x] == cmap
                    }
                }) {
                    action = toFrontier
                } else {
                    action = 22  // search for hidden passages
                }
                let outcome = try env.step(action)
                outcomes.append(outcome)
                if outcome.done || NetHackONIRulesTests.status(env, 12) > 1 { return outcomes }
            }
            return nil
        }
    }

    /// A game on one of the first seeds whose explorer reaches level 2 by the stairs.
    static func descent(_ name: String) throws -> (env: NetHackEnvironment, outcomes: [StepOutcome])? {
        for seed in UInt64(1)...40 {
            let env = try NetHackEnvironment(name: name + ",obs=chars+status+message+glyphs")
            try env.reset(seed: seed)
            var explorer = Explorer(env: env)
            guard let outcomes = try explorer.descend(), !outcomes.last!.done || outcomes.last!.success else { continue }
            return (env, outcomes)
        }
        return nil
    }

    /// `NetHackStaircase-v1`: the descent to level 2 pays 50 with the descent message and ends the
    /// episode; no step before it pays anything (no frozen-step penalty).
    @Test func staircaseDescentPaysFiftyAndEnds() throws {
        let walk = try #require(try Self.descent("nethack:staircase,rules=oni,actions=oni"), "no seed in 1…40 was walked down the stairs")
        let last = walk.outcomes.last!
        #expect(last.done && last.success && last.reward == 50 && last.message.contains("You descend the stairs"), "\(last)")
        #expect(walk.outcomes.dropLast().allSatisfy { $0.reward == 0 && !$0.done })
    }

    /// Level 3 as the target: level 2 is not the success; the continual variant pays once and plays on.
    @Test func deeperTargetAndContinualVariant() throws {
        let deeper = try #require(try Self.descent("nethack:staircase,depth=3,rules=oni,actions=oni"))
        #expect(!deeper.outcomes.last!.done && deeper.outcomes.allSatisfy { $0.reward == 0 } && NetHackONIRulesTests.status(deeper.env, 12) == 2)
        let continual = try #require(try Self.descent("nethack:staircase,rules=oni,continual,actions=oni"))
        #expect(continual.outcomes.last!.reward == 50 && !continual.outcomes.last!.done, "\(continual.outcomes.last!)")
        let after = try (0..<5).map { _ in try continual.env.step(19) }
        #expect(after.allSatisfy { $0.reward == 0 && !$0.done })
    }
}
