import IGMPWire
import Testing
import XigmpTestSupport

/// Every message kind, encoded at every layer, decodes back to itself with the
/// header fields IGMP requires.
@Suite struct RoundTripTests {
    @Test(arguments: samples)
    func bareMessage(_ sample: Sample) throws {
        let data = try IGMPEncoder.encode(sample.message)
        #expect(data.count == sample.message.encodedLength)
        #expect(InternetChecksum.compute(data) == 0, "checksum over the exact message must verify")
        let decoded = try IGMPDecoder.decode(igmpMessage: data)
        #expect(decoded.message == sample.message)
        #expect(decoded.ip == nil && decoded.ethernet == nil)
        #expect(decoded.igmpChecksumOK)
        #expect(decoded.igmpLength == data.count)
    }

    @Test(arguments: samples)
    func ipv4Packet(_ sample: Sample) throws {
        let source = sourceIP(for: sample.message)
        let data = try IGMPEncoder.ipv4Packet(sample.message, source: source)
        let decoded = try IGMPDecoder.decode(ipv4Packet: data)
        #expect(decoded.message == sample.message)
        let header = try #require(decoded.ip)
        #expect(header.source == source)
        #expect(header.destination == sample.message.defaultDestination)
        #expect(header.ttl == 1)
        #expect(header.tos == 0xC0)
        #expect(header.ihl == 6)
        #expect(header.routerAlert)
        #expect(header.protocolNumber == 2)
        #expect(header.checksumOK)
        #expect(!header.dontFragment)
        #expect(header.identification == 0)
        #expect(Int(header.totalLength) == data.count)
        #expect(data.count == 24 + sample.message.encodedLength)
        #expect(Array(data[20..<24]) == [0x94, 0x04, 0x00, 0x00])
    }

    @Test(arguments: samples)
    func ethernetFrame(_ sample: Sample) throws {
        let data = try frame(sample.message)
        let decoded = try IGMPDecoder.decode(ethernetFrame: data)
        #expect(decoded.message == sample.message)
        let ethernet = try #require(decoded.ethernet)
        #expect(ethernet.destination == MACAddress.multicast(for: sample.message.defaultDestination))
        #expect(ethernet.source == hostMAC)
        #expect(ethernet.outerVLAN == nil && ethernet.innerVLAN == nil)
        #expect(ethernet.headerLength == 14)
        #expect(data.count == 14 + 24 + sample.message.encodedLength)
        #expect(decoded.ip?.destination == sample.message.defaultDestination)
    }

    @Test(arguments: samples)
    func vlanTaggedFrame(_ sample: Sample) throws {
        let tag = VLANTag(vid: 100, pcp: 6)
        let data = try frame(sample.message, vlan: tag)
        #expect(Array(data[12..<16]) == [0x81, 0x00, 0xC0, 0x64])
        let decoded = try IGMPDecoder.decode(ethernetFrame: data)
        #expect(decoded.message == sample.message)
        #expect(decoded.ethernet?.outerVLAN == tag)
        #expect(decoded.ethernet?.headerLength == 18)
    }

    @Test(arguments: samples)
    func qinqFrame(_ sample: Sample) throws {
        let outer = VLANTag(vid: 10, tpid: VLANTag.tpid8021AD)
        let inner = VLANTag(vid: 20)
        let data = try frame(sample.message, vlan: outer, inner: inner)
        let decoded = try IGMPDecoder.decode(ethernetFrame: data)
        #expect(decoded.message == sample.message)
        #expect(decoded.ethernet?.vlanTags == [outer, inner])
        #expect(decoded.ethernet?.headerLength == 22)
    }

    @Test func destinationsFollowTheRFCs() {
        #expect(IGMPMessage.query(.v2()).defaultDestination == ip("224.0.0.1"))
        #expect(IGMPMessage.query(.v3()).defaultDestination == ip("224.0.0.1"))
        #expect(IGMPMessage.query(.v2(group: ip("239.9.9.9"))).defaultDestination == ip("239.9.9.9"))
        #expect(IGMPMessage.query(.v3(group: ip("232.9.9.9"), sources: [ip("10.0.0.1")]))
            .defaultDestination == ip("232.9.9.9"))
        #expect(IGMPMessage.v1Report(group: ip("239.8.8.8")).defaultDestination == ip("239.8.8.8"))
        #expect(IGMPMessage.v2Report(group: ip("239.8.8.8")).defaultDestination == ip("239.8.8.8"))
        #expect(IGMPMessage.v2Leave(group: ip("239.8.8.8")).defaultDestination == ip("224.0.0.2"))
        #expect(IGMPMessage.v3Report([]).defaultDestination == ip("224.0.0.22"))
    }

    @Test func queryKindsAndTimes() {
        let general = IGMPQuery.v3()
        #expect(general.isGeneral && !general.isGroupSpecific && !general.isGroupAndSourceSpecific)
        let specific = IGMPQuery.v2(group: ip("239.1.1.1"), maxResponseTenths: 25)
        #expect(!specific.isGeneral && specific.isGroupSpecific && !specific.isGroupAndSourceSpecific)
        #expect(specific.maxResponseTenths == 25 && specific.maxResponseSeconds == 2.5)
        #expect(specific.queryIntervalSeconds == nil)
        let gss = IGMPQuery.v3(group: ip("232.1.1.1"), sources: [ip("10.0.0.1")], maxResponseTenths: 3000,
                               queryIntervalSeconds: 300)
        #expect(gss.isGroupAndSourceSpecific && !gss.isGroupSpecific && !gss.isGeneral)
        // 3000 tenths: exp 4, mant 7 → code 0xC7 = 23 << 7 = 2944 (rounded down); 300 s → 288 s.
        #expect(gss.maxRespCode == 0xC7 && gss.maxResponseTenths == 2944)
        #expect(gss.queryIntervalSeconds == 288)
        #expect(IGMPQuery.v1().maxResponseTenths == 100, "RFC 2236 §4: a v1 query means 10 s")
    }

    @Test func queryVersionIsToldByLengthAndCode() throws {
        let v1 = try IGMPDecoder.decode(igmpMessage: [0x11, 0, 0xEE, 0xFF, 0, 0, 0, 0])
        guard case .query(let q1) = v1.message else { Issue.record("not a query"); return }
        #expect(q1.version == .v1)
        let v2 = try IGMPDecoder.decode(igmpMessage: IGMPEncoder.encode(.query(.v2())))
        guard case .query(let q2) = v2.message else { Issue.record("not a query"); return }
        #expect(q2.version == .v2)
        // A 12-byte query with Max Resp Code 0 is still v3 (length decides).
        let v3 = try IGMPDecoder.decode(igmpMessage: IGMPEncoder.encode(.query(
            IGMPQuery(version: .v3, maxRespCode: 0))))
        guard case .query(let q3) = v3.message else { Issue.record("not a query"); return }
        #expect(q3.version == .v3)
    }
}
