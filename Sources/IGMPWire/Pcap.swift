// Classic libpcap file format (draft-ietf-opsawg-pcap, "PCAP Capture File Format"):
// a 24-byte file header, then per packet a 16-byte record header and the data.
// Bytes only, no file I/O: the CLI reads and writes the files.

/// A pcap LinkType: what the first byte of each record is.
public struct PcapLinkType: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    /// The LINKTYPE_ number (tcpdump.org link-layer header types).
    public let rawValue: UInt32
    /// Creates a link type from its number.
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// LINKTYPE_ETHERNET (1): records start with an Ethernet header.
    public static let ethernet = PcapLinkType(rawValue: 1)
    /// LINKTYPE_RAW (101): records start with the IPv4 (or IPv6) header; for L3
    /// devices such as GRE and tun.
    public static let raw = PcapLinkType(rawValue: 101)

    /// `"ethernet"`, `"raw"` or `"linktype N"`.
    public var description: String {
        switch rawValue {
        case 1: "ethernet"
        case 101: "raw"
        default: "linktype \(rawValue)"
        }
    }
}

/// Builds a pcap file in memory: the file header at creation, one record per
/// ``append(_:seconds:subseconds:)``. Written little-endian with magic 0xa1b2c3d4
/// (microseconds) or 0xa1b23c4d (nanoseconds), version 2.4.
public struct PcapWriter: Sendable {
    /// The link type in the file header.
    public let linkType: PcapLinkType
    /// Longest record data kept; longer packets are cut and keep their original length.
    public let snapLength: UInt32
    /// Whether timestamps' sub-second part is in nanoseconds instead of microseconds.
    public let nanosecondResolution: Bool
    /// The file so far.
    public private(set) var bytes: [UInt8]

    /// Starts a file with its 24-byte header.
    public init(linkType: PcapLinkType = .ethernet, snapLength: UInt32 = 262_144,
                nanosecondResolution: Bool = false) {
        self.linkType = linkType
        self.snapLength = snapLength
        self.nanosecondResolution = nanosecondResolution
        bytes = PcapWriter.fileHeader(linkType: linkType, snapLength: snapLength,
                                      nanosecondResolution: nanosecondResolution)
    }

    /// The 24-byte file header.
    public static func fileHeader(linkType: PcapLinkType, snapLength: UInt32 = 262_144,
                                  nanosecondResolution: Bool = false) -> [UInt8] {
        var header: [UInt8] = []
        header.reserveCapacity(24)
        appendLE(nanosecondResolution ? 0xA1B2_3C4D : 0xA1B2_C3D4, to: &header)
        appendLE(UInt32(2) | UInt32(4) << 16, to: &header)  // version 2.4, two LE UInt16s
        appendLE(0, to: &header)                               // thiszone (reserved, 0)
        appendLE(0, to: &header)                               // sigfigs (reserved, 0)
        appendLE(snapLength, to: &header)
        appendLE(linkType.rawValue, to: &header)
        return header
    }

    /// Appends one packet. `subseconds` is in microseconds or nanoseconds as the file
    /// says; data beyond ``snapLength`` is cut, the original length is kept.
    public mutating func append(_ packet: UnsafeRawBufferPointer, seconds: UInt32, subseconds: UInt32 = 0) {
        let captured = min(packet.count, Int(snapLength))
        Self.appendLE(seconds, to: &bytes)
        Self.appendLE(subseconds, to: &bytes)
        Self.appendLE(UInt32(truncatingIfNeeded: captured), to: &bytes)
        Self.appendLE(UInt32(truncatingIfNeeded: packet.count), to: &bytes)
        bytes.append(contentsOf: packet.prefix(captured))
    }

    /// Appends one packet from an array.
    public mutating func append(_ packet: [UInt8], seconds: UInt32, subseconds: UInt32 = 0) {
        packet.withUnsafeBytes { append($0, seconds: seconds, subseconds: subseconds) }
    }

    static func appendLE(_ value: UInt32, to bytes: inout [UInt8]) {
        for shift in stride(from: 0, to: 32, by: 8) {
            bytes.append(UInt8(truncatingIfNeeded: value >> UInt32(shift)))
        }
    }
}

/// One packet read from a pcap file.
public struct PcapRecord: Sendable, Hashable {
    /// Timestamp, seconds since the epoch.
    public var seconds: UInt32
    /// Sub-second part of the timestamp, converted to nanoseconds.
    public var nanoseconds: UInt64
    /// Length of the packet on the wire (≥ `data.count` when the capture was cut).
    public var originalLength: UInt32
    /// The captured bytes.
    public var data: [UInt8]
}

/// Why a pcap file could not be read.
public enum PcapError: Error, Equatable, Sendable, CustomStringConvertible {
    /// Fewer than the 24 bytes of the file header.
    case truncatedFileHeader(have: Int)
    /// The file is pcapng (block type 0x0a0d0d0a), which this reader does not handle.
    case pcapngNotSupported
    /// The magic number is none of the four pcap ones.
    case badMagic(UInt32)
    /// A major version other than 2.
    case unsupportedVersion(major: UInt16, minor: UInt16)
    /// A record header at `offset` is cut short: only `have` bytes remain.
    case truncatedRecordHeader(offset: Int, have: Int)
    /// Record data at `offset` needs `needed` bytes, only `have` remain.
    case truncatedRecordData(offset: Int, needed: Int, have: Int)
    /// A record claims more captured bytes than any sane file holds.
    case recordTooLarge(offset: Int, capturedLength: UInt32, limit: UInt32)

