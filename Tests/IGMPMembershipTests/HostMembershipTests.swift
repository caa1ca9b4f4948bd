import IGMPMembership
import IGMPWire
import Testing
import XigmpTestSupport

/// A host-side engine driven through a timeline, recording what it sends.
private struct Host {
    var engine = HostMembership(robustness: 2, unsolicitedReportInterval: .seconds(1), seed: 7)
    var sent: [(at: Double, message: IGMPMessage, destination: IPv4Address)] = []
    var clock = 0.0

    mutating func set(_ g: IPv4Address, _ state: GroupFilterState, at t: Double) {
        clock = t
        var out: [HostAction] = []
        engine.setState(of: g, to: state, at: at(t)) { out.append($0) }
        record(out, t)
    }

    mutating func query(_ q: IGMPQuery, at t: Double) {
        clock = t
        var out: [HostAction] = []
        engine.receiveQuery(q, at: at(t)) { out.append($0) }
        record(out, t)
    }

    /// Ticks at every deadline up to `t`.
    mutating func run(until t: Double) {
        while let next = engine.nextDeadline, Double(next.nanoseconds) / 1e9 <= t {
            let now = Double(next.nanoseconds) / 1e9
            var out: [HostAction] = []
            engine.tick(at: next) { out.append($0) }
            record(out, now)
        }
        clock = t
    }

    mutating func record(_ actions: [HostAction], _ t: Double) {
        for case .send(let message, let destination) in actions { sent.append((t, message, destination)) }
    }

    var records: [GroupRecord] {
        sent.flatMap { entry -> [GroupRecord] in
            if case .v3Report(let r) = entry.message { return r }
            return []
        }
    }
}

@Suite("Host side upstream (RFC 3376 §5, RFC 4605)")
struct HostMembershipTests {
    @Test("a join is TO_EX({}) at once to 224.0.0.22, retransmitted once within the Unsolicited Report Interval")
    func joinRetransmitted() {
        var h = Host()
        h.set(group, GroupFilterState(mode: .exclude), at: 10)
        #expect(h.sent.count == 1)
        #expect(h.sent.first?.at == 10)
        #expect(h.sent.first?.destination == .igmpv3Routers)
        h.run(until: 30)
        #expect(h.sent.count == 2)
        #expect(h.sent.allSatisfy { $0.at <= 11 })
        #expect(h.records.map(\.type) == [.toExclude, .toExclude])
        #expect(h.records.allSatisfy { $0.group == group && $0.sources.isEmpty })
        #expect(h.engine.nextDeadline == nil)
    }

    @Test("mergeWindow: a zap (leave one group, join another) inside the window is one report at its end")
    func mergeWindow() {
        var h = Host()
        h.engine = HostMembership(robustness: 2, unsolicitedReportInterval: .seconds(1), mergeWindow: .milliseconds(20), seed: 7)
        h.set(group, GroupFilterState(mode: .exclude), at: 10)
        #expect(h.sent.isEmpty)  // held for the window
        h.run(until: 10.02)
        #expect(h.sent.count == 1 && h.sent.first?.at == 10.02)
        h.run(until: 19)  // its retransmission
        h.sent = []
        h.set(group, .none, at: 20)
        h.set(group2, GroupFilterState(mode: .exclude), at: 20.005)
        h.run(until: 20.019)
        #expect(h.sent.isEmpty)
        h.run(until: 20.02)
        #expect(h.sent.count == 1)
        #expect(h.records.map(\.type) == [.toInclude, .toExclude])
        #expect(h.records.map(\.group) == [group, group2])
        h.run(until: 30)
        #expect(h.sent.count == 2)  // the one retransmission, merged too
        #expect(h.engine.nextDeadline == nil)
        // Without a window the same zap is two reports at once (RFC 3376 §5.1).
        var plain = Host()
        plain.set(group, GroupFilterState(mode: .exclude), at: 10)
        plain.run(until: 19)
        plain.sent = []
        plain.set(group, .none, at: 20)
        plain.set(group2, GroupFilterState(mode: .exclude), at: 20.005)
        #expect(plain.sent.count == 2)
    }

