import Foundation
import OniCore
@testable import OniRewards
import Testing

@Suite struct CharCNNClassifierTests {
    static let examples: [LabelledMessage] = [
        ("You kill the rat!", 1), ("You kill the newt!", 1), ("You kill the jackal!", 1), ("You find 12 gold pieces.", 1),
        ("You find 3 gold pieces.", 1), ("There is a staircase down here.", 1), ("It's a wall.", 0), ("The door is locked.", 0),
        ("You miss the rat.", 0), ("The rat bites!", 0), ("You hear some noises.", 0), ("You see no door there.", 0),
    ].map { LabelledMessage(text: $0.0, label: $0.1) }

    /// It learns the labels, and carries them to messages it never saw that share their words.
    @Test func learnsLabelsAndGeneralises() {
        let model = CharCNNClassifier(seed: 3)
        var rng = SeededGenerator(seed: 4)
        let loss = model.train(on: Self.examples, steps: 150, rng: &rng, until: { false })
        #expect(loss < 0.2 && model.version == 1, "loss \(loss)")
        let p = model.probabilities(Self.examples.map(\.text))
        for (probability, example) in zip(p, Self.examples) { #expect((probability > 0.5) == (example.label > 0.5), "\(example.text): \(probability)") }
        let unseen = model.probabilities(["You kill the gnome lord!", "It's a wall.  You hear some noises."])
        #expect(unseen[0] > 0.5 && unseen[1] < 0.5, "\(unseen)")
    }

    /// Saved and loaded, it scores as before and trains on as if it had never stopped; the n-gram
    /// classifier's file is refused (another model), and so is its own by the n-gram classifier.
    @Test func savesLoadsAndRefusesTheOtherModelsFile() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("charcnn-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let running = CharCNNClassifier(seed: 5)
        var rng = SeededGenerator(seed: 6)
        _ = running.train(on: Self.examples, steps: 20, rng: &rng, until: { false })
        let path = directory.appendingPathComponent("m.safetensors").path
        try running.save(to: path)
        let resumed = CharCNNClassifier(seed: 99)
        try resumed.load(from: path)
        #expect(resumed.version == 1 && resumed.probabilities(["You kill the rat!"]) == running.probabilities(["You kill the rat!"]))
        var (a, b) = (SeededGenerator(seed: 7), SeededGenerator(seed: 7))
        _ = running.train(on: Self.examples, steps: 5, rng: &a, until: { false })
        _ = resumed.train(on: Self.examples, steps: 5, rng: &b, until: { false })
        #expect(resumed.probabilities(["It's a wall."]) == running.probabilities(["It's a wall."]))
        #expect(throws: RewardModelFileError.self) { try MessageClassifier(seed: 1).load(from: path) }
        let ngram = directory.appendingPathComponent("n.safetensors").path
        try MessageClassifier(seed: 1).save(to: ngram)
        #expect(throws: RewardModelFileError.self) { try CharCNNClassifier(seed: 1).load(from: ngram) }
    }

    /// `--reward-model char-cnn` makes the classification reward train this model.
    @Test func chosenByTheComposition() {
        var composition = RewardComposition()
        (composition.type, composition.textModel) = (.classification, .charCNN)
        #expect(composition.makeReward(seed: 1, goalText: "") is TrainedReward<CharCNNClassifier>)
        #expect(IntrinsicRewardType.ranking.trainedModel(.charCNN) == nil)
    }
}
