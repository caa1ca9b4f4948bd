import IGMPWire
import Testing
import XigmpTestSupport

/// RFC 1071 checksum: known answers, odd lengths, and agreement with a naive reference.
@Suite struct ChecksumTests {
    /// Textbook one's complement sum, 32-bit accumulate then fold, odd byte padded high.
    static func reference(_ data: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i < data.count {
            let high = UInt32(data[i]) << 8
            let low = i + 1 < data.count ? UInt32(data[i + 1]) : 0
            sum += high | low
            i += 2
        }
        while sum > 0xFFFF { sum = (sum & 0xFFFF) + (sum >> 16) }
        return ~UInt16(sum)
    }

    @Test func rfc1071Example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        #expect(InternetChecksum.compute([0x00, 0x01, 0xF2, 0x03, 0xF4, 0xF5, 0xF6, 0xF7]) == ~UInt16(0xDDF2))
    }

    @Test func ipv4HeaderExample() {
        let header: [UInt8] = [0x45, 0x00, 0x00, 0x73, 0x00, 0x00, 0x40, 0x00, 0x40, 0x11,
                               0x00, 0x00, 0xC0, 0xA8, 0x00, 0x01, 0xC0, 0xA8, 0x00, 0xC7]
        #expect(InternetChecksum.compute(header) == 0xB861)
        var filled = header
        filled[10] = 0xB8
        filled[11] = 0x61
        #expect(InternetChecksum.compute(filled) == 0)
        let expected = filled.withUnsafeBytes { InternetChecksum.compute($0, zeroingFieldAt: 10) }
        #expect(expected == 0xB861)
    }

    @Test func oddLengthPadsTheLastByteHighWithoutChangingTheData() {
        #expect(InternetChecksum.compute([0x01]) == 0xFEFF)
        #expect(InternetChecksum.compute([0x00, 0x01, 0xF2]) == ~UInt16(0x0001 &+ 0xF200))
        #expect(InternetChecksum.compute([]) == 0xFFFF)
    }

    @Test func agreesWithReferenceOnPseudoRandomData() {
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        for length in 0..<300 {
            var data: [UInt8] = []
            for _ in 0..<length {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                data.append(UInt8(truncatingIfNeeded: state >> 56))
            }
            #expect(InternetChecksum.compute(data) == Self.reference(data), "length \(length)")
        }
        let ones = [UInt8](repeating: 0xFF, count: 65_535)
        #expect(InternetChecksum.compute(ones) == Self.reference(ones))
    }

    /// An IGMP message of odd length (trailing data a sender appended) verifies when
    /// its checksum is computed the RFC way, and is decoded without complaint.
    @Test func oddLengthIGMPMessageVerifies() throws {
        var data = try IGMPEncoder.encode(.v2Report(group: ip("239.1.1.1")))
        data.append(0xAB)
        data[2] = 0
        data[3] = 0
        let sum = Self.reference(data)
        data[2] = UInt8(sum >> 8)
        data[3] = UInt8(sum & 0xFF)
        let decoded = try IGMPDecoder.decode(igmpMessage: data)
        #expect(decoded.igmpLength == 9)
        #expect(decoded.message == .v2Report(group: ip("239.1.1.1")))
    }

    /// The encoder's checksums agree with the reference at every layer, and the IGMP
    /// checksum covers exactly the message: the encoder never pads.
    @Test(arguments: samples)
    func encoderChecksumsMatchReference(_ sample: Sample) throws {
        let packet = try IGMPEncoder.ipv4Packet(sample.message, source: hostIP)
        var header = Array(packet[0..<24])
        let stored = UInt16(header[10]) << 8 | UInt16(header[11])
        header[10] = 0
        header[11] = 0
        #expect(stored == Self.reference(header))
        var igmp = Array(packet[24...])
        #expect(igmp.count == sample.message.encodedLength)
        let storedIGMP = UInt16(igmp[2]) << 8 | UInt16(igmp[3])
        igmp[2] = 0
        igmp[3] = 0
        #expect(storedIGMP == Self.reference(igmp))
    }
}
