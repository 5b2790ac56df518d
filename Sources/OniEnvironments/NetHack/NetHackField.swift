import CNetHack
import OniCore

/// An observation the NetHack environment can give the policy, named as in
/// NLE. int16 buffers (glyphs) travel as int32, int8 (tty colours) as uint8.
public enum NetHackField: String, Sendable, CaseIterable {
    case chars, status, message, glyphs, colors, specials
    case ttyChars = "tty_chars", ttyColors = "tty_colors", ttyCursor = "tty_cursor"
    case invGlyphs = "inv_glyphs", invLetters = "inv_letters", invOClasses = "inv_oclasses", invStrs = "inv_strs"

    /// What a policy gets by default: the map, the status line (blstats) and the message.
    public static let standard: [NetHackField] = [.chars, .status, .message]

    var observationField: ObservationField {
        let map = [Int(CNH_ROWS), Int(CNH_COLUMNS)], terminal = [Int(CNH_TERMINAL_ROWS), Int(CNH_TERMINAL_COLUMNS)]
        let inventory = [Int(CNH_INVENTORY_SIZE)]
        let (type, shape): (ElementType, [Int]) =
            switch self {
            case .chars, .colors, .specials: (.uint8, map)
            case .glyphs: (.int32, map)
            case .status: (.int32, [Int(CNH_BLSTATS_SIZE)])
            case .message: (.uint8, [Int(CNH_MESSAGE_SIZE)])
            case .ttyChars, .ttyColors: (.uint8, terminal)
            case .ttyCursor: (.uint8, [2])
            case .invGlyphs: (.int32, inventory)
            case .invLetters, .invOClasses: (.uint8, inventory)
            case .invStrs: (.uint8, [Int(CNH_INVENTORY_SIZE), Int(CNH_INVENTORY_STRING_LENGTH)])
            }
        return ObservationField(name: rawValue, elementType: type, shape: shape)
    }

    /// Elements of libnethack's buffer for this field.
    var count: Int { observationField.shape.reduce(1, *) }
}

/// The buffers libnethack fills for one game. Which ones are requested does
/// not change the game (only screen_descriptions would, and it is never asked for).
final class NetHackBuffers {
    let glyphs: UnsafeMutablePointer<Int16>
    let chars: UnsafeMutablePointer<UInt8>
    let blstats: UnsafeMutablePointer<Int>
    let message: UnsafeMutablePointer<UInt8>
    let programState: UnsafeMutablePointer<Int32>
    let internalState: UnsafeMutablePointer<Int32>
    let misc: UnsafeMutablePointer<Int32>
    /// Optional fields' buffers, by field.
    private var extra: [NetHackField: UnsafeMutableRawPointer] = [:]

    init(fields: [NetHackField], into observation: inout cnh_observation) {
        let map = Int(CNH_ROWS * CNH_COLUMNS)
        glyphs = .allocate(capacity: map)
        chars = .allocate(capacity: map)
        blstats = .allocate(capacity: Int(CNH_BLSTATS_SIZE))
        message = .allocate(capacity: Int(CNH_MESSAGE_SIZE))
        programState = .allocate(capacity: Int(CNH_PROGRAM_STATE_SIZE))
        internalState = .allocate(capacity: Int(CNH_INTERNAL_SIZE))
        misc = .allocate(capacity: Int(CNH_MISC_SIZE))
        (observation.glyphs, observation.chars, observation.blstats, observation.message) = (glyphs, chars, blstats, message)
        (observation.program_state, observation.internal, observation.misc) = (programState, internalState, misc)
        for field in fields where ![.chars, .status, .message, .glyphs].contains(field) {
            let size = field == .invGlyphs ? 2 : 1
            let buffer = UnsafeMutableRawPointer.allocate(byteCount: field.count * size, alignment: 8)
            buffer.initializeMemory(as: UInt8.self, repeating: 0, count: field.count * size)
            extra[field] = buffer
            switch field {
            case .colors: observation.colors = buffer.assumingMemoryBound(to: UInt8.self)
            case .specials: observation.specials = buffer.assumingMemoryBound(to: UInt8.self)
            case .ttyChars: observation.tty_chars = buffer.assumingMemoryBound(to: UInt8.self)
            case .ttyColors: observation.tty_colors = buffer.assumingMemoryBound(to: Int8.self)
            case .ttyCursor: observation.tty_cursor = buffer.assumingMemoryBound(to: UInt8.self)
            case .invGlyphs: observation.inv_glyphs = buffer.assumingMemoryBound(to: Int16.self)
            case .invLetters: observation.inv_letters = buffer.assumingMemoryBound(to: UInt8.self)
            case .invOClasses: observation.inv_oclasses = buffer.assumingMemoryBound(to: UInt8.self)
            case .invStrs: observation.inv_strs = buffer.assumingMemoryBound(to: UInt8.self)
            case .chars, .status, .message, .glyphs: break
            }
        }
    }

    deinit {
        for pointer in [UnsafeMutableRawPointer(glyphs), UnsafeMutableRawPointer(chars), UnsafeMutableRawPointer(blstats),
            UnsafeMutableRawPointer(message), UnsafeMutableRawPointer(programState), UnsafeMutableRawPointer(internalState),
            UnsafeMutableRawPointer(misc)] + Array(extra.values)
        {
            pointer.deallocate()
        }
    }

    /// Writes `field` as its ObservationField describes it.
    func write(_ field: NetHackField, into buffer: UnsafeMutableRawBufferPointer) {
        switch field {
        case .chars: buffer.copyMemory(from: UnsafeRawBufferPointer(start: chars, count: field.count))
        case .message: buffer.copyMemory(from: UnsafeRawBufferPointer(start: message, count: field.count))
        case .status: widen(blstats, count: field.count, into: buffer)
        case .glyphs: widen(glyphs, count: field.count, into: buffer)
        case .invGlyphs: widen(extra[field]!.assumingMemoryBound(to: Int16.self), count: field.count, into: buffer)
        default: buffer.copyMemory(from: UnsafeRawBufferPointer(start: extra[field]!, count: field.count))
        }
    }

    private func widen<T: BinaryInteger>(_ source: UnsafeMutablePointer<T>, count: Int, into buffer: UnsafeMutableRawBufferPointer) {
        for i in 0..<count { buffer.storeBytes(of: Int32(clamping: source[i]).littleEndian, toByteOffset: 4 * i, as: Int32.self) }
    }
}
