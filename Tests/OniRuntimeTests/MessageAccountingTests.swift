import OniCore
import OniEnvironments
@testable import OniRuntime
import Testing

/// The message each step is paid for, on a real NetHack game played with seeded random actions.
@Suite struct MessageAccountingTests {
    /// One recorded game: its opening message and every step's outcome (several episodes: short step limit).
    struct Recorded {
        var openings: [String] = []
        var outcomes: [StepOutcome] = []
    }

    static func record(steps: Int = 600) throws -> Recorded {
        let env = try NetHackEnvironment(name: "nethack:score,max-steps=150")
        var rng = SeededGenerator(seed: 11)
        var recorded = Recorded()
        recorded.openings.append(try env.reset(seed: 5))
        for _ in 0..<steps {
            let outcome = try env.step(rng.below(env.actionCount))
            recorded.outcomes.append(outcome)
            if outcome.done { recorded.openings.append(try env.reset(seed: rng.next())) }
        }
        return recorded
    }

    /// Plays the recorded game through the accounting; returns what each step was paid for.
    static func account(_ recorded: Recorded, _ accounting: inout MessageAccounting) -> [(message: String, count: Int32)?] {
        var openings = recorded.openings.makeIterator()
        accounting.started(0, opening: openings.next()!)
        return recorded.outcomes.map { outcome in accounting.stepped(0, outcome, nextOpening: outcome.done ? openings.next() : nil) }
    }

    @Test func oniAndONIRulesOnARecordedGame() throws {
        let recorded = try Self.record()
        #expect(recorded.openings.count >= 3, "several episodes")
        #expect(recorded.outcomes.contains { $0.message.isEmpty } && recorded.outcomes.contains { !$0.message.isEmpty })

        // Oni's default: the step's own message, empty ones left out.
        var after = MessageAccounting(environments: 1)
        let paidAfter = Self.account(recorded, &after)
        for (outcome, paid) in zip(recorded.outcomes, paidAfter) {
            #expect(outcome.message.isEmpty ? paid == nil : paid?.message == outcome.message)
        }

        // ONI's: the message on screen when the action was chosen — the previous step's, or the
        // episode's opening message on its first step — with empty messages counted.
        var before = MessageAccounting(timing: .before, empty: .count, environments: 1)
        let paidBefore = Self.account(recorded, &before)
        var opening = 0
        var counts: [String: Int32] = [:]
        for (k, paid) in paidBefore.enumerated() {
            let firstOfEpisode = k == 0 || recorded.outcomes[k - 1].done
            if firstOfEpisode {
                if k > 0 { opening += 1 }
                counts = [:]
            }
            let expected = firstOfEpisode ? recorded.openings[opening] : recorded.outcomes[k - 1].message
            counts[expected, default: 0] += 1
            #expect(paid?.message == expected && paid?.count == counts[expected], "step \(k)")
        }
        #expect(paidBefore.contains { $0?.message == "" } && paidBefore.allSatisfy { $0 != nil })
        #expect(paidBefore.first??.message == recorded.openings[0] && recorded.openings[0].contains("welcome to NetHack"))
    }

    /// Counts go per episode and start again at 1; a failed game's step pays for nothing.
    @Test func countsRestartPerEpisodeAndFailuresPayNothing() {
        var accounting = MessageAccounting(timing: .before, empty: .count, environments: 2)
        accounting.started(1, opening: "Hello")
        let step = { (message: String, done: Bool) in StepOutcome(reward: 0, done: done, success: false, message: message) }
        #expect(accounting.stepped(1, step("You see here a newt corpse.", false))! == ("Hello", 1))
        #expect(accounting.stepped(1, step("", false))! == ("You see here a newt corpse.", 1))
        #expect(accounting.stepped(1, step("", true), nextOpening: "Hello")! == ("", 1))
        #expect(accounting.stepped(1, step("", false))! == ("Hello", 1))
        #expect(accounting.stepped(1, step("", false))! == ("", 1))
        #expect(accounting.stepped(1, step("", false))! == ("", 2))
        #expect(accounting.stepped(1, StepOutcome(reward: 0, done: true, success: false, message: "", truncated: true), nextOpening: "Hi") == nil)
        #expect(accounting.stepped(1, step("x", false))! == ("Hi", 1))
    }
}