    @Test("a leave is TO_IN({}) twice, then the group is forgotten")
    func leave() {
        var h = Host()
        h.set(group, GroupFilterState(mode: .exclude), at: 0)
        h.run(until: 5)
        h.sent = []
        h.set(group, .none, at: 5)
        h.run(until: 20)
        #expect(h.records.map(\.type) == [.toInclude, .toInclude])
        #expect(h.records.allSatisfy { $0.sources.isEmpty })
        #expect(h.engine.memberships.isEmpty)
        #expect(h.engine.nextDeadline == nil)
    }

    @Test("INCLUDE source changes are ALLOW and BLOCK, each source sent Robustness times")
    func sourceChanges() {
        var h = Host()
        h.set(group, GroupFilterState(mode: .include, sources: sources([1])), at: 0)
        h.run(until: 5)
        h.sent = []
        h.set(group, GroupFilterState(mode: .include, sources: sources([2])), at: 5)
        h.run(until: 20)
        let allow = h.records.filter { $0.type == .allowNewSources }
        let block = h.records.filter { $0.type == .blockOldSources }
        #expect(allow.count == 2 && allow.allSatisfy { $0.sources == sources([2]) })
        #expect(block.count == 2 && block.allSatisfy { $0.sources == sources([1]) })
        #expect(h.engine.state(of: group) == GroupFilterState(mode: .include, sources: sources([2])))
    }

    @Test("a source-specific join is ALLOW(S) and its end BLOCK(S) (§5.1: INCLUDE({}) is INCLUDE mode)")
    func sourceSpecificJoin() {
        var h = Host()
        h.set(group, GroupFilterState(mode: .include, sources: sources([1])), at: 0)
        h.run(until: 5)
        #expect(h.records.map(\.type) == [.allowNewSources, .allowNewSources])
        h.sent = []
        h.set(group, .none, at: 5)
        h.run(until: 10)
        #expect(h.records.map(\.type) == [.blockOldSources, .blockOldSources])
        #expect(h.records.allSatisfy { $0.sources == sources([1]) })
        #expect(h.engine.nextDeadline == nil && h.engine.memberships.isEmpty)
    }

    @Test("EXCLUDE source changes: a source no longer excluded is ALLOWed, a newly excluded one BLOCKed")
    func excludeSourceChanges() {
        var h = Host()
        h.set(group, GroupFilterState(mode: .exclude, sources: sources([1])), at: 0)
        h.run(until: 5)
        h.sent = []
        h.set(group, GroupFilterState(mode: .exclude, sources: sources([2])), at: 5)
        #expect(h.records.first { $0.type == .allowNewSources }?.sources == sources([1]))
        #expect(h.records.first { $0.type == .blockOldSources }?.sources == sources([2]))
    }

    @Test("a mode change during pending source retransmissions replaces them with TO_EX/TO_IN")
    func modeChangeMerges() {
        var h = Host()
        h.set(group, GroupFilterState(mode: .include, sources: sources([1])), at: 0)
        h.set(group, GroupFilterState(mode: .exclude), at: 0.001)
        h.run(until: 10)
        let types = h.records.map(\.type)
        #expect(types.first == .allowNewSources)  // INCLUDE({}) → INCLUDE(1)
        #expect(types.dropFirst().allSatisfy { $0 == .toExclude })
        #expect(types.filter { $0 == .toExclude }.count == 2)
    }

    @Test("a general query is answered with current-state records within Max Resp; nothing without members")
    func generalQuery() {
        var h = Host()
        h.query(.v3(maxResponseTenths: 100), at: 0)
        h.run(until: 20)
        #expect(h.sent.isEmpty)
        h.set(group, GroupFilterState(mode: .exclude), at: 20)
        h.set(group2, GroupFilterState(mode: .include, sources: sources([3])), at: 20)
        h.run(until: 30)
        h.sent = []
        h.query(.v3(maxResponseTenths: 50), at: 30)
        h.run(until: 40)
        #expect(h.sent.count == 1)
        #expect(h.sent[0].at <= 35)
        #expect(h.records.map(\.type) == [.isExclude, .isInclude])
        #expect(h.records.map(\.group) == [group, group2])
        #expect(h.records[1].sources == sources([3]))
    }

