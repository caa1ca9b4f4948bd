import IGMPMembership
import IGMPWire
import Testing
import XigmpTestSupport

private let macA = MACAddress(rawValue: 0x02_00_00_00_00_0a)
private let macB = MACAddress(rawValue: 0x02_00_00_00_00_0b)
private let macC = MACAddress(rawValue: 0x02_00_00_00_00_0c)
private let host3 = ip("192.168.1.12")

private func fastLeaveTable(olderHosts: Bool = false, maxHosts: Int = 256,
                            queryVersion: IGMPVersion = .v3) -> MembershipTable {
    makeTable(MembershipConfiguration(queryVersion: queryVersion, limits: MembershipLimits(maxHostsPerGroup: maxHosts),
                                      fastLeave: true, fastLeaveOlderHosts: olderHosts))
}

extension MembershipTable {
    /// One record from `reporter` with its MAC.
    @discardableResult
    fileprivate mutating func record(_ type: GroupRecordType, _ numbers: [UInt8], from reporter: IPv4Address,
                                     mac: MACAddress?, at time: Double) -> Recorded {
        var recorded = Recorded()
        receiveRecord(type, group: group, sources: sources(numbers), from: reporter, mac: mac, at: at(time)) { recorded($0) }
        return recorded
    }

    @discardableResult
    fileprivate mutating func message(_ message: IGMPMessage, from reporter: IPv4Address, mac: MACAddress?,
                                      at time: Double) -> Recorded {
        var recorded = Recorded()
        handle(message, from: reporter, mac: mac, at: at(time)) { recorded($0) }
        return recorded
    }
}

/// Explicit host tracking and fast leave: no other host's viewing is ever cut.
@Suite struct HostTrackingTests {
    @Test("each reporting host is tracked with its MAC, mode, sources and its own timer")
    func tracksHosts() {
        var table = makeTable()
        table.record(.isExclude, [], from: host, mac: macA, at: 0)
        table.record(.isInclude, [3, 1], from: host2, mac: macB, at: 10)
        let hosts = table.groupSnapshot(at: 20)?.hosts ?? []
        #expect(hosts.map(\.address) == [host, host2])
        #expect(hosts.map(\.mac) == ["02:00:00:00:00:0a", "02:00:00:00:00:0b"])
        #expect(hosts.map(\.filterMode) == [.exclude, .include])
        #expect(hosts[1].sources == sources([1, 3]))
        #expect(hosts[0].timerSeconds == 240 && hosts[1].timerSeconds == 250)  // GMI 260 s from each report
        #expect(table.trackedHostCount == 2)
        // A host's record expires on its own timer; the group lives on for the other.
        table.record(.isInclude, [1], from: host2, mac: macB, at: 250)
        #expect(table.groupSnapshot(at: 261)?.hosts.map(\.address) == [host2])
    }

    @Test("ALLOW and BLOCK edit the host's own list; a host's TO_IN({}) removes it")
    func hostListEdits() {
        var table = makeTable()
        table.record(.allowNewSources, [1, 2], from: host, mac: macA, at: 0)
        table.record(.blockOldSources, [1], from: host, mac: macA, at: 1)
        #expect(table.groupSnapshot(at: 1)?.hosts.first?.sources == sources([2]))
        table.record(.toExclude, [5], from: host, mac: macA, at: 2)
        table.record(.allowNewSources, [5], from: host, mac: macA, at: 3)
        #expect(table.groupSnapshot(at: 3)?.hosts.first?.filterMode == .exclude)
        #expect(table.groupSnapshot(at: 3)?.hosts.first?.sources == [])
        table.record(.toInclude, [], from: host, mac: macA, at: 4)
        #expect(table.groupSnapshot(at: 4)?.hosts == [])
    }

    @Test("hosts behind one address are one host")
    func oneAddressOneHost() {
        var table = makeTable()
        table.record(.isExclude, [], from: host, mac: macA, at: 0)
        table.record(.isExclude, [], from: host, mac: macA, at: 1)
        #expect(table.groupSnapshot(at: 1)?.hosts.count == 1)
    }

