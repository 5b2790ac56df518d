import CNetHack
import Foundation
import OniCore

/// The real NetHack 3.6 of the NetHack Learning Environment, driven through
/// libnethack's C API, with NLE 1.3.0's task logic re-implemented: the action
/// sets, skipping "--More--", declining prompts, rewards with the frozen-step
/// penalty, step limits and end conditions.
///
/// Named `nethack:TASK[,actions=task|extended|full|oni][,depth=N][,max-steps=N][,obs=F+F+…]`
/// `[,rules=nle|oni][,sober][,continual]`, e.g. `nethack:score` or
/// `nethack:staircase,depth=3,actions=extended`; `rules=oni` and `actions=oni` are ONI's versions
/// (`NetHackONIRules`, `NetHackActionSet.oni`).
/// Observations: by default `chars` (uint8 [21, 79], the map), `status`
/// (int32 [27], NLE's blstats) and `message` (uint8 [256]); `obs=` picks
/// others of `NetHackField` (glyphs, colors, tty_chars, inventory, …).
///
/// Every instance loads its own copy of libnethack (the game's state is
/// process-global) and plays in its own temporary directory; a reset reloads
/// the copy. Seeds: core = seed, display = seed + 0x9E3779B97F4A7C15 (mod 2⁶⁴),
/// no reseeding, and the moon phase and date drawn from the seed, never the
/// clock, so an episode depends on its seed and actions alone.
public final class NetHackEnvironment: Environment {
    public let task: NetHackTask
    public let actionSet: NetHackActionSet
    /// Steps after which an episode is ended (NLE's max_episode_steps).
    public let stepLimit: Int
    /// For `staircase`: the dungeon depth to reach; nil = any down staircase (NLE's task).
    public let targetDepth: Int?
    /// ONI's task rules, when the name asks for them (`rules=oni`).
    public let oniRules: NetHackONIRules?
    public let name: String
    public var actionCount: Int { keys.count }
    public var actionNames: [String] { keys.map(NetHackKeyNames.name) }
    /// In-game score, deepest level, experience level and gold, as of the last step in the normal game.
    public private(set) var episodeStatistics: [String: Double] = [:]
    /// blstats[0] and [1] are the hero's column and row.
    public var positionInStatus: (x: Int, y: Int)? {
        fields.firstIndex(of: .status) != nil ? (0, 1) : nil
    }
    public let fields: [NetHackField]
    public var observationFields: [ObservationField] { fields.map(\.observationField) }

    static let mapSize = Int(CNH_ROWS * CNH_COLUMNS)
    /// Glyph of dark, unexplored stone; the Oracle's glyph; the pets' glyph range (NetHack 3.6 as built for NLE).
    static let stoneGlyph: Int16 = 2359
    static let oracleGlyph: Int16 = 270
    static let petGlyphs: ClosedRange<Int16> = 381...761

    private let keys: [Int32]
    private let installation: NLEInstallation
    private let directory: URL
    /// The instance's own game directory (data file link, score files, saves); removed with it.
    public var gameDirectory: URL { directory }
    private let game: OpaquePointer
    private let settings: UnsafeMutablePointer<cnh_settings>
    /// Where libnethack writes observations; it keeps this address, so it never moves.
    private let observation: UnsafeMutablePointer<cnh_observation>
    private let buffers: NetHackBuffers
    private var glyphs: UnsafeMutablePointer<Int16> { buffers.glyphs }
    private var chars: UnsafeMutablePointer<UInt8> { buffers.chars }
    private var blstats: UnsafeMutablePointer<Int> { buffers.blstats }
    var messageBuffer: UnsafeMutablePointer<UInt8> { buffers.message }
    private var programState: UnsafeMutablePointer<Int32> { buffers.programState }
    private var internalState: UnsafeMutablePointer<Int32> { buffers.internalState }

    private var running = false
    private var steps = 0
    /// Steps in a row in which the game's clock stood still; as in NLE, never reset between episodes.
    private var frozenSteps = 0
    private var explored: [Int: Int] = [:]  // scout: cells seen per (dungeon, level)
    private var lastTurn = -1, stalledSteps = 0  // challenge: no-progress timeout
    // ONI's rules and macros: the success paid this episode (continual), a skill to enhance, a descent before a --More--.
    private var paidSuccess = false, pendingEnhance = false, keptDescent = false

