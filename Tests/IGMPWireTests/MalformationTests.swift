import IGMPWire
import Testing
import XigmpTestSupport

/// Each malformation, made by corrupting a good frame (and re-fixing any checksum the
/// corruption would otherwise trip first), yields exactly its typed error.
@Suite struct MalformationTests {
    /// Ethernet (14) + IPv4 with Router Alert (24) + IGMP: IGMP starts at 38.
    static let ipStart = 14
    static let igmpStart = 38

    func goodFrame(_ message: IGMPMessage = .v2Report(group: ip("239.1.1.1"))) throws -> [UInt8] {
        try frame(message)
    }

    /// Replaces the IGMP message of a frame with `igmp` (fixing IP length and checksum).
    func withIGMP(_ data: [UInt8], _ igmp: [UInt8], fixChecksum: Bool = true) -> [UInt8] {
        var out = Array(data[0..<Self.igmpStart]) + igmp
        if fixChecksum { fixIGMPChecksum(&out, at: Self.igmpStart) }
        setTotalLength(&out, at: Self.ipStart, out.count - Self.ipStart)
        return out
    }

    @Test func ethernetLayer() throws {
        let good = try goodFrame()
        #expect(parseError(ethernet: Array(good[0..<13])) == .truncated(.ethernetHeader, needed: 14, have: 13))
        #expect(parseError(ethernet: []) == .truncated(.ethernetHeader, needed: 14, have: 0))
        var ipv6 = good
        ipv6[12] = 0x86
        ipv6[13] = 0xDD
        #expect(parseError(ethernet: ipv6) == .notIPv4(etherType: 0x86DD))

        let tagged = try frame(.v2Report(group: ip("239.1.1.1")), vlan: VLANTag(vid: 5))
        #expect(parseError(ethernet: Array(tagged[0..<16])) == .truncated(.vlanTag, needed: 18, have: 16))
        let qinq = try frame(.v2Report(group: ip("239.1.1.1")), vlan: VLANTag(vid: 5, tpid: VLANTag.tpid8021AD),
                             inner: VLANTag(vid: 6))
        #expect(parseError(ethernet: Array(qinq[0..<21])) == .truncated(.vlanTag, needed: 22, have: 21))
        let threeTags = Array(qinq[0..<12]) + [0x81, 0x00, 0x00, 0x07] + Array(qinq[12...])
        #expect(parseError(ethernet: threeTags) == .tooManyVLANTags)
    }

    @Test func ipv4Header() throws {
        let good = try goodFrame()
        #expect(parseError(ethernet: Array(good[0..<33])) == .truncated(.ipv4Header, needed: 20, have: 19))

        var v6 = good
        v6[Self.ipStart] = 0x66
        #expect(parseError(ethernet: v6) == .ipVersion(6))

        var ihl4 = good
        ihl4[Self.ipStart] = 0x44
        #expect(parseError(ethernet: ihl4) == .ihlTooSmall(4))

        var ihl15 = good
        ihl15[Self.ipStart] = 0x4F
        #expect(parseError(ethernet: ihl15) == .truncated(.ipv4Options, needed: 60, have: 32))

        var tooLong = good
        setTotalLength(&tooLong, at: Self.ipStart, 33)
        #expect(parseError(ethernet: tooLong) == .totalLengthMismatch(headerSays: 33, available: 32))

        var belowHeader = good
        setTotalLength(&belowHeader, at: Self.ipStart, 23)
        #expect(parseError(ethernet: belowHeader) == .totalLengthBelowHeader(totalLength: 23, headerLength: 24))

        var badSum = good
        badSum[Self.ipStart + 8] = 2  // TTL 2 without fixing the checksum
        var fixed = badSum
        fixIPChecksum(&fixed, at: Self.ipStart)
        let stored = UInt16(good[Self.ipStart + 10]) << 8 | UInt16(good[Self.ipStart + 11])
        let right = UInt16(fixed[Self.ipStart + 10]) << 8 | UInt16(fixed[Self.ipStart + 11])
        #expect(parseError(ethernet: badSum) == .badIPChecksum(stored: stored, computed: right))

        var moreFragments = good
        moreFragments[Self.ipStart + 6] = 0x20
        fixIPChecksum(&moreFragments, at: Self.ipStart)
        #expect(parseError(ethernet: moreFragments) == .fragment(offset: 0, moreFragments: true))
        var laterFragment = good
        laterFragment[Self.ipStart + 7] = 185
        fixIPChecksum(&laterFragment, at: Self.ipStart)
        #expect(parseError(ethernet: laterFragment) == .fragment(offset: 1480, moreFragments: false))
        var dontFragment = good
        dontFragment[Self.ipStart + 6] = 0x40
        fixIPChecksum(&dontFragment, at: Self.ipStart)
        #expect(parseError(ethernet: dontFragment) == nil, "DF alone is not a fragment")

        var udp = good
        udp[Self.ipStart + 9] = 17
        fixIPChecksum(&udp, at: Self.ipStart)
        #expect(parseError(ethernet: udp) == .notIGMP(protocolNumber: 17))
    }

