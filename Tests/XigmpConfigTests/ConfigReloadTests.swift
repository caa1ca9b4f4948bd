import XigmpTestSupport
import IGMPMembership
import IGMPProxy
import IGMPWire
import Testing
import XigmpConfig

/// What SIGHUP applies to a running daemon and what it names as needing a
/// restart: one case per stored setting, so a new setting fails
/// ``everySettingHasACase()`` until someone decides which it is.
@Suite struct ConfigReloadTests {
    /// One setting changed, and the keys the reload must name for it
    /// (empty: applied live).
    struct Change: Sendable, CustomTestStringConvertible {
        var property: String
        var expected: [String]
        var change: @Sendable (inout DaemonConfig) -> Void
        var testDescription: String { property }
    }

    static let changes: [Change] = [
        Change(property: "interfaces", expected: ["interfaces"]) { $0.interfaces.exclude = ["veth*"] },
        Change(property: "activeOutside", expected: []) { $0.activeOutside = .alt },
        Change(property: "failbackHoldDown", expected: ["failbackHoldDown"]) { $0.failbackHoldDown = .seconds(30) },
        Change(property: "datapath", expected: ["datapath"]) { $0.datapath = .kernel },
        Change(property: "xdpMode", expected: ["xdpMode"]) { $0.xdpMode = .native },
        Change(property: "modes", expected: []) { $0.modes = .init(proxyInToOut: true) },
        Change(property: "unicastFallback", expected: []) { $0.unicastFallback = IPv4Address(10, 99, 0, 1) },
        Change(property: "metricsListen", expected: ["metrics"]) { $0.metricsListen = ListenAddress(port: 9740) },
        Change(property: "controlSocket", expected: ["control.socket"]) { $0.controlSocket = "/tmp/x.sock" },
        Change(property: "logLevel", expected: ["logLevel"]) { $0.logLevel = .debug },
        Change(property: "membership", expected: ["membership"]) { $0.membership = .track },
        Change(property: "queriers", expected: ["querier"]) { $0.queriers = [.inside: MembershipConfiguration()] },
        Change(property: "isolatedHosts", expected: ["querier"]) { $0.isolatedHosts = [.inside: .yes] },
        Change(property: "upstream", expected: ["upstream"]) { $0.upstream = UpstreamConfiguration(robustness: 3) },
        Change(property: "limits", expected: ["limits"]) { $0.limits = MembershipLimits(maxGroups: 10) },
        Change(property: "reportRateLimit", expected: ["limits"]) {
            $0.reportRateLimit = DaemonConfig.ReportRateLimit(perSecond: 100, burst: 10)
        },
        Change(property: "forwarding", expected: ["forwarding"]) { $0.forwarding = DaemonConfig.Forwarding(mode: .xdp) },
        Change(property: "routes", expected: ["routes"]) {
            $0.routes = [DaemonConfig.StaticRoute(group: IPv4Address(232, 1, 1, 1), outgoing: ["dockerbr"])]
        },
        Change(property: "egressAllow", expected: ["egressFilter"]) { $0.egressAllow = [DaemonConfig.Prefix("239.1.0.0/16")!] },
    ]

    @Test("each setting changed alone: live ones name nothing, the others name their key", arguments: changes)
    func oneChange(_ change: Change) throws {
        let running = try #require(parsed(minimal)).config
        var next = running
        change.change(&next)
        #expect(next != running, "the case changes nothing")
        #expect(running.changesNeedingRestart(to: next) == change.expected)
        #expect(next.changesNeedingRestart(to: next).isEmpty)
    }

    @Test("every stored setting of DaemonConfig has a case above")
    func everySettingHasACase() throws {
        let config = try #require(parsed(minimal)).config
        let properties = Mirror(reflecting: config).children.compactMap(\.label)
        #expect(Set(properties) == Set(Self.changes.map(\.property)))
        #expect(Set(Self.changes.filter(\.expected.isEmpty).map(\.property)) == Set(DaemonConfig.reloadableKeys))
    }

    @Test("a re-read logLevel is not applied: the reload names it as needing a restart")
    func logLevelFromTheFile() throws {
        let running = try #require(parsed(minimal)).config
        let next = try #require(parsed(minimal + "logLevel: debug\n")).config
        #expect(running.changesNeedingRestart(to: next) == ["logLevel"])
    }

    @Test("the reference says what SIGHUP applies, and that logLevel takes a restart")
    func referenceSaysSo() throws {
        let rule = try #require(DaemonConfig.reference.split(separator: "\n").first { $0.hasPrefix("- SIGHUP") })
        #expect(rule.contains("`modes`, `activeOutside` and `unicastFallback`"))
        let logLevel = try #require(DaemonConfig.referenceRows.first { $0.key == "logLevel" })
        #expect(logLevel.meaning.contains("restart"))
    }

    @Test("several changes are named together, in the reference's order")
    func severalChanges() throws {
        let running = try #require(parsed(minimal)).config
        let next = try #require(parsed(minimal + "logLevel: warning\ndatapath: kernel\nunicastFallback: 10.0.0.1\n")).config
        #expect(running.changesNeedingRestart(to: next) == ["datapath", "logLevel"])
    }
}
