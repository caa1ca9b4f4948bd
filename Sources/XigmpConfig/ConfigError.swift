/// One problem in a configuration file, located by line and key.
///
/// Its description is `FILE:LINE: KEY: what is wrong; what is expected`, the
/// form compilers use, so editors can jump to it. YAML syntax errors have a
/// column and no key (`FILE:LINE:COLUMN: YAML syntax error: …`); a file
/// that could not be read has neither line nor key (`FILE: …`).
public struct ConfigIssue: Sendable, Equatable, CustomStringConvertible {
    /// The file name as given to the parser.
    public var fileName: String
    /// 1-based line, or nil when the problem has no place in the file.
    public var line: Int?
    /// 1-based column (in Unicode scalars), given for syntax errors only.
    public var column: Int?
    /// Dotted key path such as `modes.queryNotify`; nil when no key applies.
    public var keyPath: String?
    /// What is wrong and what is expected.
    public var message: String

    /// Creates an issue.
    public init(fileName: String, line: Int?, column: Int? = nil, keyPath: String?,
                message: String) {
        self.fileName = fileName
        self.line = line
        self.column = column
        self.keyPath = keyPath
        self.message = message
    }

    /// `FILE:LINE: KEY: message`, leaving out what is nil. A key or message
    /// that echoes the file is cut at 400 characters (a 20 MB scalar is not
    /// printed back), and the line breaks and control characters it echoes
    /// are escaped (`\n`, `\u{1B}`): an issue is one line, as
    /// ``ConfigError`` prints it, and a value cannot drive the terminal.
    public var description: String {
        var text = fileName
        if let line {
            text += ":\(line)"
            if let column { text += ":\(column)" }
        }
        if let keyPath { text += ": \(Self.capped(keyPath))" }
        return text + ": " + Self.capped(message)
    }

    static func capped(_ s: String) -> String {
        escaped(s.count <= 400 ? s : String(s.prefix(400)) + "… (\(s.count) characters)")
    }

    /// `s` with C0 and C1 controls, DEL and the Unicode line and paragraph
    /// separators written as Swift escapes.
    static func escaped(_ s: String) -> String {
        func isControl(_ c: Unicode.Scalar) -> Bool {
            c.value < 0x20 || (0x7F...0x9F).contains(c.value) || c.value == 0x2028 || c.value == 0x2029
        }
        guard s.unicodeScalars.contains(where: isControl) else { return s }
        var out = String.UnicodeScalarView()
        for c in s.unicodeScalars {
            switch c {
            case "\n": out += #"\n"#.unicodeScalars
            case "\r": out += #"\r"#.unicodeScalars
            case "\t": out += #"\t"#.unicodeScalars
            case _ where isControl(c): out += "\\u{\(String(c.value, radix: 16, uppercase: true))}".unicodeScalars
            default: out.append(c)
            }
        }
        return String(out)
    }
}

/// The configuration is invalid: every problem found, not just the first.
///
/// The description has one line per issue, in file order. The daemon prints
/// it and exits with status 2, attaching nothing.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The errors, in file order; never empty.
    public var issues: [ConfigIssue]
    /// Suspicious but valid settings found on the way (see
    /// ``LoadedConfig/warnings``), worth printing along with the errors.
    public var warnings: [ConfigIssue]

    /// Creates an error from its issues.
    public init(issues: [ConfigIssue], warnings: [ConfigIssue] = []) {
        self.issues = issues
        self.warnings = warnings
    }

    /// The most issues described one by one; the rest are counted.
    public static let shownIssues = 50

    /// One line per issue, at most `shownIssues`, then how many more.
    public var description: String {
        var lines = issues.prefix(Self.shownIssues).map(\.description)
        if issues.count > Self.shownIssues {
            lines.append("… and \(issues.count - Self.shownIssues) more")
        }
        return lines.joined(separator: "\n")
    }
}
