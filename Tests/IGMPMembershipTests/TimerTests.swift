import Foundation
import IGMPMembership
import IGMPWire
import Testing
import XigmpTestSupport

/// Timers (RFC 3376 §6.5, §8) and the query sequences of §6.6.3.
@Suite struct TimerTests {
    @Test("derived intervals: GMI = RV×QI+QRI, OQPI = RV×QI+QRI/2, LMQT = LMQI×LMQC, SQI = QI/4 (§8)")
    func derivedIntervals() {
        let defaults = MembershipConfiguration()
        #expect(defaults.groupMembershipInterval == .seconds(260))
        #expect(defaults.otherQuerierPresentInterval == .seconds(255))
        #expect(defaults.lastMemberQueryTime == .seconds(2))
        #expect(defaults.effectiveStartupQueryInterval == .milliseconds(31250))
        #expect(defaults.effectiveStartupQueryCount == 2)
        let tuned = MembershipConfiguration(robustness: 3, queryInterval: .seconds(60),
                                            queryResponseInterval: .seconds(5),
                                            lastMemberQueryInterval: .milliseconds(500))
        #expect(tuned.groupMembershipInterval == .seconds(185))
        #expect(tuned.otherQuerierPresentInterval == .milliseconds(182_500))
        #expect(tuned.lastMemberQueryTime == .milliseconds(1500))
        #expect(tuned.effectiveLastMemberQueryCount == 3)
        var table = makeTable(tuned)
        table.record(.isExclude, [], at: 0)
        #expect(table.groupSnapshot(at: 0)?.groupTimerSeconds == 185)
        #expect(table.groupMembershipInterval == .seconds(185))
    }

    @Test("configurations RFC 3376 §8 forbids are refused")
    func validation() {
        let bad = [
            MembershipConfiguration(robustness: 0),
            MembershipConfiguration(queryInterval: .seconds(10), queryResponseInterval: .seconds(10)),
            MembershipConfiguration(queryResponseInterval: .seconds(30), queryVersion: .v2),
            MembershipConfiguration(lastMemberQueryInterval: .milliseconds(50)),
            MembershipConfiguration(limits: MembershipLimits(maxSourcesPerRecord: 0)),
            MembershipConfiguration(limits: MembershipLimits(maxSourcesPerGroup: 400)),
        ]
        for configuration in bad {
            #expect(throws: MembershipConfigurationError.self) { try configuration.validate() }
        }
        #expect(throws: Never.self) { try MembershipConfiguration().validate() }
    }