    @Test("a group-and-source query is answered with the asked sources the host wants")
    func groupAndSourceQuery() {
        var h = Host()
        h.set(group, GroupFilterState(mode: .include, sources: sources([1, 2])), at: 0)
        h.set(group2, GroupFilterState(mode: .exclude, sources: sources([1])), at: 0)
        h.run(until: 5)
        h.sent = []
        h.query(.v3(group: group, sources: sources([2, 3]), maxResponseTenths: 10), at: 5)
        h.query(.v3(group: group2, sources: sources([1, 3]), maxResponseTenths: 10), at: 5)
        h.query(.v3(group: ip("239.9.9.9"), maxResponseTenths: 10), at: 5)
        h.run(until: 10)
        let byGroup = Dictionary(grouping: h.records, by: \.group)
        #expect(byGroup[group]?.map(\.sources) == [sources([2])])
        #expect(byGroup[group2]?.map(\.sources) == [sources([3])])
        #expect(byGroup[group]?.first?.type == .isInclude)
        #expect(byGroup[ip("239.9.9.9")] == nil)
    }

    @Test("with an IGMPv2 querier present: v2 reports to the group, v2 leave to 224.0.0.2, sources ignored; v3 again after the timeout")
    func olderQuerier() {
        var h = Host()
        h.query(.v2(maxResponseTenths: 100), at: 0)
        #expect(h.engine.compatibilityMode(at: at(1)) == .v2)
        h.set(group, GroupFilterState(mode: .include, sources: sources([1])), at: 1)
        h.run(until: 5)
        #expect(h.sent.map(\.message) == [.v2Report(group: group), .v2Report(group: group)])
        #expect(h.sent.allSatisfy { $0.destination == group })
        h.sent = []
        h.set(group, GroupFilterState(mode: .include, sources: sources([1, 2])), at: 5)
        h.run(until: 8)
        #expect(h.sent.isEmpty)
        h.set(group, .none, at: 8)
        h.run(until: 12)
        #expect(h.sent.map(\.message) == [.v2Leave(group: group)])
        #expect(h.sent.first?.destination == .allRouters)
        // Older Version Querier Present Timeout: 2 × 125 s + 10 s.
        #expect(h.engine.compatibilityMode(at: at(259)) == .v2)
        #expect(h.engine.compatibilityMode(at: at(261)) == .v3)
    }

    @Test("leaveAll leaves every group; link-local groups are never reported")
    func leaveAllAndLinkLocal() {
        var h = Host()
        h.set(ip("224.0.0.22"), GroupFilterState(mode: .exclude), at: 0)
        #expect(h.sent.isEmpty)
        h.set(group, GroupFilterState(mode: .exclude), at: 0)
        h.set(group2, GroupFilterState(mode: .exclude), at: 0)
        h.run(until: 5)
        h.sent = []
        var out: [HostAction] = []
        h.engine.leaveAll(at: at(5)) { out.append($0) }
        h.record(out, 5)
        h.run(until: 10)
        #expect(Set(h.records.filter { $0.type == .toInclude }.map(\.group)) == [group, group2])
        #expect(h.engine.memberships.isEmpty)
    }

    @Test("a current-state answer too large for one frame is split across reports, no record split")
    func splitsReports() {
        var h = Host()
        for n in 0..<300 {
            h.set(IPv4Address(239, 10, UInt8(n / 256), UInt8(n % 256)), GroupFilterState(mode: .exclude), at: 0)
        }
        h.run(until: 5)
        h.sent = []
        h.query(.v3(maxResponseTenths: 10), at: 5)
        h.run(until: 10)
        #expect(h.sent.count == 2)
        #expect(h.records.count == 300)
        for (_, message, _) in h.sent { #expect(message.encodedLength <= 1500 - 24) }
    }
}
