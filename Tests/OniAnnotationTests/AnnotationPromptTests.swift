import OniAnnotation
import OniCore
import Testing

@Suite struct AnnotationPromptTests {
    @Test func prefixIsByteIdenticalAndOnlyTheLastMessageVaries() {
        let prompt = AnnotationPrompt(goal: .default)
        let first = prompt.messages(for: "You kill the jackal!")
        let second = AnnotationPrompt(goal: .default).messages(for: "You hear the footsteps of a guard on patrol.")

        #expect(first.count == second.count)
        #expect(first.count == 1 + 2 * FewShotExamples.builtIn.examples.count + 1)
        #expect(Array(first.dropLast()) == Array(second.dropLast()))
        for (a, b) in zip(first.dropLast(), second.dropLast()) {
            #expect(Array(a.content.utf8) == Array(b.content.utf8))
        }
        #expect(first.last != second.last)
        #expect(first.last?.role == "user")
        #expect(first.last?.content.contains("You kill the jackal!") == true)
        #expect(second.last?.content.contains("footsteps of a guard") == true)
    }

    @Test func conversationShape() {
        let messages = AnnotationPrompt(goal: .gold).messages(for: "You see here 12 gold pieces.")
        #expect(messages.first?.role == "system")
        let examples = messages.dropFirst().dropLast()
        #expect(examples.count == 2 * FewShotExamples.builtIn.examples.count)
        for (index, message) in examples.enumerated() {
            #expect(message.role == (index.isMultiple(of: 2) ? "user" : "assistant"))
            if message.role == "assistant" {
                #expect(message.content == "<label>yes</label>" || message.content == "<label>no</label>")
            }
        }
        let system = messages[0].content
        #expect(system.contains("<label>yes</label>"))
        #expect(system.contains("<label>no</label>"))
        #expect(system.contains(Goal.gold.text))
    }

    @Test func exampleAnswersFollowTheGoal() {
        func answer(_ goal: Goal, _ message: String) -> String? {
            let examples = AnnotationPrompt(goal: goal).examples
            guard let index = examples.firstIndex(where: { $0.role == "user" && $0.content.hasSuffix(message) }) else { return nil }
            return examples[index + 1].content
        }
        #expect(answer(.default, "You kill the newt!") == "<label>yes</label>")
        #expect(answer(.combat, "You kill the newt!") == "<label>yes</label>")
        #expect(answer(.gold, "You kill the newt!") == "<label>no</label>")
        #expect(answer(.gold, "You see here 5 gold pieces.") == "<label>yes</label>")
        #expect(answer(.stairs, "There is a staircase down here.") == "<label>yes</label>")
        #expect(answer(.default, "It's a wall.") == "<label>no</label>")
        #expect(answer(.default, "You hear some noises in the distance.") == "<label>no</label>")
        #expect(answer(.default, "You find a key.") == "<label>yes</label>")
        // What small judges miss: gold in the inventory's words, hits, a pet's kill, recovering.
        #expect(answer(.gold, "$ - 12 gold pieces.") == "<label>yes</label>")
        #expect(answer(.combat, "You hit the gnome.  The gnome hits!") == "<label>yes</label>")
        #expect(answer(.default, "The kitten bites the newt.  The newt is killed!") == "<label>no</label>")
        #expect(answer(.default, "You feel less confused now.") == "<label>no</label>")
    }

    @Test func hashIsStableAndDependsOnTheGoal() {
        let hash = AnnotationPrompt(goal: .default).templateHash
        #expect(hash.count == 16)
        #expect(hash.allSatisfy { "0123456789abcdef".contains($0) })
        #expect(AnnotationPrompt(goal: .default).templateHash == hash)

        let hashes = [Goal.default, .combat, .gold, .stairs, .custom("Find the amulet."), .custom("Pray at an altar.")]
            .map { AnnotationPrompt(goal: $0).templateHash }
        #expect(Set(hashes).count == hashes.count)
    }

    @Test func hashCoversVersionSystemTextAndExamples() {
        let prompt = AnnotationPrompt(goal: .combat)
        var material = prompt.version + "\n" + prompt.systemText
        for message in prompt.examples {
            material += "\n" + message.role + "\n" + message.content
        }
        #expect(prompt.version == "oni-label-v2")
        #expect(prompt.templateHash == String(SHA256.hex(material).prefix(16)))
    }

    @Test func customGoalTextAppears() {
        let goal = Goal(argument: "Open the locked door with the brass key.")
        #expect(goal == .custom("Open the locked door with the brass key."))
        let messages = AnnotationPrompt(goal: goal).messages(for: "You unlock the door.")
        #expect(messages[0].content.contains("Open the locked door with the brass key."))
    }

    @Test func goalArguments() {
        #expect(Goal(argument: "default") == .default)
        #expect(Goal(argument: "Combat") == .combat)
        #expect(Goal(argument: " gold ") == .gold)
        #expect(Goal(argument: "stairs") == .stairs)
        #expect(Goal(argument: "") == .default)
        #expect(Goal(argument: "collect every wand") == .custom("collect every wand"))
        for goal in [Goal.default, .combat, .gold, .stairs] {
            #expect(!goal.text.isEmpty)
            #expect(Goal(argument: goal.name) == goal)
        }
    }
}