    @Test("EXCLUDE group timer expiry → INCLUDE with the running sources; excluded ones deleted (§6.5)")
    func groupTimerToInclude() {
        var table = makeTable()
        table.record(.isExclude, [2], at: 0)            // EXCLUDE({},{2}), GT 260
        table.record(.allowNewSources, [1], at: 100)    // EXCLUDE({1},{2}), 1 expires at 360
        #expect(table.nextDeadline == at(260))
        #expect(table.advance(to: 259.999).actions.isEmpty)
        let switched = table.advance(to: 260)
        #expect(switched.changes == [MembershipChange(group: group, old: GroupFilterState(mode: .exclude, sources: [s(2)]),
                                                      new: GroupFilterState(mode: .include, sources: [s(1)]))])
        #expect(switched.count(.groupToInclude) == 1)
        #expect(table.groupSnapshot(at: 260)?.groupTimerSeconds == nil)
        #expect(table.timers(at: 260) == [1: 100])
        // INCLUDE source timer expiry: removed, and with it the group (§6.3).
        let gone = table.advance(to: 360)
        #expect(gone.count(.sourceExpired) == 1)
        #expect(gone.count(.groupDeleted) == 1)
        #expect(gone.changes == [MembershipChange(group: group, old: GroupFilterState(mode: .include, sources: [s(1)]),
                                                  new: .none)])
        #expect(table.groupCount == 0)
    }

    @Test("EXCLUDE group timer expiry with no running source deletes the group (§6.5)")
    func groupTimerDeletes() {
        var table = makeTable()
        table.record(.isExclude, [1, 2], at: 0)
        let expired = table.advance(to: 260)
        #expect(expired.count(.groupDeleted) == 1)
        #expect(expired.count(.groupToInclude) == 0)
        #expect(expired.changes.map(\.new) == [.none])
    }

    @Test("EXCLUDE source timer expiry moves the source to the excluded list, kept (§6.3)")
    func excludeSourceExpiry() {
        var table = makeTable()
        table.record(.isExclude, [], at: 0)
        table.record(.allowNewSources, [1], at: 0)
        table.record(.isExclude, [1], at: 100)   // EXCLUDE({1},{}): 1 keeps its timer (260), GT → 360
        let expired = table.advance(to: 260)
        #expect(expired.count(.sourceExpired) == 1)
        #expect(expired.changes == [MembershipChange(group: group, old: GroupFilterState(mode: .exclude),
                                                     new: GroupFilterState(mode: .exclude, sources: [s(1)]))])
        #expect(table.timers(at: 260) == [1: 0])
        #expect(table.groupSnapshot(at: 260)?.sources.first?.forwarding == false)
        #expect(table.nextDeadline == at(360))
    }

    @Test("late tick processes events in time order")
    func lateTick() {
        var table = makeTable()
        table.record(.isExclude, [2], at: 0)
        table.record(.allowNewSources, [1], at: 100)
        let late = table.advance(to: 1000)   // GT at 260 → INCLUDE({1}); 1 at 360 → deleted
        #expect(late.changes.map(\.new) == [.none])
        #expect(late.count(.groupToInclude) == 1)
        #expect(table.groupCount == 0)
    }

    @Test("last member queries on a v2 leave: LMQC Q(G) at LMQI, GT lowered to LMQT (§6.6.3.1)",
          arguments: [(2, 1.0), (3, 0.5), (1, 2.0)])
    func lastMemberQueries(count: Int, interval: Double) {
        let configuration = MembershipConfiguration(lastMemberQueryInterval: .milliseconds(Int64(interval * 1000)),
                                                    lastMemberQueryCount: count)
        var table = makeTable(configuration)
        table.message(.v2Report(group: group), at: 0)
        var recorded = table.message(.v2Leave(group: group), from: host, at: 10)
        let lmqt = Double(count) * interval
        #expect(table.groupSnapshot(at: 10)?.groupTimerSeconds == lmqt)
        var sendTimes = recorded.queries.isEmpty ? [] : [10.0]
        var time = 10.0
        var steps = 0
        while let deadline = table.nextDeadline {
            steps += 1
            if Double(deadline.nanoseconds) / 1e9 > 1000 || steps > 100 {
                Issue.record("the group outlived its last member queries")
                break
            }
            time = Double(deadline.nanoseconds) / 1e9
            let step = table.advance(to: time)
            recorded.actions += step.actions
            if !step.queries.isEmpty { sendTimes.append(time) }
        }
        let tenths = UInt32(interval * 10)
        #expect(recorded.queries == Array(repeating: .v3(group: group, maxResponseTenths: tenths), count: count))
        #expect(recorded.destinations == Array(repeating: group, count: count))
        #expect(sendTimes == (0..<count).map { 10 + Double($0) * interval })
        #expect(time == 10 + lmqt)   // the group went at exactly LMQT
        #expect(recorded.changes.map(\.new) == [.none])
        #expect(table.groupCount == 0)
    }

    @Test("a report during last member queries keeps the group; retransmissions carry S (§6.6.3.1)")
    func reportDuringLastMemberQueries() {
        var table = makeTable()
        table.message(.v2Report(group: group), at: 0)
        table.message(.v2Leave(group: group), at: 10)
        table.message(.v2Report(group: group), from: host2, at: 10.5)
        let retransmission = table.advance(to: 11)
        #expect(retransmission.queries == [.v3(group: group, maxResponseTenths: 10, sFlag: true)])
        #expect(table.advance(to: 12).changes.isEmpty)
        #expect(table.groupSnapshot(at: 12)?.groupTimerSeconds == 258.5)
    }

    @Test("Q(G,S) on BLOCK: LMQC queries at LMQI, source timer lowered to LMQT, then gone (§6.6.3.2)")
    func sourceQuerySequence() {
        var table = makeTable()
        table.record(.isInclude, [1, 2], at: 0)
        let block = table.record(.blockOldSources, [1], at: 10)
        #expect(block.queries == [.v3(group: group, sources: [s(1)], maxResponseTenths: 10)])
        #expect(table.timers(at: 10) == [1: 2, 2: 250])
        #expect(table.nextDeadline == at(11))
        #expect(table.advance(to: 11).queries == [.v3(group: group, sources: [s(1)], maxResponseTenths: 10)])
        let expiry = table.advance(to: 12)
        #expect(expiry.queries.isEmpty)
        #expect(expiry.changes == [MembershipChange(group: group, old: GroupFilterState(mode: .include, sources: sources([1, 2])),
                                                    new: GroupFilterState(mode: .include, sources: [s(2)]))])
    }

    @Test("a source refreshed during Q(G,S) goes into the S-set message; the rest S-clear (§6.6.3.2)")
    func sourceQuerySplit() {
        var table = makeTable()
        table.record(.isInclude, [1, 2, 3], at: 0)
        table.record(.blockOldSources, [1, 2], at: 10)
        table.record(.allowNewSources, [2], from: host2, at: 10.5)
        let retransmission = table.advance(to: 11)
        #expect(retransmission.queries == [
            .v3(group: group, sources: [s(2)], maxResponseTenths: 10, sFlag: true),
            .v3(group: group, sources: [s(1)], maxResponseTenths: 10, sFlag: false),
        ])
        table.advance(to: 12)
        #expect(table.state(of: group) == GroupFilterState(mode: .include, sources: sources([2, 3])))
    }

    @Test("a query heard with S clear lowers timers; with S set it does not (§6.6.1)")
    func heardQueriesLowerTimers() {
        var table = makeTable(querier: false)
        table.record(.isExclude, [], at: 0)
        table.record(.allowNewSources, [1, 2], at: 0)
        var recorded = Recorded()
        table.receiveQuery(group: group, sources: [s(1)], sFlag: true, maxResponseTenths: 10, at: at(5)) { recorded($0) }
        #expect(table.timers(at: 5) == [1: 255, 2: 255])
        table.receiveQuery(group: group, sources: [s(1)], sFlag: false, maxResponseTenths: 10, at: at(5)) { recorded($0) }
        #expect(table.timers(at: 5) == [1: 2, 2: 255])
        // Q(G) from the querier with Max Resp 0.5 s: GT lowered to 0.5 × LMQC.
        table.receiveQuery(group: group, sources: [IPv4Address](), sFlag: false, maxResponseTenths: 5, at: at(5)) { recorded($0) }
        #expect(table.groupSnapshot(at: 5)?.groupTimerSeconds == 1)
        #expect(recorded.count(.timersLoweredByQuery) == 2)
        #expect(recorded.queries.isEmpty)
        // GT at 6 → INCLUDE({1,2}); 1 at 7 → removed.
        table.advance(to: 7)
        #expect(table.state(of: group) == GroupFilterState(mode: .include, sources: [s(2)]))
    }

    @Test("losing the querier role cancels pending retransmissions")
    func cancelOnLosingQuerier() {
        var table = makeTable()
        table.message(.v2Report(group: group), at: 0)
        #expect(table.message(.v2Leave(group: group), at: 10).queries.count == 1)
        table.setQuerier(false)
        #expect(table.advance(to: 11).queries.isEmpty)
        #expect(table.advance(to: 12).count(.groupDeleted) == 1)   // the lowered timer stays
    }

    @Test("snapshot: modes, timers in seconds, compatibility, last reporter; JSON round trip")
    func snapshot() throws {
        var table = makeTable()
        table.message(.v2Report(group: group2), from: host2, at: 0)
        table.record(.isExclude, [3], at: 1)
        table.record(.allowNewSources, [1], at: 2)
        let snapshot = table.snapshot(at: at(12))
        #expect(snapshot.groups.map(\.group) == [group, group2])
        let first = snapshot.groups[0]
        #expect(first.filterMode == .exclude)
        #expect(first.groupTimerSeconds == 249)
        #expect(first.sources == [SourceSnapshot(address: s(1), timerSeconds: 250, forwarding: true),
                                  SourceSnapshot(address: s(3), timerSeconds: 0, forwarding: false)])
        #expect(first.compatibilityMode == "v3")
        #expect(first.lastReporter == host)
        #expect(snapshot.groups[1].compatibilityMode == "v2")
        #expect(snapshot.groups[1].lastReporter == host2)
        let json = try JSONEncoder().encode(snapshot)
        #expect(try JSONDecoder().decode(MembershipSnapshot.self, from: json) == snapshot)
        let text = String(decoding: json, as: UTF8.self)
        #expect(text.contains("\"239.1.1.1\"") && text.contains("\"exclude\""))
    }
}

