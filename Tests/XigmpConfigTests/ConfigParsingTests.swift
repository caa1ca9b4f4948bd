import IGMPMembership
import IGMPProxy
import IGMPWire
import Testing
import XigmpConfig
import XigmpTestSupport

/// Valid files: values, defaults, locations and the YAML round trip.
@Suite struct ConfigParsingTests {
    @Test func minimalFileGetsEveryDefault() throws {
        let loaded = try #require(parsed(minimal))
        let config = loaded.config
        #expect(config.interfaces == .init(outside: "enp1s0", alt: nil, inside: "dockerbr"))
        #expect(config.activeOutside == .primary)
        #expect(config.datapath == .auto)
        #expect(config.xdpMode == .auto)
        #expect(config.modes == .init(proxyOutToIn: true))
        #expect(config.unicastFallback == nil)
        #expect(config.metricsListen == nil)
        #expect(config.controlSocket == "/run/xigmp.sock")
        #expect(config.logLevel == .info)
        #expect(loaded.warnings.isEmpty)
        // The Swift initializer's defaults are the file's defaults.
        #expect(config == DaemonConfig(interfaces: .init(outside: "enp1s0", inside: "dockerbr"),
                                       modes: .init(proxyOutToIn: true)))
    }

    static let everyKey = """
        # every key, none at its default
        interfaces:
          outside: enp1s0
          alt: gre0
          inside: dockerbr
          exclude: ["veth*"]
          required: [enp1s0]
        activeOutside: alt
        failbackHoldDown: 30s
        datapath: kernel
        xdpMode: native
        modes:
          proxyOutToIn: true
          proxyInToOut: true
          unicastProxyInToOut: true
          queryNotify: true
          membershipReportFromNetwork: true
          membershipReportToNetwork: true
          unicastMembershipResponse: true
          leaveToNetwork: true
        unicastFallback: 10.99.0.1
        metrics: {listen: "0.0.0.0:9100"}
        control:
          socket: /run/xigmp/control.sock
        logLevel: debug
        membership: passthrough
        limits:
          maxGroups: 100
          maxGroupsPerHost: 10
          maxSourcesPerRecord: 8
          maxSourcesPerGroup: 16
          maxSuccessiveSourceQueries: 4
          maxHostsPerGroup: 20
          reportsPerSecondPerHost: 500
          reportBurst: 50
        querier:
          inside:
            version: 2
            robustness: 3
            queryInterval: 60s
            queryResponseInterval: 5s
            lastMemberQueryInterval: 500ms
            lastMemberQueryCount: 1
            startupQueryInterval: 10s
            startupQueryCount: 4
            passive: true
            adoptQuerierParameters: false
            fastLeave: true
            isolatedHosts: yes
        upstream:
          robustness: 3
          unsolicitedReportInterval: 2s
          mergeWindow: 20ms
        egressFilter:
          allow: [239.1.0.0/16, 232.1.1.1]
        forwarding: {mode: kernel, unmatched: drop, groups: [239.1.0.0/16, 232.1.1.1]}
        routes:
          - {group: 232.1.1.1, source: 10.0.0.5, in: eth9, out: [dockerbr, gre0]}
          - group: 239.3.3.3
            out: dockerbr

        """

    @Test func everyKeyIsRead() throws {
        let loaded = try #require(parsed(Self.everyKey))
        let limits = MembershipLimits(maxGroups: 100, maxGroupsPerHost: 10, maxSourcesPerRecord: 8,
                                      maxSourcesPerGroup: 16, maxSuccessiveSourceQueries: 4, maxHostsPerGroup: 20)
        var expected = DaemonConfig(
            interfaces: .init(outside: "enp1s0", alt: "gre0", insides: ["dockerbr"], exclude: ["veth*"], required: ["enp1s0"]),
            activeOutside: .alt, datapath: .kernel, xdpMode: .native,
            modes: .init(proxyOutToIn: true, proxyInToOut: true, unicastProxyInToOut: true,
                         queryNotify: true, membershipReportFromNetwork: true,
                         membershipReportToNetwork: true, unicastMembershipResponse: true,
                         leaveToNetwork: true),
            unicastFallback: IPv4Address(10, 99, 0, 1),
            metricsListen: ListenAddress(host: .any, port: 9100),
            controlSocket: "/run/xigmp/control.sock", logLevel: .debug, membership: .passthrough,
            queriers: [.inside: MembershipConfiguration(
                robustness: 3, queryInterval: .seconds(60), queryResponseInterval: .seconds(5),
                lastMemberQueryInterval: .milliseconds(500), lastMemberQueryCount: 1,
                startupQueryInterval: .seconds(10), startupQueryCount: 4, queryVersion: .v2, passive: true,
                adoptQuerierParameters: false, limits: limits, fastLeave: true, fastLeaveOlderHosts: true)],
            upstream: UpstreamConfiguration(robustness: 3, unsolicitedReportInterval: .seconds(2), mergeWindow: .milliseconds(20)),
            limits: limits, reportRateLimit: DaemonConfig.ReportRateLimit(perSecond: 500, burst: 50),
            egressAllow: [DaemonConfig.Prefix("239.1.0.0/16")!, DaemonConfig.Prefix("232.1.1.1")!],
            forwarding: DaemonConfig.Forwarding(mode: .kernel, unmatched: .drop,
                                               groups: [IPv4Prefix("239.1.0.0/16")!, IPv4Prefix("232.1.1.1")!]),
            routes: [DaemonConfig.StaticRoute(group: IPv4Address(232, 1, 1, 1), source: IPv4Address(10, 0, 0, 5),
                                              incoming: "eth9", outgoing: ["dockerbr", "gre0"]),
                     DaemonConfig.StaticRoute(group: IPv4Address(239, 3, 3, 3), outgoing: ["dockerbr"])])
        expected.failbackHoldDown = .seconds(30)
        expected.isolatedHosts = [.inside: .yes]
        #expect(loaded.config == expected)
        #expect(loaded.warnings.isEmpty)
        #expect(loaded.config.modes.enabledNames == DaemonConfig.Modes.names)
        #expect(loaded.config.outsideInterface(.alt) == "gre0")
    }

    @Test func locationsGiveTheLineOfEachKey() throws {
        let loaded = try #require(parsed(Self.everyKey))
        #expect(loaded.line(of: "interfaces") == 2)
        #expect(loaded.line(of: "interfaces.outside") == 3)
        #expect(loaded.line(of: "interfaces.inside") == 5)
        #expect(loaded.line(of: "interfaces.required") == 7)
        #expect(loaded.line(of: "failbackHoldDown") == 9)
        #expect(loaded.line(of: "modes.queryNotify") == 16)
        #expect(loaded.line(of: "metrics.listen") == 22)
        #expect(loaded.line(of: "control.socket") == 24)
        #expect(loaded.line(of: "logLevel") == 25)
        #expect(loaded.line(of: "xdpMode") == 11)
        #expect(loaded.line(of: "nope") == nil)
        #expect(loaded.locations.keyPaths.first == "interfaces")
    }

    @Test func laterFindingsArePlacedAtTheirKey() throws {
        let loaded = try #require(parsed(minimal))
        #expect(loaded.issue(at: "interfaces.outside", "no interface named 'enp9s0'").description
                == "x.yaml:2: interfaces.outside: no interface named 'enp9s0'")
        // A key left out is placed at its parent; with no parent, at no line.
        #expect(loaded.issue(at: "interfaces.alt", "x").description == "x.yaml:1: interfaces.alt: x")
        #expect(loaded.issue(at: "datapath", "x").description == "x.yaml: datapath: x")
    }

    @Test func emptyOptionalValuesMeanLeftOut() throws {
        let loaded = try #require(parsed("""
            interfaces:
              outside: a
              alt:
              inside: b
            activeOutside: ~
            datapath: null
            modes: {queryNotify: true}
            unicastFallback:
            control:
            logLevel:

            """))
        #expect(loaded.config == DaemonConfig(interfaces: .init(outside: "a", inside: "b"),
                                              modes: .init(queryNotify: true)))
    }

    @Test func booleansOfTheYAML12CoreSchema() throws {
        let loaded = try #require(parsed("""
            interfaces: {outside: a, inside: b}
            modes: {proxyOutToIn: True, proxyInToOut: TRUE, queryNotify: False, leaveToNetwork: FALSE}

            """))
        #expect(loaded.config.modes == .init(proxyOutToIn: true, proxyInToOut: true))
    }

    @Test(arguments: [
        ("9740", "127.0.0.1:9740"), ("\"9740\"", "127.0.0.1:9740"), ("\":9740\"", "127.0.0.1:9740"),
        ("127.0.0.1:9740", "127.0.0.1:9740"), ("\"0.0.0.0:9740\"", "0.0.0.0:9740"),
        ("10.1.2.3:65535", "10.1.2.3:65535"), ("1", "127.0.0.1:1"),
    ])
    func listenForms(written: String, means: String) throws {
        let loaded = try #require(parsed(minimal + "metrics:\n  listen: \(written)\n"))
        #expect(loaded.config.metricsListen?.description == means)
    }

    @Test func listenAddressParsesAlone() {
        #expect(ListenAddress("9740") == ListenAddress(port: 9740))
        #expect(ListenAddress("0.0.0.0:1") == ListenAddress(host: .any, port: 1))
        #expect(ListenAddress("65536") == nil)
        #expect(ListenAddress("") == nil)
        #expect(ListenAddress.problem(in: ":x") == "':x' has no port number; expected PORT, :PORT or IPV4:PORT, e.g. 127.0.0.1:9740")
    }

    @Test func defaultsRoundTripThroughYAML() throws {
        let config = DaemonConfig(interfaces: .init(outside: "enp1s0", inside: "dockerbr"),
                                  modes: .init(unicastProxyInToOut: true))
        #expect(config.yaml == """
            interfaces:
              outside: "enp1s0"
              inside: "dockerbr"
            activeOutside: primary
            failbackHoldDown: 10s
            datapath: auto
            xdpMode: auto
            modes:
              proxyOutToIn: false
              proxyInToOut: false
              unicastProxyInToOut: true
              queryNotify: false
              membershipReportFromNetwork: false
              membershipReportToNetwork: false
              unicastMembershipResponse: false
              leaveToNetwork: false
            control:
              socket: "/run/xigmp.sock"
            logLevel: info
            membership: passthrough
            limits:
              maxGroups: 4096
              maxGroupsPerHost: 512
              maxSourcesPerRecord: 64
              maxSourcesPerGroup: 256
              maxSuccessiveSourceQueries: 16
              maxHostsPerGroup: 256
            upstream:
              robustness: 2
              unsolicitedReportInterval: 1s
              mergeWindow: 0s
            forwarding:
              mode: off
              unmatched: pass

            """)
        #expect(try #require(parsed(config.yaml)).config == config)
    }

    @Test func insideTakesANameOrAList() throws {
        let one = try #require(parsed(minimal))
        #expect(one.config.interfaces.insides == ["dockerbr"])
        let yaml = "interfaces:\n  outside: enp1s0\n  inside: [docker0, vlan20]\nmodes: {queryNotify: true}\n"
        let two = try #require(parsed(yaml))
        #expect(two.config.interfaces.insides == ["docker0", "vlan20"])
        #expect(two.config.interfaces.inside == "docker0")
        // Rendering keeps the list, and parses back to the same value.
        #expect(two.config.yaml.contains("  inside: [\"docker0\", \"vlan20\"]"))
        let again = try #require(parsed(two.config.yaml))
        #expect(again.config == two.config)
    }

    @Test func trackingGetsAnInsideQuerierWithTheLimits() throws {
        let loaded = try #require(parsed("interfaces: {outside: a, inside: b}\n"
                                         + "membership: track\nlimits: {maxGroupsPerHost: 7}\n"))
        #expect(loaded.config.membership == .track)
        #expect(loaded.config.queriers[.inside]?.limits.maxGroupsPerHost == 7)
        #expect(loaded.config.queriers[.inside]?.queryInterval == .seconds(125))
        #expect(try #require(parsed(loaded.config.yaml)).config == loaded.config)
    }

    @Test func trackingRefusesForwardingModesAndUpstreamQueriers() {
        let yaml = """
            interfaces: {outside: a, inside: b}
            modes: {proxyInToOut: true, unicastProxyInToOut: true}
            membership: track
            querier:
              outside: {}
              inside: {queryInterval: 10s, queryResponseInterval: 20s}
            egressFilter: {allow: [10.0.0.0/8]}
            """
        #expect(errors(yaml) == [
            "x.yaml:2: modes.proxyInToOut: must be false with membership: track: xigmp reports upstream from its membership table, and forwarding the hosts' messages as well would report everything twice (use membership: passthrough to forward)",
            "x.yaml:2: modes.unicastProxyInToOut: must be false with membership: track: xigmp reports upstream from its membership table, and forwarding the hosts' messages as well would report everything twice (use membership: passthrough to forward)",
            "x.yaml:5: querier.outside: not allowed with membership: track: xigmp is a host on the upstream (RFC 4605 §4), never its querier",
            "x.yaml:6: querier.inside: query response interval must be shorter than the query interval (RFC 3376 §8.3)",
            "x.yaml:7: egressFilter.allow: 10.0.0.0/8 is not inside 224.0.0.0/4; expected multicast group prefixes",
        ])
    }

    @Test func badRoutesAreNamed() {
        let yaml = """
            interfaces: {outside: a, inside: b}
            modes: {queryNotify: true}
            routes:
              - {group: 10.1.1.1, out: [b]}
              - {group: 239.1.1.1, in: b, out: [b]}
              - {source: 10.0.0.1, out: [b]}
            """
        #expect(errors(yaml) == [
            "x.yaml:3: routes: static routes need forwarding: {mode: xdp} or {mode: kernel}; forwarding is off",
            "x.yaml:4: routes[0].group: '10.1.1.1' is not a routable multicast group; expected an address in 224.0.1.0–239.255.255.255, e.g. 232.1.1.1",
            "x.yaml:5: routes[1].out: b is the incoming interface; a route never forwards back where it came from",
            "x.yaml:6: routes[2].group: required; expected the multicast group, e.g. group: 232.1.1.1",
        ])
    }

    @Test func durationsNeedUnits() {
        let yaml = minimal + "querier:\n  inside: {queryInterval: 125}\n"
        #expect(errors(yaml).first?.contains("querier.inside.queryInterval: invalid duration '125': a unit is required") == true)
    }

    @Test func everyKeyRoundTripsThroughYAML() throws {
        let config = try #require(parsed(Self.everyKey)).config
        #expect(try #require(parsed(config.yaml)).config == config)
        // Names YAML would read as something else survive the quoting.
        let odd = DaemonConfig(interfaces: .init(outside: "true", alt: "#x\"\\", inside: "1"),
                               modes: .init(queryNotify: true), controlSocket: "/tmp/a b")
        #expect(try #require(parsed(odd.yaml)).config == odd)
    }
}
