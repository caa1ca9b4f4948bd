import IGMPWire
import Testing
import XigmpTestSupport

@Suite struct PcapTests {
    @Test func fileHeaderBytes() {
        #expect(hexString(PcapWriter.fileHeader(linkType: .ethernet)) ==
            "d4c3b2a1" + "02000400" + "00000000" + "00000000" + "00000400" + "01000000")
        #expect(hexString(PcapWriter.fileHeader(linkType: .raw, snapLength: 65535, nanosecondResolution: true)) ==
            "4d3cb2a1" + "02000400" + "00000000" + "00000000" + "ffff0000" + "65000000")
    }

    @Test func writeThenReadEveryFrameKind() throws {
        var writer = PcapWriter()
        let frames = try samples.map { try frame($0.message) }
        for (index, data) in frames.enumerated() {
            writer.append(data, seconds: 1_700_000_000 + UInt32(index), subseconds: 250_000)
        }
        var reader = try PcapReader(bytes: writer.bytes)
        #expect(reader.linkType == .ethernet && !reader.bigEndian && !reader.nanosecondResolution)
        #expect(reader.version.major == 2 && reader.version.minor == 4)
        let records = try reader.readAll()
        #expect(records.map(\.data) == frames)
        #expect(records.first?.nanoseconds == 250_000_000)
        #expect(records.last?.seconds == 1_700_000_000 + UInt32(frames.count - 1))
        for (record, sample) in zip(records, samples) {
            #expect(try IGMPDecoder.decode(ethernetFrame: record.data).message == sample.message)
        }
    }

    @Test func rawLinkTypeNanosecondsAndSnapLength() throws {
        var writer = PcapWriter(linkType: .raw, snapLength: 30, nanosecondResolution: true)
        let packet = try IGMPEncoder.ipv4Packet(.v3Report([]), source: hostIP)
        writer.append(packet, seconds: 5, subseconds: 123)
        var reader = try PcapReader(bytes: writer.bytes)
        #expect(reader.linkType == .raw && reader.nanosecondResolution)
        let record = try #require(try reader.next())
        #expect(record.data == Array(packet[0..<30]) && record.originalLength == 32 && record.nanoseconds == 123)
        #expect(try reader.next() == nil)
    }

    @Test func readsBigEndianFiles() throws {
        let file: [UInt8] = [0xA1, 0xB2, 0xC3, 0xD4, 0, 2, 0, 4, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xFF, 0xFF, 0, 0, 0, 1,
                             0, 0, 0, 9, 0, 0, 0, 7, 0, 0, 0, 3, 0, 0, 0, 3, 0xAA, 0xBB, 0xCC]
        var reader = try PcapReader(bytes: file)
        #expect(reader.bigEndian && reader.linkType == .ethernet && reader.snapLength == 65535)
        let record = try #require(try reader.next())
        #expect(record.seconds == 9 && record.nanoseconds == 7000 && record.data == [0xAA, 0xBB, 0xCC])
    }

    @Test func typedErrorsForBadFiles() throws {
        let good = PcapWriter().bytes
        #expect(throws: PcapError.truncatedFileHeader(have: 23)) { try PcapReader(bytes: Array(good[0..<23])) }
        #expect(throws: PcapError.pcapngNotSupported) {
            try PcapReader(bytes: [0x0A, 0x0D, 0x0D, 0x0A] + Array(good[4...]))
        }
        #expect(throws: PcapError.badMagic(0x6464_6464)) {
            try PcapReader(bytes: [0x64, 0x64, 0x64, 0x64] + Array(good[4...]))
        }
        var version = good
        version[4] = 1
        #expect(throws: PcapError.unsupportedVersion(major: 1, minor: 4)) { try PcapReader(bytes: version) }

        var writer = PcapWriter()
        writer.append([1, 2, 3, 4], seconds: 0)
        let file = writer.bytes
        var cutHeader = try PcapReader(bytes: Array(file[0..<30]))
        #expect(throws: PcapError.truncatedRecordHeader(offset: 24, have: 6)) { try cutHeader.next() }
        var cutData = try PcapReader(bytes: Array(file[0..<42]))
        #expect(throws: PcapError.truncatedRecordData(offset: 40, needed: 4, have: 2)) { try cutData.next() }
        var huge = file
        huge[32] = 0xFF
        huge[33] = 0xFF
        huge[34] = 0xFF
        huge[35] = 0x7F
        var hugeReader = try PcapReader(bytes: huge)
        #expect(throws: PcapError.recordTooLarge(offset: 24, capturedLength: 0x7FFF_FFFF, limit: 262_144)) {
            try hugeReader.next()
        }
        #expect(PcapError.pcapngNotSupported.description.contains("editcap"))
    }
}
