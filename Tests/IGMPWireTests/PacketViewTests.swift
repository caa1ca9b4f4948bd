import IGMPWire
import Testing
import XigmpTestSupport

/// The zero-copy view: record iteration, unknown record types, Router Alert detection.
@Suite struct PacketViewTests {
    /// An IPv4 packet built by hand (not by the encoder) with the given option bytes.
    func ipPacket(options: [UInt8], igmp: [UInt8]) -> [UInt8] {
        precondition(options.count % 4 == 0)
        let total = 20 + options.count + igmp.count
        var packet: [UInt8] = [0x40 | UInt8((20 + options.count) / 4), 0xC0, UInt8(total >> 8), UInt8(total & 0xFF),
                               0, 0, 0, 0, 1, 2, 0, 0, 192, 0, 2, 10, 224, 0, 0, 22]
        packet += options + igmp
        fixIPChecksum(&packet, at: 0)
        return packet
    }

    @Test func recordsIterateInPlaceWithOffsetsSourcesAndAuxData() throws {
        let records = [
            GroupRecord(type: .isExclude, group: ip("239.1.1.1")),
            GroupRecord(type: .allowNewSources, group: ip("232.1.1.1"), sources: [ip("10.0.0.1"), ip("10.0.0.2")],
                        auxData: [0xA, 0xB, 0xC, 0xD]),
            GroupRecord(type: .blockOldSources, group: ip("232.1.1.2"), sources: [ip("10.0.0.3")]),
        ]
        let data = try IGMPEncoder.encode(.v3Report(records))
        try data.withUnsafeBytes { buffer in
            let view = try IGMPMessageView(buffer)
            #expect(view.type == .v3Report && view.recordCount == 3 && view.group == .any)
            var seen: [(Int, Int, UInt8, IPv4Address, [IPv4Address], [UInt8])] = []
            for record in view.records {
                seen.append((record.offset, record.length, record.rawType, record.group,
                             Array(record.sources), Array(record.auxData)))
            }
            #expect(seen.count == 3)
            #expect(seen.map(\.0) == [8, 16, 36])
            #expect(seen.map(\.1) == [8, 20, 12])
            #expect(seen.map(\.2) == [2, 5, 6])
            #expect(seen.map(\.3) == records.map(\.group))
            #expect(seen.map(\.4) == records.map(\.sources))
            #expect(seen.map(\.5) == records.map(\.auxData))
            var iterator = view.records.makeIterator()
            _ = iterator.next()
            let next = iterator.next()
            let second = try #require(next)
            #expect(second.sources[1] == ip("10.0.0.2") && second.sources.count == 2)
            #expect(second.auxDataWords == 1 && second.isJoin && !second.isLeave)
            #expect(view.message() == .v3Report(records))
        }
    }

    @Test func unknownRecordTypesAreSkippedNotFatal() throws {
        var data = try IGMPEncoder.encode(.v3Report([
            GroupRecord(type: .toExclude, group: ip("239.1.1.1")),
            GroupRecord(type: .toInclude, group: ip("239.1.1.2")),
        ]))
        data[8] = 7  // RFC 3376 §4.2.12: unrecognized Record Type values MUST be silently ignored
        fixIGMPChecksum(&data, at: 0)
        let decoded = try IGMPDecoder.decode(igmpMessage: data)
        #expect(decoded.message == .v3Report([GroupRecord(type: .toInclude, group: ip("239.1.1.2"))]))
        #expect(decoded.ignoredRecordCount == 1)
        try data.withUnsafeBytes { buffer in
            let first = try #require(try IGMPMessageView(buffer).records.first { _ in true })
            #expect(first.rawType == 7 && first.type == nil && !first.isJoin && !first.isLeave)
        }
    }

    @Test func routerAlertIsFoundAnywhereInTheOptions() throws {
        let igmp = try IGMPEncoder.encode(.v3Report([]))
        let cases: [(String, [UInt8], Bool)] = [
            ("none", [], false),
            ("first", [0x94, 0x04, 0x00, 0x00], true),
            ("after NOPs", [0x01, 0x01, 0x01, 0x01, 0x94, 0x04, 0x00, 0x00], true),
            ("after another option", [0x88, 0x04, 0x12, 0x34, 0x94, 0x04, 0x00, 0x00], true),
            ("after end of list", [0x00, 0x00, 0x00, 0x00, 0x94, 0x04, 0x00, 0x00], false),
            ("non-zero value", [0x94, 0x04, 0x00, 0x01], false),
            ("NOP padding to IHL 15", [UInt8](repeating: 1, count: 36) + [0x94, 0x04, 0x00, 0x00], true),
        ]
        for (name, options, expected) in cases {
            let packet = ipPacket(options: options, igmp: igmp)
            let decoded = try IGMPDecoder.decode(ipv4Packet: packet)
            #expect(decoded.ip?.routerAlert == expected, "\(name)")
            #expect(decoded.ip?.ihl == UInt8(5 + options.count / 4), "\(name)")
            #expect(decoded.message == .v3Report([]), "\(name)")
        }
    }

    @Test func bareIGMPAndIPv4EntryPointsLeaveOuterLayersNil() throws {
        let message = IGMPMessage.v2Leave(group: ip("239.9.9.9"))
        let bare = try IGMPEncoder.encode(message)
        try bare.withUnsafeBytes { buffer in
            let view = try IGMPPacketView(igmpMessage: buffer)
            #expect(view.ethernet == nil && view.ip == nil)
            #expect(view.igmp.type == .v2Leave && view.igmp.group == ip("239.9.9.9"))
            #expect(view.igmp.queryVersion == nil && view.igmp.sources.isEmpty && view.igmp.recordCount == 0)
        }
        let packet = try IGMPEncoder.ipv4Packet(message, source: hostIP)
        try packet.withUnsafeBytes { buffer in
            let view = try IGMPPacketView(ipv4Packet: buffer)
            #expect(view.ethernet == nil && view.ip?.destination == ip("224.0.0.2"))
        }
    }

    @Test(arguments: samples)
    func viewFieldsMatchTheMessage(_ sample: Sample) throws {
        let data = try frame(sample.message)
        try data.withUnsafeBytes { buffer in
            let view = try IGMPPacketView(ethernetFrame: buffer)
            #expect(view.igmp.message() == sample.message)
            #expect(view.igmp.type == sample.message.type)
            #expect(view.igmp.length == sample.message.encodedLength)
            if case .query(let query) = sample.message {
                #expect(view.igmp.queryVersion == query.version)
                #expect(view.igmp.maxRespCode == query.maxRespCode)
                #expect(Array(view.igmp.sources) == query.sources)
                #expect(view.igmp.query() == query)
                if query.version == .v3 {
                    #expect(view.igmp.qrv == query.qrv && view.igmp.qqicCode == query.qqicCode
                        && view.igmp.sFlag == query.sFlag)
                }
            } else {
                #expect(view.igmp.query() == nil)
            }
        }
    }
}
