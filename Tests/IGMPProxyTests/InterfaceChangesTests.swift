import IGMPMembership
import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

// Interfaces that come and go: downstreams added and removed at run time,
// renumbered interfaces, links back up.
private let dockerAddressing = InterfaceAddressing(address: ip("172.18.0.1"), prefixLength: 16,
                                                   mac: mac("02:42:00:00:00:01"))
private let dockerHost = ip("172.18.0.2")

private func tracking(insides: [InterfaceAddressing?] = [insideAddressing]) -> ProxyPolicy {
    var c = ProxyConfiguration(modes: ProxyModes(), outside: outsideAddressing, alt: altAddressing,
                               inside: insides.first ?? nil, additionalInsides: Array(insides.dropFirst()))
    c.membership = .track
    c.routers = [.inside: MembershipConfiguration(queryInterval: .seconds(20), queryResponseInterval: .seconds(2),
                                                  lastMemberQueryInterval: .milliseconds(500))]
    do { return try ProxyPolicy(configuration: c, startingAt: .seconds(0), seed: 9) } catch {
        fatalError("test configuration rejected: \(error)")
    }
}


private func join(_ group: IPv4Address, on role: InterfaceRole, from host: IPv4Address) -> Arrival {
    Arrival(.v3Report([GroupRecord(type: .toExclude, group: group)]), on: role, from: host, mac: mac("02:42:ac:11:00:02"))
}

private func upstreamRecords(_ r: Recorded) -> [GroupRecord] {
    r.sent.filter { $0.purpose == .upstreamReport }.flatMap { sent -> [GroupRecord] in
        if case .v3Report(let records) = sent.message { return records }
        return []
    }
}

@Suite("Interfaces that come and go, in the policy")
struct InterfaceChangesTests {
    @Test("a policy may start with no downstream at all, and takes one in later with startup queries from its address")
    func startsEmptyThenAdds() throws {
        var p = tracking(insides: [])
        #expect(p.routerRoles.isEmpty)
        #expect(advance(&p, until: 1).sent.isEmpty)
        let role = try p.addInside(dockerAddressing, at: at(3))
        #expect(role == .inside(0))
        let r = advance(&p, until: 3.5)
        let queries = r.sent.filter { $0.purpose == .query }
        #expect(queries.count == 1)
        #expect(queries.first?.role == role && queries.first?.source == dockerAddressing.address)
        // Hosts there are heard, and their join goes upstream.
        let joined = try feed(&p, join(group1, on: role, from: dockerHost), at: at(4))
        #expect(upstreamRecords(joined).map(\.type) == [.toExclude])
    }

    @Test("a removed downstream's groups leave upstream at once; a re-added one gets the next free slot")
    func removeLeavesUpstream() throws {
        var p = tracking()
        _ = advance(&p, until: 1)
        _ = try feed(&p, join(group1, on: .inside, from: insideHost), at: at(1))
        _ = advance(&p, until: 3)
        var r = Recorded()
        p.removeInside(.inside, at: at(5)) { r.record($0) }
        #expect(upstreamRecords(r).map(\.type) == [.toInclude])
        #expect(upstreamRecords(r).first?.group == group1)
        #expect(p.upstreamMemberships(on: .primary).isEmpty)
        #expect(p.routerRoles.isEmpty)
        #expect(p.membership(at: at(5)).isEmpty)
        // Gone means gone: a report "on" the removed role reaches no table.
        _ = try feed(&p, join(group2, on: .inside, from: insideHost), at: at(6))
        #expect(p.upstreamMemberships(on: .primary).isEmpty)
        #expect(try p.addInside(dockerAddressing, at: at(7)) == .inside(0))
    }

    @Test("removing one of two downstreams that hold a group sends nothing upstream for it")
    func noChurnForSharedGroups() throws {
        var p = tracking(insides: [insideAddressing, dockerAddressing])
        _ = advance(&p, until: 1)
        _ = try feed(&p, join(group1, on: .inside(0), from: insideHost), at: at(1))
        _ = try feed(&p, join(group1, on: .inside(1), from: dockerHost), at: at(1))
        _ = try feed(&p, join(group2, on: .inside(1), from: dockerHost), at: at(1))
        _ = advance(&p, until: 3)
        var r = Recorded()
        p.removeInside(.inside(1), at: at(5)) { r.record($0) }
        r.items += advance(&p, until: 8).items
        // group2 leaves (and is retransmitted); group1 is never mentioned.
        #expect(upstreamRecords(r).allSatisfy { $0.group == group2 && $0.type == .toInclude })
        #expect(!upstreamRecords(r).isEmpty)
        #expect(p.upstreamMemberships(on: .primary).map(\.group) == [group1])
    }

    @Test("a renumbered downstream queries from its new address, and the subnet check follows")
    func renumbered() throws {
        var p = tracking()
        _ = advance(&p, until: 12)
        let moved = InterfaceAddressing(address: ip("10.99.0.1"), prefixLength: 24, mac: insideAddressing.mac)
        try p.setAddressing(moved, for: .inside, at: at(13))
        let r = advance(&p, until: 13.5)
        #expect(r.sent.filter { $0.purpose == .query }.map(\.source) == [moved.address])
        let old = try feed(&p, join(group1, on: .inside, from: insideHost), at: at(14))
        #expect(old.count(.droppedSourceOffSubnet) == 1 || p.upstreamMemberships(on: .primary).isEmpty)
        let new = try feed(&p, join(group1, on: .inside, from: ip("10.99.0.7")), at: at(14))
        #expect(upstreamRecords(new).map(\.group) == [group1])
    }

    @Test("a downstream back up gets startup queries; the active upstream back up re-announces the union")
    func backUp() throws {
        var p = tracking()
        _ = advance(&p, until: 1)
        _ = try feed(&p, join(group1, on: .inside, from: insideHost), at: at(1))
        _ = advance(&p, until: 12)
        var r = Recorded()
        p.interfaceUp(.inside, at: at(13)) { r.record($0) }
        r.items += advance(&p, until: 13.1).items
        #expect(r.sent.filter { $0.purpose == .query }.count == 1)
        var up = Recorded()
        p.interfaceUp(.outside, at: at(14)) { up.record($0) }
        #expect(upstreamRecords(up).map(\.type) == [.toExclude])
        #expect(upstreamRecords(up).first?.group == group1)
        // The inactive alt coming up says nothing upstream.
        var alt = Recorded()
        p.interfaceUp(.alt, at: at(15)) { alt.record($0) }
        #expect(alt.sent.isEmpty)
    }

    @Test("with the active upstream absent, nothing goes out and client requests say why")
    func upstreamAbsent() throws {
        var p = tracking()
        try p.setAddressing(nil, for: .outside, at: at(1))
        var r = try feed(&p, join(group1, on: .inside, from: insideHost), at: at(2))
        r.items += advance(&p, until: 4).items
        #expect(r.sent.allSatisfy { $0.purpose != .upstreamReport })
        // It comes back with a new address: the union is announced from it.
        let back = InterfaceAddressing(address: ip("192.0.2.77"), prefixLength: 24, mac: outsideAddressing.mac)
        try p.setAddressing(back, for: .outside, at: at(5))
        var up = Recorded()
        p.interfaceUp(.outside, at: at(5)) { up.record($0) }
        #expect(up.sent.filter { $0.purpose == .upstreamReport }.map(\.source) == [back.address])
    }
}
