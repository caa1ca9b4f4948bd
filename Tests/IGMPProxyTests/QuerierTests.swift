import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

/// Querier learning: from multicast queries on the active outside only, by
/// election, never from a unicast query, forgotten when it goes quiet.
@Suite struct QuerierTests {
    static let unicastModes = ProxyModes(proxyOutToIn: true, queryNotify: true, membershipReportToNetwork: true,
                                         unicastMembershipResponse: true)

    @Test("a unicast query never takes over querier election (RFC 3376 §9.1, FRR #1692)")
    func unicastQueryDoesNotTakeOver() throws {
        var proxy = policy(Self.unicastModes)
        _ = try feed(&proxy, primaryQuery())
        // A lower address, which would win an election, sent unicast to us.
        let forger = ip("192.0.2.0")
        let unicast = Arrival(v2GeneralQuery, on: .outside, from: forger, to: outsideAddressing.address)
        let recorded = try feed(&proxy, unicast)
        #expect(proxy.querier(for: .primary, at: .seconds(100))?.address == primaryQuerier)
        #expect(recorded.count(.unicastQueryNotElected) == 1)
        #expect(recorded.count(.querierLearned) == 0)
        // Processed as RFC 3376 §4.1.12 requires (the client hears it), not proxied.
        #expect(recorded.queryEvents.map(\.isUnicast) == [true])
        #expect(recorded.sent.isEmpty)
    }

    @Test("a unicast query with no querier known teaches nothing either")
    func unicastQueryFirst() throws {
        var proxy = policy(Self.unicastModes)
        _ = try feed(&proxy, Arrival(v2GeneralQuery, on: .outside, from: primaryQuerier, to: outsideAddressing.address))
        #expect(proxy.querier(for: .primary, at: .seconds(100)) == nil)
    }

    @Test("election: a lower address takes over, a higher one does not (RFC 3376 §6.6.2)")
    func election() throws {
        var proxy = policy(.none)
        let learned = try feed(&proxy, primaryQuery(from: ip("192.0.2.10")))
        #expect(learned.events == [.querierChanged(QuerierChange(outside: .primary, querier: ip("192.0.2.10"), previous: nil))])
        #expect(try feed(&proxy, primaryQuery(from: ip("192.0.2.20"))).count(.querierLearned) == 0)
        #expect(proxy.querier(for: .primary, at: .seconds(100))?.address == ip("192.0.2.10"))
        let lower = try feed(&proxy, primaryQuery(from: ip("192.0.2.5")))
        #expect(lower.count(.querierLearned) == 1)
        #expect(proxy.querier(for: .primary, at: .seconds(100))?.address == ip("192.0.2.5"))
    }

    @Test("queries from 0.0.0.0 are proxied but never learned")
    func zeroSourceNotLearned() throws {
        var proxy = policy(ProxyModes(proxyOutToIn: true))
        let recorded = try feed(&proxy, primaryQuery(from: .any))
        #expect(recorded.sent.count == 1)
        #expect(proxy.querier(for: .primary, at: .seconds(100)) == nil)
    }

    @Test("a querier is forgotten after the Other Querier Present Interval (RFC 3376 §8.5), and the fallback used")
    func expiry() throws {
        var proxy = policy(Self.unicastModes, fallback: fallbackAddress)
        _ = try feed(&proxy, primaryQuery(), at: .seconds(1000))  // v2, 10 s: 2 × 125 + 5 = 255 s
        #expect(proxy.querier(for: .primary, at: .seconds(1254)) != nil)
        #expect(proxy.querier(for: .primary, at: .seconds(1255)) == nil)
        #expect(proxy.unicastResponseTarget(at: .seconds(1255)) == fallbackAddress)
        let (recorded, delivery) = client(&proxy) { (p, emit) throws(ClientRequestError) in
            try p.clientReport(groups: [group1], version: .v2, at: .seconds(1300), emit)
        }
        #expect(recorded.count(.querierExpired) == 1)
        #expect(recorded.events.first == .querierChanged(QuerierChange(outside: .primary, querier: nil,
                                                                      previous: primaryQuerier)))
        #expect(recorded.sent.map(\.destination) == [fallbackAddress])
        #expect(recorded.count(.sentUnicastToFallback) == 1)
        #expect(try delivery.get().route == .fallback)
    }

    @Test("v3 queries set the interval from QRV and QQIC")
    func v3Interval() throws {
        var proxy = policy(.none)
        // QRV 3, QQIC 20 s, Max Resp 4 s: 3 × 20 + 2 = 62 s.
        let query = IGMPMessage.query(.v3(maxResponseTenths: 40, qrv: 3, queryIntervalSeconds: 20))
        _ = try feed(&proxy, primaryQuery(query), at: .seconds(0))
        let learned = try #require(proxy.querier(for: .primary, at: .seconds(0)))
        #expect(learned.expires == .seconds(62))
        #expect(learned.version == .v3)
    }

    @Test("expireQueriers reports expiry without traffic")
    func expireOnTimer() throws {
        var proxy = policy(.none)
        _ = try feed(&proxy, primaryQuery(), at: .seconds(0))
        var recorded = Recorded()
        proxy.expireQueriers(at: .seconds(10)) { recorded.record($0) }
        #expect(recorded.items.isEmpty)
        proxy.expireQueriers(at: .seconds(300)) { recorded.record($0) }
        #expect(recorded.counters == [.querierExpired])
    }

    @Test("with neither querier nor fallback, unicast responses are refused, counted and reported")
    func noQuerierNoFallback() throws {
        var proxy = policy(ProxyModes(membershipReportToNetwork: true, unicastMembershipResponse: true,
                                      leaveToNetwork: true))
        for leave in [false, true] {
            let (recorded, result) = client(&proxy) { (p, emit) throws(ClientRequestError) in
                leave ? try p.clientLeave(groups: [group1], version: .v2, at: .seconds(1), emit)
                    : try p.clientReport(groups: [group1], version: .v2, at: .seconds(1), emit)
            }
            #expect(recorded.sent.isEmpty)
            #expect(recorded.counters == [.droppedNoQuerier])
            #expect(throws: ClientRequestError.noQuerier(.primary)) { try result.get() }
        }
    }
}
