import Yams

/// One `key: value` of a mapping, with where the key was written.
struct Entry {
    /// The key as written.
    let name: String
    /// Dotted path, e.g. `modes.queryNotify`.
    let keyPath: String
    /// Line of the key.
    let line: Int
    /// Column of the key (orders issues written on one line).
    let column: Int
    /// The value.
    let value: Node

    /// Line of the value (the key's when the value has no mark).
    var valueLine: Int { value.mark?.line ?? line }
    /// Column of the value.
    var valueColumn: Int { value.mark?.column ?? column }
}

/// The keys of one mapping still to be read. The parser takes the keys it
/// knows; whatever is left when it finishes is unknown. So the keys the
/// parser accepts are exactly the ones its code asks for.
struct Section {
    /// Dotted path of the mapping; empty at the top level.
    let path: String
    /// Line of the key holding the mapping (for keys that are missing).
    let line: Int
    /// Entries not taken yet, in file order.
    var entries: [Entry]
    /// Every name the parser asked for, in order: the valid keys here.
    var asked: [String] = []

    /// The entry for `name` (exact, case-sensitive), removing it.
    mutating func take(_ name: String) -> Entry? {
        asked.append(name)
        guard let index = entries.firstIndex(where: { $0.name == name }) else { return nil }
        return entries.remove(at: index)
    }

    /// The dotted path of `name` in this mapping.
    func keyPath(_ name: String) -> String { path.isEmpty ? name : "\(path).\(name)" }
}

extension Node {
    /// True for an empty value, `~` or `null` written plainly.
    var isNull: Bool {
        guard case .scalar(let scalar) = self, scalar.style == .plain || scalar.style == .any
        else { return false }
        return ["", "~", "null", "Null", "NULL"].contains(scalar.string)
    }

    /// How a value is named in "got …": `'text'`, `a list`, `a mapping`, `nothing`.
    var shortDescription: String {
        switch self {
        case .mapping: return "a mapping"
        case .sequence: return "a list"
        case .alias: return "an alias"
        case .scalar(let scalar):
            if isNull { return "nothing" }
            let text = scalar.string.count > 40 ? scalar.string.prefix(37) + "..." : scalar.string
            return "'\(text)'"
        }
    }
}

/// Spelling suggestions for unknown keys and values.
enum Suggestion {
    /// The candidate `word` most likely meant: equal ignoring case, else
    /// one it abbreviates (`warn` for `warning`), else the nearest by edit
    /// distance when close enough to be a typo.
    static func nearest(to word: String, in candidates: [String]) -> String? {
        let lower = word.lowercased()
        if let same = candidates.first(where: { $0.lowercased() == lower }) { return same }
        if lower.count >= 3, let longer = candidates.first(where: { $0.lowercased().hasPrefix(lower) }) {
            return longer
        }
        let limit = max(1, min(3, (word.count + 2) / 3))
        let scored = candidates.map { ($0, distance(lower, $0.lowercased())) }
        guard let best = scored.min(by: { $0.1 < $1.1 }), best.1 <= limit else { return nil }
        return best.0
    }

    /// Levenshtein distance over Characters.
    static func distance(_ a: String, _ b: String) -> Int {
        let a = Array(a), b = Array(b)
        if a.isEmpty { return b.count }
        var previous = Array(0...b.count)
        var current = previous
        for i in 1...a.count {
            current[0] = i
            for j in stride(from: 1, through: b.count, by: 1) {
                let substitution = previous[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)
                current[j] = min(previous[j] + 1, current[j - 1] + 1, substitution)
            }
            swap(&previous, &current)
        }
        return previous[b.count]
    }

    /// `a`, `a or b`, `a, b or c`.
    static func list(_ words: [String], conjunction: String = "or") -> String {
        guard words.count > 1 else { return words.first ?? "" }
        return words.dropLast().joined(separator: ", ") + " \(conjunction) " + words.last!
    }
}

extension ConfigParser {
    /// The entries of `mapping` at `path`, reporting keys given more than
    /// once (the last one is kept and checked).
    mutating func section(_ mapping: Node.Mapping, path: String, line: Int) -> Section {
        var all: [(entry: Entry, shadowed: Bool)] = []
        for (key, value) in mapping {
            let (name, shadowed) = keyName(key)
            let keyPath = path.isEmpty ? name : "\(path).\(name)"
            all.append((Entry(name: name, keyPath: keyPath, line: key.mark?.line ?? line,
                              column: key.mark?.column ?? 0, value: value), shadowed))
        }
        var firstLine: [String: Int] = [:]
        for (entry, _) in all {
            if let first = firstLine[entry.name] {
                let where_ = first == entry.line ? "earlier on this line" : "first on line \(first)"
                error(keyOf: entry, "key given again (\(where_)); expected each key once")
            } else {
                firstLine[entry.name] = entry.line
            }
        }
        // A renamed (shadowed) occurrence always has a later survivor, so
        // keeping the unshadowed ones keeps one entry per name.
        let survivors = all.filter { !$0.shadowed }.map(\.entry)
        return Section(path: path, line: line, entries: survivors)
    }

