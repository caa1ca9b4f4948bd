import IGMPMembership
import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

/// A tracking policy on the test network, started at 0 with fast timers.
private func trackingPolicy(modes: ProxyModes = ProxyModes(queryNotify: true), fallback: IPv4Address? = nil,
                            insideAddress: IPv4Address? = nil,
                            inside: MembershipConfiguration = MembershipConfiguration(
                                queryInterval: .seconds(20), queryResponseInterval: .seconds(2))) -> ProxyPolicy {
    var c = configuration(modes, fallback: fallback)
    if let insideAddress { c.inside?.address = insideAddress }
    c.membership = .track
    c.routers = [.inside: inside]
    do { return try ProxyPolicy(configuration: c, startingAt: .seconds(0), seed: 3) } catch {
        fatalError("test configuration rejected: \(error)")
    }
}

/// Ticks the policy at every deadline up to `seconds`, recording what it does.
private func run(_ policy: inout ProxyPolicy, until seconds: UInt64) -> Recorded {
    var recorded = Recorded()
    let end = ProxyTime.seconds(seconds)
    while let next = policy.nextDeadline, next <= end {
        policy.tick(at: next) { recorded.record($0) }
    }
    return recorded
}

private func upstreamRecords(_ recorded: Recorded) -> [GroupRecord] {
    recorded.sent.filter { $0.purpose == .upstreamReport }.flatMap { sent -> [GroupRecord] in
        if case .v3Report(let records) = sent.message { return records }
        return []
    }
}

