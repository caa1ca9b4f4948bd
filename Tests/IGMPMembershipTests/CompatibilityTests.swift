import IGMPMembership
import IGMPWire
import Testing
import XigmpTestSupport

/// Older-version hosts (RFC 3376 §7.3.2).
@Suite struct CompatibilityTests {
    @Test("a v2 report is IS_EX({}) and starts the v2-host-present timer")
    func v2Report() {
        var table = makeTable()
        let recorded = table.message(.v2Report(group: group), at: 0)
        #expect(recorded.changes == [MembershipChange(group: group, old: .none, new: GroupFilterState(mode: .exclude))])
        #expect(table.compatibilityMode(of: group, at: at(259)) == .v2)
        #expect(table.groupSnapshot(at: 0)?.groupTimerSeconds == 260)
    }

    @Test("a v1 report is IS_EX({}) and starts the v1-host-present timer")
    func v1Report() {
        var table = makeTable()
        table.message(.v2Report(group: group), at: 0)
        table.message(.v1Report(group: group), at: 1)
        #expect(table.compatibilityMode(of: group, at: at(2)) == .v1)
    }

    @Test("a v2 leave is TO_IN({}): Q(G) and the group timer lowered")
    func v2Leave() {
        var table = makeTable()
        table.message(.v2Report(group: group), at: 0)
        let leave = table.message(.v2Leave(group: group), at: 5)
        #expect(leave.queries == [.v3(group: group, maxResponseTenths: 10)])
        #expect(table.groupSnapshot(at: 5)?.groupTimerSeconds == 2)
    }

    @Test("with a v1 host present, v2 leaves and TO_IN are ignored")
    func v1HostIgnoresLeaves() {
        var table = makeTable()
        table.message(.v1Report(group: group), at: 0)
        let leave = table.message(.v2Leave(group: group), from: host2, at: 5)
        let toIn = table.record(.toInclude, [], from: host2, at: 6)
        #expect(leave.queries.isEmpty && toIn.queries.isEmpty)
        #expect(leave.count(.ignoredLeaveV1Host) == 1 && toIn.count(.ignoredLeaveV1Host) == 1)
        #expect(table.groupSnapshot(at: 6)?.groupTimerSeconds == 254)
    }

    @Test("with an older host present, BLOCK is ignored and TO_EX's sources too",
          arguments: [IGMPMessage.v1Report(group: group), .v2Report(group: group)])
    func olderHostTranslations(_ report: IGMPMessage) {
        var table = makeTable()
        table.message(report, at: 0)
        let block = table.record(.blockOldSources, [1], at: 1)
        #expect(block.count(.ignoredBlockOlderHost) == 1)
        #expect(table.state(of: group) == GroupFilterState(mode: .exclude))
        let toEx = table.record(.toExclude, [1, 2], at: 2)
        #expect(toEx.count(.ignoredToExcludeSources) == 1)
        #expect(table.state(of: group) == GroupFilterState(mode: .exclude))   // TO_EX({}): nothing excluded
        #expect(table.groupSnapshot(at: 2)?.groupTimerSeconds == 260)
        #expect(toEx.queries.isEmpty)
    }

    @Test("with a v2 host present, TO_IN is still honoured")
    func v2HostTakesToInclude() {
        var table = makeTable()
        table.message(.v2Report(group: group), at: 0)
        #expect(table.record(.toInclude, [], at: 1).queries == [.v3(group: group, maxResponseTenths: 10)])
    }

    @Test("the compatibility mode returns to v3 after the Older Host Present Interval (§8.13)")
    func compatibilityExpires() {
        var table = makeTable()
        table.message(.v2Report(group: group), at: 0)
        table.record(.isExclude, [], from: host2, at: 200)        // a v3 host keeps the group
        #expect(table.compatibilityMode(of: group, at: at(259.9)) == .v2)
        #expect(table.compatibilityMode(of: group, at: at(260)) == .v3)
        let block = table.record(.blockOldSources, [1], at: 261)
        #expect(block.count(.ignoredBlockOlderHost) == 0)
        #expect(block.queries.count == 1)   // EXCLUDE BLOCK({1}): Q(G,{1}) with 1 = Group Timer
    }

    @Test("query version v2: Q(G) as a v2 query; Q(G,S) cannot be sent and lowers nothing")
    func queryVersionTwo() {
        var table = makeTable(MembershipConfiguration(queryVersion: .v2))
        table.message(.v2Report(group: group), at: 0)
        #expect(table.message(.v2Leave(group: group), at: 1).queries == [.v2(group: group, maxResponseTenths: 10)])
        table.record(.isInclude, [1], group: group2, at: 1)
        let block = table.record(.blockOldSources, [1], group: group2, at: 2)
        #expect(block.queries.filter { $0.group == group2 }.isEmpty && block.count(.skippedQueryVersion) == 1)
        #expect(table.timers(group2, at: 2) == [1: 259])
    }

    @Test("query version v1: no group-specific queries, the leave waits for GMI")
    func queryVersionOne() {
        var table = makeTable(MembershipConfiguration(queryVersion: .v1))
        table.message(.v2Report(group: group), at: 0)
        let leave = table.message(.v2Leave(group: group), at: 1)
        #expect(leave.queries.isEmpty && leave.count(.skippedQueryVersion) == 1)
        #expect(table.groupSnapshot(at: 1)?.groupTimerSeconds == 259)
    }
}
