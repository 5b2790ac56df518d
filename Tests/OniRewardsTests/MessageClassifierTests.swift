import Foundation
import OniCore
import OniRewards
import Testing

@Suite struct MessageClassifierTests {
    /// Binary cross-entropy with logits against finite differences and a hand-computed value.
    @Test func binaryCrossEntropyGradient() {
        let logits: [Float] = [0.3, -1.2, 2.5], labels: [Float] = [1, 0, 0]
        let (loss, gradient) = MessageClassifier.binaryCrossEntropy(logits: logits, labels: labels)
        // −[log σ(0.3) + log(1 − σ(−1.2)) + log(1 − σ(2.5))] / 3
        func sigmoid(_ z: Double) -> Double { 1 / (1 + Foundation.exp(-z)) }
        let expected = -(Foundation.log(sigmoid(0.3)) + Foundation.log(1 - sigmoid(-1.2)) + Foundation.log(1 - sigmoid(2.5))) / 3
        #expect(abs(loss - expected) < 1e-6)  // the logits are Float32
        for i in logits.indices {
            var plus = logits, minus = logits
            plus[i] += 1e-3
            minus[i] -= 1e-3
            let numeric = (MessageClassifier.binaryCrossEntropy(logits: plus, labels: labels).loss
                - MessageClassifier.binaryCrossEntropy(logits: minus, labels: labels).loss) / 2e-3
            #expect(abs(numeric - Double(gradient[i])) < 1e-4, "logit \(i)")
        }
    }

    @Test func weightedCrossEntropyMatchesFiniteDifferencesAndAZeroWeightIgnoresItsExample() {
        let logits: [Float] = [2.0, -1.5, 0.3, -0.2], labels: [Float] = [1, 0, 0, 1], weights: [Float] = [0.9, 0.55, 1, 0.7]
        let (_, gradient) = MessageClassifier.binaryCrossEntropy(logits: logits, labels: labels, weights: weights)
        for i in logits.indices {
            var up = logits, down = logits
            up[i] += 1e-3
            down[i] -= 1e-3
            let numeric = (MessageClassifier.binaryCrossEntropy(logits: up, labels: labels, weights: weights).loss
                - MessageClassifier.binaryCrossEntropy(logits: down, labels: labels, weights: weights).loss) / 2e-3
            #expect(abs(numeric - Double(gradient[i])) < 1e-4, "logit \(i): \(numeric) vs \(gradient[i])")
        }
        // Weights of 1 are the plain mean; a weight of 0 leaves its example out of loss and gradient.
        #expect(MessageClassifier.binaryCrossEntropy(logits: logits, labels: labels, weights: [1, 1, 1, 1]).loss
            == MessageClassifier.binaryCrossEntropy(logits: logits, labels: labels).loss)
        let dropped = MessageClassifier.binaryCrossEntropy(logits: logits, labels: labels, weights: [1, 1, 0, 1])
        let without = MessageClassifier.binaryCrossEntropy(logits: [2.0, -1.5, -0.2], labels: [1, 0, 1])
        #expect(abs(dropped.loss - without.loss) < 1e-12 && dropped.gradient[2] == 0)
    }

    /// Two labels of one message that disagree: the confident one wins, whichever it is.
    @Test func aConfidentLabelOutweighsAnUnsureOne() {
        let text = "You hear the footsteps of a guard on patrol."
        func trained(yes: Float, no: Float) -> Double {
            let classifier = MessageClassifier(seed: 5, learningRate: 3e-2)
            var rng = SeededGenerator(seed: 6)
            classifier.train(on: [LabelledMessage(text: text, label: 1, weight: yes), LabelledMessage(text: text, label: 0, weight: no)], steps: 80, rng: &rng)
            return classifier.probabilities([text])[0]
        }
        let (sureYes, sureNo) = (trained(yes: 0.95, no: 0.55), trained(yes: 0.55, no: 0.95))
        #expect(sureYes > 0.52 && sureNo < 0.48, "P(progress) \(sureYes) when the yes was sure, \(sureNo) when the no was")
    }

    @Test func featuresAreNormalisedAndCaseBlind() {
        let f = MessageFeatures.dense("You find a key.")
        #expect(abs(f.reduce(0) { $0 + $1 * $1 } - 1) < 1e-5)
        #expect(f == MessageFeatures.dense("YOU FIND A KEY."))
        #expect(MessageFeatures.dense("").allSatisfy { $0 == 0 })
    }

    /// Trained on labels where progress means keys, kills and stairs, it labels the training
    /// messages right and carries the pattern to messages it never saw.
    @Test func learnsFromLabelsAndGeneralises() {
        let examples: [(text: String, label: Float)] = [
            ("You find a key.", 1), ("You kill the rat!", 1), ("You kill the newt!", 1), ("There is a staircase down here.", 1),
            ("You unlock the door.", 1), ("It's a wall.", 0), ("The door is locked.", 0), ("You miss the rat.", 0),
            ("The rat bites!", 0), ("Hello Agent, welcome to the dungeon!", 0), ("You hear some noises.", 0), ("You see no door there.", 0),
        ]
        let classifier = MessageClassifier(seed: 3)
        var rng = SeededGenerator(seed: 4)
        #expect(classifier.version == 0)
        classifier.train(on: examples, steps: 120, rng: &rng)
        #expect(classifier.version == 1)
        let p = classifier.probabilities(examples.map(\.text))
        for (probability, example) in zip(p, examples) {
            #expect((probability > 0.5) == (example.label > 0.5), "\(example.text): \(probability)")
        }
        let unseen = classifier.probabilities(["You kill the jackal!", "It's a solid wall."])
        #expect(unseen[0] > 0.5 && unseen[1] < 0.5, "\(unseen)")
    }

    /// Saved and loaded, the classifier trains on exactly as the one that never stopped: the
    /// optimiser's moments and step count come back with the weights.
    @Test func aLoadedClassifierTrainsOnAsIfItHadNeverStopped() throws {
        let examples: [(text: String, label: Float)] = [("You find a key.", 1), ("It's a wall.", 0), ("You kill the rat!", 1), ("The rat bites!", 0)]
        let running = MessageClassifier(seed: 3)
        var rng = SeededGenerator(seed: 4)
        running.train(on: examples, steps: 30, rng: &rng)
        let path = FileManager.default.temporaryDirectory.appendingPathComponent("oni-classifier-\(UUID().uuidString).safetensors").path
        defer { try? FileManager.default.removeItem(atPath: path) }
        try running.save(to: path)
        let resumed = MessageClassifier(seed: 99)
        try resumed.load(from: path)
        #expect(resumed.version == running.version)
        var a = rng, b = rng
        running.train(on: examples, steps: 5, rng: &a)
        resumed.train(on: examples, steps: 5, rng: &b)
        #expect(zip(running.parameters, resumed.parameters).allSatisfy { $0.value == $1.value }, "weights differ after the same steps")
        // Without the moments (a file of weights alone, as older runs kept) the same steps land elsewhere.
        let weightsOnly = MessageClassifier(seed: 99)
        try RewardModelFile.save(running.parameters, kind: .classification, version: running.version, to: path)
        try weightsOnly.load(from: path)
        var c = rng, d = rng
        weightsOnly.train(on: examples, steps: 5, rng: &c)
        running.train(on: examples, steps: 5, rng: &d)
        #expect(!zip(running.parameters, weightsOnly.parameters).allSatisfy { $0.value == $1.value })
    }
}
