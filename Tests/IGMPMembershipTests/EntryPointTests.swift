import IGMPMembership
import IGMPWire
import Testing
import XigmpTestSupport

/// The in-place entry points (IGMPMessageView, as the daemon feeds them) agree
/// with the owned ones, record by record.
@Suite struct EntryPointTests {
    static let messages: [IGMPMessage] = [
        .v3Report([
            GroupRecord(type: .isInclude, group: group, sources: sources([1, 2])),
            GroupRecord(type: .toExclude, group: group2, sources: sources([3])),
        ]),
        .v3Report([GroupRecord(type: .blockOldSources, group: group, sources: sources([2]))]),
        .v2Report(group: ip("239.3.3.3")),
        .v1Report(group: ip("239.4.4.4")),
        .v2Leave(group: ip("239.3.3.3")),
        .query(.v3(group: group2, sources: sources([3]), maxResponseTenths: 10)),
        .v3Report([GroupRecord(type: .toInclude, group: group2)]),
    ]

    @Test("MembershipTable: view and owned entry points emit the same actions and reach the same state")
    func tableEquivalence() throws {
        var viewed = makeTable()
        var owned = makeTable()
        for (index, message) in Self.messages.enumerated() {
            let time = at(Double(index))
            var fromView = Recorded()
            var fromOwned = Recorded()
            let bytes = try IGMPEncoder.encode(message)
            try bytes.withUnsafeBytes { buffer in
                let view = try IGMPMessageView(buffer)
                viewed.handle(view, from: host, at: time) { fromView($0) }
            }
            owned.handle(message, from: host, at: time) { fromOwned($0) }
            #expect(fromView.actions == fromOwned.actions, "message \(index)")
        }
        #expect(viewed.snapshot(at: at(10)) == owned.snapshot(at: at(10)))
        #expect(viewed.groupCount == 3)   // 239.3.3.3 left (v2 leave, LMQT 2 s)
    }

    @Test("MembershipRouter: a query read in place elects; a report read in place is tracked")
    func routerView() throws {
        var router = makeRouter()
        var recorded = Recorded()
        let query = try IGMPEncoder.encode(.query(.v3()))
        try query.withUnsafeBytes { buffer in
            router.handle(try IGMPMessageView(buffer), from: lowerRouter, to: .allSystems, at: at(1)) { recorded($0) }
        }
        #expect(!router.querier.isQuerier && !router.table.isQuerier)
        let report = try IGMPEncoder.encode(.v3Report([GroupRecord(type: .toExclude, group: group)]))
        try report.withUnsafeBytes { buffer in
            router.handle(try IGMPMessageView(buffer), from: host, to: .igmpv3Routers, at: at(2)) { recorded($0) }
        }
        #expect(router.table.state(of: group) == GroupFilterState(mode: .exclude))
        #expect(router.nextDeadline == at(1 + 255))
    }
}
