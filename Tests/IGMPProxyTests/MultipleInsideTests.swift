import IGMPMembership
import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

// A second downstream next to the test network's inside bridge.
private let inside2Addressing = InterfaceAddressing(address: ip("10.20.0.1"), prefixLength: 24,
                                                    mac: mac("02:00:00:00:01:03"))
private let inside2Host = ip("10.20.0.9")
private let inside2 = InterfaceRole.inside(1)
private let source1 = ip("10.0.0.1")
private let source2 = ip("10.0.0.2")

private func twoInsides(_ modes: ProxyModes, membership: MembershipTracking = .passthrough) -> ProxyPolicy {
    var c = ProxyConfiguration(modes: modes, outside: outsideAddressing, alt: altAddressing,
                               inside: insideAddressing, additionalInsides: [inside2Addressing])
    c.membership = membership
    if membership == .track {
        c.routers = [.inside: MembershipConfiguration(queryInterval: .seconds(20), queryResponseInterval: .seconds(2),
                                                      lastMemberQueryInterval: .milliseconds(500))]
    }
    do { return try ProxyPolicy(configuration: c, startingAt: .seconds(0), seed: 5) } catch {
        fatalError("test configuration rejected: \(error)")
    }
}


private func report(_ records: [GroupRecord], on role: InterfaceRole) -> Arrival {
    role == .inside
        ? Arrival(.v3Report(records), on: role, from: insideHost, mac: insideHostMAC)
        : Arrival(.v3Report(records), on: role, from: inside2Host, mac: mac("02:42:0a:14:00:09"))
}

private func upstream(_ p: ProxyPolicy, _ group: IPv4Address) -> GroupFilterState? {
    p.upstreamMemberships(on: .primary).first { $0.group == group }?.state
}

@Suite("Several inside interfaces")
struct MultipleInsideTests {
    @Test("the union of downstream memberships follows RFC 3376 §3.2's merging rules")
    func unionRules() {
        let inc = { (s: [IPv4Address]) in GroupFilterState(mode: .include, sources: s) }
        let exc = { (s: [IPv4Address]) in GroupFilterState(mode: .exclude, sources: s) }
        let s3 = ip("10.0.0.3")
        #expect(inc([source1]).union(inc([source2])) == inc([source1, source2]))
        #expect(exc([source1, source2]).union(exc([source2, s3])) == exc([source2]))
        #expect(exc([source1, source2]).union(inc([source2])) == exc([source1]))
        #expect(inc([source2]).union(exc([source1, source2])) == exc([source1]))
        #expect(GroupFilterState.none.union(inc([source1])) == inc([source1]))
        #expect(GroupFilterState.none.union(exc([])) == exc([]))
        // Order does not matter across three downstreams.
        let states = [exc([source1, source2, s3]), inc([source1]), exc([source1, s3])]
        let folded = states.reduce(GroupFilterState.none) { $0.union($1) }
        let reversed = states.reversed().reduce(GroupFilterState.none) { $0.union($1) }
        #expect(folded == exc([s3]))
        #expect(folded == reversed)
    }

    @Test("each inside interface runs its own querier, from its own address")
    func querierPerInside() {
        var p = twoInsides(ProxyModes(queryNotify: true), membership: .track)
        let r = advance(&p, until: 1)
        let queries = r.sent.filter { $0.purpose == .query }
        #expect(Set(queries.map(\.role)) == [.inside, inside2])
        #expect(queries.first { $0.role == inside2 }?.source == inside2Addressing.address)
        #expect(queries.first { $0.role == .inside }?.source == insideAddressing.address)
        #expect(p.routerRoles == [.inside, inside2])
    }

    @Test("the upstream hears the union: a group joined on both stays joined until the last downstream leaves")
    func upstreamUnion() throws {
        var p = twoInsides(ProxyModes(queryNotify: true), membership: .track)
        _ = advance(&p, until: 1)
        _ = try feed(&p, report([GroupRecord(type: .toExclude, group: group1)], on: .inside), at: at(1))
        _ = try feed(&p, report([GroupRecord(type: .toInclude, group: group1, sources: [source1])], on: inside2),
                     at: at(1.1))
        #expect(upstream(p, group1) == GroupFilterState(mode: .exclude))
        #expect(p.groupStates(on: .inside).map(\.group) == [group1])
        #expect(p.groupStates(on: inside2).first?.state == GroupFilterState(mode: .include, sources: [source1]))

        // The first downstream leaves (TO_IN({}), no answer to its queries): the
        // upstream narrows to the second's INCLUDE(source1), not a leave.
        _ = try feed(&p, report([GroupRecord(type: .toInclude, group: group1)], on: .inside), at: at(2))
        let r = advance(&p, until: 6)
        #expect(p.groupStates(on: .inside).isEmpty)
        #expect(upstream(p, group1) == GroupFilterState(mode: .include, sources: [source1]))
        let records = r.sent.filter { $0.purpose == .upstreamReport }.flatMap { sent -> [GroupRecord] in
            if case .v3Report(let records) = sent.message { return records }
            return []
        }
        #expect(records.contains { $0.type == .toInclude && $0.group == group1 && $0.sources == [source1] })

        // The second leaves too: now the upstream leaves.
        _ = try feed(&p, report([GroupRecord(type: .blockOldSources, group: group1, sources: [source1])], on: inside2),
                     at: at(7))
        _ = advance(&p, until: 12)
        #expect(upstream(p, group1) == nil)
    }

