import IGMPWire
import Testing
import XigmpConfig
import XigmpTestSupport

/// Invalid files: each problem is reported as `FILE:LINE: KEY: what; expected`.
@Suite struct ConfigErrorTests {
    // MARK: Unknown keys

    @Test func typoInAModeSuggestsTheMode() {
        #expect(errors(minimal + "  proxyOutToInn: false\n") == [
            "x.yaml:6: modes.proxyOutToInn: unknown key; did you mean 'proxyOutToIn'?",
        ])
    }

    @Test func caseMistakeSaysKeysAreCaseSensitive() {
        #expect(errors(minimal + "  proxyouttoin: true\n") == [
            "x.yaml:6: modes.proxyouttoin: unknown key; did you mean 'proxyOutToIn'? (keys are case-sensitive)",
        ])
        #expect(errors(minimal + "LogLevel: info\n") == [
            "x.yaml:6: LogLevel: unknown key; did you mean 'logLevel'? (keys are case-sensitive)",
        ])
    }

    @Test func keyAtTheWrongLevelNamesWhereItBelongs() {
        #expect(errors(minimal + "queryNotify: true\n") == [
            "x.yaml:6: queryNotify: unknown key; did you mean 'modes.queryNotify'? (it belongs under modes:)",
        ])
    }

    @Test func unknownKeyWithNothingCloseListsTheValidOnes() {
        #expect(errors(minimal + "colour: blue\n") == [
            "x.yaml:6: colour: unknown key; expected one of interfaces, activeOutside, failbackHoldDown, datapath, xdpMode, modes, unicastFallback, metrics, control, logLevel, membership, limits, querier, upstream, egressFilter, forwarding or routes",
        ])
        #expect(errors(minimal + "control: {path: /x}\n") == [
            "x.yaml:6: control.path: unknown key; expected socket",
        ])
    }

    // MARK: Several inside interfaces

    @Test func insideListProblemsAreNamedByLine() {
        #expect(errors("interfaces:\n  outside: enp1s0\n  inside: []\nmodes: {queryNotify: true}\n") == [
            "x.yaml:3: interfaces.inside: the list is empty; expected the inside interface's name or glob, e.g. inside: docker0, or a list of them, e.g. inside: [docker0, \"br-*\"]",
        ])
        #expect(errors("interfaces:\n  outside: enp1s0\n  inside:\n    - dk0\n    - dk0\n    - {a: b}\n    - 'x/y'\nmodes: {queryNotify: true}\n") == [
            "x.yaml:5: interfaces.inside: 'dk0' is listed twice; expected each once",
            "x.yaml:6: interfaces.inside: expected an interface name, got a mapping",
            "x.yaml:7: interfaces.inside: 'x/y' contains '/'; expected a Linux interface name: 1 to 15 bytes, without '/', ':' or spaces",
        ])
        #expect(errors("interfaces:\n  outside: enp1s0\n  inside: [dk0, enp1s0]\nmodes: {queryNotify: true}\n") == [
            "x.yaml:3: interfaces.inside: 'enp1s0' is also interfaces.outside; expected a different interface for each role",
        ])
    }

    // MARK: Types and values

    @Test func nonBooleanMode() {
        #expect(errors(minimal + "  queryNotify: yes please\n") == [
            "x.yaml:6: modes.queryNotify: expected true or false, got 'yes please'",
        ])
    }

    @Test func yaml11BooleansAreRefused() {
        #expect(errors(minimal + "  queryNotify: yes\n  leaveToNetwork: off\n") == [
            "x.yaml:6: modes.queryNotify: expected true or false, got 'yes' (YAML 1.1 spellings such as yes, no, on and off are not accepted)",
            "x.yaml:7: modes.leaveToNetwork: expected true or false, got 'off' (YAML 1.1 spellings such as yes, no, on and off are not accepted)",
        ])
    }

    @Test func quotedBooleanAndOtherNonBooleans() {
        #expect(errors(minimal + "  queryNotify: \"true\"\n  leaveToNetwork: 1\n  proxyInToOut:\n") == [
            "x.yaml:6: modes.queryNotify: expected true or false, got the quoted string \"true\"; write it without quotes",
            "x.yaml:7: modes.leaveToNetwork: expected true or false, got '1'",
            "x.yaml:8: modes.proxyInToOut: expected true or false, got nothing",
        ])
    }

    @Test func mappingsExpectedWhereScalarsOrListsAreWritten() {
        #expect(errors("interfaces: [enp1s0, dockerbr]\nmodes: true\n") == [
            "x.yaml:1: interfaces: expected a mapping of interface names (outside, alt, inside), got a list",
            "x.yaml:2: modes: expected a mapping of modes set to true or false, got 'true'",
        ])
    }

    @Test func choicesSuggestTheSpelling() {
        #expect(errors(minimal + "datapath: XDP\nactiveOutside: secondary\nlogLevel: warn\n") == [
            "x.yaml:6: datapath: expected auto, xdp or kernel, got 'XDP'; did you mean 'xdp'?",
            "x.yaml:7: activeOutside: expected primary, alt or auto, got 'secondary'",
            "x.yaml:8: logLevel: expected trace, debug, info, notice, warning, error or critical, got 'warn'; did you mean 'warning'?",
        ])
        #expect(errors(minimal + "xdpMode: driver\n") == [
            "x.yaml:6: xdpMode: expected auto, native or generic, got 'driver'",
        ])
    }

    @Test func interfaceNamesMustBeLinuxNames() {
        #expect(errors("interfaces: {outside: 'eth 0', inside: averyveryverylongname, alt: 'a/b'}\nmodes: {queryNotify: true}\n") == [
            "x.yaml:1: interfaces.outside: 'eth 0' contains a space or control character; expected a Linux interface name: 1 to 15 bytes, without '/', ':' or spaces",
            "x.yaml:1: interfaces.inside: 'averyveryverylongname' is 21 bytes long; expected a Linux interface name: 1 to 15 bytes, without '/', ':' or spaces",
            "x.yaml:1: interfaces.alt: 'a/b' contains '/'; expected a Linux interface name: 1 to 15 bytes, without '/', ':' or spaces",
        ])
    }

    // MARK: Missing keys

    @Test func missingInterfaces() {
        #expect(errors("interfaces:\n  alt: gre0\nmodes: {queryNotify: true}\n") == [
            "x.yaml:1: interfaces.outside: required key is missing; expected the outside interface's name, e.g. outside: enp1s0",
            "x.yaml:1: interfaces.inside: required key is missing; expected the inside interface's name, e.g. inside: dockerbr (or a list, inside: [dockerbr, vlan20])",
        ])
        #expect(errors("# no interfaces\nmodes: {queryNotify: true}\n") == [
            "x.yaml:2: interfaces: required key is missing; expected the interfaces by role, e.g. interfaces: {outside: enp1s0, inside: dockerbr}",
        ])
    }

    @Test func noModeMeansNothingToDo() {
        let nothing = "modes: no mode is true, so xigmp would have nothing to do; expected at least one of proxyOutToIn, proxyInToOut, unicastProxyInToOut, queryNotify, membershipReportFromNetwork, membershipReportToNetwork, unicastMembershipResponse or leaveToNetwork set to true, or membership: track (which needs none)"
        #expect(errors("interfaces: {outside: a, inside: b}\n") == ["x.yaml:1: \(nothing)"])
        #expect(errors("interfaces: {outside: a, inside: b}\nmodes:\n  proxyOutToIn: false\n") == ["x.yaml:2: \(nothing)"])
        #expect(errors("interfaces: {outside: a, inside: b}\nmembership: passthrough\n") == ["x.yaml:1: \(nothing)"])
        #expect(errors("interfaces: {outside: a, inside: b}\nmodes: {unicastMembershipResponse: true}\n") == [
            "x.yaml:2: modes: only unicastMembershipResponse is true, which changes where client reports go but sends none, so xigmp would have nothing to do; expected membershipReportToNetwork: true as well, another mode, or membership: track",
        ])
        // A misspelt membership is judged as passthrough: both are reported.
        #expect(errors("interfaces: {outside: a, inside: b}\nmembership: trak\n") == [
            "x.yaml:1: \(nothing)",
            "x.yaml:2: membership: expected passthrough or track, got 'trak'; did you mean 'track'?",
        ])
    }

    @Test("membership: track needs no mode: xigmp's own querier, table and upstream reports are its work")
    func trackNeedsNoMode() throws {
        let loaded = try #require(parsed("interfaces: {outside: a, inside: b}\nmembership: track\n"))
        #expect(loaded.config.modes == DaemonConfig.Modes())
        #expect(loaded.config.membership == .track)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        // unicastMembershipResponse alone is meaningful there: xigmp's upstream
        // reports go unicast, so no error and no "has no effect" warning.
        let unicast = try #require(parsed("interfaces: {outside: a, inside: b}\nmembership: track\n"
                                          + "modes: {unicastMembershipResponse: true}\nunicastFallback: 10.0.0.1\n"))
        #expect(unicast.warnings.isEmpty, "\(unicast.warnings)")
    }

    @Test func metricsWithoutListen() {
        #expect(errors(minimal + "metrics:\n") == [
            "x.yaml:6: metrics.listen: required when metrics is given; expected PORT, :PORT or IPV4:PORT, e.g. listen: 9740 (leave metrics out to keep the endpoint off)",
        ])
    }

    // MARK: Addresses and paths

    @Test(arguments: [
        ("10.99.0", "'10.99.0' is not an IPv4 address; expected a dotted quad such as 10.99.0.1"),
        ("gateway", "'gateway' is not an IPv4 address; expected a dotted quad such as 10.99.0.1"),
        ("239.1.1.1", "239.1.1.1 is a multicast address; expected the unicast address of the upstream querier, e.g. 10.99.0.1"),
        ("127.0.0.1", "127.0.0.1 is a loopback address; expected the unicast address of the upstream querier, e.g. 10.99.0.1"),
        ("0.0.0.0", "0.0.0.0 is in 0.0.0.0/8 ('this network'); expected the unicast address of the upstream querier, e.g. 10.99.0.1"),
        ("255.255.255.255", "255.255.255.255 is the limited broadcast address; expected the unicast address of the upstream querier, e.g. 10.99.0.1"),
        ("240.0.0.1", "240.0.0.1 is in the reserved block 240.0.0.0/4; expected the unicast address of the upstream querier, e.g. 10.99.0.1"),
    ])
    func unicastFallbackMustBeAUnicastAddress(written: String, message: String) {
        #expect(errors(minimal + "unicastFallback: \(written)\n") == ["x.yaml:6: unicastFallback: \(message)"])
    }

    @Test(arguments: [
        ("localhost:9740", "'localhost' in 'localhost:9740' is not an IPv4 address; expected PORT, :PORT or IPV4:PORT, e.g. 127.0.0.1:9740 (host names are not looked up)"),
        ("99999", "port 99999 in '99999' is out of range; expected a port from 1 to 65535"),
        ("\"127.0.0.1:0\"", "port 0 in '127.0.0.1:0' is out of range; expected a port from 1 to 65535"),
        ("\"127.0.0.1:\"", "'127.0.0.1:' has no port number; expected PORT, :PORT or IPV4:PORT, e.g. 127.0.0.1:9740"),
        ("224.0.0.1:80", "224.0.0.1 is not a local unicast address; expected 127.0.0.1, 0.0.0.0 or an address of this host"),
    ])
    func invalidListenAddress(written: String, message: String) {
        #expect(errors(minimal + "metrics:\n  listen: \(written)\n") == ["x.yaml:7: metrics.listen: \(message)"])
    }

    @Test func controlSocketMustBeAnAbsoluteFilePathThatFits() {
        let long = "/" + String(repeating: "x", count: 107)
        #expect(errors(minimal + "control: {socket: run/x.sock}\n") == [
            "x.yaml:6: control.socket: 'run/x.sock' is not an absolute path; expected a path starting with '/', e.g. /run/xigmp.sock",
        ])
        #expect(errors(minimal + "control: {socket: /run/}\n") == [
            "x.yaml:6: control.socket: '/run/' names a directory; expected the socket's file path, e.g. /run/xigmp.sock",
        ])
        #expect(errors(minimal + "control: {socket: \(long)}\n") == [
            "x.yaml:6: control.socket: the path is 108 bytes long; expected at most 107 (the limit of a UNIX socket address)",
        ])
    }

    // MARK: Combinations

    @Test func altSelectedWithoutAnAltInterface() {
        #expect(errors(minimal + "activeOutside: alt\n") == [
            "x.yaml:6: activeOutside: alt needs interfaces.alt, which is not set; expected interfaces.alt (e.g. alt: gre0) or activeOutside: primary",
        ])
    }

    @Test func oneInterfaceInTwoRoles() {
        #expect(errors("""
            interfaces:
              outside: eth0
              alt: eth0
              inside: eth0
            modes: {queryNotify: true}

            """) == [
            "x.yaml:3: interfaces.alt: 'eth0' is also interfaces.outside; expected a different interface for each role",
            "x.yaml:4: interfaces.inside: 'eth0' is also interfaces.outside; expected a different interface for each role",
        ])
        // Reported at whichever key comes later in the file.
        #expect(errors("interfaces:\n  inside: br0\n  outside: br0\nmodes: {queryNotify: true}\n") == [
            "x.yaml:3: interfaces.outside: 'br0' is also interfaces.inside; expected a different interface for each role",
        ])
    }

    @Test func suspiciousButValidSettingsAreWarnings() throws {
        let loaded = try #require(parsed("""
            interfaces: {outside: a, inside: b}
            modes:
              queryNotify: true
              unicastMembershipResponse: true
            unicastFallback: 10.0.0.1

            """))
        #expect(loaded.warnings.map(\.description) == [
            "x.yaml:4: modes.unicastMembershipResponse: has no effect while membershipReportToNetwork and leaveToNetwork are false: it only changes where messages sent through the client API go",
        ])
        let unused = try #require(parsed(minimal + "unicastFallback: 10.0.0.1\n"))
        #expect(unused.warnings.map(\.description) == [
            "x.yaml:6: unicastFallback: not used: only modes.unicastMembershipResponse sends to it, and it is false",
        ])
    }
}
