import IGMPMembership
import IGMPWire
import Testing
import XigmpTestSupport

let lowerRouter = ip("192.168.1.1")
let higherRouter = ip("192.168.1.9")

func makeQuerier(_ configuration: MembershipConfiguration = MembershipConfiguration(),
                 address: IPv4Address = routerAddress) -> Querier {
    do {
        return try Querier(configuration: configuration, address: address, startingAt: .zero)
    } catch {
        fatalError("test configuration rejected: \(error)")
    }
}

func makeRouter(_ configuration: MembershipConfiguration = MembershipConfiguration()) -> MembershipRouter {
    do {
        return try MembershipRouter(configuration: configuration, address: routerAddress, startingAt: .zero)
    } catch {
        fatalError("test configuration rejected: \(error)")
    }
}

extension Querier {
    /// Ticks at every deadline up to `end`; returns the times general queries went out.
    mutating func run(until end: Double, recorded: inout Recorded) -> [Double] {
        var times: [Double] = []
        while let deadline = nextDeadline, deadline <= at(end) {
            var step = Recorded()
            tick(at: deadline) { step($0) }
            if nextDeadline == deadline {
                Issue.record("the deadline did not move after a tick at \(deadline)")
                break
            }
            if !step.queries.isEmpty { times.append(Double(deadline.nanoseconds) / 1e9) }
            recorded.actions += step.actions
        }
        return times
    }

    @discardableResult
    mutating func hear(_ query: IGMPQuery = .v2(), from source: IPv4Address, to destination: IPv4Address = .allSystems,
                       at time: Double) -> Recorded {
        var recorded = Recorded()
        receiveQuery(query, from: source, to: destination, at: at(time)) { recorded($0) }
        return recorded
    }
}

/// The querier (RFC 3376 §6.1, §6.6.2, §8).
@Suite struct QuerierTests {
    @Test("startup: Startup Query Count queries at QI/4, then every QI (§8.6–8.7)",
          arguments: [(2, [0, 31.25, 156.25, 281.25]), (3, [0, 31.25, 62.5, 187.5])])
    func startup(robustness: Int, expected: [Double]) {
        var querier = makeQuerier(MembershipConfiguration(robustness: robustness))
        var recorded = Recorded()
        #expect(querier.nextDeadline == .zero)
        #expect(querier.run(until: expected.last! + 1, recorded: &recorded) == expected)
        #expect(recorded.destinations.allSatisfy { $0 == .allSystems })
        #expect(recorded.queries.allSatisfy { $0.isGeneral })
        #expect(recorded.count(.sentGeneralQuery) == expected.count)
    }

    @Test("general query encoding per version: v1 Max Resp 0, v2 tenths, v3 codes with QRV/QQIC")
    func encoding() {
        #expect(makeQuerier(MembershipConfiguration(queryVersion: .v1)).generalQuery == .v1())
        let v2 = makeQuerier(MembershipConfiguration(queryResponseInterval: .seconds(20), queryVersion: .v2)).generalQuery
        #expect(v2.version == .v2 && v2.maxRespCode == 200)
        let v3 = makeQuerier().generalQuery
        #expect(v3.version == .v3 && v3.qrv == 2 && !v3.sFlag)
        #expect(v3.maxRespCode == IGMPTimerCode.encode(100) && v3.maxResponseTenths == 100)
        #expect(v3.qqicCode == IGMPTimerCode.encode(125) && v3.queryIntervalSeconds == 125)
        // Beyond 127 the exponential form, rounded down (§4.1.1, §4.1.7).
        let long = makeQuerier(MembershipConfiguration(robustness: 8, queryInterval: .seconds(300),
                                                       queryResponseInterval: .seconds(25))).generalQuery
        #expect(long.maxRespCode == IGMPTimerCode.encode(250) && long.maxRespCode >= 0x80)
        #expect(long.maxResponseTenths == 248)
        #expect(long.qqicCode == IGMPTimerCode.encode(300) && long.queryIntervalSeconds == 288)
        #expect(long.qrv == 0)   // RV 8 does not fit: 0 (§4.1.6)
    }