    @Test func ipv4Options() throws {
        let good = try goodFrame()
        var overlong = good
        overlong[Self.ipStart + 21] = 9  // Router Alert claiming 9 bytes in a 4-byte area
        fixIPChecksum(&overlong, at: Self.ipStart)
        #expect(parseError(ethernet: overlong) == .malformedIPOption(offset: 20, kind: 0x94))
        var tooShort = good
        tooShort[Self.ipStart + 21] = 1
        fixIPChecksum(&tooShort, at: Self.ipStart)
        #expect(parseError(ethernet: tooShort) == .malformedIPOption(offset: 20, kind: 0x94))
        var lastByte = good
        lastByte[Self.ipStart + 20] = 1  // NOP NOP NOP then a lone type byte
        lastByte[Self.ipStart + 21] = 1
        lastByte[Self.ipStart + 22] = 1
        lastByte[Self.ipStart + 23] = 0x44
        fixIPChecksum(&lastByte, at: Self.ipStart)
        #expect(parseError(ethernet: lastByte) == .malformedIPOption(offset: 23, kind: 0x44))
    }

    @Test func ethernetPaddingBeyondTotalLengthIsIgnored() throws {
        let good = try goodFrame()
        let padded = good + [UInt8](repeating: 0, count: 60 - good.count)
        let decoded = try IGMPDecoder.decode(ethernetFrame: padded)
        #expect(decoded.message == .v2Report(group: ip("239.1.1.1")))
        #expect(decoded.igmpLength == 8)
        let junk = good + [UInt8](repeating: 0xA5, count: 20)
        #expect(try IGMPDecoder.decode(ethernetFrame: junk).igmpChecksumOK)
    }

