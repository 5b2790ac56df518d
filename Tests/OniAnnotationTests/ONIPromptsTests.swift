import Foundation
import OniAnnotation
import OniCore
import Testing

/// ONI's prompts: what they ask, and how their answers are read.
@Suite struct ONIPromptsTests {
    @Test func labelPromptHasONIsStructureAndGoalSentences() {
        let prompt = AnnotationPrompt(goal: .gold, mode: .logprob, style: .oni)
        #expect(prompt.mode == .tagged && prompt.examples.isEmpty && prompt.temperature == 0.1 && prompt.replyTokens == 512)
        let conversation = prompt.messages(for: "  You see here 12 gold pieces. ")
        #expect(conversation.count == 2 && conversation[0].content == ONIPrompts.system)
        let question = conversation[1].content
        for part in ["Context: I am playing NetHack", "I prefer agents that maximize their gold.", "assign a label FOO", "<knowledge>", "<analysis>",
                     "<label> [FOO/BAR] </label>", "Please rate this message: {\"You see here 12 gold pieces.\"}"] {
            #expect(question.contains(part), "\(part)")
        }
        // The examples are labelled for the goal: the goblin kill is BAR for gold, FOO by default.
        #expect(question.contains("{\"You kill the goblin!  Welcome to experience level 4\"} is BAR"))
        #expect(ONIPrompts.labelPrompt(goal: .default, message: "x").contains("{\"You kill the goblin!  Welcome to experience level 4\"} is FOO"))
        // Zero knowledge: no goal sentence at all.
        #expect(!ONIPrompts.labelPrompt(goal: .zeroKnowledge, message: "x").contains("I prefer"))
        #expect(Goal(argument: "zeroknowledge") == .zeroKnowledge && Goal.zeroKnowledge.text.isEmpty)
        // A different prompt is a different cache key.
        #expect(Set([prompt.templateHash, AnnotationPrompt(goal: .gold, style: .default).templateHash, AnnotationPrompt(goal: .default, style: .oni).templateHash]).count == 3)
    }

    @Test func labelsAreReadFromTheLastTagOrAsONIReadsThem() {
        let reasoned = "<knowledge> NetHack is a roguelike. </knowledge>\n<analysis> Gold helps. </analysis>\n<label> FOO </label>"
        #expect(ONIPrompts.parseLabel(reasoned) == .labelled(value: 1, confidence: 1))
        #expect(ONIPrompts.parseLabel("<label>[FOO/BAR]</label> ... <label> BAR </label>") == .labelled(value: 0, confidence: 1))
        #expect(ONIPrompts.parseLabel("I would say BAR.") == .labelled(value: 0, confidence: 1))
        #expect(ONIPrompts.parseLabel("FOO, clearly") == .labelled(value: 1, confidence: 1))
        guard case .unparseable = ONIPrompts.parseLabel("<label> FOO/BAR </label>") else { Issue.record("both words in the tag"); return }
        guard case .unparseable = ONIPrompts.parseLabel("It depends.") else { Issue.record("neither word"); return }
        #expect(AnnotationPrompt(goal: .default, style: .oni).parse("<label>FOO</label>") == .labelled(value: 1, confidence: 1))
    }

    @Test func pairPromptsAndTheirAnswers() {
        let motif = PairPrompt(goal: .stairs, style: .oni).messages(first: "You descend.", second: "It's a wall.")
        #expect(motif[0].content == ONIPrompts.system && motif.count == 2)
        #expect(motif[1].content.contains("\"description_1\":\n\"You descend.\"") && motif[1].content.contains("go down the dungeon as much as possible"))
        let reworded = PairPrompt(goal: .zeroKnowledge, style: .oniReworded).messages(first: "a", second: "b")[1].content
        #expect(reworded.contains("\"message_2\":\n\"b\"") && reworded.contains("best_message"))
        #expect(ONIPrompts.parsePreference("... so (\"best_description\": 2)", reworded: false) == .labelled(value: 0, confidence: 1))
        #expect(ONIPrompts.parsePreference("(\"best_description\": 1)", reworded: false) == .labelled(value: 1, confidence: 1))
        #expect(ONIPrompts.parsePreference("Best description: None", reworded: false) == .labelled(value: 0.5, confidence: 1))
        #expect(PairPrompt(goal: .default, style: .oniReworded).parse("(\"best_message\": 1)") == .labelled(value: 1, confidence: 1))
        // ONI's released parser reads the reworded answer with the default pattern (every pair a tie); here each reads its own.
        guard case .unparseable = ONIPrompts.parsePreference("(\"best_message\": 1)", reworded: false) else { Issue.record("wrong key"); return }
        #expect(Set([PairPrompt(goal: .default).templateHash, PairPrompt(goal: .default, style: .oni).templateHash,
                     PairPrompt(goal: .default, style: .oniReworded).templateHash]).count == 3)
    }
}
