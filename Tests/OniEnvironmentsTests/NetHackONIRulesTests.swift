import Foundation
import OniCore
import OniEnvironments
import Testing

/// ONI's task rules and action macros: the success checks by hand, the rewards on the real
/// game, and the eat and cast macros pressed in a fresh game.
@Suite(.serialized) struct NetHackONIRulesTests {
    /// The map (`chars`) and the hero's position (blstats 0, 1).
    static func look(_ env: NetHackEnvironment) -> (map: [UInt8], x: Int, y: Int) {
        var map = [UInt8](repeating: 0, count: env.observationFields[0].byteCount)
        map.withUnsafeMutableBytes { env.writeObservation(field: 0, into: $0) }
        var status = [UInt8](repeating: 0, count: env.observationFields[1].byteCount)
        status.withUnsafeMutableBytes { env.writeObservation(field: 1, into: $0) }
        let (x, y) = status.withUnsafeBytes { (Int($0.load(fromByteOffset: 0, as: Int32.self)), Int($0.load(fromByteOffset: 4, as: Int32.self))) }
        return (map, x, y)
    }

    static func status(_ env: NetHackEnvironment, _ index: Int) -> Int {
        var status = [UInt8](repeating: 0, count: env.observationFields[1].byteCount)
        status.withUnsafeMutableBytes { env.writeObservation(field: 1, into: $0) }
        return status.withUnsafeBytes { Int($0.load(fromByteOffset: 4 * index, as: Int32.self)) }
    }

    /// ONI's success checks, case by case: the descent message on exactly the target level; the
    /// Oracle next to the hero, sober meaning a condition mask other than hallucination alone; the
    /// descent message kept across a `--More--`.
    @Test func successChecksByHand() {
        #expect(NetHackONIRules.staircaseWon(dlevel: 2, target: 2, message: "You descend the stairs.  You see here a dagger."))
        #expect(!NetHackONIRules.staircaseWon(dlevel: 3, target: 2, message: "You descend the stairs."))
        #expect(!NetHackONIRules.staircaseWon(dlevel: 2, target: 2, message: "You fall through a trap door!"))
        #expect(NetHackONIRules.oracleWon(nextToOracle: true, condition: 0, sober: true))
        #expect(!NetHackONIRules.oracleWon(nextToOracle: true, condition: 0x200, sober: true))
        #expect(NetHackONIRules.oracleWon(nextToOracle: true, condition: 0x200 | 0x1, sober: true), "ONI tests the mask for equality")
        #expect(NetHackONIRules.oracleWon(nextToOracle: true, condition: 0x200, sober: false))
        #expect(!NetHackONIRules.oracleWon(nextToOracle: false, condition: 0, sober: false))
        #expect(NetHackONIRules.shown(dismissed: ["You descend the stairs."], final: "You see here a dagger.") == "You descend the stairs.")
        #expect(NetHackONIRules.shown(dismissed: ["You hear a door open."], final: "You see here a dagger.") == "You see here a dagger.")
    }

    /// On the real game: ONI's staircase and oracle pay nothing per step where NLE's pay the
    /// frozen-step penalty (−0.01 while the clock stands still), and each game plays the same.
    @Test func noFrozenStepPenaltyUnderONIRules() throws {
        for task in ["staircase", "oracle"] {
            let oni = try NetHackEnvironment(name: "nethack:\(task),rules=oni,actions=oni")
            let nle = try NetHackEnvironment(name: "nethack:\(task),actions=oni")
            try oni.reset(seed: 4)
            try nle.reset(seed: 4)
            var rng = SeededGenerator(seed: 9)
            var (oniRewards, nleRewards): ([Float], [Float]) = ([], [])
            for _ in 0..<400 {
                let action = rng.below(28)
                let (a, b) = (try oni.step(action), try nle.step(action))
                oniRewards.append(a.reward)
                nleRewards.append(b.reward)
                #expect(a.message == b.message)
                if a.done || b.done { break }
            }
            #expect(oniRewards.allSatisfy { $0 == 0 || $0 == 50 }, "\(task)")
            #expect(nleRewards.contains { abs($0 + 0.01) < 1e-6 }, "\(task): NLE's penalty shows on the same play")
        }
    }

    /// `actions=oni`: 28 actions; "y" answers "What do you want to eat?" with the first letter
    /// offered (the Monk eats), any other action dismisses the question without moving; cast picks
    /// the first spell by itself.
    @Test func actionMacros() throws {
        let env = try NetHackEnvironment(name: "nethack:score,actions=oni")
        #expect(env.actionCount == 28)
        #expect(Array(env.actionNames.suffix(5)) == ["cast", "quaff", "pray", "pickup", "pay"])
        try env.reset(seed: 3)
        let asked = try env.step(21)
        #expect(asked.message.contains("What do you want to eat"), "\(asked.message)")
        let before = Self.look(env)
        let dismissed = try env.step(2)  // east: not an answer
        #expect(!dismissed.message.contains("What do you want to eat") && Self.look(env).x == before.x, "\(dismissed.message)")
        _ = try env.step(21)
        let eaten = try env.step(8)  // "y": the first food offered
        #expect(!eaten.message.contains("What do you want to eat") && !eaten.message.isEmpty, "\(eaten.message)")
        #expect(!eaten.message.contains("You don't have that object"), "\(eaten.message)")

        // ONI's plain tasks answer the eat question the same way with their 23 actions.
        let plain = try NetHackEnvironment(name: "nethack:score,rules=oni,actions=task")
        try plain.reset(seed: 3)
        #expect(try plain.step(21).message.contains("What do you want to eat"))
        let ate = try plain.step(8)
        #expect(!ate.message.contains("What do you want to eat") && !ate.message.isEmpty, "\(ate.message)")
        let nle = try NetHackEnvironment(name: "nethack:score")
        try nle.reset(seed: 3)
        _ = try nle.step(21)
        #expect(try nle.step(8).message != ate.message, "NLE's rules send the y key as it is")

        let caster = try NetHackEnvironment(name: "nethack:score,actions=oni")
        try caster.reset(seed: 3)
        let energy = Self.status(caster, 14)
        let cast = try caster.step(23)
        #expect(Self.status(caster, 14) < energy || cast.message.contains("direction"), "Pw \(energy) → \(Self.status(caster, 14)): \(cast.message)")
        #expect(!cast.message.contains("Choose which spell"), "\(cast.message)")
    }

    @Test func namesAndRefusals() throws {
        #expect(try NetHackEnvironment(name: "nethack:oracle,rules=oni,sober").oniRules == NetHackONIRules(sober: true))
        #expect(try NetHackEnvironment(name: "nethack:score,rules=oni").oniRules != nil)
        #expect(try NetHackEnvironment(name: "nethack:score").oniRules == nil)
        for bad in ["nethack:gold,rules=oni", "nethack:staircase,sober,rules=oni", "nethack:oracle,sober", "nethack:score,rules=oni,continual",
                    "nethack:challenge,actions=oni", "nethack:score,rules=other"] {
            #expect(throws: EnvironmentError.self, "\(bad)") { try NetHackEnvironment(name: bad) }
        }
    }
}
