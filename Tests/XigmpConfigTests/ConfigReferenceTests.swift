import Testing
import XigmpConfig
import XigmpTestSupport

/// The Markdown reference documents exactly the keys the parser accepts.
@Suite struct ConfigReferenceTests {
    /// Key paths in the reference table's first column.
    static let documentedKeys: [String] = DaemonConfig.reference
        .split(separator: "\n")
        .filter { $0.hasPrefix("| `") }
        .compactMap { line in line.dropFirst(3).split(separator: "`").first.map(String.init) }

    /// The keys the parser accepts in the mapping at `path`, as it lists
    /// them when it meets a key it does not know.
    static func acceptedKeys(under path: String) throws -> [String] {
        let stray = "zzzzzzzzzzzz: 1\n"
        let yaml: String
        switch path {
        case "": yaml = minimal + stray
        case "interfaces": yaml = "interfaces:\n  outside: a\n  inside: b\n  " + stray + "modes: {queryNotify: true}\n"
        case "modes": yaml = minimal + "  " + stray
        case "querier.inside": yaml = minimal + "querier:\n  inside:\n    " + stray
        default: yaml = minimal + "\(path):\n  " + stray
        }
        let found = errors(yaml).filter { $0.contains("zzzz") }
        let line = try #require(found.first, "no unknown-key error under '\(path)': \(errors(yaml))")
        let list = try #require(line.components(separatedBy: "expected ").last)
        let names = list.replacingOccurrences(of: "one of ", with: "")
            .replacingOccurrences(of: " or ", with: ", ")
            .components(separatedBy: ", ")
        return names.map { path.isEmpty ? $0 : "\(path).\($0)" }
    }

    @Test func referenceListsExactlyTheAcceptedKeys() throws {
        var accepted: [String] = []
        for path in ["", "interfaces", "modes", "metrics", "control", "limits", "upstream", "egressFilter", "forwarding"] {
            accepted += try Self.acceptedKeys(under: path)
        }
        // One querier's keys, documented once for every ROLE.
        accepted += try Self.acceptedKeys(under: "querier.inside").map { $0.replacingOccurrences(of: "querier.inside.", with: "querier.ROLE.") }
        #expect(Set(Self.documentedKeys) == Set(accepted))
        #expect(Self.documentedKeys.count == accepted.count)
        #expect(Self.documentedKeys == DaemonConfig.referenceRows.map(\.key))
    }

    @Test func everyKeyTheParserRecordsIsDocumented() throws {
        let loaded = try #require(parsed(ConfigParsingTests.everyKey))
        // One querier's keys are documented once for every ROLE; a route's keys by the routes row.
        let recorded = loaded.locations.keyPaths.map { $0.replacingOccurrences(of: "querier.inside.", with: "querier.ROLE.") }
            .filter { !$0.hasPrefix("routes[") }
        #expect(Set(recorded).subtracting(["querier.inside"]) == Set(Self.documentedKeys))
    }

    @Test func modeNamesMatchTheParser() throws {
        #expect(try Self.acceptedKeys(under: "modes") == DaemonConfig.Modes.names.map { "modes.\($0)" })
    }

    @Test func everyChoiceIsDocumented() {
        let rows = Dictionary(uniqueKeysWithValues: DaemonConfig.referenceRows.map { ($0.key, $0) })
        for value in DaemonConfig.Datapath.allCases { #expect(rows["datapath"]!.type.contains("`\(value.rawValue)`")) }
        for value in DaemonConfig.XDPMode.allCases { #expect(rows["xdpMode"]!.type.contains("`\(value.rawValue)`")) }
        for value in DaemonConfig.LogLevel.allCases { #expect(rows["logLevel"]!.type.contains("`\(value.rawValue)`")) }
        for value in DaemonConfig.OutsideInterface.allCases {
            #expect(rows["activeOutside"]!.type.contains("`\(value.rawValue)`"))
        }
        #expect(rows["control.socket"]!.defaultValue == "`\(DaemonConfig.defaultControlSocket)`")
    }

    @Test func tableRowsHaveFourCells() {
        for line in DaemonConfig.reference.split(separator: "\n") where line.hasPrefix("|") {
            // Escaped pipes (`\|`) are inside cells, not between them.
            let separators = line.replacingOccurrences(of: "\\|", with: "").filter { $0 == "|" }.count
            #expect(separators == 5, "\(line)")
        }
    }
}