    public convenience init(name: String) throws(EnvironmentError) {
        try self.init(name: name, installation: NLEInstallation.locate())
    }

    public init(name: String, installation: NLEInstallation) throws(EnvironmentError) {
        let parts = name.split(separator: ",").map(String.init)
        guard let head = parts.first, head.hasPrefix("nethack:"), let task = NetHackTask(rawValue: String(head.dropFirst("nethack:".count))) else {
            throw .unknownEnvironment(name: name, known: EnvironmentFactory.knownNames)
        }
        var actionSet = task.defaultActions, stepLimit = task.defaultStepLimit, depth: Int?, fields = NetHackField.standard
        var rules: NetHackONIRules?, sober = false, continual = false
        for option in parts.dropFirst() {
            let pair = option.split(separator: "=", maxSplits: 1).map(String.init)
            switch (pair.first, pair.count == 2 ? pair[1] : nil) {
            case let ("actions", value?):
                guard let set = NetHackActionSet(rawValue: value) else { throw .invalidOptions(name: name, reason: "actions must be task, extended, full or oni") }
                actionSet = set
            case let ("depth", value?):
                guard task == .staircase, let n = Int(value), n >= 2 else { throw .invalidOptions(name: name, reason: "depth=N (N ≥ 2) applies to staircase only") }
                depth = n
            case let ("obs", value?):
                let names = value.split(separator: "+").map(String.init)
                guard !names.isEmpty, names.allSatisfy({ NetHackField(rawValue: $0) != nil }), Set(names).count == names.count else {
                    throw .invalidOptions(
                        name: name, reason: "obs= takes fields joined by +, of: \(NetHackField.allCases.map(\.rawValue).joined(separator: ", "))")
                }
                fields = names.compactMap(NetHackField.init(rawValue:))
            case let ("max-steps", value?):
                guard let n = Int(value), n > 0 else { throw .invalidOptions(name: name, reason: "max-steps must be a positive integer") }
                stepLimit = n
            case ("rules", "oni"): rules = NetHackONIRules()
            case ("rules", "nle"): rules = nil
            case ("sober", nil): sober = true
            case ("continual", nil): continual = true
            default:
                throw .invalidOptions(
                    name: name, reason: "unknown option '\(option)' (known: actions=, depth=, max-steps=, obs=, rules=nle|oni, sober, continual)")
            }
        }
        if sober || continual {
            guard rules != nil else { throw .invalidOptions(name: name, reason: "sober and continual are ONI's variants: add rules=oni") }
            rules?.sober = sober
            rules?.continual = continual
        }
        try Self.checkONIOptions(task: task, rules: rules, actions: actionSet, name: name)
        oniRules = rules
        self.task = task
        self.actionSet = actionSet
        self.stepLimit = stepLimit
        targetDepth = depth
        self.fields = fields
        self.name = name
        keys = actionSet.keys
        self.installation = installation

        // A private game directory, as NLE makes one: the data file linked, empty score files, a save folder.
        let fm = FileManager.default
        directory = fm.temporaryDirectory.appendingPathComponent("oni-nethack-\(getpid())-\(UUID().uuidString)")
        do {
            try fm.createDirectory(at: directory.appendingPathComponent("save"), withIntermediateDirectories: true)
            try fm.createSymbolicLink(at: directory.appendingPathComponent("nhdat"), withDestinationURL: installation.data)
            for file in ["perm", "record", "logfile", "xlogfile"] {
                guard fm.createFile(atPath: directory.appendingPathComponent(file).path, contents: nil) else {
                    throw CocoaError(.fileWriteUnknown)
                }
            }
        } catch {
            try? fm.removeItem(at: directory)
            throw .nleFailed("cannot prepare the game directory \(directory.path): \(error)")
        }
        var reason = [CChar](repeating: 0, count: 512)
        guard let loaded = cnh_load(installation.library.path, &reason, reason.count) else {
            try? fm.removeItem(at: directory)
            throw .nleFailed(Self.text(reason))
        }
        game = loaded
        settings = .allocate(capacity: 1)
        observation = .allocate(capacity: 1)
        observation.initialize(to: cnh_observation())
        buffers = NetHackBuffers(fields: fields, into: &observation.pointee)
    }

