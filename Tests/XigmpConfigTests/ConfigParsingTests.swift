import IGMPWire
import Testing
import XigmpConfig

/// Valid files: values, defaults, locations and the YAML round trip.
@Suite struct ConfigParsingTests {
    @Test func minimalFileGetsEveryDefault() throws {
        let loaded = try #require(parsed(minimal))
        let config = loaded.config
        #expect(config.interfaces == .init(outside: "enp1s0", alt: nil, inside: "dockerbr"))
        #expect(config.activeOutside == .primary)
        #expect(config.datapath == .auto)
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
        activeOutside: alt
        datapath: kernel
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

        """

    @Test func everyKeyIsRead() throws {
        let loaded = try #require(parsed(Self.everyKey))
        let expected = DaemonConfig(
            interfaces: .init(outside: "enp1s0", alt: "gre0", inside: "dockerbr"),
            activeOutside: .alt, datapath: .kernel,
            modes: .init(proxyOutToIn: true, proxyInToOut: true, unicastProxyInToOut: true,
                         queryNotify: true, membershipReportFromNetwork: true,
                         membershipReportToNetwork: true, unicastMembershipResponse: true,
                         leaveToNetwork: true),
            unicastFallback: IPv4Address(10, 99, 0, 1),
            metricsListen: ListenAddress(host: .any, port: 9100),
            controlSocket: "/run/xigmp/control.sock", logLevel: .debug)
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
        #expect(loaded.line(of: "modes.queryNotify") == 12)
        #expect(loaded.line(of: "metrics.listen") == 18)
        #expect(loaded.line(of: "control.socket") == 20)
        #expect(loaded.line(of: "logLevel") == 21)
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
            datapath: auto
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

            """)
        #expect(try #require(parsed(config.yaml)).config == config)
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
