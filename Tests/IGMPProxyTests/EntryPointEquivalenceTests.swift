import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

/// The zero-allocation view entry points and the owned-message one decide alike.
@Suite struct EntryPointEquivalenceTests {
    /// A spread of inputs touching every branch: each kind of query and report,
    /// each role, multicast/unicast/wrong destinations, own and foreign sources.
    static let arrivals: [Arrival] = [
        primaryQuery(),
        primaryQuery(.query(.v1())),
        primaryQuery(.query(.v2(group: group1, maxResponseTenths: 10))),
        primaryQuery(.query(.v3(group: ssmGroup, sources: [ip("10.0.0.1")], maxResponseTenths: 300))),
        Arrival(v3GeneralQuery, on: .outside, from: ip("192.0.2.0"), to: outsideAddressing.address),
        Arrival(v3GeneralQuery, on: .alt, from: altQuerier),
        Arrival(v3GeneralQuery, on: .inside, from: insideHost),
        Arrival(v3GeneralQuery, on: .outside, from: primaryQuerier, to: group1),
        insideReport(.v1Report(group: group1)),
        insideReport(.v2Report(group: group1)),
        insideReport(.v2Report(group: group1), to: .igmpv3Routers),
        insideReport(.v2Report(group: group1), to: insideAddressing.address),
        insideReport(.v2Report(group: group1), to: ip("172.17.0.77")),
        insideReport(.v2Leave(group: group1)),
        insideReport(.v2Leave(group: group1), to: insideAddressing.address),
        insideReport(v3Report2Records),
        insideReport(v3Report2Records, to: insideAddressing.address),
        insideReport(.v3Report([GroupRecord(type: .toInclude, group: group1),
                                GroupRecord(type: .blockOldSources, group: ssmGroup, sources: [ip("10.0.0.1")]),
                                GroupRecord(type: .isInclude, group: group2)])),
        insideReport(.v2Report(group: group1), from: ip("10.0.0.9")),
        insideReport(.v2Report(group: group1), from: .any),
        insideReport(.v2Report(group: ip("10.1.1.1")), to: group1),
        Arrival(.v2Report(group: group1), on: .outside, from: outsideHost),
        Arrival(.v2Report(group: group1), on: .alt, from: altQuerier),
        Arrival(.v2Report(group: group1), on: .inside, from: insideAddressing.address),
        Arrival(.v2Report(group: group1), on: .inside, from: insideHost, mac: outsideAddressing.mac),
        Arrival(.v2Report(group: group1), on: .inside, from: insideHost, mac: insideHostMAC, ttl: 9, routerAlert: false),
    ]

    static let modeSets: [ProxyModes] = [.none, .fullProxy, .unicastTranslation, .client,
                                         ProxyModes(Set(ProxyMode.allCases))]

    @Test("Ethernet frame, IPv4 packet and owned message give identical actions", arguments: modeSets)
    func identical(modes: ProxyModes) throws {
        var results: [Path: [Recorded]] = [:]
        for path in Path.allCases {
            var proxy = policy(modes)
            results[path] = try Self.arrivals.map { try feed(&proxy, $0, path: path) }
        }
        let reference = try #require(results[.ownedMessage])
        for path in Path.allCases {
            let got = try #require(results[path])
            for index in reference.indices {
                #expect(got[index] == reference[index], "\(path) differs on arrival \(index)")
            }
        }
        // And the owned path is not vacuous: it did things.
        #expect(modes == .none || reference.contains { !$0.sent.isEmpty || !$0.events.isEmpty })
        // Every input is accounted for: one drop reason, or something done.
        for (index, recorded) in reference.enumerated() {
            let drops = recorded.counters.filter { $0.rawValue.hasPrefix("dropped") || $0 == .unicastQueryNotElected }
            let done = recorded.counters.filter { $0.rawValue.hasPrefix("forwarded") || $0.rawValue.hasPrefix("notified") }
            #expect(drops.count + (done.isEmpty ? 0 : 1) == 1 || (drops == [.unicastQueryNotElected] && done == [.notifiedQuery]),
                    "arrival \(index): \(recorded.counters)")
        }
    }
}
