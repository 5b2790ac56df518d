import OniAnnotation
import OniCore
import Testing

@Suite struct LabelParserTests {
    private static func value(_ outcome: LabelOutcome) -> Float? {
        if case let .labelled(value, confidence) = outcome, confidence == 1 { return value }
        return nil
    }

    private static func isUnparseable(_ outcome: LabelOutcome) -> Bool {
        if case let .unparseable(reason) = outcome { return !reason.isEmpty }
        return false
    }

    @Test(arguments: [
        ("<label>yes</label>", Float(1)),
        ("<label>no</label>", 0),
        ("<LABEL>Yes</LABEL>", 1),
        ("Reasoning: the player killed a monster, which raises the score. <label> No </label>", 0),
        ("The newt is dead, so this is progress.\n<label>yes</label>\n", 1),
        ("<label>\n  yes\n</label>", 1),
        ("<label>true</label>", 1),
        ("<label>false</label>", 0),
        ("<label>1</label>", 1),
        ("<label>0</label>", 0),
        ("<label>helpful</label>", 1),
        ("<label>unhelpful</label>", 0),
        ("<label>Yes.</label>", 1),
        ("yes", 1),
        ("Yes", 1),
        ("No.", 0),
        ("  no  \n", 0),
        ("\"yes\"", 1),
        ("'No.'", 0),
        ("\"no.\"", 0),
        ("YES!", 1),
        ("True", 1),
    ])
    func acceptsClearAnswers(reply: String, expected: Float) {
        #expect(Self.value(LabelParser.parse(reply)) == expected, "reply: \(reply)")
    }

    @Test func lastOfSeveralTagsWins() {
        let restated = "Answer with <label>yes</label> or <label>no</label>. My answer: <label>no</label>"
        #expect(Self.value(LabelParser.parse(restated)) == 0)
        #expect(Self.value(LabelParser.parse("<label>no</label> On reflection: <label>yes</label>")) == 1)
    }

    @Test(arguments: [
        "",
        "   \n\t ",
        "<label>maybe</label>",
        "<label></label>",
        "<label>yes or no</label>",
        "<label>ye",
        "<label>yes",
        "<label>no</label> but then <label>maybe</label>",
        "<label>yes</label> wait, <label>n",
        "yes</label>",
        "I think so",
        "Yes, the player made progress.",
        "The answer is yes",
        "no idea",
        "maybe",
        "yesno",
        "<lab",
    ])
    func refusesAnythingElse(reply: String) {
        #expect(Self.isUnparseable(LabelParser.parse(reply)), "reply: \(reply)")
    }

    @Test func reasonsAreShortAndSpecific() {
        guard case let .unparseable(empty) = LabelParser.parse("") else {
            Issue.record("empty reply parsed")
            return
        }
        #expect(empty == "empty reply")
        guard case let .unparseable(truncated) = LabelParser.parse("<label>ye") else {
            Issue.record("truncated reply parsed")
            return
        }
        #expect(truncated.contains("unterminated"))
        guard case let .unparseable(other) = LabelParser.parse("<label>perhaps</label>") else {
            Issue.record("unknown word parsed")
            return
        }
        #expect(other.contains("perhaps"))
        guard case let .unparseable(prose) = LabelParser.parse("I think so") else {
            Issue.record("prose parsed")
            return
        }
        #expect(prose.count < 80)
    }
}
