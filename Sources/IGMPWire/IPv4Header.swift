/// What an IPv4 header said, with the facts IGMP handling cares about pre-digested.
public struct IPv4Header: Sendable, Hashable {
    /// IP protocol number of IGMP.
    public static let protocolIGMP: UInt8 = 2
    /// The Router Alert option as IGMP sends it (RFC 2113 §2.1): type 0x94
    /// (copied, class 0, number 20), length 4, value 0 "router shall examine packet".
    public static let routerAlertOption: [UInt8] = [0x94, 0x04, 0x00, 0x00]

    /// Source address.
    public var source: IPv4Address
    /// Destination address.
    public var destination: IPv4Address
    /// Time to live (IGMP is sent with 1).
    public var ttl: UInt8
    /// Type of service / DSCP+ECN octet (IGMP is sent with 0xc0, Internetwork Control).
    public var tos: UInt8
    /// Header length in 32-bit words, 5–15.
    public var ihl: UInt8
    /// Total Length field: header plus payload, in bytes.
    public var totalLength: UInt16
    /// Identification field.
    public var identification: UInt16
    /// Don't Fragment flag.
    public var dontFragment: Bool
    /// More Fragments flag.
    public var moreFragments: Bool
    /// Fragment offset in bytes (the field × 8).
    public var fragmentOffset: Int
    /// Protocol field.
    public var protocolNumber: UInt8
    /// Header Checksum field as stored.
    public var headerChecksum: UInt16
    /// Whether ``headerChecksum`` is right.
    public var checksumOK: Bool
    /// Whether the options carry Router Alert (`94 04 00 00`). Many switches omit it;
    /// it is reported, not required (RFC 3376 §9.1 only says routers SHOULD check).
    public var routerAlert: Bool

    /// Header length in bytes (IHL × 4).
    public var headerLength: Int { Int(ihl) * 4 }

    /// Creates header info.
    public init(source: IPv4Address, destination: IPv4Address, ttl: UInt8 = 1, tos: UInt8 = 0xC0,
                ihl: UInt8 = 6, totalLength: UInt16 = 0, identification: UInt16 = 0,
                dontFragment: Bool = false, moreFragments: Bool = false, fragmentOffset: Int = 0,
                protocolNumber: UInt8 = IPv4Header.protocolIGMP, headerChecksum: UInt16 = 0,
                checksumOK: Bool = true, routerAlert: Bool = true) {
        self.source = source
        self.destination = destination
        self.ttl = ttl
        self.tos = tos
        self.ihl = ihl
        self.totalLength = totalLength
        self.identification = identification
        self.dontFragment = dontFragment
        self.moreFragments = moreFragments
        self.fragmentOffset = fragmentOffset
        self.protocolNumber = protocolNumber
        self.headerChecksum = headerChecksum
        self.checksumOK = checksumOK
        self.routerAlert = routerAlert
    }

    /// Parses and validates an IPv4 header of any IHL, in this order: length ≥ 20,
    /// version 4, IHL ≥ 5, options present, Total Length within the bytes (extra bytes
    /// after it are Ethernet padding and ignored), checksum (when `verifyChecksum`),
    /// not a fragment, well-formed options. The protocol is *not* checked here.
    ///
    /// Returns the header and exactly the payload Total Length describes.
    public static func parse(_ packet: UnsafeRawBufferPointer, verifyChecksum: Bool = true)
        throws(IGMPParseError) -> (header: IPv4Header, payload: UnsafeRawBufferPointer) {
        guard packet.count >= 20 else {
            throw .truncated(.ipv4Header, needed: 20, have: packet.count)
        }
        let versionIHL = packet.u8(0)
        guard versionIHL >> 4 == 4 else { throw .ipVersion(versionIHL >> 4) }
        let ihl = versionIHL & 0x0F
        guard ihl >= 5 else { throw .ihlTooSmall(ihl) }
        let headerLength = Int(ihl) * 4
        guard packet.count >= headerLength else {
            throw .truncated(.ipv4Options, needed: headerLength, have: packet.count)
        }
        let totalLength = Int(packet.u16(2))
        guard totalLength >= headerLength else {
            throw .totalLengthBelowHeader(totalLength: totalLength, headerLength: headerLength)
        }
        guard totalLength <= packet.count else {
            throw .totalLengthMismatch(headerSays: totalLength, available: packet.count)
        }
        let headerBytes = packet.slice(0..<headerLength)
        let stored = packet.u16(10)
        let checksumOK = InternetChecksum.isValid(headerBytes)
        if verifyChecksum && !checksumOK {
            throw .badIPChecksum(stored: stored,
                                 computed: InternetChecksum.compute(headerBytes, zeroingFieldAt: 10))
        }
        let flagsFragment = packet.u16(6)
        let moreFragments = flagsFragment & 0x2000 != 0
        let fragmentOffset = Int(flagsFragment & 0x1FFF) * 8
        guard !moreFragments && fragmentOffset == 0 else {
            throw .fragment(offset: fragmentOffset, moreFragments: moreFragments)
        }
        let routerAlert = try scanOptions(headerBytes)
        let header = IPv4Header(
            source: packet.address(12), destination: packet.address(16),
            ttl: packet.u8(8), tos: packet.u8(1), ihl: ihl, totalLength: UInt16(totalLength),
            identification: packet.u16(4), dontFragment: flagsFragment & 0x4000 != 0,
            moreFragments: false, fragmentOffset: 0, protocolNumber: packet.u8(9),
            headerChecksum: stored, checksumOK: checksumOK, routerAlert: routerAlert)
        return (header, packet.slice(headerLength..<totalLength))
    }

    /// Walks the option TLVs (RFC 791 §3.1: 0 ends the list, 1 is a one-byte NOP,
    /// everything else is type, length ≥ 2, data) and reports whether a Router Alert
    /// `94 04 00 00` is among them. Router Alert need not be first: other stacks put
    /// it after NOPs or other options, so checking only bytes 20–23 would miss it.
    static func scanOptions(_ header: UnsafeRawBufferPointer) throws(IGMPParseError) -> Bool {
        var offset = 20
        var routerAlert = false
        let end = header.count
        while offset < end {
            let kind = header.u8(offset)
            if kind == 0 { break }
            if kind == 1 { offset += 1; continue }
            guard offset + 1 < end else { throw .malformedIPOption(offset: offset, kind: kind) }
            let length = Int(header.u8(offset + 1))
            guard length >= 2, offset + length <= end else {
                throw .malformedIPOption(offset: offset, kind: kind)
            }
            if kind == 0x94 && length == 4 && header.u16(offset + 2) == 0 { routerAlert = true }
            offset += length
        }
        return routerAlert
    }
}
