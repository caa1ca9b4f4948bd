import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

/// What each report and record type means to a client (RFC 3376 §4.2.12, §6.4).
@Suite struct MembershipKindTests {
    struct KindCase: Sendable, CustomTestStringConvertible {
        let type: GroupRecordType
        let sources: Int
        let kind: MembershipKind
        var testDescription: String { "\(type.shortName)(\(sources == 0 ? "{}" : "S"))" }
    }

    static let table: [KindCase] = [
        KindCase(type: .isInclude, sources: 0, kind: .noChange),
        KindCase(type: .isInclude, sources: 2, kind: .joinSources),
        KindCase(type: .isExclude, sources: 0, kind: .joinExcluding),
        KindCase(type: .isExclude, sources: 2, kind: .joinExcluding),
        KindCase(type: .toInclude, sources: 0, kind: .leave),
        KindCase(type: .toInclude, sources: 2, kind: .joinSources),
        KindCase(type: .toExclude, sources: 0, kind: .joinExcluding),
        KindCase(type: .toExclude, sources: 2, kind: .joinExcluding),
        KindCase(type: .allowNewSources, sources: 0, kind: .noChange),
        KindCase(type: .allowNewSources, sources: 2, kind: .joinSources),
        KindCase(type: .blockOldSources, sources: 0, kind: .noChange),
        KindCase(type: .blockOldSources, sources: 2, kind: .leaveSources),
    ]

    @Test("record type and source count → kind, and the event carries it", arguments: table)
    func kinds(_ kindCase: KindCase) throws {
        #expect(MembershipKind(recordType: kindCase.type, sourceCount: kindCase.sources) == kindCase.kind)
        var proxy = policy(ProxyModes(membershipReportFromNetwork: true))
        let sources = (0..<kindCase.sources).map { IPv4Address(10, 0, 0, UInt8($0 + 1)) }
        let report = IGMPMessage.v3Report([GroupRecord(type: kindCase.type, group: group1, sources: sources)])
        let event = try #require(try feed(&proxy, insideReport(report)).membershipEvents.first)
        #expect(event.kind == kindCase.kind)
        #expect(event.sources == sources)
        #expect(event.recordType == kindCase.type)
        #expect(event.isCurrentState == !kindCase.type.isStateChange)
        // Agrees with the codec's join/leave wherever the codec is unambiguous
        // (the codec calls BLOCK{} a leave; a block of nothing leaves nothing).
        if !(kindCase.type == .blockOldSources && kindCase.sources == 0) {
            #expect(event.kind.isJoin == kindCase.type.isJoin(sourceCount: kindCase.sources))
            #expect(event.kind.isLeave == kindCase.type.isLeave(sourceCount: kindCase.sources))
        }
    }

    @Test("v1/v2 reports are any-source joins, v2 leaves are leaves")
    func v1v2() throws {
        var proxy = policy(ProxyModes(membershipReportFromNetwork: true))
        let v1 = try feed(&proxy, insideReport(.v1Report(group: group1))).membershipEvents
        #expect(v1 == [MembershipHeard(role: .inside, host: insideHost, group: group1, kind: .joinExcluding, version: .v1)])
        let v2 = try feed(&proxy, insideReport(.v2Report(group: group1))).membershipEvents
        #expect(v2.map(\.kind) == [.joinExcluding])
        #expect(v2.map(\.version) == [.v2])
        let leave = try feed(&proxy, insideReport(.v2Leave(group: group1))).membershipEvents
        #expect(leave.map(\.kind) == [.leave])
        #expect(leave.first?.recordType == nil)
    }

    @Test("events come from inside and from the active outside, marked unicast when sent to us")
    func roles() throws {
        var proxy = policy(ProxyModes(membershipReportFromNetwork: true))
        #expect(try feed(&proxy, Arrival(.v2Report(group: group1), on: .outside, from: outsideHost))
                .membershipEvents.map(\.role) == [.outside])
        let unicast = try feed(&proxy, insideReport(.v2Report(group: group1), to: insideAddressing.address))
        #expect(unicast.membershipEvents.map(\.isUnicast) == [true])
    }
}
