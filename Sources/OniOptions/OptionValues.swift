import ArgumentParser
import Foundation

/// One option of a parsed command as data: its long name and its value.
///
/// Every option of Oni is declared once, as a property of a `ParsableArguments` type; this
/// reads such a value back out (by reflection over its property wrappers), so that the same
/// declaration gives the command line, the configuration file and a child's arguments.
public struct OptionValue: Equatable, Sendable {
    public enum Value: Equatable, Sendable {
        case flag(Bool)
        case number(String)
        case text(String)
        case list([String])
    }

    /// The long name, without dashes (`learning-rate`).
    public var name: String
    public var value: Value

    /// Command-line arguments that set this option.
    public var arguments: [String] {
        switch value {
        case .flag(let on): return [on ? "--\(name)" : "--no-\(name)"]
        case .number(let text), .text(let text): return ["--\(name)", text]
        case .list(let items): return items.flatMap { ["--\(name)", $0] }
        }
    }

    /// The value as one string (lists joined by commas).
    var text: String {
        switch value {
        case .flag(let on): return on ? "true" : "false"
        case .number(let text), .text(let text): return text
        case .list(let items): return items.joined(separator: ",")
        }
    }

    /// The value as JSON (booleans, numbers and strings).
    public var json: Any {
        switch value {
        case .flag(let on): return on
        case .number(let text): return NSDecimalNumber(string: text)
        case .text(let text): return text
        case .list(let items): return items
        }
    }
}

/// Reads options out of a parsed `ParsableArguments` value.
public enum OptionValues {
    /// The options of `arguments` and of its option groups, in declaration order. Options
    /// without a value (an optional left out) are skipped.
    public static func of(_ arguments: any ParsableArguments) -> [OptionValue] {
        var values: [OptionValue] = []
        for child in Mirror(reflecting: arguments).children {
            guard let label = child.label, label.hasPrefix("_") else { continue }
            let name = longName(ofProperty: String(label.dropFirst()))
            switch child.value {
            case let group as any OptionGroupReading:
                values += of(group.groupValue)
            case let option as any OptionReading:
                if let value = encode(option.optionValue) { values.append(OptionValue(name: name, value: value)) }
            default:
                continue
            }
        }
        return values
    }

    /// Every long name `type` accepts (its own and its groups'), from its declarations alone
    /// (nothing is parsed or validated).
    public static func names(of type: any ParsableArguments.Type) -> Set<String> {
        var names: Set<String> = []
        for child in Mirror(reflecting: type.init()).children {
            guard let label = child.label, label.hasPrefix("_") else { continue }
            if let group = child.value as? any OptionGroupReading {
                names.formUnion(self.names(of: group.groupType))
            } else if child.value is any OptionReading {
                names.insert(longName(ofProperty: String(label.dropFirst())))
            }
        }
        return names
    }

    /// `type` parsed from no arguments: its defaults.
    public static func defaults(of type: any ParsableArguments.Type) -> any ParsableArguments {
        do {
            return try type.parse([])
        } catch {
            preconditionFailure("\(type) has an option without a default: \(error)")
        }
    }

    /// The long name ArgumentParser derives from a property name: `maxGradNorm` → `max-grad-norm`,
    /// `llmBaseURL` → `llm-base-url`.
    public static func longName(ofProperty property: String) -> String {
        let characters = Array(property)
        var result = ""
        for (index, character) in characters.enumerated() {
            if character.isUppercase && index > 0 {
                let previous = characters[index - 1]
                let nextIsLower = index + 1 < characters.count && characters[index + 1].isLowercase
                if !previous.isUppercase || nextIsLower { result.append("-") }
            }
            result += character.lowercased()
        }
        return result
    }

    private static func encode(_ value: Any) -> OptionValue.Value? {
        switch value {
        case let optional as any OptionalReading: return optional.wrapped.flatMap(encode)
        case let flag as Bool: return .flag(flag)
        case let number as any BinaryInteger: return .number("\(number)")
        case let number as Double: return .number("\(number)")
        case let number as Float: return .number("\(number)")
        case let choice as any RawRepresentable<String>: return .text(choice.rawValue)
        case let items as [Any]:
            return items.isEmpty ? nil : .list(items.compactMap { encode($0).map { OptionValue(name: "", value: $0).text } })
        case let text as String: return .text(text)
        default: return .text("\(value)")
        }
    }
}

/// The wrappers' values, read without knowing their generic parameters.
protocol OptionReading { var optionValue: Any { get } }
protocol OptionGroupReading {
    var groupValue: any ParsableArguments { get }
    var groupType: any ParsableArguments.Type { get }
}
protocol OptionalReading { var wrapped: Any? { get } }

extension Option: OptionReading { var optionValue: Any { wrappedValue } }
extension Flag: OptionReading { var optionValue: Any { wrappedValue } }
extension OptionGroup: OptionGroupReading {
    var groupValue: any ParsableArguments { wrappedValue }
    var groupType: any ParsableArguments.Type { Value.self }
}
extension Optional: OptionalReading { var wrapped: Any? { self.map { $0 as Any } } }