    @Test("maxHostsPerGroup caps tracking; the report still counts for the group")
    func hostLimit() {
        var table = fastLeaveTable(maxHosts: 2)
        table.record(.isExclude, [], from: host, mac: macA, at: 0)
        table.record(.isExclude, [], from: host2, mac: macB, at: 0)
        let third = table.record(.isExclude, [], from: host3, mac: macC, at: 0)
        #expect(third.count(.untrackedHostLimit) == 1)
        #expect(third.count(.recordApplied) == 1)
        let snapshot = table.groupSnapshot(at: 0)
        #expect(snapshot?.hosts.count == 2 && snapshot?.hostsUntracked == true)
        // With a host untracked, a leave of both tracked hosts must not cut the
        // third: the RFC's last-member queries run instead.
        table.record(.toInclude, [], from: host, mac: macA, at: 11)
        let leave = table.record(.toInclude, [], from: host2, mac: macB, at: 11)
        #expect(leave.count(.fastLeave) == 0)
        #expect(leave.queries.count == 1)
        #expect(table.state(of: group).mode == .exclude)
    }
}

@Suite struct FastLeaveTests {
    @Test("the last tracked host leaving ends the group at once, with no query")
    func lastHostLeaves() {
        var table = fastLeaveTable()
        table.record(.isExclude, [], from: host, mac: macA, at: 0)
        let leave = table.record(.toInclude, [], from: host, mac: macA, at: 11)
        #expect(leave.queries.isEmpty)
        #expect(leave.count(.fastLeave) == 1)
        #expect(leave.changes == [MembershipChange(group: group, old: GroupFilterState(mode: .exclude), new: .none)])
        #expect(table.groupCount == 0)
    }

    @Test("a leave while another tracked host watches changes nothing and sends nothing")
    func otherHostKeepsWatching() {
        var table = fastLeaveTable()
        table.record(.isExclude, [], from: host, mac: macA, at: 0)
        table.record(.isExclude, [], from: host2, mac: macB, at: 5)
        let leave = table.record(.toInclude, [], from: host, mac: macA, at: 11)
        #expect(leave.queries.isEmpty && leave.changes.isEmpty)
        #expect(table.state(of: group) == GroupFilterState(mode: .exclude))
        // The group timer stays the watching host's, not the leave's LMQT.
        #expect(table.groupSnapshot(at: 11)?.groupTimerSeconds == 254)
        let last = table.record(.toInclude, [], from: host2, mac: macB, at: 12)
        #expect(last.count(.fastLeave) == 1 && table.groupCount == 0)
    }

    @Test("a spoofed leave from a third address changes nothing")
    func spoofedThirdAddress() {
        var table = fastLeaveTable()
        table.record(.isExclude, [], from: host, mac: macA, at: 0)
        let spoof = table.record(.toInclude, [], from: host3, mac: macC, at: 11)
        #expect(spoof.queries.isEmpty && spoof.changes.isEmpty && spoof.count(.fastLeave) == 0)
        #expect(table.state(of: group).mode == .exclude)
        #expect(table.groupSnapshot(at: 11)?.groupTimerSeconds == 249)
    }

    @Test("a leave naming a tracked host from another MAC keeps its record; the RFC's queries run")
    func spoofedMAC() {
        var table = fastLeaveTable()
        table.record(.isExclude, [], from: host, mac: macA, at: 0)
        let spoof = table.record(.toInclude, [], from: host, mac: macC, at: 11)
        #expect(spoof.count(.leaveMACMismatch) == 1 && spoof.count(.fastLeave) == 0)
        #expect(spoof.queries.count == 1)  // Q(G): the real host answers it
        #expect(table.state(of: group).mode == .exclude)
        #expect(table.groupSnapshot(at: 11)?.hosts.map(\.address) == [host])
    }

