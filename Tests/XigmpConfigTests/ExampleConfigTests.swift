import IGMPWire
import Testing
import XigmpConfig
import XigmpTestSupport

/// The shipped example configurations (`examples/*.yaml`) load as documented.
@Suite struct ExampleConfigTests {
    /// The repository's `examples/` directory, found from this file.
    static let examplesDirectory: String = {
        var parts = #filePath.split(separator: "/", omittingEmptySubsequences: false)
        parts.removeLast(3)  // Tests/XigmpConfigTests/ExampleConfigTests.swift
        return parts.joined(separator: "/") + "/examples"
    }()

    static func load(_ name: String) throws -> LoadedConfig {
        try DaemonConfig.load(path: "\(examplesDirectory)/\(name)")
    }

    @Test(arguments: ["translation-only.yaml", "with-alt.yaml", "full-proxy.yaml", "client-mode.yaml",
                      "rfc4605-proxy.yaml", "forwarder.yaml"])
    func exampleLoadsWithoutWarningsAndRoundTrips(name: String) throws {
        let loaded = try Self.load(name)
        #expect(loaded.warnings.isEmpty, "\(loaded.warnings)")
        #expect(try DaemonConfig.parse(text: loaded.config.yaml, fileName: name).config == loaded.config)
    }

    @Test func translationOnlyTranslatesAndNothingElse() throws {
        let config = try Self.load("translation-only.yaml").config
        #expect(config.modes == .init(unicastProxyInToOut: true))
        #expect(config.interfaces.alt == nil)
    }

    @Test func withAltHasTwoOutsideInterfaces() throws {
        let config = try Self.load("with-alt.yaml").config
        #expect(config.interfaces == .init(outside: "enp1s0", alt: "gre0", inside: "dockerbr"))
        #expect(config.activeOutside == .primary)
        #expect(config.modes.proxyOutToIn)
    }

    @Test func fullProxyGoesBothWays() throws {
        let config = try Self.load("full-proxy.yaml").config
        #expect(config.modes == .init(proxyOutToIn: true, proxyInToOut: true))
        #expect(config.metricsListen == ListenAddress(port: 9740))
    }

    @Test func clientModeUsesTheClientAPIWithAFallback() throws {
        let config = try Self.load("client-mode.yaml").config
        #expect(config.modes == .init(queryNotify: true, membershipReportFromNetwork: true,
                                      membershipReportToNetwork: true,
                                      unicastMembershipResponse: true, leaveToNetwork: true))
        #expect(config.unicastFallback == IPv4Address(10, 99, 0, 1))
    }

    @Test("the membership: track examples switch on no mode: the table and the host side are the work",
          arguments: ["rfc4605-proxy.yaml", "forwarder.yaml"])
    func trackExamplesNeedNoMode(name: String) throws {
        let config = try Self.load(name).config
        #expect(config.membership == .track)
        #expect(config.modes == .init())
    }

    @Test func unreadableFileIsOneIssueWithoutALine() {
        let path = "\(Self.examplesDirectory)/no-such-file.yaml"
        #expect(throws: ConfigError(issues: [ConfigIssue(
            fileName: path, line: nil, keyPath: nil,
            message: "cannot read the file: No such file or directory; expected a readable YAML file")])) {
            try DaemonConfig.load(path: path)
        }
    }
}