    @Test("election: a query from a lower address silences us until OQPI passes, then we resume (§6.6.2)")
    func lowerWins() {
        var querier = makeQuerier()
        var recorded = Recorded()
        _ = querier.run(until: 1, recorded: &recorded)
        let lost = querier.hear(from: lowerRouter, at: 10)
        #expect(lost.count(.querierLost) == 1)
        #expect(lost.count(.olderVersionQuery) == 1)   // a v2 query heard by a v3 querier (§7.3.1)
        #expect(lost.querierChanges == [.nonQuerier(otherQuerier: lowerRouter, until: at(265))])
        #expect(!querier.isQuerier)
        #expect(querier.nextDeadline == at(265))   // OQPI = 2×125 + 10/2 = 255 s
        // Heard again at 100: the timer restarts, no new event. A group-specific
        // query's Max Resp (the querier's LMQI) does not shorten OQPI.
        #expect(querier.hear(.v3(group: group, maxResponseTenths: 10), from: lowerRouter, to: group, at: 100)
            .querierChanges.isEmpty)
        var quiet = Recorded()
        #expect(querier.run(until: 354.9, recorded: &quiet).isEmpty)
        // Silent for 255 s: querier again, a general query at once, then every QI.
        #expect(querier.run(until: 480, recorded: &quiet) == [355, 480])
        #expect(quiet.count(.querierResumed) == 1 && quiet.querierChanges == [.querier])
    }

    @Test("election: a query from a higher address is ignored")
    func higherIgnored() {
        var querier = makeQuerier()
        var recorded = Recorded()
        _ = querier.run(until: 1, recorded: &recorded)
        #expect(querier.hear(from: higherRouter, at: 10).count(.queryFromHigherAddress) == 1)
        #expect(querier.isQuerier)
        #expect(querier.run(until: 32, recorded: &recorded) == [31.25])
    }

    @Test("a unicast query, even from a lower address, never takes part in election (§9.1, FRR #1692)")
    func unicastIgnored() {
        var querier = makeQuerier()
        let recorded = querier.hear(from: lowerRouter, to: routerAddress, at: 10)
        #expect(recorded.count(.unicastQueryNotElected) == 1)
        #expect(querier.isQuerier && recorded.querierChanges.isEmpty)
    }

    @Test("a query from 0.0.0.0 (snooping switch) never takes part in election")
    func unspecifiedIgnored() {
        var querier = makeQuerier()
        #expect(querier.hear(from: .any, at: 10).count(.unspecifiedQueryNotElected) == 1)
        #expect(querier.isQuerier)
    }

    @Test("passive mode never queries, tracks the querier, and never resumes")
    func passive() {
        var querier = makeQuerier(MembershipConfiguration(passive: true))
        var recorded = Recorded()
        #expect(querier.status == .passive && querier.nextDeadline == nil)
        #expect(querier.run(until: 1000, recorded: &recorded).isEmpty)
        querier.hear(from: lowerRouter, at: 1000)
        #expect(querier.status == .nonQuerier(otherQuerier: lowerRouter, until: at(1255)))
        #expect(querier.run(until: 3000, recorded: &recorded).isEmpty)
        #expect(querier.status == .passive)
        #expect(recorded.count(.querierLost) == 0 && recorded.count(.querierResumed) == 0)
    }

    @Test("a non-querier adopts the querier's QRV and QQIC (§4.1.6–4.1.7) and drops them on resuming")
    func adoption() {
        var router = makeRouter()
        var recorded = Recorded()
        router.handle(.query(.v3(maxResponseTenths: 100, qrv: 3, queryIntervalSeconds: 60)), from: lowerRouter,
                      to: .allSystems, at: at(10)) { recorded($0) }
        #expect(recorded.count(.adoptedQuerierParameters) == 1)
        #expect(router.querier.robustness == 3 && router.querier.queryInterval == .seconds(60))
        #expect(router.querier.nextDeadline == at(10 + 185))   // OQPI = 3×60 + 5
        #expect(router.table.groupMembershipInterval == .seconds(190))   // GMI = 3×60 + 10
        router.handle(.v2Report(group: group), from: host, to: group, at: at(20)) { recorded($0) }
        #expect(router.snapshot(at: at(20)).groups.first?.groupTimerSeconds == 190)
        router.tick(at: at(195)) { recorded($0) }
        #expect(router.querier.isQuerier && router.querier.robustness == 2)
        #expect(router.table.groupMembershipInterval == .seconds(260))

        var fixed = makeRouter(MembershipConfiguration(adoptQuerierParameters: false))
        fixed.handle(.query(.v3(qrv: 3, queryIntervalSeconds: 60)), from: lowerRouter, to: .allSystems,
                     at: at(10)) { _ in }
        #expect(fixed.querier.robustness == 2 && fixed.table.groupMembershipInterval == .seconds(260))
    }

    @Test("a non-querier tracks reports, sends no Q(G), and follows the querier's Q(G) (§6.6.1)")
    func nonQuerierRouter() {
        var router = makeRouter()
        var recorded = Recorded()
        router.handle(.query(.v3()), from: lowerRouter, to: .allSystems, at: at(1)) { recorded($0) }
        #expect(!router.table.isQuerier)
        router.handle(.v2Report(group: group), from: host, to: group, at: at(2)) { recorded($0) }
        router.handle(.v2Leave(group: group), from: host, to: .allRouters, at: at(3)) { recorded($0) }
        #expect(recorded.queries.filter { !$0.isGeneral }.isEmpty)
        #expect(router.table.state(of: group) == GroupFilterState(mode: .exclude))
        // A unicast Q(G) changes no timer.
        router.handle(.query(.v3(group: group, maxResponseTenths: 10)), from: lowerRouter, to: routerAddress,
                      at: at(3.1)) { recorded($0) }
        #expect(router.snapshot(at: at(3.1)).groups.first?.groupTimerSeconds == 258.9)
        // The querier's Q(G), S clear, Max Resp 1 s: GT → 1 s × LMQC 2.
        router.handle(.query(.v3(group: group, maxResponseTenths: 10)), from: lowerRouter, to: group,
                      at: at(3.2)) { recorded($0) }
        #expect(router.snapshot(at: at(3.2)).groups.first?.groupTimerSeconds == 2)
        router.tick(at: at(5.2)) { recorded($0) }
        #expect(router.table.groupCount == 0)
        #expect(recorded.changes.last?.new == GroupFilterState.none)
    }

    @Test("the querier router sends Q(G) on a leave; becoming non-querier stops the retransmissions")
    func querierRouterLeave() {
        var router = makeRouter()
        var recorded = Recorded()
        router.tick(at: .zero) { recorded($0) }
        router.handle(.v2Report(group: group), from: host, to: group, at: at(1)) { recorded($0) }
        var leave = Recorded()
        router.handle(.v2Leave(group: group), from: host, to: .allRouters, at: at(2)) { leave($0) }
        #expect(leave.queries == [.v3(group: group, maxResponseTenths: 10)])
        router.handle(.query(.v3()), from: lowerRouter, to: .allSystems, at: at(2.5)) { recorded($0) }
        var after = Recorded()
        router.tick(at: at(3)) { after($0) }
        #expect(after.queries.isEmpty)
    }
}