    deinit {
        cnh_unload(game)
        settings.deallocate()
        observation.deallocate()
        try? FileManager.default.removeItem(at: directory)
    }

    // MARK: Environment

    @discardableResult
    public func reset(seed: UInt64) throws(EnvironmentFault) -> String {
        var reason = [CChar](repeating: 0, count: 512)
        if running {
            running = false
            guard cnh_end(game, &reason, reason.count) else { throw fault("could not be reloaded: \(Self.text(reason))") }
        }
        guard prepareSettings(seed: seed) else { throw fault("game directory path or options too long for NetHack") }
        guard cnh_start(game, observation, settings, &reason, reason.count) else { throw fault("did not start: \(Self.text(reason))") }
        running = true
        guard observation.pointee.done == 0 else { throw fault("the game ended right after it started (seed \(seed))") }
        // Dismiss the opening messages until the game is in its move loop, as NLE does.
        for _ in 0..<1000 where programState[3] == 0 {
            send(NetHackKey.space)
            guard observation.pointee.done == 0 else { throw fault("the game ended during its opening messages (seed \(seed))") }
        }
        steps = 0
        (paidSuccess, pendingEnhance, keptDescent) = (false, false, false)
        explored = [:]
        episodeStatistics = [:]
        recordStatistics()
        lastTurn = blstats[20]  // NLE checks for progress once at reset
        stalledSteps = 0
        return message
    }

    public func step(_ action: Int) throws(EnvironmentFault) -> StepOutcome {
        guard running && observation.pointee.done == 0 else { throw fault("step() after the episode ended; call reset(seed:) first") }
        guard (0..<keys.count).contains(action) else { throw fault("action \(action) outside 0..<\(keys.count)") }
        let last = Snapshot(blstats: blstats, internalState: internalState)
        keptDescent = false
        // ONI's eat and drink answers belong to all its tasks; cast and enhance to its 28 actions.
        let key = oniRules != nil || actionSet == .oni ? oniKey(for: keys[action]) : keys[action]
        send(key)
        if actionSet == .oni && key == NetHackONIRules.castKey && observation.pointee.done == 0 { send(NetHackONIRules.firstChoice) }
        var done = observation.pointee.done != 0
        if programState[0] == 1 || !task.agentAnswersPrompts { done = performKnownSteps(done: done, leavePromptsToAgent: true) }
        steps += 1
        if inNormalGame { recordStatistics() }
        let status = done ? .death : endStatus()
        let reward = self.reward(since: last, status: status)
        let shown = message
        if status != .running && status != .continualSuccess && !done {
            quit()
            done = true
        }
        let success = status == .taskSuccessful || (oniRules?.continual == true && paidSuccess)
        return StepOutcome(reward: reward, done: done, success: success, message: shown)
    }

    private func fault(_ reason: String) -> EnvironmentFault { EnvironmentFault(environment: name, reason: reason) }

    public func writeObservation(field fieldIndex: Int, into buffer: UnsafeMutableRawBufferPointer) {
        buffers.write(fields[fieldIndex], into: buffer)
    }

    public func render() -> String {
        var lines: [String] = [message]
        for row in 0..<Int(CNH_ROWS) {
            let line = (0..<Int(CNH_COLUMNS)).map { column -> Character in
                let byte = chars[row * Int(CNH_COLUMNS) + column]
                return Character(Unicode.Scalar(byte >= 32 && byte < 127 ? byte : 32))
            }
            lines.append(String(line))
        }
        let b = (0..<Int(CNH_BLSTATS_SIZE)).map { blstats[$0] }
        lines.append("Dlvl:\(b[12]) $:\(b[13]) HP:\(b[10])(\(b[11])) Pw:\(b[14])(\(b[15])) AC:\(b[16]) Xp:\(b[18])/\(b[19]) T:\(b[20]) S:\(b[9])")
        return lines.joined(separator: "\n")
    }

