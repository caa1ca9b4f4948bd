import IGMPWire
import Testing
import XigmpTestSupport
@testable import XigmpTools

@Suite struct MessageBuilderTests {
    let g = IPv4Address("239.1.2.3")!
    let s1 = IPv4Address("10.0.0.5")!

    @Test func queries() throws {
        #expect(try MessageBuilder.query(version: 1, group: nil, sources: [], maxResponse: nil) == .query(.v1()))
        let v2 = try MessageBuilder.query(version: 2, group: g, sources: [], maxResponse: 1.5)
        guard case .query(let q2) = v2 else { Issue.record("not a query"); return }
        #expect(q2.version == .v2 && q2.maxRespCode == 15 && q2.group == g)
        #expect(v2.defaultDestination == g, "group-specific queries go to the group")
        let v3 = try MessageBuilder.query(version: 3, group: g, sources: [s1], maxResponse: 20)
        guard case .query(let q3) = v3 else { Issue.record("not a query"); return }
        #expect(q3.version == .v3 && q3.sources == [s1] && q3.maxResponseTenths == 200)
        let general = try MessageBuilder.query(version: 3, group: nil, sources: [], maxResponse: nil)
        #expect(general.defaultDestination == IPv4Address("224.0.0.1"))
    }

    @Test("impossible queries are refused with a reason", arguments: [
        (1, true, false, nil as Double?), (1, false, false, 1.0), (2, true, true, nil), (2, false, false, 30.0),
        (3, false, true, nil), (3, false, false, 4000.0), (4, false, false, nil),
    ])
    func badQueries(version: Int, withGroup: Bool, withSource: Bool, maxResp: Double?) {
        #expect(throws: MessageBuilder.Invalid.self) {
            try MessageBuilder.query(version: version, group: withGroup ? g : nil,
                                     sources: withSource ? [s1] : [], maxResponse: maxResp)
        }
    }

    @Test func reports() throws {
        #expect(try MessageBuilder.report(version: 2, group: g, record: nil, sources: []) == .v2Report(group: g))
        #expect(try MessageBuilder.report(version: 1, group: g, record: nil, sources: []) == .v1Report(group: g))
        #expect(try MessageBuilder.report(version: 3, group: g, record: nil, sources: [])
            == .v3Report([GroupRecord(type: .toExclude, group: g)]))
        #expect(try MessageBuilder.report(version: 3, group: g, record: nil, sources: [s1])
            == .v3Report([GroupRecord(type: .allowNewSources, group: g, sources: [s1])]))
        #expect(try MessageBuilder.report(version: 3, group: g, record: .isInclude, sources: [s1])
            == .v3Report([GroupRecord(type: .isInclude, group: g, sources: [s1])]))
    }

    @Test func badReports() {
        #expect(throws: MessageBuilder.Invalid.self) { try MessageBuilder.report(version: 2, group: g, record: .isInclude, sources: []) }
        #expect(throws: MessageBuilder.Invalid.self) { try MessageBuilder.report(version: 3, group: g, record: .blockOldSources, sources: []) }
        #expect(throws: MessageBuilder.Invalid.self) { try MessageBuilder.report(version: 2, group: IPv4Address("224.0.0.5")!, record: nil, sources: []) }
        #expect(throws: MessageBuilder.Invalid.self) { try MessageBuilder.report(version: 2, group: IPv4Address("10.1.1.1")!, record: nil, sources: []) }
    }

    @Test func leaves() throws {
        #expect(try MessageBuilder.leave(version: 2, group: g) == .v2Leave(group: g))
        #expect(try MessageBuilder.leave(version: 2, group: g).defaultDestination == IPv4Address("224.0.0.2"))
        let v3 = try MessageBuilder.leave(version: 3, group: g)
        #expect(v3 == .v3Report([GroupRecord(type: .toInclude, group: g)]))
        #expect(v3.defaultDestination == IPv4Address("224.0.0.22"))
        #expect(throws: MessageBuilder.Invalid.self) { try MessageBuilder.leave(version: 1, group: g) }
    }
}