    /// A one-line reason.
    public var description: String {
        switch self {
        case let .truncatedFileHeader(have):
            "pcap file header needs 24 bytes, have \(have)"
        case .pcapngNotSupported:
            "file is pcapng; convert with `editcap -F pcap IN OUT`"
        case let .badMagic(magic):
            "not a pcap file (magic 0x\(hex(magic, width: 8)))"
        case let .unsupportedVersion(major, minor):
            "unsupported pcap version \(major).\(minor)"
        case let .truncatedRecordHeader(offset, have):
            "pcap record header at offset \(offset) needs 16 bytes, have \(have)"
        case let .truncatedRecordData(offset, needed, have):
            "pcap record data at offset \(offset) needs \(needed) bytes, have \(have)"
        case let .recordTooLarge(offset, capturedLength, limit):
            "pcap record at offset \(offset) claims \(capturedLength) bytes, limit \(limit)"
        }
    }
}

/// Reads records from a pcap file held in memory; either byte order, micro- or
/// nanosecond timestamps.
public struct PcapReader: Sendable {
    /// The file's link type.
    public let linkType: PcapLinkType
    /// The file's snapshot length.
    public let snapLength: UInt32
    /// Whether timestamps are in nanoseconds.
    public let nanosecondResolution: Bool
    /// Whether the file was written big-endian.
    public let bigEndian: Bool
    /// Format version (2.4 in practice).
    public let version: (major: UInt16, minor: UInt16)

    let bytes: [UInt8]
    var offset = 24

    /// Reads and checks the file header.
    public init(bytes: [UInt8]) throws(PcapError) {
        guard bytes.count >= 24 else { throw .truncatedFileHeader(have: bytes.count) }
        let magic = PcapReader.load32(bytes, 0, bigEndian: false)
        switch magic {
        case 0xA1B2_C3D4: (bigEndian, nanosecondResolution) = (false, false)
        case 0xA1B2_3C4D: (bigEndian, nanosecondResolution) = (false, true)
        case 0xD4C3_B2A1: (bigEndian, nanosecondResolution) = (true, false)
        case 0x4D3C_B2A1: (bigEndian, nanosecondResolution) = (true, true)
        case 0x0A0D_0D0A: throw .pcapngNotSupported
        default: throw .badMagic(magic)
        }
        let major = PcapReader.load16(bytes, 4, bigEndian: bigEndian)
        let minor = PcapReader.load16(bytes, 6, bigEndian: bigEndian)
        guard major == 2 else { throw .unsupportedVersion(major: major, minor: minor) }
        version = (major, minor)
        snapLength = PcapReader.load32(bytes, 16, bigEndian: bigEndian)
        // The top bits of the LinkType word carry FCS information (draft §4); the
        // link type itself is the low 16 bits.
        linkType = PcapLinkType(rawValue: PcapReader.load32(bytes, 20, bigEndian: bigEndian) & 0xFFFF)
        self.bytes = bytes
    }

    /// The next record, nil at a clean end of file, or an error for a cut-off or
    /// absurd record (after which the reader stays at that record).
    public mutating func next() throws(PcapError) -> PcapRecord? {
        let remaining = bytes.count - offset
        if remaining == 0 { return nil }
        guard remaining >= 16 else { throw .truncatedRecordHeader(offset: offset, have: remaining) }
        let seconds = Self.load32(bytes, offset, bigEndian: bigEndian)
        let fraction = Self.load32(bytes, offset + 4, bigEndian: bigEndian)
        let captured = Self.load32(bytes, offset + 8, bigEndian: bigEndian)
        let original = Self.load32(bytes, offset + 12, bigEndian: bigEndian)
        // Wireshark's rule: a record may exceed the snap length (some writers lie) but
        // not the larger of it and 256 KiB.
        let limit = max(snapLength, 262_144)
        guard captured <= limit else {
            throw .recordTooLarge(offset: offset, capturedLength: captured, limit: limit)
        }
        let dataStart = offset + 16
        guard Int(captured) <= bytes.count - dataStart else {
            throw .truncatedRecordData(offset: dataStart, needed: Int(captured), have: bytes.count - dataStart)
        }
        let data = Array(bytes[dataStart..<(dataStart + Int(captured))])
        offset = dataStart + Int(captured)
        return PcapRecord(seconds: seconds,
                          nanoseconds: nanosecondResolution ? UInt64(fraction) : UInt64(fraction) * 1000,
                          originalLength: original, data: data)
    }

    /// Every remaining record, or the first error.
    public mutating func readAll() throws(PcapError) -> [PcapRecord] {
        var records: [PcapRecord] = []
        while let record = try next() { records.append(record) }
        return records
    }

    static func load32(_ bytes: [UInt8], _ at: Int, bigEndian: Bool) -> UInt32 {
        let b = (UInt32(bytes[at]), UInt32(bytes[at + 1]), UInt32(bytes[at + 2]), UInt32(bytes[at + 3]))
        return bigEndian ? b.0 << 24 | b.1 << 16 | b.2 << 8 | b.3 : b.3 << 24 | b.2 << 16 | b.1 << 8 | b.0
    }

    static func load16(_ bytes: [UInt8], _ at: Int, bigEndian: Bool) -> UInt16 {
        let (a, b) = (UInt16(bytes[at]), UInt16(bytes[at + 1]))
        return bigEndian ? a << 8 | b : b << 8 | a
    }
}