    /// A key's name, and whether it is an earlier occurrence of a repeated
    /// key that composition renamed.
    func keyName(_ key: Node) -> (String, Bool) {
        guard case .scalar(let scalar) = key else { return ("(\(key.shortDescription))", false) }
        let text = scalar.string
        let prefix = YAMLComposition.shadowPrefix
        guard text.hasPrefix(prefix) else { return (text, false) }
        let rest = text.dropFirst(prefix.count)
        if let dot = rest.firstIndex(of: "\u{B7}"), let index = Int(rest[..<dot]),
           shadowed.indices.contains(index) {
            return (shadowed[index], true)
        }
        return (text, false)
    }

    /// Reports the entries nobody took as unknown keys, with a suggestion
    /// for as many as are printed (a file of 100,000 stray keys gets the
    /// cheap message past that: only the count of those is shown).
    mutating func finish(_ section: Section) {
        for entry in section.entries {
            let hint = errors.count < ConfigError.shownIssues ? unknownKeyHint(entry.name, in: section) : "not a setting here"
            error(keyOf: entry, "unknown key; " + hint)
        }
    }

    func unknownKeyHint(_ name: String, in section: Section) -> String {
        if let match = Suggestion.nearest(to: name, in: section.asked) {
            let caseOnly = match.lowercased() == name.lowercased()
            return "did you mean '\(match)'?" + (caseOnly ? " (keys are case-sensitive)" : "")
        }
        // Right name, wrong level: `proxyOutToIn` at the top level.
        let elsewhere = DaemonConfig.referenceRows.map(\.key).filter {
            $0.split(separator: ".").last.map(String.init)?.lowercased() == name.lowercased()
        }
        if let path = elsewhere.first {
            let parent = path.split(separator: ".").dropLast().joined(separator: ".")
            return "did you mean '\(path)'? (it belongs under \(parent.isEmpty ? "the top level" : parent + ":"))"
        }
        let expected = section.asked.count == 1
            ? "expected \(section.asked[0])" : "expected one of " + Suggestion.list(section.asked)
        return name == "<<" ? "YAML merge keys are not supported; \(expected)" : expected
    }

    // MARK: Values

    /// A mapping value; nothing written counts as an empty mapping.
    mutating func mapping(_ entry: Entry, holding what: String) -> Node.Mapping? {
        if entry.value.isNull { return Node.Mapping([]) }
        guard case .mapping(let mapping) = entry.value else {
            error(valueOf: entry,
                  "expected a mapping of \(what), got \(entry.value.shortDescription)")
            return nil
        }
        return mapping
    }

    /// The text of a scalar value; nil (with an error naming `what`) for a
    /// list, a mapping or nothing.
    mutating func text(_ entry: Entry, _ what: String) -> String? {
        guard case .scalar(let scalar) = entry.value, !entry.value.isNull else {
            error(valueOf: entry, "expected \(what), got \(entry.value.shortDescription)")
            return nil
        }
        return scalar.string
    }

    /// A boolean: only plain `true` or `false` (also `True`, `TRUE`, …, the
    /// YAML 1.2 core schema). YAML 1.1's yes/no/on/off are refused, so a
    /// file means the same to every YAML reader.
    mutating func flag(_ entry: Entry) -> Bool? {
        let got = entry.value.shortDescription
        guard case .scalar(let scalar) = entry.value, !entry.value.isNull else {
            error(valueOf: entry, "expected true or false, got \(got)")
            return nil
        }
        let word = scalar.string
        let plain = scalar.style == .plain || scalar.style == .any
        if !plain && ["true", "false"].contains(word.lowercased()) {
            error(valueOf: entry, "expected true or false, got the quoted string \"\(word)\"; write it without quotes")
            return nil
        }
        switch (word, plain) {
        case ("true", true), ("True", true), ("TRUE", true): return true
        case ("false", true), ("False", true), ("FALSE", true): return false
        default:
            let yaml11 = plain && ["yes", "no", "on", "off", "y", "n"].contains(word.lowercased())
            error(valueOf: entry, "expected true or false, got \(got)"
                  + (yaml11 ? " (YAML 1.1 spellings such as yes, no, on and off are not accepted)" : ""))
            return nil
        }
    }

    /// One of an enumeration's raw values, exactly as spelled.
    mutating func choice<T: RawRepresentable & CaseIterable>(_ entry: Entry, _: T.Type) -> T?
    where T.RawValue == String {
        let words = T.allCases.map(\.rawValue)
        let expected = "expected " + Suggestion.list(words)
        guard let word = text(entry, Suggestion.list(words)) else { return nil }
        if let value = T(rawValue: word) { return value }
        let hint = Suggestion.nearest(to: word, in: words).map { "; did you mean '\($0)'?" } ?? ""
        error(valueOf: entry, "\(expected), got '\(word)'\(hint)")
        return nil
    }
}
