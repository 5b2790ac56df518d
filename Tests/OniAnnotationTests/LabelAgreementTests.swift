import Foundation
import OniAnnotation
import OniCore
import Testing

@Suite struct LabelAgreementTests {
    typealias J = LabelAgreement.Judgement

    /// 10 messages by hand: reference 4 progress, 6 not; the judge finds 3 of the 4 and calls 1 other
    /// progress; one more message gets no label. p_o = 8/10; p_e = 0.4·0.4 + 0.6·0.6 = 0.52;
    /// κ = (0.8 − 0.52) / 0.48 = 7/12.
    @Test func handComputedFigures() {
        let judgements: [J] = [
            J(message: "a", reference: 1, label: 1, probability: nil, seconds: 1),
            J(message: "b", reference: 1, label: 1, probability: nil, seconds: 1),
            J(message: "c", reference: 1, label: 1, probability: nil, seconds: 1),
            J(message: "d", reference: 1, label: 0, probability: nil, seconds: 1),
            J(message: "e", reference: 0, label: 1, probability: nil, seconds: 1),
            J(message: "f", reference: 0, label: 0, probability: nil, seconds: 1),
            J(message: "g", reference: 0, label: 0, probability: nil, seconds: 1),
            J(message: "h", reference: 0, label: 0, probability: nil, seconds: 1),
            J(message: "i", reference: 0, label: 0, probability: nil, seconds: 1),
            J(message: "j", reference: 0, label: 0, probability: nil, seconds: 3),
            J(message: "k", reference: 0, label: nil, probability: nil, seconds: 1),
        ]
        let a = LabelAgreement(judgements)
        #expect(a.judged == 10 && a.unlabelled == 1)
        #expect((a.truePositives, a.falseNegatives, a.falsePositives, a.trueNegatives) == (3, 1, 1, 5))
        #expect(a.agreement == 0.8 && a.precision == 0.75 && a.recall == 0.75)
        #expect(abs(a.kappa! - 7.0 / 12) < 1e-12)
        #expect(abs(a.secondsPerLabel - 13.0 / 11) < 1e-12)
        #expect(a.calibration.isEmpty)
    }

    /// Log-probability judgements: the calibration table bins P(yes), a threshold re-decides them,
    /// and the best threshold is the one that separates the reference.
    @Test func calibrationAndThreshold() {
        let judgements: [J] = [(0.05, 0), (0.15, 0), (0.35, 0), (0.38, 1), (0.45, 1), (0.7, 1), (0.9, 1), (0.3, 0)].enumerated().map { k, pair in
            J(message: "\(k)", reference: pair.1, label: pair.0 > 0.5 ? 1 : 0, probability: pair.0, seconds: 0.5)
        }
        let own = LabelAgreement(judgements)
        #expect(own.recall == 0.5 && own.precision == 1)
        #expect(own.calibration.map(\.count) == [2, 3, 1, 1, 1])
        #expect(own.calibration[1].progressRate == 1.0 / 3 && abs(own.calibration[1].meanProbability - (0.35 + 0.38 + 0.3) / 3) < 1e-12)
        let best = LabelAgreement.bestThreshold(judgements)!
        #expect(best > 0.35 && best < 0.38)
        let separated = LabelAgreement(judgements, threshold: best)
        #expect(separated.kappa == 1 && separated.agreement == 1)
    }

    /// A judge that always says "no" agrees often on a skewed set and still scores κ = 0.
    @Test func kappaIsZeroForAConstantJudge() {
        let judgements = (0..<10).map { J(message: "\($0)", reference: $0 < 2 ? 1 : 0, label: 0, probability: nil, seconds: 0) }
        let a = LabelAgreement(judgements)
        #expect(a.agreement == 0.8 && a.kappa == 0 && a.precision == nil && a.recall == 0)
    }
}

/// Oni's committed labelled set: real NetHack messages, labelled per goal, split by a hash.
@Suite struct LabelSetTests {
    static let path = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("LabelSet/nethack-messages.jsonl").path

    @Test func theSetIsWholeDistinctAndSplitByItsRule() throws {
        let set = try LabelSet(path: Self.path)
        #expect(set.entries.count >= 400)
        #expect(Set(set.entries.map(\.message)).count == set.entries.count)
        for entry in set.entries {
            #expect(Set(entry.labels.keys) == ["default", "combat", "gold", "stairs", "zeroknowledge"], "\(entry.message)")
            #expect(entry.labels.values.allSatisfy { $0 == 0 || $0 == 1 } && entry.count > 0)
            // dev when the first byte of the message's SHA-256 is even, as the builder splits it.
            #expect(entry.part == (SHA256.digest(Array(entry.message.utf8))[0] % 2 == 0 ? "dev" : "test"), "\(entry.message)")
        }
        for goal in ["default", "combat", "gold"] {
            for part in ["dev", "test"] {
                let entries = set.entries(part: part, goal: goal)
                #expect(entries.contains { $0.labels[goal] == 1 } && entries.contains { $0.labels[goal] == 0 }, "\(goal) \(part)")
            }
        }
        // Spot checks of the written rules.
        let byText = Dictionary(uniqueKeysWithValues: set.entries.map { ($0.message, $0.labels) })
        #expect(byText["You kill the newt!"]?["combat"] == 1 && byText["You kill the newt!"]?["gold"] == 0)
        #expect(byText["It's a wall."]?["default"] == 0)
    }

    @Test func aBrokenLineIsAnErrorNamingIt() throws {
        let path = NSTemporaryDirectory() + "oni-set-\(UUID().uuidString).jsonl"
        defer { try? FileManager.default.removeItem(atPath: path) }
        try Data("{\"message\": \"a\", \"count\": 1, \"part\": \"dev\", \"labels\": {\"default\": 1}}\nnot json\n".utf8).write(to: URL(fileURLWithPath: path))
        #expect { try LabelSet(path: path) } throws: { "\($0)".contains("line 2") }
    }
}
