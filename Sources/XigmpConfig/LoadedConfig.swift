/// A valid configuration with the warnings it raised and where each key was
/// written, so checks that need the system can still point at the file.
public struct LoadedConfig: Sendable, Equatable {
    /// The settings.
    public var config: DaemonConfig
    /// Suspicious but valid settings (a mode that has no effect without
    /// another, an address nothing uses), one issue each.
    public var warnings: [ConfigIssue]
    /// The line of every key that was written.
    public var locations: SourceLocations

    /// Creates a loaded configuration.
    public init(config: DaemonConfig, warnings: [ConfigIssue], locations: SourceLocations) {
        self.config = config
        self.warnings = warnings
        self.locations = locations
    }

    /// The line where `keyPath` (e.g. `interfaces.outside`) was written, or
    /// nil when the key was left out and has its default.
    public func line(of keyPath: String) -> Int? { locations.line(of: keyPath) }

    /// An issue about `keyPath` found after parsing, e.g. by the daemon:
    /// `issue(at: "interfaces.outside", "no interface named 'enp9s0'; …")`
    /// prints as `config.yaml:3: interfaces.outside: no interface named …`.
    ///
    /// A key left out is placed at its nearest written parent, or at no line.
    public func issue(at keyPath: String, _ message: String) -> ConfigIssue {
        ConfigIssue(fileName: locations.fileName, line: locations.nearestLine(of: keyPath),
                    keyPath: keyPath, message: message)
    }
}

/// Where each key of a configuration file was written.
public struct SourceLocations: Sendable, Equatable {
    /// The file name as given to the parser.
    public var fileName: String
    /// Key paths in the order they appear in the file.
    public private(set) var keyPaths: [String] = []
    private var lines: [String: Int] = [:]

    /// Creates an empty table for `fileName`.
    public init(fileName: String) { self.fileName = fileName }

    /// The line of the key `keyPath` (dotted, e.g. `modes.queryNotify`), or
    /// nil when it was not written.
    public func line(of keyPath: String) -> Int? { lines[keyPath] }

    /// The line of `keyPath`, else of its nearest written parent.
    public func nearestLine(of keyPath: String) -> Int? {
        var path = Substring(keyPath)
        while true {
            if let line = lines[String(path)] { return line }
            guard let dot = path.lastIndex(of: ".") else { return nil }
            path = path[..<dot]
        }
    }

    /// Records that `keyPath` was written on `line`.
    public mutating func record(_ keyPath: String, line: Int) {
        if lines.updateValue(line, forKey: keyPath) == nil { keyPaths.append(keyPath) }
    }
}
