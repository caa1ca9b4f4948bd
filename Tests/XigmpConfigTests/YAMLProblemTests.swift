import Testing
import XigmpConfig
import XigmpTestSupport

/// Problems below the level of keys: syntax, empty files, repeated keys,
/// and many problems in one file.
@Suite struct YAMLProblemTests {
    @Test func syntaxErrorHasLineAndColumn() {
        #expect(errors("interfaces:\n  outside: a\n inside: b\n") == [
            "x.yaml:3:2: YAML syntax error: did not find expected key (while parsing a block mapping from line 1); expected well-formed YAML (check indentation, quoting, and a space after each ':')",
        ])
        #expect(errors("interfaces: {outside: a\nmodes: x\n") == [
            "x.yaml:2:6: YAML syntax error: did not find expected ',' or '}' (while parsing a flow mapping from line 1); expected well-formed YAML (check indentation, quoting, and a space after each ':')",
        ])
    }

    @Test func tabIndentationSaysSo() {
        #expect(errors("interfaces:\n\toutside: a\n") == [
            "x.yaml:2:1: YAML syntax error: found character that cannot start any token (while scanning for the next token from line 2); expected indent with spaces: YAML does not allow tabs for indentation",
        ])
    }

    @Test func controlCharacterIsAReaderError() {
        #expect(errors(minimal + "x: \u{1}\n") == [
            "x.yaml:6:4: YAML syntax error: control characters are not allowed (character U+1); expected well-formed YAML (check indentation, quoting, and a space after each ':')",
        ])
    }

    @Test func oneDocumentOnly() {
        #expect(errors(minimal + "---\n" + minimal) == [
            "x.yaml:6:1: YAML syntax error: the file holds more than one YAML document; expected a single document (no second '---')",
        ])
    }

    @Test func emptyFileOrNotAMapping() {
        let empty = "x.yaml:1: the file has no settings; expected a YAML mapping with at least interfaces and modes"
        #expect(errors("") == [empty])
        #expect(errors("# just a comment\n\n") == [empty])
        #expect(errors("---\n") == [empty])
        #expect(errors("\n- enp1s0\n- dockerbr\n") == [
            "x.yaml:2: the top level is a list; expected a mapping of keys such as interfaces: and modes:",
        ])
        #expect(errors("enp1s0\n") == [
            "x.yaml:1: the top level is 'enp1s0'; expected a mapping of keys such as interfaces: and modes:",
        ])
    }

    @Test func repeatedKeysAreEachReportedWithTheirPath() {
        #expect(errors("""
            interfaces:
              outside: a
              inside: b
              outside: c
            modes: {queryNotify: true, queryNotify: false}
            modes:
              proxyOutToIn: true

            """) == [
            "x.yaml:4: interfaces.outside: key given again (first on line 2); expected each key once",
            "x.yaml:6: modes: key given again (first on line 5); expected each key once",
        ])
    }

    @Test func repeatsInsideAMappingAndThreeTimes() {
        #expect(errors(minimal + "  queryNotify: true\n  \"queryNotify\": false\n  queryNotify: true\n") == [
            "x.yaml:7: modes.queryNotify: key given again (first on line 6); expected each key once",
            "x.yaml:8: modes.queryNotify: key given again (first on line 6); expected each key once",
        ])
        #expect(errors("interfaces: {outside: é, 'outside': b, inside: c}\nmodes: {queryNotify: true}\n") == [
            "x.yaml:1: interfaces.outside: key given again (earlier on this line); expected each key once",
        ])
    }

    @Test func repeatedKeyDoesNotHideOtherProblems() {
        // The last occurrence is the one checked, and the rest of the file too.
        #expect(errors("""
            interfaces: {outside: a, inside: b}
            modes: {queryNotify: true}
            datapath: xdp
            datapath: ebpf
            logLevel: loud

            """) == [
            "x.yaml:4: datapath: key given again (first on line 3); expected each key once",
            "x.yaml:4: datapath: expected auto, xdp or kernel, got 'ebpf'",
            "x.yaml:5: logLevel: expected trace, debug, info, notice, warning, error or critical, got 'loud'",
        ])
    }

    @Test func syntaxErrorAfterARepeatedKeyKeepsItsColumn() {
        // The first `b` is renamed to recover; the column must not move.
        #expect(errors("m: {a: 1}\nn: {b: 1, b: 2}, ]\n") == [
            "x.yaml:2:16: YAML syntax error: did not find expected key (while parsing a block mapping from line 1); expected well-formed YAML (check indentation, quoting, and a space after each ':')",
        ])
    }

    @Test func everyProblemIsReportedInFileOrder() throws {
        let yaml = """
            interfaces:
              outside: enp1s0
              inside: enp1s0
            activeOutside: alt
            datapath: fast
            modes:
              proxyOutToIn: yes
              proxyouttoin: true
            unicastFallback: 224.0.0.1
            metrics: {listen: "0.0.0.0:0"}
            colour: blue

            """
        let expected = [
            "x.yaml:3: interfaces.inside: 'enp1s0' is also interfaces.outside; expected a different interface for each role",
            "x.yaml:4: activeOutside: alt needs interfaces.alt, which is not set; expected interfaces.alt (e.g. alt: gre0) or activeOutside: primary",
            "x.yaml:5: datapath: expected auto, xdp or kernel, got 'fast'",
            "x.yaml:7: modes.proxyOutToIn: expected true or false, got 'yes' (YAML 1.1 spellings such as yes, no, on and off are not accepted)",
            "x.yaml:8: modes.proxyouttoin: unknown key; did you mean 'proxyOutToIn'? (keys are case-sensitive)",
            "x.yaml:9: unicastFallback: 224.0.0.1 is a multicast address; expected the unicast address of the upstream querier, e.g. 10.99.0.1",
            "x.yaml:10: metrics.listen: port 0 in '0.0.0.0:0' is out of range; expected a port from 1 to 65535",
            "x.yaml:11: colour: unknown key; expected one of interfaces, activeOutside, failbackHoldDown, datapath, xdpMode, modes, unicastFallback, metrics, control, logLevel, membership, limits, querier, upstream, egressFilter, forwarding or routes",
        ]
        #expect(errors(yaml) == expected)
        let error = try #require(throws: ConfigError.self) { try DaemonConfig.parse(text: yaml, fileName: "x.yaml") }
        #expect(error.description == expected.joined(separator: "\n"))
    }
}
