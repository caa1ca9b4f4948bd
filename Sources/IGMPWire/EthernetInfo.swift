/// One 802.1Q or 802.1ad VLAN tag.
public struct VLANTag: Sendable, Hashable, CustomStringConvertible {
    /// 802.1Q customer tag TPID.
    public static let tpid8021Q: UInt16 = 0x8100
    /// 802.1ad service (outer, "QinQ") tag TPID.
    public static let tpid8021AD: UInt16 = 0x88A8

    /// The Tag Protocol Identifier: ``tpid8021Q`` or ``tpid8021AD``.
    public var tpid: UInt16
    /// The Tag Control Information: PCP (3 bits), DEI (1 bit), VID (12 bits).
    public var tci: UInt16

    /// Creates a tag from its raw TPID and TCI.
    public init(tpid: UInt16 = VLANTag.tpid8021Q, tci: UInt16) {
        self.tpid = tpid
        self.tci = tci
    }

    /// Creates a tag from its parts; out-of-range bits of `vid` and `pcp` are dropped.
    public init(vid: UInt16, pcp: UInt8 = 0, dei: Bool = false, tpid: UInt16 = VLANTag.tpid8021Q) {
        self.tpid = tpid
        self.tci = UInt16(pcp & 0x7) << 13 | (dei ? 0x1000 : 0) | (vid & 0x0FFF)
    }

    /// VLAN identifier, 0–4095.
    public var vid: UInt16 { tci & 0x0FFF }
    /// Priority Code Point, 0–7.
    public var pcp: UInt8 { UInt8(truncatingIfNeeded: tci >> 13) }
    /// Drop Eligible Indicator.
    public var dei: Bool { tci & 0x1000 != 0 }

    /// E.g. `"vlan 100"` or `"vlan 100 pcp 6 (802.1ad)"`.
    public var description: String {
        var text = "vlan \(vid)"
        if pcp != 0 { text += " pcp \(pcp)" }
        if dei { text += " dei" }
        if tpid == VLANTag.tpid8021AD { text += " (802.1ad)" }
        return text
    }
}

/// What the Ethernet header (and up to two VLAN tags) of a frame said.
public struct EthernetInfo: Sendable, Hashable {
    /// EtherType of IPv4.
    public static let etherTypeIPv4: UInt16 = 0x0800

    /// Destination MAC.
    public var destination: MACAddress
    /// Source MAC.
    public var source: MACAddress
    /// The first (outer) VLAN tag, if any.
    public var outerVLAN: VLANTag?
    /// The second (inner) VLAN tag, if any; only set when ``outerVLAN`` is.
    public var innerVLAN: VLANTag?
    /// The EtherType after the tags (0x0800 for anything the IGMP parser accepted).
    public var etherType: UInt16
    /// Bytes before the network header: 14, 18 or 22.
    public var headerLength: Int

    /// Creates header info.
    public init(destination: MACAddress, source: MACAddress, outerVLAN: VLANTag? = nil,
                innerVLAN: VLANTag? = nil, etherType: UInt16 = EthernetInfo.etherTypeIPv4,
                headerLength: Int? = nil) {
        self.destination = destination
        self.source = source
        self.outerVLAN = outerVLAN
        self.innerVLAN = innerVLAN
        self.etherType = etherType
        self.headerLength = headerLength
            ?? 14 + (outerVLAN == nil ? 0 : 4) + (innerVLAN == nil ? 0 : 4)
    }

    /// The tags outermost first (allocates; for display).
    public var vlanTags: [VLANTag] { [outerVLAN, innerVLAN].compactMap { $0 } }

    /// Parses the Ethernet header and up to two VLAN tags (TPID 0x8100 or 0x88a8, in
    /// either position), and requires an IPv4 EtherType after them.
    /// Returns the header info and the bytes after it (the IPv4 packet, plus any
    /// Ethernet padding, which the IPv4 parser trims by Total Length).
    public static func parse(_ frame: UnsafeRawBufferPointer) throws(IGMPParseError)
        -> (info: EthernetInfo, payload: UnsafeRawBufferPointer) {
        guard frame.count >= 14 else {
            throw .truncated(.ethernetHeader, needed: 14, have: frame.count)
        }
        var info = EthernetInfo(destination: frame.mac(0), source: frame.mac(6),
                                etherType: frame.u16(12), headerLength: 14)
        var offset = 14
        while info.etherType == VLANTag.tpid8021Q || info.etherType == VLANTag.tpid8021AD {
            guard info.innerVLAN == nil else { throw .tooManyVLANTags }
            guard frame.count >= offset + 4 else {
                throw .truncated(.vlanTag, needed: offset + 4, have: frame.count)
            }
            let tag = VLANTag(tpid: info.etherType, tci: frame.u16(offset))
            if info.outerVLAN == nil { info.outerVLAN = tag } else { info.innerVLAN = tag }
            info.etherType = frame.u16(offset + 2)
            offset += 4
        }
        info.headerLength = offset
        guard info.etherType == etherTypeIPv4 else { throw .notIPv4(etherType: info.etherType) }
        return (info, frame.slice(offset..<frame.count))
    }
}