    @Test func igmpChecksumAndLength() throws {
        let good = try goodFrame()
        var corrupt = good
        corrupt[Self.igmpStart + 7] ^= 0x01  // group 239.1.1.1 → 239.1.1.0
        var fixed = corrupt
        fixIGMPChecksum(&fixed, at: Self.igmpStart)
        let stored = UInt16(good[Self.igmpStart + 2]) << 8 | UInt16(good[Self.igmpStart + 3])
        let right = UInt16(fixed[Self.igmpStart + 2]) << 8 | UInt16(fixed[Self.igmpStart + 3])
        #expect(parseError(ethernet: corrupt) == .badIGMPChecksum(stored: stored, computed: right))

        // With verification off, the same frame decodes and says its checksum is bad.
        let lenient = try IGMPDecoder.decode(ethernetFrame: corrupt, verifyChecksums: false)
        #expect(!lenient.igmpChecksumOK && lenient.ip?.checksumOK == true)
        #expect(lenient.message == .v2Report(group: ip("239.1.1.0")))
        var badIP = good
        badIP[Self.ipStart + 8] = 9
        let lenientIP = try IGMPDecoder.decode(ethernetFrame: badIP, verifyChecksums: false)
        #expect(lenientIP.ip?.checksumOK == false && lenientIP.igmpChecksumOK)

        let short = withIGMP(good, Array(good[Self.igmpStart..<(Self.igmpStart + 7)]), fixChecksum: false)
        #expect(parseError(ethernet: short) == .igmpTooShort(length: 7))
        #expect(parseError(ethernet: withIGMP(good, [], fixChecksum: false)) == .igmpTooShort(length: 0))
        #expect(throws: IGMPParseError.igmpTooShort(length: 0)) {
            try IGMPDecoder.decode(igmpMessage: [])
        }
    }

    @Test func queryLengths() throws {
        let query = try IGMPEncoder.encode(.query(.v2()))
        let good = try goodFrame(.query(.v2()))
        for extra in 1...3 {
            let odd = withIGMP(good, query + [UInt8](repeating: 0, count: extra))
            #expect(parseError(ethernet: odd) == .queryLengthInvalid(length: 8 + extra))
        }
        // 12 bytes is v3, 16 with trailing data is still fine (RFC 3376 §4.1.10).
        #expect(parseError(ethernet: withIGMP(good, query + [0, 0, 0, 0])) == nil)

        let gss = try IGMPEncoder.encode(.query(.v3(group: ip("232.1.1.1"), sources: [ip("10.0.0.1"), ip("10.0.0.2")])))
        var threeSources = gss
        threeSources[11] = 3
        #expect(parseError(ethernet: withIGMP(good, threeSources))
            == .querySourcesPastEnd(sourceCount: 3, needed: 24, have: 20))
        var manySources = gss
        manySources[10] = 0xFF
        manySources[11] = 0xFF
        #expect(parseError(ethernet: withIGMP(good, manySources))
            == .querySourcesPastEnd(sourceCount: 65535, needed: 12 + 4 * 65535, have: 20))
    }

    @Test func v3ReportStructure() throws {
        let good = try goodFrame()
        let report = try IGMPEncoder.encode(.v3Report([
            GroupRecord(type: .isExclude, group: ip("239.5.5.5"), sources: [ip("10.0.0.1"), ip("10.0.0.2")]),
        ]))
        #expect(report.count == 24)

        var twoRecords = report
        twoRecords[7] = 2
        #expect(parseError(ethernet: withIGMP(good, twoRecords))
            == .reportRecordsPastEnd(recordCount: 2, index: 1, needed: 32, have: 24))
        var noRoom = Array(report[0..<8])
        noRoom[7] = 1
        #expect(parseError(ethernet: withIGMP(good, noRoom))
            == .reportRecordsPastEnd(recordCount: 1, index: 0, needed: 16, have: 8))

        var threeSources = report
        threeSources[8 + 3] = 3
        #expect(parseError(ethernet: withIGMP(good, threeSources))
            == .recordSourcesPastEnd(index: 0, sourceCount: 3, needed: 28, have: 24))

        var aux = report
        aux[8 + 1] = 1
        #expect(parseError(ethernet: withIGMP(good, aux))
            == .recordAuxDataPastEnd(index: 0, auxDataWords: 1, needed: 28, have: 24))
        // The same aux length with the data present is fine.
        #expect(parseError(ethernet: withIGMP(good, aux + [9, 9, 9, 9])) == nil)

        var unknown = report
        unknown[0] = 0x13
        #expect(parseError(ethernet: withIGMP(good, unknown)) == .unknownType(0x13))
        for type in [UInt8(0x00), 0x1E, 0x1F, 0x30, 0xFF] {
            var other = Array(good[Self.igmpStart...])
            other[0] = type
            #expect(parseError(ethernet: withIGMP(good, other)) == .unknownType(type))
        }
    }

    @Test func errorsDescribeThemselves() {
        let cases: [(IGMPParseError, String)] = [
            (.truncated(.ethernetHeader, needed: 14, have: 13), "Ethernet header needs 14 bytes, have 13"),
            (.notIPv4(etherType: 0x86DD), "0x86dd"),
            (.totalLengthMismatch(headerSays: 33, available: 32), "total length 33 exceeds the 32"),
            (.badIGMPChecksum(stored: 0xDEAD, computed: 0xBEEF), "0xdead, expected 0xbeef"),
            (.queryLengthInvalid(length: 10), "10 bytes"),
            (.reportRecordsPastEnd(recordCount: 3, index: 1, needed: 32, have: 24), "record #2"),
            (.recordAuxDataPastEnd(index: 0, auxDataWords: 2, needed: 32, have: 24), "2 words"),
            (.unknownType(0x13), "0x13"),
            (.fragment(offset: 8, moreFragments: true), "more fragments"),
        ]
        for (error, fragment) in cases {
            #expect(error.description.contains(fragment), "\(error.description)")
        }
    }
}