    /// Keeps the status line's figures (the deepest level so far, not the current one).
    private func recordStatistics() {
        episodeStatistics["score"] = Double(blstats[9])
        episodeStatistics["depth"] = max(episodeStatistics["depth"] ?? 0, Double(blstats[12]))
        episodeStatistics["experience_level"] = Double(blstats[18])
        episodeStatistics["gold"] = Double(blstats[13])
    }

    // MARK: NLE's step logic

    /// What a reward compares against: the previous step's status line and internals.
    private struct Snapshot {
        var score: Int, gold: Int, time: Int, hunger: Int32

        init(blstats: UnsafeMutablePointer<Int>, internalState: UnsafeMutablePointer<Int32>) {
            (score, gold, time, hunger) = (blstats[9], blstats[13], blstats[20], internalState[7])
        }
    }

    /// The message on the top line (NUL-terminated bytes, Latin-1).
    public var message: String {
        var text = ""
        for i in 0..<Int(CNH_MESSAGE_SIZE) {
            let byte = messageBuffer[i]
            if byte == 0 { break }
            text.unicodeScalars.append(Unicode.Scalar(byte))
        }
        return text
    }

    /// A C error buffer as text.
    private static func text(_ buffer: [CChar]) -> String {
        String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }

    private var inNormalGame: Bool { observation.pointee.in_normal_game != 0 }

    private func send(_ key: Int32) {
        observation.pointee.action = key
        cnh_step(game, observation)
    }

    private func prepareSettings(seed: UInt64) -> Bool {
        cnh_prepare_settings(settings, directory.path, task.options, UInt(seed), UInt(seed &+ 0x9E37_79B9_7F4A_7C15), UInt(seed &+ 1))
    }

    /// Dismisses "--More--", escapes text prompts, and declines yes/no questions
    /// unless they are ones an agent answers (eat, attack, direction, pray); returns `done`.
    private func performKnownSteps(done start: Bool, leavePromptsToAgent: Bool) -> Bool {
        var done = start
        while !done {
            if actionSet == .oni && Self.messageContains(messageBuffer, NetHackONIRules.moreConfident) { pendingEnhance = true }
            if internalState[3] != 0 {
                if oniRules != nil && Self.messageContains(messageBuffer, NetHackONIRules.descent) { keptDescent = true }
                send(NetHackKey.space)
            } else if internalState[2] != 0 {
                send(NetHackKey.escape)
            } else {
                if internalState[1] != 0 {
                    if leavePromptsToAgent && (task.agentAnswersPrompts || Self.agentPrompt(messageBuffer, drink: oniRules != nil || actionSet == .oni)) { break }
                    send(NetHackKey.escape)
                    done = observation.pointee.done != 0
                }
                break
            }
            done = observation.pointee.done != 0
        }
        // ONI's automatic skill enhance: the first skill offered, once the game has said so.
        if pendingEnhance && !done {
            pendingEnhance = false
            send(NetHackONIRules.enhanceKey)
            if observation.pointee.done == 0 { send(NetHackONIRules.firstChoice) }
            done = observation.pointee.done != 0
        }
        // ONI keeps "You descend the stairs." where a --More-- would have replaced it.
        if keptDescent {
            let text = Array(NetHackONIRules.shown(dismissed: ["You descend the stairs."], final: message).utf8)
            for i in 0..<Int(CNH_MESSAGE_SIZE) { messageBuffer[i] = i < text.count ? text[i] : 0 }
        }
        return done
    }

    private static let agentPromptWords = ["eat", "attack", "direction?", "pray"].map { Array($0.utf8) }

    /// Questions left to the agent: NLE's, and with ONI's actions also what to drink.
    private static func agentPrompt(_ message: UnsafeMutablePointer<UInt8>, drink: Bool) -> Bool {
        (agentPromptWords + (drink ? [Array("drink".utf8)] : [])).contains { messageContains(message, $0) }
    }