    @Test("a group joined on one inside interface only is reported upstream, whichever it is")
    func groupOnOneInsideOnly() throws {
        for role in [InterfaceRole.inside, inside2] {
            var p = twoInsides(ProxyModes(queryNotify: true), membership: .track)
            _ = advance(&p, until: 1)
            _ = try feed(&p, report([GroupRecord(type: .toExclude, group: group2)], on: role), at: at(1))
            #expect(upstream(p, group2) == GroupFilterState(mode: .exclude), "joined on \(role == .inside ? "the first" : "the second")")
            // And it stays while the other interface's table changes.
            let other = role == .inside ? inside2 : InterfaceRole.inside
            _ = try feed(&p, report([GroupRecord(type: .toExclude, group: group1)], on: other), at: at(1.2))
            _ = try feed(&p, report([GroupRecord(type: .isExclude, group: group2)], on: role), at: at(1.4))
            #expect(upstream(p, group2) == GroupFilterState(mode: .exclude))
            #expect(upstream(p, group1) == GroupFilterState(mode: .exclude))
        }
    }

    @Test("a union too long for one report record is reported as EXCLUDE({})")
    func unionOverflow() throws {
        var p = twoInsides(ProxyModes(queryNotify: true), membership: .track)
        _ = advance(&p, until: 1)
        // 200 sources on each inside, in ALLOW records of 50 (under the per-record cap).
        for (k, role) in [InterfaceRole.inside, inside2].enumerated() {
            for chunk in 0..<4 {
                let sources = (0..<50).map { IPv4Address(rawValue: 0x0A00_0000 | UInt32(k << 16 | chunk * 50 + $0 + 1)) }
                _ = try feed(&p, report([GroupRecord(type: .allowNewSources, group: group1, sources: sources)], on: role),
                             at: at(1 + Double(chunk) / 10))
            }
        }
        #expect(p.groupStates(on: .inside).first?.state.sources.count == 200)
        #expect(p.groupStates(on: inside2).first?.state.sources.count == 200)
        #expect(upstream(p, group1) == GroupFilterState(mode: .exclude), "400 sources do not fit one record")
    }

    @Test("switching the outside moves the union, not only the first downstream's groups")
    func switchMovesUnion() throws {
        var p = twoInsides(ProxyModes(queryNotify: true), membership: .track)
        _ = advance(&p, until: 1)
        _ = try feed(&p, report([GroupRecord(type: .toExclude, group: group1)], on: .inside), at: at(1))
        _ = try feed(&p, report([GroupRecord(type: .toExclude, group: group2)], on: inside2), at: at(1))
        try p.setActiveOutside(.alt, at: at(2)) { _ in }
        #expect(p.upstreamMemberships(on: .alt).map(\.group).sorted() == [group1, group2])
    }

    @Test("the forwarding plan sends a group to every inside interface that joined it")
    func planCoversBoth() throws {
        var p = twoInsides(ProxyModes(queryNotify: true), membership: .track)
        _ = advance(&p, until: 1)
        _ = try feed(&p, report([GroupRecord(type: .toExclude, group: group1)], on: .inside), at: at(1))
        _ = try feed(&p, report([GroupRecord(type: .toExclude, group: group1),
                                 GroupRecord(type: .toInclude, group: group2, sources: [source2])], on: inside2),
                     at: at(1))
        let plan = ForwardingPlan(memberships: ["dk0": p.groupStates(on: .inside), "vl20": p.groupStates(on: inside2)],
                                  incoming: "eth0", statics: [])
        #expect(plan.routes[RouteKey(source: nil, group: group1, incoming: "eth0")] == ["dk0", "vl20"])
        #expect(plan.routes[RouteKey(source: source2, group: group2, incoming: "eth0")] == ["vl20"])
    }

    @Test("queries proxied outside-in reach every inside interface, from each one's address")
    func queriesToEveryInside() throws {
        var p = twoInsides(ProxyModes(proxyOutToIn: true))
        let r = try feed(&p, primaryQuery())
        let sent = r.sent.filter { $0.purpose == .mode(.proxyOutToIn) }
        #expect(sent.map(\.role) == [.inside, inside2])
        #expect(sent.map(\.source) == [insideAddressing.address, inside2Addressing.address])
        #expect(r.count(.forwardedOutToIn) == 2)
    }

    @Test("reports from the second inside are forwarded upstream; its own frames are recognised")
    func secondInsideReports() throws {
        var p = twoInsides(ProxyModes(proxyInToOut: true))
        let r = try feed(&p, report([GroupRecord(type: .toExclude, group: group1)], on: inside2))
        #expect(r.sent.count == 1 && r.sent.first?.role == .outside)
        // A host on the first inside's subnet is off the second's.
        let off = try feed(&p, Arrival(.v2Report(group: group1), on: inside2, from: insideHost))
        #expect(off.count(.droppedSourceOffSubnet) == 1)
        // The second inside's own address and MAC, seen on any interface.
        let own = try feed(&p, Arrival(.v2Report(group: group1), on: .inside, from: inside2Addressing.address))
        #expect(own.count(.droppedOwnFrame) == 1)
        let ownMAC = try feed(&p, Arrival(.v2Report(group: group1), on: .inside, from: insideHost,
                                          mac: inside2Addressing.mac))
        #expect(ownMAC.count(.droppedOwnFrame) == 1)
    }

    @Test("a second inside interface without an address is refused")
    func validatesEveryInside() {
        var bad = inside2Addressing
        bad.address = ip("0.0.0.0")
        let c = ProxyConfiguration(modes: ProxyModes(queryNotify: true), outside: outsideAddressing,
                                   inside: insideAddressing, additionalInsides: [bad])
        #expect(throws: ProxyConfigurationError.unusableAddress(inside2, bad.address)) {
            try ProxyPolicy(configuration: c)
        }
    }
}
