/// A validated IGMP packet at any layer, read in place without allocating: the
/// hot-path entry point for frames from an AF_XDP ring or a raw socket.
///
/// ```swift
/// let packet = try IGMPPacketView(ethernetFrame: frame)
/// for record in packet.igmp.records where record.isLeave { … }
/// ```
public struct IGMPPacketView {
    /// The Ethernet header, when parsed from a frame.
    public let ethernet: EthernetInfo?
    /// The IPv4 header, when parsed from a frame or an IP packet.
    public let ip: IPv4Header?
    /// The IGMP message.
    public let igmp: IGMPMessageView

    /// Parses an Ethernet frame: header, up to two VLAN tags, IPv4, IGMP. Ethernet
    /// padding after IP Total Length is ignored. With `verifyChecksums` false, bad IP
    /// and IGMP checksums are reported through `checksumOK` instead of thrown.
    public init(ethernetFrame frame: UnsafeRawBufferPointer, verifyChecksums: Bool = true)
        throws(IGMPParseError) {
        let (info, payload) = try EthernetInfo.parse(frame)
        let (ip, igmp) = try Self.parseIPv4(payload, verifyChecksums: verifyChecksums)
        self.ethernet = info
        self.ip = ip
        self.igmp = igmp
    }

    /// Parses an IPv4 packet (an L3 device, a raw socket, or LINKTYPE_RAW pcap).
    public init(ipv4Packet packet: UnsafeRawBufferPointer, verifyChecksums: Bool = true)
        throws(IGMPParseError) {
        let (ip, igmp) = try Self.parseIPv4(packet, verifyChecksums: verifyChecksums)
        self.ethernet = nil
        self.ip = ip
        self.igmp = igmp
    }

    /// Parses a bare IGMP message (e.g. what a kernel IGMP socket hands over after the
    /// IP header, or a test vector).
    public init(igmpMessage message: UnsafeRawBufferPointer, verifyChecksums: Bool = true)
        throws(IGMPParseError) {
        self.ethernet = nil
        self.ip = nil
        self.igmp = try IGMPMessageView(message, verifyChecksum: verifyChecksums)
    }

    static func parseIPv4(_ packet: UnsafeRawBufferPointer, verifyChecksums: Bool)
        throws(IGMPParseError) -> (IPv4Header, IGMPMessageView) {
        let (header, payload) = try IPv4Header.parse(packet, verifyChecksum: verifyChecksums)
        guard header.protocolNumber == IPv4Header.protocolIGMP else {
            throw .notIGMP(protocolNumber: header.protocolNumber)
        }
        return (header, try IGMPMessageView(payload, verifyChecksum: verifyChecksums))
    }
}

@available(*, unavailable, message: "borrows packet memory; use IGMPDecoder for owned values")
extension IGMPPacketView: Sendable {}

/// An IGMP packet decoded into owned values: what tests, the CLI and anything that
/// keeps a message past the lifetime of the frame use.
public struct DecodedIGMPPacket: Sendable, Hashable {
    /// The Ethernet header, when decoded from a frame.
    public var ethernet: EthernetInfo?
    /// The IPv4 header, when decoded from a frame or IP packet.
    public var ip: IPv4Header?
    /// The message.
    public var message: IGMPMessage
    /// Length of the IGMP message in bytes (may exceed `message.encodedLength` when
    /// the sender appended data the RFCs tell receivers to ignore).
    public var igmpLength: Int
    /// Whether the IGMP checksum is right.
    public var igmpChecksumOK: Bool
    /// v3 group records dropped because their type is unknown (RFC 3376 §4.2.12).
    public var ignoredRecordCount: Int

    /// Copies everything out of a view.
    public init(_ view: IGMPPacketView) {
        ethernet = view.ethernet
        ip = view.ip
        message = view.igmp.message()
        igmpLength = view.igmp.length
        igmpChecksumOK = view.igmp.checksumOK
        var ignored = 0
        for record in view.igmp.records where record.type == nil { ignored += 1 }
        ignoredRecordCount = ignored
    }
}

/// Allocating decode entry points over byte arrays; see ``IGMPPacketView`` for the
/// checks and the zero-allocation path.
public enum IGMPDecoder {
    /// Decodes an Ethernet frame.
    public static func decode(ethernetFrame bytes: [UInt8], verifyChecksums: Bool = true)
        throws(IGMPParseError) -> DecodedIGMPPacket {
        try withBytes(bytes) { buffer throws(IGMPParseError) in
            DecodedIGMPPacket(try IGMPPacketView(ethernetFrame: buffer, verifyChecksums: verifyChecksums))
        }
    }

    /// Decodes an IPv4 packet.
    public static func decode(ipv4Packet bytes: [UInt8], verifyChecksums: Bool = true)
        throws(IGMPParseError) -> DecodedIGMPPacket {
        try withBytes(bytes) { buffer throws(IGMPParseError) in
            DecodedIGMPPacket(try IGMPPacketView(ipv4Packet: buffer, verifyChecksums: verifyChecksums))
        }
    }

    /// Decodes a bare IGMP message.
    public static func decode(igmpMessage bytes: [UInt8], verifyChecksums: Bool = true)
        throws(IGMPParseError) -> DecodedIGMPPacket {
        try withBytes(bytes) { buffer throws(IGMPParseError) in
            DecodedIGMPPacket(try IGMPPacketView(igmpMessage: buffer, verifyChecksums: verifyChecksums))
        }
    }

    /// Runs `body` over the array's bytes, carrying the typed error out through a
    /// Result because `withUnsafeBytes` only rethrows untyped errors.
    static func withBytes<T>(_ bytes: [UInt8],
                             _ body: (UnsafeRawBufferPointer) throws(IGMPParseError) -> T)
        throws(IGMPParseError) -> T {
        let result = bytes.withUnsafeBytes { buffer in
            Result { () throws(IGMPParseError) -> T in try body(buffer) }
        }
        return try result.get()
    }
}
