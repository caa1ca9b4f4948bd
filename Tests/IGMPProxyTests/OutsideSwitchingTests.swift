import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

/// Exactly one upstream is active; switching moves queries in and everything out.
@Suite struct OutsideSwitchingTests {
    static let modes = ProxyModes(proxyOutToIn: true, proxyInToOut: true, unicastProxyInToOut: true,
                                  queryNotify: true, membershipReportToNetwork: true, leaveToNetwork: true)

    @Test("after setActiveOutside(.alt): primary queries ignored, alt queries proxied, outbound on alt")
    func switchToAlt() throws {
        var proxy = policy(Self.modes)
        #expect(try feed(&proxy, Arrival(v2GeneralQuery, on: .alt, from: altQuerier)).counters
                == [.droppedInactiveOutside])
        #expect(try feed(&proxy, primaryQuery()).sent.map(\.role) == [.inside])

        try proxy.setActiveOutside(.alt)
        #expect(proxy.activeOutside == .alt)
        let primary = try feed(&proxy, primaryQuery())
        #expect(primary.sent.isEmpty && primary.events.isEmpty)
        #expect(primary.counters == [.droppedInactiveOutside])
        let alt = try feed(&proxy, Arrival(v2GeneralQuery, on: .alt, from: altQuerier))
        #expect(alt.sent.map(\.role) == [.inside])
        #expect(alt.queryEvents.map(\.role) == [.alt])

        let report = try feed(&proxy, insideReport(.v2Report(group: group1)))
        #expect(report.sent.map(\.role) == [.alt])
        #expect(report.sent.map(\.source) == [altAddressing.address])
        let unicast = try feed(&proxy, insideReport(v3Report2Records, to: insideAddressing.address))
        #expect(unicast.sent.map(\.role) == [.alt])
        let (client, _) = IGMPProxyTests.client(&proxy) { (p, emit) throws(ClientRequestError) in
            try p.clientLeave(groups: [group1], version: .v2, at: .seconds(100), emit)
        }
        #expect(client.sent.map(\.role) == [.alt])
        #expect(client.sent.map(\.source) == [altAddressing.address])

        // And back.
        try proxy.setActiveOutside(.primary)
        #expect(try feed(&proxy, insideReport(.v2Report(group: group1))).sent.map(\.role) == [.outside])
        #expect(try feed(&proxy, Arrival(v2GeneralQuery, on: .alt, from: altQuerier)).sent.isEmpty)
    }

    @Test("reports heard on the inactive outside are ignored too")
    func reportsOnInactiveOutside() throws {
        var proxy = policy(ProxyModes(membershipReportFromNetwork: true))
        let recorded = try feed(&proxy, Arrival(.v2Report(group: group1), on: .alt, from: altQuerier))
        #expect(recorded.events.isEmpty)
        #expect(recorded.counters == [.droppedInactiveOutside])
        let active = try feed(&proxy, Arrival(.v2Report(group: group1), on: .outside, from: outsideHost))
        #expect(active.membershipEvents.map(\.role) == [.outside])
    }

    @Test("the learned querier is per upstream: switching switches which one is answered")
    func querierPerUpstream() throws {
        var proxy = policy(ProxyModes(membershipReportToNetwork: true, unicastMembershipResponse: true))
        _ = try feed(&proxy, primaryQuery())
        try proxy.setActiveOutside(.alt)
        // No querier heard on alt yet, no fallback: refused, visibly.
        let (none, refused) = client(&proxy) { (p, emit) throws(ClientRequestError) in
            try p.clientReport(groups: [group1], version: .v2, at: .seconds(101), emit)
        }
        #expect(none.sent.isEmpty)
        #expect(none.counters == [.droppedNoQuerier])
        #expect(throws: ClientRequestError.noQuerier(.alt)) { try refused.get() }

        _ = try feed(&proxy, Arrival(v2GeneralQuery, on: .alt, from: altQuerier))
        let (alt, _) = client(&proxy) { (p, emit) throws(ClientRequestError) in
            try p.clientReport(groups: [group1], version: .v2, at: .seconds(102), emit)
        }
        #expect(alt.sent.map(\.destination) == [altQuerier])
        #expect(alt.sent.map(\.role) == [.alt])

        try proxy.setActiveOutside(.primary)
        let (primary, _) = client(&proxy) { (p, emit) throws(ClientRequestError) in
            try p.clientReport(groups: [group1], version: .v2, at: .seconds(103), emit)
        }
        #expect(primary.sent.map(\.destination) == [primaryQuerier])
        #expect(primary.sent.map(\.role) == [.outside])
    }

    @Test("selecting an alt that is not configured is refused and changes nothing")
    func altMissing() throws {
        var config = configuration(.fullProxy)
        config.alt = nil
        var proxy = try ProxyPolicy(configuration: config)
        #expect(throws: ProxyConfigurationError.altNotConfigured) { try proxy.setActiveOutside(.alt) }
        #expect(proxy.activeOutside == .primary)
        config.activeOutside = .alt
        #expect(throws: ProxyConfigurationError.altNotConfigured) { try ProxyPolicy(configuration: config) }
    }

    @Test("the active outside can be chosen in the configuration")
    func activeFromConfiguration() throws {
        var proxy = policy(.fullProxy, active: .alt)
        #expect(try feed(&proxy, insideReport(.v2Report(group: group1))).sent.map(\.role) == [.alt])
    }
}
