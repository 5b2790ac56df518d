import ArgumentParser
import Foundation
import Yams

/// A configuration file: a JSON or YAML object whose keys are long option names (any spelling
/// `OptionAliases` knows) and whose values are strings, numbers or booleans — either at the top
/// level or under `options` (the form `oni run` writes to `RUN_DIR/config.json`, beside what made
/// the run). Read as if its options were typed before the command line's, which win.
public struct ConfigFile {
    /// The options in the file, in Oni's spelling, sorted by name.
    public let options: [(name: String, value: ConfigValue)]
    public let path: String

    public init(path: String) throws {
        self.path = path
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: path))
        } catch {
            throw ValidationError("cannot read --config \(path): \(error.localizedDescription)")
        }
        let object: [String: ConfigValue]
        do {
            let yaml = path.hasSuffix(".yaml") || path.hasSuffix(".yml")
            let document = try yaml
                ? YAMLDecoder().decode(ConfigDocument.self, from: data) : JSONDecoder().decode(ConfigDocument.self, from: data)
            object = document.options
        } catch {
            throw ValidationError("--config \(path) is not an object of options (keys: long option names; values: strings, numbers, booleans): \(error)")
        }
        var options: [(String, ConfigValue)] = []
        for (key, value) in object {
            options.append((OptionAliases.canonicalName(key), value))
        }
        self.options = options.sorted { $0.0 < $1.0 }
    }

    /// Command-line arguments for the options `accepted` holds. A name no Oni command knows is an
    /// error (a typo must not pass silently); one another command knows is left to that command,
    /// so one file can configure every role.
    public func arguments(accepting accepted: Set<String>) throws -> [String] {
        var arguments: [String] = []
        for (name, value) in options where value != .null {
            guard accepted.contains(name) else {
                if OniCommandOptions.allNames.contains(name) { continue }
                throw ValidationError("--config \(path): no Oni command has an option '\(name)'")
            }
            switch value {
            case .bool(let on): arguments.append(on ? "--\(name)" : "--no-\(name)")
            case .text(let text): arguments += ["--\(name)", text]
            case .list(let items): for item in items { arguments += ["--\(name)", item] }
            case .null: break
            }
        }
        return arguments
    }

    /// `arguments` with `--config FILE` replaced by the file's options, placed first so that the
    /// command line's own options win. Without `--config`, `arguments` unchanged.
    public static func expand(_ arguments: [String], accepting accepted: Set<String>) throws -> [String] {
        guard let index = arguments.firstIndex(where: { $0 == "--config" }) else { return arguments }
        guard index + 1 < arguments.count else { throw ValidationError("--config needs a file") }
        var rest = arguments
        let path = rest[index + 1]
        rest.removeSubrange(index...(index + 1))
        return try ConfigFile(path: path).arguments(accepting: accepted) + rest
    }
}

/// A value in a configuration file.
public enum ConfigValue: Decodable, Equatable, Sendable {
    case bool(Bool)
    case text(String)
    case list([String])
    case null

    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        if container.decodeNil() {
            self = .null
        } else if let value = try? container.decode(Bool.self) {
            self = .bool(value)
        } else if let value = try? container.decode(Int64.self) {
            self = .text("\(value)")
        } else if let value = try? container.decode(UInt64.self) {
            self = .text("\(value)")
        } else if let value = try? container.decode(Double.self) {
            self = .text("\(value)")
        } else if let value = try? container.decode(String.self) {
            self = .text(value)
        } else {
            let items = try container.decode([ConfigValue].self)
            self = .list(try items.map {
                guard case .text(let text) = $0 else {
                    throw DecodingError.dataCorruptedError(in: container, debugDescription: "lists hold strings or numbers")
                }
                return text
            })
        }
    }
}

/// The top level of a configuration file: options, flat or under `options`.
private struct ConfigDocument: Decodable {
    let options: [String: ConfigValue]

    private struct Key: CodingKey {
        var stringValue: String
        var intValue: Int? { nil }
        init(stringValue: String) { self.stringValue = stringValue }
        init?(intValue: Int) { nil }
    }

    init(from decoder: any Decoder) throws {
        let container = try decoder.container(keyedBy: Key.self)
        if container.contains(Key(stringValue: "options")) {
            options = try container.decode([String: ConfigValue].self, forKey: Key(stringValue: "options"))
        } else {
            var options: [String: ConfigValue] = [:]
            for key in container.allKeys {
                options[key.stringValue] = try container.decode(ConfigValue.self, forKey: key)
            }
            self.options = options
        }
    }
}
