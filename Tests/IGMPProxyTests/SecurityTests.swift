import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

/// RFC 3376 §9 checks and malformed input.
@Suite struct SecurityTests {
    static let everything = ProxyModes(Set(ProxyMode.allCases))

    @Test("reports from off the receiving subnet are ignored; 0.0.0.0 is accepted",
          arguments: [IGMPMessage.v1Report(group: group1), .v2Report(group: group1), .v2Leave(group: group1),
                      v3Report2Records])
    func sourceSubnet(message: IGMPMessage) throws {
        var proxy = policy(Self.everything)
        let off = try feed(&proxy, insideReport(message, from: ip("10.200.0.5")))
        #expect(off.sent.isEmpty && off.events.isEmpty)
        #expect(off.counters == [.droppedSourceOffSubnet])
        let offOutside = try feed(&proxy, Arrival(message, on: .outside, from: ip("172.17.0.9")))
        #expect(offOutside.counters == [.droppedSourceOffSubnet], "the inside subnet is not the outside's")
        let zero = try feed(&proxy, insideReport(message, from: .any))
        #expect(zero.sent.count == 1)
        #expect(zero.count(.droppedSourceOffSubnet) == 0)
        let edge = try feed(&proxy, insideReport(message, from: ip("172.17.255.254")))
        #expect(edge.sent.count == 1, "172.17.255.254 is on 172.17.0.0/16")
    }

    @Test("a record over the source cap drops the whole report; at the cap it passes")
    func sourceCap() throws {
        var proxy = policy(Self.everything, limits: ProxyLimits(maxSourcesPerRecord: 4))
        func report(_ count: Int) -> IGMPMessage {
            .v3Report([GroupRecord(type: .toExclude, group: group1),
                       GroupRecord(type: .allowNewSources, group: ssmGroup,
                                   sources: (1...count).map { IPv4Address(10, 0, 0, UInt8($0)) })])
        }
        let over = try feed(&proxy, insideReport(report(5)))
        #expect(over.sent.isEmpty && over.events.isEmpty)
        #expect(over.counters == [.droppedTooManySources])
        let at = try feed(&proxy, insideReport(report(4)))
        #expect(at.sent.count == 1)
        #expect(at.membershipEvents.count == 2)
    }

    @Test("the default cap is 64 sources per record")
    func defaultCap() {
        #expect(ProxyLimits().maxSourcesPerRecord == 64)
    }

    @Test("reports naming a non-multicast group are dropped")
    func invalidGroup() throws {
        var proxy = policy(Self.everything)
        #expect(try feed(&proxy, insideReport(.v2Report(group: ip("10.1.1.1")), to: group1)).counters
                == [.droppedInvalidGroup])
        let v3 = IGMPMessage.v3Report([GroupRecord(type: .toExclude, group: group1),
                                       GroupRecord(type: .toExclude, group: ip("10.1.1.1"))])
        #expect(try feed(&proxy, insideReport(v3)).counters == [.droppedInvalidGroup])
    }

    @Test("unicast to another host is not for the proxy")
    func unicastElsewhere() throws {
        var proxy = policy(Self.everything)
        let recorded = try feed(&proxy, insideReport(.v2Report(group: group1), to: ip("172.17.0.99")))
        #expect(recorded.counters == [.droppedBadDestination])
    }

    @Test("a v3 report without records is malformed")
    func emptyV3Report() throws {
        var proxy = policy(Self.everything)
        #expect(try feed(&proxy, insideReport(.v3Report([]))).counters == [.droppedMalformed])
    }

    @Test("unknown record types are ignored for events but do not block forwarding (RFC 3376 §4.2.12)")
    func unknownRecordType() throws {
        var proxy = policy(Self.everything)
        var bytes = try IGMPEncoder.encode(.v3Report([GroupRecord(type: .toExclude, group: group1),
                                                      GroupRecord(type: .toExclude, group: group2)]))
        bytes[16] = 0x09  // the second record's type
        let metadata = FrameMetadata(source: insideHost, destination: .igmpv3Routers)
        let recorded = try feed(&proxy, igmpBytes: fixChecksum(bytes), on: .inside, metadata: metadata)
        #expect(recorded.sent.count == 1)
        #expect(recorded.membershipEvents.map(\.group) == [group1])
        // Only unknown records: nothing to act on.
        bytes[8] = 0x09
        #expect(try feed(&proxy, igmpBytes: fixChecksum(bytes), on: .inside, metadata: metadata).counters
                == [.droppedMalformed])
    }

    @Test("a bad IGMP checksum is dropped")
    func badChecksum() throws {
        var proxy = policy(Self.everything)
        var bytes = try IGMPEncoder.encode(.v2Report(group: group1))
        bytes[2] ^= 0xFF
        let recorded = try feed(&proxy, igmpBytes: bytes, on: .inside,
                                metadata: FrameMetadata(source: insideHost, destination: group1))
        #expect(recorded.counters == [.droppedMalformed])
    }

    @Test("missing Router Alert and TTL ≠ 1 are counted, and the message still processed")
    func observations() throws {
        var proxy = policy(.fullProxy)
        let recorded = try feed(&proxy, Arrival(.v2Report(group: group1), on: .inside, from: insideHost,
                                                mac: insideHostMAC, ttl: 4, routerAlert: false))
        #expect(recorded.count(.missingRouterAlert) == 1)
        #expect(recorded.count(.ttlNotOne) == 1)
        #expect(recorded.sent.count == 1)
    }

    @Test("a packet parsed without an IP header is malformed for the policy")
    func noIPHeader() throws {
        var proxy = policy(.fullProxy)
        let bytes = try IGMPEncoder.encode(.v2Report(group: group1))
        var recorded = Recorded()
        try bytes.withUnsafeBytes { buffer in
            let view = try IGMPPacketView(igmpMessage: buffer)
            proxy.handle(view, on: .inside, at: .seconds(1)) { recorded.record($0) }
        }
        #expect(recorded.counters == [.droppedMalformed])
    }

    @Test("configurations that cannot work are refused")
    func invalidConfigurations() {
        var config = configuration(.fullProxy)
        config.inside?.address = .any
        #expect(throws: ProxyConfigurationError.unusableAddress(.inside, .any)) { try ProxyPolicy(configuration: config) }
        config = configuration(.fullProxy)
        config.outside?.prefixLength = 33
        #expect(throws: ProxyConfigurationError.prefixLengthOutOfRange(.outside, 33)) { try config.validate() }
        config = configuration(.fullProxy, fallback: group1)
        #expect(throws: ProxyConfigurationError.unusableFallback(group1)) { try config.validate() }
        var proxy = policy(.fullProxy)
        var bad = configuration(.none)
        bad.alt?.address = .allSystems
        #expect(throws: ProxyConfigurationError.unusableAddress(.alt, .allSystems)) { try proxy.reconfigure(bad) }
        #expect(proxy.configuration.modes == .fullProxy, "the old configuration stays")
    }
}

/// Recomputes the IGMP checksum of hand-edited bytes.
func fixChecksum(_ bytes: [UInt8]) -> [UInt8] {
    var out = bytes
    out[2] = 0
    out[3] = 0
    var sum: UInt32 = 0
    var index = 0
    while index < out.count {
        sum += UInt32(out[index]) << 8 | UInt32(index + 1 < out.count ? out[index + 1] : 0)
        index += 2
    }
    while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
    let checksum = ~UInt16(sum)
    out[2] = UInt8(checksum >> 8)
    out[3] = UInt8(checksum & 0xFF)
    return out
}