    @Test("per source: the last host of a source leaving cuts only that source")
    func perSource() {
        var table = fastLeaveTable()
        table.record(.isInclude, [1, 2], from: host, mac: macA, at: 0)
        table.record(.isInclude, [2], from: host2, mac: macB, at: 0)
        let block = table.record(.blockOldSources, [1, 2], from: host, mac: macA, at: 10)
        #expect(block.queries.isEmpty)
        #expect(table.state(of: group) == GroupFilterState(mode: .include, sources: sources([2])))
        // Source 2 keeps host2's timer, not the query's lowered one.
        #expect(table.timers(at: 10) == [2: 250])
        #expect(block.count(.fastLeave) == 1)
    }

    @Test("the last EXCLUDE host leaving leaves INCLUDE with what INCLUDE hosts ask for")
    func excludeToInclude() {
        var table = fastLeaveTable()
        table.record(.isExclude, [], from: host, mac: macA, at: 0)
        table.record(.isInclude, [4], from: host2, mac: macB, at: 0)
        let leave = table.record(.toInclude, [], from: host, mac: macA, at: 10)
        #expect(leave.queries.isEmpty)
        #expect(table.state(of: group) == GroupFilterState(mode: .include, sources: sources([4])))
    }

    @Test("off by default: a leave sends the RFC's group-specific queries")
    func offByDefault() {
        var table = makeTable()
        table.record(.isExclude, [], from: host, mac: macA, at: 0)
        let leave = table.record(.toInclude, [], from: host, mac: macA, at: 11)
        #expect(leave.queries.count == 1 && leave.count(.fastLeave) == 0)
        #expect(table.groupCount == 1)
    }

    @Test("IGMPv2 hosts: fast leave only where hosts do not hear each other's reports")
    func olderHosts() {
        var shared = fastLeaveTable(queryVersion: .v2)
        shared.message(.v2Report(group: group), from: host, mac: macA, at: 0)
        let leave = shared.message(.v2Leave(group: group), from: host, mac: macA, at: 11)
        #expect(leave.count(.fastLeave) == 0 && leave.queries.count == 1)

        var isolated = fastLeaveTable(olderHosts: true, queryVersion: .v2)
        isolated.message(.v2Report(group: group), from: host, mac: macA, at: 0)
        let fast = isolated.message(.v2Leave(group: group), from: host, mac: macA, at: 11)
        #expect(fast.count(.fastLeave) == 1 && fast.queries.isEmpty)
        #expect(isolated.groupCount == 0)
    }

    @Test("in IGMPv2 compatibility mode a BLOCK is ignored, fast leave or not (RFC 3376 §7.3.2)")
    func blockIgnoredInV2Mode() {
        var table = fastLeaveTable(olderHosts: true)
        table.message(.v2Report(group: group), from: host, mac: macA, at: 0)
        let block = table.record(.blockOldSources, [1], from: host2, mac: macB, at: 1)
        #expect(block.count(.ignoredBlockOlderHost) == 1 && block.count(.fastLeave) == 0)
        #expect(table.state(of: group).mode == .exclude)
    }

    @Test("before the first query round is answered fast leave waits (hosts may not have reported)")
    func armedAfterStartup() throws {
        var router = try MembershipRouter(
            configuration: MembershipConfiguration(fastLeave: true), address: routerAddress, startingAt: at(0))
        var recorded = Recorded()
        router.handle(IGMPMessage.v3Report([GroupRecord(type: .toExclude, group: group)]),
                      from: host, mac: macA, to: ip("224.0.0.22"), at: at(1)) { recorded($0) }
        recorded = Recorded()
        router.handle(IGMPMessage.v3Report([GroupRecord(type: .toInclude, group: group)]),
                      from: host, mac: macA, to: ip("224.0.0.22"), at: at(2)) { recorded($0) }
        #expect(recorded.count(.fastLeave) == 0)  // within the startup query's 10 s response interval
        router.handle(IGMPMessage.v3Report([GroupRecord(type: .toExclude, group: group)]),
                      from: host, mac: macA, to: ip("224.0.0.22"), at: at(12)) { _ in }
        recorded = Recorded()
        router.handle(IGMPMessage.v3Report([GroupRecord(type: .toInclude, group: group)]),
                      from: host, mac: macA, to: ip("224.0.0.22"), at: at(13)) { recorded($0) }
        #expect(recorded.count(.fastLeave) == 1)
    }
}
