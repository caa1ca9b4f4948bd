import Yams

/// The YAML tree of a configuration file, or the one syntax error that
/// stopped it.
///
/// Yams refuses a mapping with a repeated key (`duplicatedKeysInMapping`)
/// and names only the first occurrence. To report every repeat with its key
/// path and line, and still check the rest of the file, the first occurrence
/// is renamed in the text with a marker (``shadowPrefix``) and the text
/// composed again, until it composes. The marker holds no line break, so
/// lines stay true; columns of later syntax errors are mapped back.
enum YAMLComposition {
    /// The tree (nil for an empty document) and the original names of the
    /// renamed keys, indexed by the number in their marker.
    case document(Node?, shadowed: [String])
    /// A YAML error: nothing can be checked past it.
    case failure(ConfigIssue)

    /// Prefix of a renamed key: `xigmp·dup·N·` followed by the key's text.
    static let shadowPrefix = "xigmp\u{B7}dup\u{B7}"
    /// Most repeated keys recovered before giving up.
    static let maxRecoveries = 64

    /// Composes `text`, recovering from repeated keys.
    static func compose(_ text: String, fileName: String) -> YAMLComposition {
        var current = text
        var shadowed: [String] = []
        var insertions: [(line: Int, column: Int, length: Int)] = []
        var lastMark: (line: Int, column: Int)?
        func originalColumn(line: Int, column: Int) -> Int {
            var column = column
            for insertion in insertions.reversed() where insertion.line == line {
                if column >= insertion.column + insertion.length {
                    column -= insertion.length
                } else if column > insertion.column {
                    column = insertion.column
                }
            }
            return column
        }
        while true {
            do {
                return .document(try Yams.compose(yaml: current), shadowed: shadowed)
            } catch let YamlError.duplicatedKeysInMapping(duplicates, context) {
                let mark = context.mark
                let name = duplicates.first ?? "?"
                let marker = "\(shadowPrefix)\(shadowed.count)\u{B7}"
                let repeated = lastMark.map { $0 == (mark.line, mark.column) } ?? false
                guard !repeated, shadowed.count < maxRecoveries,
                      let renamed = inserting(marker, into: current, line: mark.line, column: mark.column)
                else {
                    return .failure(ConfigIssue(
                        fileName: fileName, line: mark.line, keyPath: name,
                        message: "key given more than once; expected each key once"))
                }
                lastMark = (mark.line, mark.column)
                insertions.append((mark.line, mark.column, marker.unicodeScalars.count))
                shadowed.append(name)
                current = renamed
            } catch let error as YamlError {
                return .failure(syntaxIssue(error, fileName: fileName, columnMap: originalColumn))
            } catch {
                return .failure(ConfigIssue(fileName: fileName, line: nil, keyPath: nil,
                                            message: "YAML error: \(error)"))
            }
        }
    }

    /// `text` with `marker` inserted before the Unicode scalar at 1-based
    /// `line` and `column` (libyaml's counting: CR LF is one break, and CR,
    /// NEL, LS and PS are breaks too); nil when there is no such position.
    static func inserting(_ marker: String, into text: String, line: Int, column: Int) -> String? {
        let scalars = Array(text.unicodeScalars)
        var currentLine = 1, currentColumn = 1, index = 0
        while index <= scalars.count {
            if currentLine == line && currentColumn == column {
                var result = String.UnicodeScalarView()
                result.append(contentsOf: scalars[..<index])
                result.append(contentsOf: marker.unicodeScalars)
                result.append(contentsOf: scalars[index...])
                return String(result)
            }
            guard index < scalars.count else { return nil }
            switch scalars[index] {
            case "\r" where index + 1 < scalars.count && scalars[index + 1] == "\n":
                index += 1
                fallthrough
            case "\n", "\r", "\u{85}", "\u{2028}", "\u{2029}":
                currentLine += 1
                currentColumn = 1
            default:
                currentColumn += 1
            }
            index += 1
        }
        return nil
    }

    /// A YAML error as an issue at its line and column, with a hint.
    static func syntaxIssue(_ error: YamlError, fileName: String,
                            columnMap: (Int, Int) -> Int) -> ConfigIssue {
        let mark: Position?
        var problem: String
        var expected = "well-formed YAML (check indentation, quoting, and a space after each ':')"
        switch error {
        case let .scanner(context, text, at, _), let .parser(context, text, at, _),
             let .composer(context, text, at, _):
            mark = Position(line: at.line, column: at.column)
            problem = text
            if text == "but found another document" {
                // Yams' single-document check words its context as the problem.
                problem = "the file holds more than one YAML document"
                expected = "a single document (no second '---')"
            } else if let context {
                problem += " (\(context.text) from line \(context.mark.line))"
            }
        case let .reader(text, offset, value, yaml):
            mark = offset.flatMap { position(ofCharacter: $0, in: yaml) }
            problem = value >= 0 ? "\(text) (character U+\(String(value, radix: 16, uppercase: true)))" : text
        default:
            mark = nil
            problem = "\(error)"
        }
        let tab = mark.map { character(at: $0, in: error.yaml) == "\t" } ?? false
        if tab { expected = "indent with spaces: YAML does not allow tabs for indentation" }
        return ConfigIssue(fileName: fileName, line: mark?.line,
                           column: mark.map { columnMap($0.line, $0.column) }, keyPath: nil,
                           message: "YAML syntax error: \(problem); expected \(expected)")
    }

    /// A 1-based line and column (in Unicode scalars), as libyaml counts.
    struct Position { let line: Int, column: Int }

    /// The position of the `offset`-th Character.
    static func position(ofCharacter offset: Int, in text: String) -> Position? {
        var line = 1, column = 1, seen = 0
        for character in text {
            if seen == offset { return Position(line: line, column: column) }
            if character.isNewline { line += 1; column = 1 } else { column += character.unicodeScalars.count }
            seen += 1
        }
        return seen == offset ? Position(line: line, column: column) : nil
    }

    /// The Unicode scalar at `mark`, if any.
    static func character(at mark: Position, in text: String?) -> Unicode.Scalar? {
        guard let text else { return nil }
        var line = 1, column = 1
        for scalar in text.unicodeScalars {
            if line == mark.line && column == mark.column { return scalar }
            if scalar == "\n" { line += 1; column = 1 } else { column += 1 }
        }
        return nil
    }
}

extension YamlError {
    /// The text the error was found in, when the error carries it.
    fileprivate var yaml: String? {
        switch self {
        case let .scanner(_, _, _, yaml), let .parser(_, _, _, yaml), let .composer(_, _, _, yaml),
             let .reader(_, _, _, yaml):
            return yaml
        default:
            return nil
        }
    }
}
