import IGMPWire
import Testing
import XigmpTestSupport

/// Encoder refusals, buffer handling, IP/Ethernet options and exact byte layouts.
@Suite struct EncoderTests {
    @Test func exactBytesOfAV2ReportFrame() throws {
        let data = try frame(.v2Report(group: ip("239.1.2.3")))
        let expected = bytes(hex:
            "01005e010203" + "020000000001" + "0800"            // MACs, IPv4
            + "46c0002000000000" + "0102" + "0000"             // IHL 6, TOS c0, len 32, TTL 1, proto 2, csum
            + "c000020a" + "ef010203" + "94040000"             // src, dst = group, Router Alert
            + "1600" + "0000" + "ef010203")                    // v2 report, csum, group
        var withoutChecksums = data
        for index in [24, 25, 40, 41] { withoutChecksums[index] = 0 }
        #expect(hexString(withoutChecksums) == hexString(expected))
        #expect(InternetChecksum.compute(Array(data[14..<38])) == 0)
        #expect(InternetChecksum.compute(Array(data[38...])) == 0)
    }

    @Test func refusesWhatTheWireCannotCarry() {
        #expect(throws: IGMPEncodeError.v1QueryWithMaxResponse(code: 5)) {
            try IGMPEncoder.encode(.query(IGMPQuery(version: .v1, maxRespCode: 5)))
        }
        #expect(throws: IGMPEncodeError.v2QueryWithZeroMaxResponse) {
            try IGMPEncoder.encode(.query(.v2(maxResponseTenths: 0)))
        }
        #expect(throws: IGMPEncodeError.qrvOutOfRange(8)) {
            try IGMPEncoder.encode(.query(IGMPQuery(version: .v3, maxRespCode: 1, qrv: 8)))
        }
        #expect(throws: IGMPEncodeError.auxDataNotWordAligned(byteCount: 3)) {
            try IGMPEncoder.encode(.v3Report([GroupRecord(type: .isInclude, group: ip("239.1.1.1"), auxData: [1, 2, 3])]))
        }
        #expect(throws: IGMPEncodeError.auxDataTooLong(byteCount: 1024)) {
            try IGMPEncoder.encode(.v3Report([GroupRecord(type: .isInclude, group: ip("239.1.1.1"),
                                                          auxData: [UInt8](repeating: 0, count: 1024))]))
        }
        let many = [IPv4Address](repeating: ip("10.0.0.1"), count: 65_536)
        #expect(throws: IGMPEncodeError.tooManySources(count: 65_536)) {
            try IGMPEncoder.encode(.query(.v3(group: ip("232.1.1.1"), sources: many)))
        }
        #expect(throws: IGMPEncodeError.tooManyRecords(count: 65_536)) {
            try IGMPEncoder.encode(.v3Report([GroupRecord](repeating: GroupRecord(type: .isExclude, group: ip("239.1.1.1")),
                                                           count: 65_536)))
        }
        // 16 000 sources fit the count but not an IPv4 packet.
        let big = [IPv4Address](repeating: ip("10.0.0.1"), count: 16_380)
        #expect(throws: IGMPEncodeError.packetTooLarge(totalLength: 24 + 12 + 4 * 16_380)) {
            try IGMPEncoder.ipv4Packet(.query(.v3(group: ip("232.1.1.1"), sources: big)), source: hostIP)
        }
        #expect(throws: IGMPEncodeError.unicastDestinationNeedsMAC(ip("192.0.2.1"))) {
            try IGMPEncoder.ethernetFrame(.v2Report(group: ip("239.1.1.1")),
                                          ethernet: EthernetEncodeOptions(source: hostMAC),
                                          source: hostIP, destination: ip("192.0.2.1"))
        }
    }

    @Test func bufferTooSmallAtEveryLayerAndEveryLength() throws {
        let message = IGMPMessage.v3Report([GroupRecord(type: .allowNewSources, group: ip("232.1.1.1"),
                                                        sources: [ip("10.0.0.1")])])
        let ethernet = EthernetEncodeOptions(source: hostMAC, outerVLAN: VLANTag(vid: 3))
        let full = 18 + 24 + 20
        let storage = UnsafeMutableRawBufferPointer.allocate(byteCount: full, alignment: 1)
        defer { storage.deallocate() }
        for size in 0..<full {
            let buffer = UnsafeMutableRawBufferPointer(rebasing: storage[0..<size])
            #expect(throws: IGMPEncodeError.bufferTooSmall(needed: full, have: size)) {
                try IGMPEncoder.encodeEthernet(message, ethernet: ethernet, source: hostIP, into: buffer)
            }
            if size < 44 {
                #expect(throws: IGMPEncodeError.bufferTooSmall(needed: 44, have: size)) {
                    try IGMPEncoder.encodeIPv4(message, source: hostIP, into: buffer)
                }
            }
            if size < 20 {
                #expect(throws: IGMPEncodeError.bufferTooSmall(needed: 20, have: size)) {
                    try IGMPEncoder.encode(message, into: buffer)
                }
            }
        }
        #expect(try IGMPEncoder.encodeEthernet(message, ethernet: ethernet, source: hostIP, into: storage) == full)
    }

    @Test func ipOptionsAreHonoured() throws {
        let options = IPv4EncodeOptions(ttl: 64, tos: 0, routerAlert: false, identification: 0x1234, dontFragment: true)
        let packet = try IGMPEncoder.ipv4Packet(.v2Report(group: ip("239.1.1.1")), source: hostIP,
                                                destination: ip("192.0.2.1"), options: options)
        #expect(packet.count == 28)
        let header = try #require(try IGMPDecoder.decode(ipv4Packet: packet).ip)
        #expect(header.ttl == 64 && header.tos == 0 && !header.routerAlert && header.ihl == 5)
        #expect(header.identification == 0x1234 && header.dontFragment)
        #expect(header.destination == ip("192.0.2.1"))
    }

    @Test func ethernetDestinationAndPadding() throws {
        let ethernet = EthernetEncodeOptions(source: hostMAC, destination: mac("00:11:22:33:44:55"), padToMinimum: true)
        // Unicast IP destination: the caller's MAC.
        let unicast = try IGMPEncoder.ethernetFrame(.v2Report(group: ip("239.1.1.1")), ethernet: ethernet,
                                                    source: hostIP, destination: ip("192.0.2.1"))
        #expect(Array(unicast[0..<6]) == [0x00, 0x11, 0x22, 0x33, 0x44, 0x55])
        // Padded to 60 bytes, with IP Total Length still exact.
        #expect(unicast.count == 60 && unicast[16] == 0 && unicast[17] == 32)
        #expect(unicast[46...].allSatisfy { $0 == 0 })
        // Multicast IP destination: always the derived MAC, whatever the caller gave.
        let multicast = try IGMPEncoder.ethernetFrame(.v2Leave(group: ip("239.1.1.1")), ethernet: ethernet,
                                                      source: hostIP)
        #expect(Array(multicast[0..<6]) == [0x01, 0x00, 0x5E, 0x00, 0x00, 0x02])
        let decoded = try IGMPDecoder.decode(ethernetFrame: multicast)
        #expect(decoded.igmpLength == 8 && decoded.message == .v2Leave(group: ip("239.1.1.1")))
    }

    @Test func reEncapsulatesAnEncodedMessageUnchanged() throws {
        let igmp = try IGMPEncoder.encode(.v2Report(group: ip("239.4.4.4")))
        var buffer = [UInt8](repeating: 0xEE, count: 64)
        let written = try buffer.withUnsafeMutableBytes { out in
            try igmp.withUnsafeBytes { payload in
                try IGMPEncoder.encodeIPv4(payload: payload, source: hostIP, destination: ip("239.4.4.4"), into: out)
            }
        }
        #expect(written == 32)
        #expect(Array(buffer[24..<32]) == igmp)
        let decoded = try IGMPDecoder.decode(ipv4Packet: Array(buffer[0..<written]))
        #expect(decoded.message == .v2Report(group: ip("239.4.4.4")) && decoded.ip?.routerAlert == true)
    }

    @Test func reportsAndLeavesCarryZeroMaxResp() throws {
        for message in [IGMPMessage.v1Report(group: ip("239.1.1.1")), .v2Report(group: ip("239.1.1.1")),
                        .v2Leave(group: ip("239.1.1.1")), .v3Report([])] {
            #expect(try IGMPEncoder.encode(message)[1] == 0, "\(message.type)")
        }
    }
}
