import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

/// Full proxy mode over a network that reflects every frame back: bounded.
@Suite struct LoopTests {
    /// Feeds every transmit of a round back as input: on the role it was sent
    /// on, and on every other role, as a bridge or a looped cable would, with the
    /// source MAC the egress interface puts on it (none on the L3 alt).
    static func reflect(_ sent: [Sent], into proxy: inout ProxyPolicy, at now: ProxyTime,
                        path: Path) throws -> Recorded {
        var next = Recorded()
        let config = proxy.configuration
        for transmit in sent {
            let message = try #require(transmit.message)
            for role in testRoles {
                let arrival = Arrival(message, on: role, from: transmit.source, to: transmit.destination,
                                      mac: config.addressing(for: transmit.role)?.mac)
                next.items += try feed(&proxy, arrival, path: path, at: now).items
            }
        }
        return next
    }

    @Test("reflected frames produce no further transmits, for 20 rounds", arguments: OutsideSelection.allCases, Path.allCases)
    func reflectionIsBounded(active: OutsideSelection, path: Path) throws {
        // Every mode on: the most that could ever be sent.
        var proxy = policy(ProxyModes(Set(ProxyMode.allCases)), active: active)
        let upstream = active == .primary
            ? Arrival(v3GeneralQuery, on: .outside, from: primaryQuerier, mac: primaryQuerierMAC)
            : Arrival(v3GeneralQuery, on: .alt, from: altQuerier)
        var round = Recorded()
        for arrival in [upstream, insideReport(.v2Report(group: group1)), insideReport(v3Report2Records),
                        insideReport(.v2Leave(group: group1)),
                        insideReport(.v2Report(group: group2), to: insideAddressing.address)] {
            round.items += try feed(&proxy, arrival, path: path).items
        }
        #expect(round.sent.count == 5, "the first round forwards each input once: \(round.sent)")
        var totals = [round.sent.count]
        var frontier = round.sent
        for index in 1...20 {
            let next = try Self.reflect(frontier, into: &proxy, at: .seconds(100 + UInt64(index)), path: path)
            #expect(next.sent.isEmpty, "round \(index) sent \(next.sent)")
            #expect(next.counters.allSatisfy { $0 == .droppedOwnFrame }, "round \(index): \(next.counters)")
            #expect(next.counters.count == frontier.count * testRoles.count)
            totals.append(next.sent.count)
            frontier = next.sent
            if frontier.isEmpty { break }
        }
        #expect(totals == [5, 0])
    }

    @Test("a reflected query does not change the learned querier")
    func reflectionDoesNotElect() throws {
        var proxy = policy(.fullProxy)
        let first = try feed(&proxy, primaryQuery())
        // The inside address may well be lower than the querier's; it must not win.
        #expect(insideAddressing.address < primaryQuerier)
        _ = try Self.reflect(first.sent, into: &proxy, at: .seconds(101), path: .ethernetFrame)
        #expect(proxy.querier(for: .primary, at: .seconds(101))?.address == primaryQuerier)
    }
}