@Suite("RFC 4605 tracking in the policy")
struct TrackingTests {
    @Test("tracking refuses the forwarding modes and upstream queriers")
    func refusesForwarding() {
        var c = configuration(ProxyModes(proxyOutToIn: true, proxyInToOut: true))
        c.membership = .track
        #expect(throws: ProxyConfigurationError.forwardingWhileTracking([.proxyInToOut, .proxyOutToIn])) {
            try ProxyPolicy(configuration: c)
        }
        c.modes = ProxyModes(queryNotify: true)
        c.routers = [.outside: MembershipConfiguration()]
        #expect(throws: ProxyConfigurationError.routerOnUpstreamWhileTracking(.outside)) {
            try ProxyPolicy(configuration: c)
        }
    }

    @Test("the inside querier sends its startup queries from the inside address")
    func startupQueries() {
        var p = trackingPolicy()
        let r = run(&p, until: 12)
        let queries = r.sent.filter { $0.purpose == .query }
        #expect(queries.count == 2 + 0)  // startup count 2, 5 s apart; the next is at 25 s
        #expect(queries.allSatisfy { $0.role == .inside && $0.source == insideAddressing.address && $0.destination == .allSystems })
    }

    @Test("an inside join goes upstream as TO_EX from the outside address, twice; a link-local one never")
    func joinGoesUpstream() throws {
        var p = trackingPolicy()
        _ = run(&p, until: 1)
        var r = try feed(&p, insideReport(.v2Report(group: group1)), at: .seconds(1))
        r.items += try feed(&p, insideReport(.v2Report(group: ip("224.0.0.251"))), at: .seconds(1)).items
        r.items += run(&p, until: 3).items
        let up = r.sent.filter { $0.purpose == .upstreamReport }
        #expect(up.count == 2)
        #expect(up.allSatisfy { $0.role == .outside && $0.source == outsideAddressing.address && $0.destination == .igmpv3Routers })
        #expect(upstreamRecords(r).map(\.type) == [.toExclude, .toExclude])
        #expect(upstreamRecords(r).allSatisfy { $0.group == group1 })
        #expect(p.upstreamMemberships(on: .primary).map(\.group) == [group1])
    }

    @Test("an inside leave triggers group-specific queries and, with no answer, a TO_IN({}) upstream")
    func leaveGoesUpstream() throws {
        var p = trackingPolicy()
        _ = run(&p, until: 1)
        _ = try feed(&p, insideReport(.v2Report(group: group1)), at: .seconds(1))
        _ = run(&p, until: 3)
        var r = try feed(&p, insideReport(.v2Leave(group: group1)), at: .seconds(3))
        r.items += run(&p, until: 8).items
        let groupQueries = r.sent.filter { $0.purpose == .query && $0.destination == group1 }
        #expect(groupQueries.count == 2)  // Last Member Query Count = robustness
        #expect(upstreamRecords(r).map(\.type) == [.toInclude, .toInclude])
        #expect(p.upstreamMemberships(on: .primary).isEmpty)
    }

    @Test("an outside general query is answered with the union (IS_EX), not forwarded inside")
    func answersOutsideQuery() throws {
        var p = trackingPolicy()
        _ = run(&p, until: 1)
        _ = try feed(&p, insideReport(.v3Report([GroupRecord(type: .toExclude, group: group1),
                                                 GroupRecord(type: .allowNewSources, group: ssmGroup,
                                                             sources: [ip("10.0.0.1")])])), at: .seconds(1))
        _ = run(&p, until: 3)
        var r = try feed(&p, primaryQuery(.query(.v3(maxResponseTenths: 10))), at: .seconds(3))
        #expect(r.sent.allSatisfy { $0.role != .inside || $0.purpose == .query })
        r.items += run(&p, until: 5).items
        let records = upstreamRecords(r)
        #expect(records.map(\.type) == [.isInclude, .isExclude])
        #expect(records.map(\.group) == [ssmGroup, group1])
    }

    @Test("with an IGMPv2 querier upstream, joins go as v2 reports to the group and leaves to 224.0.0.2")
    func olderQuerierUpstream() throws {
        var p = trackingPolicy()
        _ = run(&p, until: 1)
        _ = try feed(&p, primaryQuery(v2GeneralQuery), at: .seconds(1))
        var r = try feed(&p, insideReport(.v3Report([GroupRecord(type: .toExclude, group: group2)])), at: .seconds(2))
        r.items += run(&p, until: 4).items
        let up = r.sent.filter { $0.purpose == .upstreamReport && $0.message == .v2Report(group: group2) }
        #expect(up.count == 2)
        #expect(up.allSatisfy { $0.destination == group2 })
    }

    @Test("switching the active outside moves the memberships: leave on the old, join on the new")
    func switchMoves() throws {
        var p = trackingPolicy()
        _ = run(&p, until: 1)
        _ = try feed(&p, insideReport(.v2Report(group: group1)), at: .seconds(1))
        _ = run(&p, until: 3)
        var r = Recorded()
        try p.setActiveOutside(.alt, at: .seconds(3)) { r.record($0) }
        r.items += run(&p, until: 6).items
        let old = r.sent.filter { $0.role == .outside && $0.purpose == .upstreamReport }
        let new = r.sent.filter { $0.role == .alt && $0.purpose == .upstreamReport }
        #expect(old.compactMap(\.message).allSatisfy { $0 == .v3Report([GroupRecord(type: .toInclude, group: group1)]) })
        #expect(old.count == 2)
        #expect(new.compactMap(\.message).allSatisfy { $0 == .v3Report([GroupRecord(type: .toExclude, group: group1)]) })
        #expect(new.count == 2)
        #expect(new.allSatisfy { $0.source == altAddressing.address })
        #expect(p.upstreamMemberships(on: .primary).isEmpty)
        #expect(p.upstreamMemberships(on: .alt).map(\.group) == [group1])
    }

    @Test("a lower-addressed router's query on the inside silences xigmp's querier")
    func insideElection() throws {
        var p = trackingPolicy(insideAddress: ip("172.17.0.10"))
        _ = run(&p, until: 1)
        // Off the subnet: lower, but never elected (RFC 3376 §9).
        var r = try feed(&p, Arrival(.query(.v2()), on: .inside, from: ip("172.16.255.254"), mac: insideHostMAC), at: .seconds(1))
        #expect(r.count(.droppedSourceOffSubnet) == 1)
        #expect(p.membership(at: .seconds(1)).first?.querier == .querier)
        r = try feed(&p, Arrival(.query(.v2()), on: .inside, from: ip("172.17.0.9"), mac: insideHostMAC), at: .seconds(1))
        // Other Querier Present Interval: 2 × 20 s + 2 s / 2 = 41 s.
        r.items += run(&p, until: 41).items
        #expect(r.sent.filter { $0.purpose == .query }.isEmpty)
        #expect(r.items.contains(.routerCount(.querierLost, .inside)))
        #expect(p.membership(at: .seconds(41)).first?.querier
                == .nonQuerier(otherQuerier: ip("172.17.0.9"), until: MembershipTime.seconds(1).adding(.seconds(41))))
        // Then it resumes.
        r = Recorded()
        r.items += run(&p, until: 43).items
        #expect(r.sent.filter { $0.purpose == .query }.count == 1)
    }

    @Test("off-subnet reports never reach the table")
    func offSubnet() throws {
        var p = trackingPolicy()
        let r = try feed(&p, insideReport(.v2Report(group: group1), from: ip("10.9.9.9")), at: .seconds(1))
        #expect(r.count(.droppedSourceOffSubnet) == 1)
        #expect(p.groupCount(on: .inside) == 0)
    }

    @Test("unicastMembershipResponse sends the upstream reports unicast to the querier")
    func unicastUpstream() throws {
        var p = trackingPolicy(modes: ProxyModes(queryNotify: true, unicastMembershipResponse: true),
                               fallback: fallbackAddress)
        _ = run(&p, until: 1)
        let r = try feed(&p, insideReport(.v2Report(group: group1)), at: .seconds(1))
        #expect(r.sent.filter { $0.purpose == .upstreamReport }.map(\.destination) == [fallbackAddress])
    }

    @Test("passthrough keeps the goIGMP behaviour: no table, no upstream reports of its own")
    func passthroughUnchanged() throws {
        var p = policy(ProxyModes(proxyInToOut: true))
        let r = try feed(&p, insideReport(.v2Report(group: group1)))
        #expect(r.sent.count == 1 && r.sent[0].mode == .proxyInToOut)
        #expect(p.nextDeadline == nil)
        #expect(p.routerRoles.isEmpty)
    }
}