    /// Quits the game (after a task ended it), as NLE does: M-q, then yes.
    private func quit() {
        var done = performKnownSteps(done: observation.pointee.done != 0, leavePromptsToAgent: false)
        if !done {
            send(NetHackKey.quit)
            if observation.pointee.done == 0 { send(NetHackKey.yes) }
            done = performKnownSteps(done: observation.pointee.done != 0, leavePromptsToAgent: false)
        }
    }

    private func endStatus() -> NetHackStepStatus {
        if task == .challenge {
            // NLE checks for progress twice per step: a frozen clock counts double.
            for _ in 0..<2 {
                if blstats[20] == lastTurn { stalledSteps += 1 } else { lastTurn = blstats[20]; stalledSteps = 0 }
            }
            if steps >= stepLimit || stalledSteps >= 10_000 { return .aborted }
            return .running
        }
        if steps >= stepLimit { return .aborted }
        if let oniRules {
            let succeeded = oniSucceeded(blstats: blstats) { neighbourhood { $0 == Self.oracleGlyph } }
            return succeeded && !oniRules.continual ? .taskSuccessful : (succeeded ? .continualSuccess : .running)
        }
        switch task {
        case .staircase:
            if let targetDepth { return blstats[12] >= targetDepth ? .taskSuccessful : .running }
            return internalState[4] != 0 ? .taskSuccessful : .running
        case .staircasePet:
            return internalState[4] != 0 && neighbourhood(contains: Self.petGlyphs.contains) ? .taskSuccessful : .running
        case .oracle:
            return neighbourhood { $0 == Self.oracleGlyph } ? .taskSuccessful : .running
        default:
            return .running
        }
    }

    /// Whether a glyph in the 3×3 square around the hero matches, with numpy's
    /// slicing of `glyphs[y-1:y+2, x-1:x+2]` (a start of -1 wraps to the end).
    private func neighbourhood(contains match: (Int16) -> Bool) -> Bool {
        func range(_ centre: Int, _ size: Int) -> Range<Int> {
            let start = centre - 1 < 0 ? centre - 1 + size : centre - 1
            let end = min(centre + 2, size)
            return start < end ? start..<end : 0..<0
        }
        let columns = Int(CNH_COLUMNS)
        for y in range(blstats[1], Int(CNH_ROWS)) {
            for x in range(blstats[0], columns) where match(glyphs[y * columns + x]) { return true }
        }
        return false
    }

    /// The frozen-step penalty (NLE's "constant" mode); updates the frozen-step count.
    private func timePenalty(since last: Snapshot) -> Float {
        frozenSteps = blstats[20] == last.time ? frozenSteps + 1 : 0
        return frozenSteps > 0 ? task.frozenStepPenalty : 0
    }

    private func reward(since last: Snapshot, status: NetHackStepStatus) -> Float {
        switch task {
        case .score, .challenge:
            let gain = inNormalGame ? Float(blstats[9] - last.score) : 0
            return gain + timePenalty(since: last)
        case .staircase, .staircasePet, .oracle:
            if oniRules != nil {
                // ONI: 50 for the success (once, when continual), no frozen-step penalty.
                guard status == .taskSuccessful || (status == .continualSuccess && !paidSuccess) else { return 0 }
                paidSuccess = true
                return NetHackONIRules.successReward
            }
            let penalty = timePenalty(since: last)
            return (status == .taskSuccessful ? 1 : 0) + penalty
        case .gold:
            guard inNormalGame else { return 0 }
            return Float(blstats[13] - last.gold) + timePenalty(since: last)
        case .eat:
            guard inNormalGame else { return 0 }
            return Float(max(0, internalState[7] - last.hunger)) + timePenalty(since: last)
        case .scout:
            guard inNormalGame else { return 0 }
            let seen = (0..<Self.mapSize).reduce(0) { $0 + (glyphs[$1] != Self.stoneGlyph ? 1 : 0) }
            let key = blstats[23] << 16 | blstats[24]
            let gain = seen - explored[key, default: 0]
            explored[key] = seen
            return Float(gain) + timePenalty(since: last)
        }
    }
}
