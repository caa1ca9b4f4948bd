import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

/// The client API: reports and leaves through the proxy.
@Suite struct ClientRequestTests {
    static let modes = ProxyModes(membershipReportToNetwork: true, leaveToNetwork: true)

    @Test("v3 reports by group are IS_EX{} records to 224.0.0.22 from the outside address")
    func v3Groups() throws {
        var proxy = policy(Self.modes)
        let (recorded, delivery) = client(&proxy) { (p, emit) throws(ClientRequestError) in
            try p.clientReport(groups: [group1, group2], version: .v3, at: .seconds(1), emit)
        }
        #expect(recorded.sent.count == 1)
        let sent = try #require(recorded.sent.first)
        #expect(sent.destination == .igmpv3Routers)
        #expect(sent.source == outsideAddressing.address)
        #expect(!sent.forwarded)
        #expect(sent.ipOptions == IPv4EncodeOptions())
        #expect(sent.message == .v3Report([GroupRecord(type: .isExclude, group: group1),
                                           GroupRecord(type: .isExclude, group: group2)]))
        #expect(try delivery.get() == ClientDelivery(outside: .primary, route: .multicast, messageCount: 1))
    }

    @Test("explicit v3 records are sent as given, and split when they do not fit one report")
    func v3RecordsSplit() throws {
        var proxy = policy(Self.modes)
        let records = (0..<400).map { GroupRecord(type: .toExclude, group: IPv4Address(239, 9, UInt8($0 / 256), UInt8($0 % 256))) }
        let (recorded, delivery) = client(&proxy) { (p, emit) throws(ClientRequestError) in
            try p.clientReport(records: records, at: .seconds(1), emit)
        }
        let sent = recorded.sent
        #expect(sent.count == 3)  // 183 records (8 + 183 × 8 = 1472 bytes) per report
        #expect(sent.allSatisfy { $0.bytes.count <= ProxyPolicy.maxOriginatedMessageBytes })
        let all = sent.flatMap { sent -> [GroupRecord] in if case .v3Report(let r)? = sent.message { r } else { [] } }
        #expect(all == records)
        #expect(try delivery.get().messageCount == 3)
        #expect(recorded.count(.sentClientReport) == 3)
    }

    @Test("v2 leaves go to 224.0.0.2, one per group; v3 leaves are TO_IN{}")
    func leaves() throws {
        var proxy = policy(Self.modes)
        let (v2, _) = client(&proxy) { (p, emit) throws(ClientRequestError) in
            try p.clientLeave(groups: [group1, group2], version: .v2, at: .seconds(1), emit)
        }
        #expect(v2.sent.map(\.destination) == [.allRouters, .allRouters])
        #expect(v2.sent.map(\.message) == [.v2Leave(group: group1), .v2Leave(group: group2)])
        let (v3, _) = client(&proxy) { (p, emit) throws(ClientRequestError) in
            try p.clientLeave(groups: [group1], version: .v3, at: .seconds(1), emit)
        }
        #expect(v3.sent.map(\.destination) == [.igmpv3Routers])
        #expect(v3.sent.map(\.message) == [.v3Report([GroupRecord(type: .toInclude, group: group1)])])
    }

    @Test("bad requests are refused with a reason and counted")
    func refusals() throws {
        var proxy = policy(Self.modes, limits: ProxyLimits(maxSourcesPerRecord: 2))
        let cases: [(ClientRequestError, (inout ProxyPolicy, (ProxyAction) -> Void) throws(ClientRequestError) -> ClientDelivery)] = [
            (.nothingToSend, { (p, e) throws(ClientRequestError) in try p.clientReport(groups: [], version: .v2, at: .zero, e) }),
            (.invalidGroup(ip("10.0.0.1")),
             { (p, e) throws(ClientRequestError) in try p.clientReport(groups: [ip("10.0.0.1")], version: .v2, at: .zero, e) }),
            (.invalidGroup(.allSystems),
             { (p, e) throws(ClientRequestError) in try p.clientReport(groups: [.allSystems], version: .v3, at: .zero, e) }),
            (.noLeaveInV1, { (p, e) throws(ClientRequestError) in try p.clientLeave(groups: [group1], version: .v1, at: .zero, e) }),
            (.tooManySources(group: ssmGroup, count: 3, limit: 2),
             { (p, e) throws(ClientRequestError) in
                 try p.clientReport(records: [GroupRecord(type: .allowNewSources, group: ssmGroup,
                                                          sources: [ip("10.0.0.1"), ip("10.0.0.2"), ip("10.0.0.3")])],
                                    at: .zero, e)
             }),
            (.unencodable(group1, .auxDataNotWordAligned(byteCount: 3)),
             { (p, e) throws(ClientRequestError) in
                 try p.clientReport(records: [GroupRecord(type: .toExclude, group: group1, auxData: [1, 2, 3])], at: .zero, e)
             }),
        ]
        for (expected, body) in cases {
            let (recorded, result) = client(&proxy, body)
            #expect(recorded.sent.isEmpty)
            #expect(recorded.counters == [.droppedClientRequest])
            #expect(throws: expected) { try result.get() }
        }
    }

    @Test("originated payloads encode into stack memory and decode back")
    func payloadBytes() throws {
        let transmit = ProxyTransmit(role: .outside, source: outsideAddressing.address, destination: group1,
                                     payload: .message(.v2Report(group: group1)), mode: .membershipReportToNetwork)
        #expect(transmit.payloadLength == 8)
        let bytes = transmit.withPayloadBytes { Array($0) }
        #expect(bytes == (try IGMPEncoder.encode(.v2Report(group: group1))))
        // A message that cannot encode is never run through the body.
        let bad = ProxyTransmit(role: .outside, source: outsideAddressing.address, destination: group1,
                                payload: .message(.query(IGMPQuery(version: .v2, maxRespCode: 0))), mode: .proxyOutToIn)
        var called = false
        #expect(bad.withPayloadBytes { _ in called = true } == nil)
        #expect(!called)
    }
}
