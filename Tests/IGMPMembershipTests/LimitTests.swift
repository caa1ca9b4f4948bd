import IGMPMembership
import IGMPWire
import Testing
import XigmpTestSupport

/// Abuse limits (RFC 3376 §9; FreeBSD's 64 sources, 16 queries), each counted.
@Suite struct LimitTests {
    @Test("a record with more than maxSourcesPerRecord sources is dropped whole")
    func sourcesPerRecord() {
        var table = makeTable()
        let recorded = table.record(.isInclude, Array(1...65), at: 0)
        #expect(recorded.count(.droppedTooManySources) == 1)
        #expect(table.groupCount == 0)
        #expect(table.record(.isInclude, Array(1...64), at: 0).count(.recordApplied) == 1)
        #expect(table.groupSnapshot(at: 0)?.sources.count == 64)
    }

    @Test("a group holds at most maxSourcesPerGroup source records")
    func sourcesPerGroup() {
        var table = makeTable(MembershipConfiguration(limits: MembershipLimits(maxSourcesPerGroup: 3)))
        let recorded = table.record(.allowNewSources, [1, 2, 3, 4, 5], at: 0)
        #expect(recorded.count(.droppedSourceLimit) == 2)
        #expect(table.state(of: group).sources == sources([1, 2, 3]))
        // Refreshing recorded sources is not limited.
        #expect(table.record(.isInclude, [1, 2, 3], at: 1).count(.droppedSourceLimit) == 0)
    }

    @Test("the table holds at most maxGroups groups; refreshes still pass")
    func groupsPerTable() {
        var table = makeTable(MembershipConfiguration(limits: MembershipLimits(maxGroups: 2)))
        table.message(.v2Report(group: ip("239.0.0.1")), from: host, at: 0)
        table.message(.v2Report(group: ip("239.0.0.2")), from: host2, at: 0)
        let third = table.message(.v2Report(group: ip("239.0.0.3")), from: ip("192.168.1.12"), at: 0)
        #expect(third.count(.droppedGroupLimit) == 1)
        #expect(table.groupCount == 2)
        #expect(table.message(.v2Report(group: ip("239.0.0.1")), from: host2, at: 1).count(.droppedGroupLimit) == 0)
        // A group that goes frees its slot.
        table.advance(to: 260)
        #expect(table.groupCount == 1)
        #expect(table.message(.v2Report(group: ip("239.0.0.3")), at: 261).count(.droppedGroupLimit) == 0)
    }

    @Test("one host holds at most maxGroupsPerHost groups; other hosts are unaffected")
    func groupsPerHost() {
        var table = makeTable(MembershipConfiguration(limits: MembershipLimits(maxGroupsPerHost: 2)))
        var dropped = 0
        for last in 1...5 as ClosedRange<UInt8> {
            dropped += table.message(.v2Report(group: IPv4Address(239, 9, 0, last)), from: host, at: 0)
                .count(.droppedHostGroupLimit)
        }
        #expect(dropped == 3)
        #expect(table.groupCount == 2)
        #expect(table.message(.v2Report(group: ip("239.9.0.3")), from: host2, at: 1).count(.droppedHostGroupLimit) == 0)
        // The flooding host still refreshes what it holds.
        let refresh = table.message(.v2Report(group: ip("239.9.0.1")), from: host, at: 2)
        #expect(refresh.count(.recordApplied) == 1 && refresh.count(.droppedHostGroupLimit) == 0)
        // A group taken over by another reporter frees the first host's slot.
        table.message(.v2Report(group: ip("239.9.0.2")), from: host2, at: 3)
        #expect(table.groupSnapshot(ip("239.9.0.2"), at: 3)?.lastReporter == host2)
        #expect(table.message(.v2Report(group: ip("239.9.0.4")), from: host, at: 4).count(.droppedHostGroupLimit) == 0)
    }

    @Test("at most maxSuccessiveSourceQueries Q(G,S) actions per group per Query Interval")
    func successiveSourceQueries() {
        var table = makeTable(MembershipConfiguration(limits: MembershipLimits(maxSuccessiveSourceQueries: 2)))
        table.record(.isInclude, [1, 2, 3, 4], at: 0)
        #expect(table.record(.blockOldSources, [1], at: 1).queries.count == 1)
        #expect(table.record(.blockOldSources, [2], at: 1.1).queries.count == 1)
        let third = table.record(.blockOldSources, [3], at: 1.2)
        #expect(third.queries.isEmpty && third.count(.droppedSourceQueryLimit) == 1)
        #expect(table.timers(at: 1.2)[3] == 258.8)   // not lowered
        #expect(table.advance(to: 3.1).queries.count == 1)   // the retransmission of Q(G,{2}) at 2.1
        // A new Query Interval window.
        let fourth = table.record(.blockOldSources, [4], at: 126)
        #expect(fourth.queries.count == 1, "\(fourth.queries)")
    }

    @Test("reports for non-multicast and 224.0.0.x groups are dropped")
    func invalidGroups() {
        var table = makeTable()
        #expect(table.message(.v2Report(group: ip("10.0.0.1")), at: 0).count(.droppedInvalidGroup) == 1)
        #expect(table.message(.v2Report(group: ip("224.0.0.251")), at: 0).count(.droppedLinkLocalGroup) == 1)
        #expect(table.groupCount == 0)
    }
}