@Suite("Client requests under RFC 4605 tracking")
struct ClientTrackingTests {
    static let modes = ProxyModes(queryNotify: true, membershipReportToNetwork: true, leaveToNetwork: true)

    private func clientJoin(_ p: inout ProxyPolicy, _ groups: [IPv4Address], at t: ProxyTime) throws -> (Recorded, ClientDelivery) {
        let (r, result) = client(&p) { (p, emit) throws(ClientRequestError) in
            try p.clientReport(groups: groups, version: .v2, at: t, emit)
        }
        return (r, try result.get())
    }

    @Test("a client join becomes host-side state: TO_EX upstream, retransmitted, answered in queries")
    func clientJoinIsTracked() throws {
        var p = trackingPolicy(modes: Self.modes)
        _ = run(&p, until: 1)
        let (r, delivery) = try clientJoin(&p, [group1], at: .seconds(1))
        #expect(delivery.messageCount == 1)
        #expect(r.count(.sentClientReport) == 1)
        #expect(upstreamRecords(r).map(\.type) == [.toExclude], "sent by the host side, as v3 (no older querier heard)")
        #expect(p.upstreamMemberships(on: .primary).map(\.group) == [group1])
        let later = run(&p, until: 3)
        #expect(upstreamRecords(later).map(\.type) == [.toExclude], "the robustness retransmission")
    }

    @Test("an inside member leaving does not take the group from the client; the client's leave does")
    func unionWithInside() throws {
        var p = trackingPolicy(modes: Self.modes)
        _ = run(&p, until: 1)
        _ = try feed(&p, insideReport(.v2Report(group: group1)), at: .seconds(1))
        _ = try clientJoin(&p, [group1], at: .seconds(2))
        _ = try feed(&p, insideReport(.v2Leave(group: group1), to: .allRouters), at: .seconds(3))
        var r = run(&p, until: 8)
        #expect(p.groupStates(on: .inside).isEmpty, "the inside member is gone")
        #expect(p.upstreamMemberships(on: .primary).map(\.group) == [group1])
        #expect(!upstreamRecords(r).contains { $0.type == .toInclude }, "no leave went upstream")
        let (leave, result) = client(&p) { (p, emit) throws(ClientRequestError) in
            try p.clientLeave(groups: [group1], version: .v3, at: .seconds(8), emit)
        }
        _ = try result.get()
        r = leave
        #expect(upstreamRecords(r).map(\.type) == [.toInclude])
        #expect(r.count(.sentClientLeave) == 1)
        #expect(p.upstreamMemberships(on: .primary).isEmpty)
    }

    @Test("v3 records apply to the client's state: TO_IN(s1), ALLOW(s2), BLOCK(s1)")
    func recordSemantics() throws {
        var p = trackingPolicy(modes: Self.modes)
        _ = run(&p, until: 1)
        let s1 = ip("10.0.0.1"), s2 = ip("10.0.0.2")
        for (i, record) in [GroupRecord(type: .toInclude, group: ssmGroup, sources: [s1]),
                            GroupRecord(type: .allowNewSources, group: ssmGroup, sources: [s2]),
                            GroupRecord(type: .blockOldSources, group: ssmGroup, sources: [s1])].enumerated() {
            let (_, result) = client(&p) { (p, emit) throws(ClientRequestError) in
                try p.clientReport(records: [record], at: .seconds(UInt64(2 + i)), emit)
            }
            _ = try result.get()
        }
        #expect(p.upstreamMemberships(on: .primary).first?.state == GroupFilterState(mode: .include, sources: [s2]))
    }

    @Test("with leaveToNetwork off, a tracked client can still take its own join back")
    func leaveWithoutLeaveMode() throws {
        var p = trackingPolicy(modes: ProxyModes(queryNotify: true, membershipReportToNetwork: true))
        _ = run(&p, until: 1)
        _ = try clientJoin(&p, [group1], at: .seconds(1))
        let (r, result) = client(&p) { (p, emit) throws(ClientRequestError) in
            try p.clientLeave(groups: [group1], version: .v2, at: .seconds(2), emit)
        }
        _ = try result.get()
        // (An overdue retransmission of the join may go first.)
        #expect(upstreamRecords(r).last?.type == .toInclude)
        #expect(p.upstreamMemberships(on: .primary).isEmpty)
        // Without membershipReportToNetwork, leaves stay the leaveToNetwork mode's.
        var q = trackingPolicy(modes: ProxyModes(queryNotify: true))
        let (_, refused) = client(&q) { (p, emit) throws(ClientRequestError) in
            try p.clientLeave(groups: [group1], version: .v2, at: .seconds(2), emit)
        }
        #expect(throws: ClientRequestError.modeOff(.leaveToNetwork)) { try refused.get() }
    }

    @Test("an outside switch moves the client's groups too")
    func switchMovesClientGroups() throws {
        var p = trackingPolicy(modes: Self.modes)
        _ = run(&p, until: 1)
        _ = try clientJoin(&p, [group2], at: .seconds(1))
        try p.setActiveOutside(.alt, at: .seconds(2)) { _ in }
        #expect(p.upstreamMemberships(on: .alt).map(\.group) == [group2])
    }
}
