/// How the encoder fills the IPv4 header. The defaults are what IGMP requires
/// (RFC 2236 §2, RFC 3376 §4): TTL 1, TOS 0xc0 (Internetwork Control), Router Alert
/// on, so IHL 6. Tests change them to build odd or non-conforming packets.
public struct IPv4EncodeOptions: Sendable, Hashable {
    /// Time to live.
    public var ttl: UInt8
    /// Type of service octet.
    public var tos: UInt8
    /// Whether to add the Router Alert option `94 04 00 00` (RFC 2113).
    public var routerAlert: Bool
    /// Identification field. 0 by default: IGMP is never fragmented (DF is left
    /// clear, as Linux does for IGMP), so the field has no use.
    public var identification: UInt16
    /// Whether to set Don't Fragment.
    public var dontFragment: Bool

    /// Creates options; every default is the IGMP one.
    public init(ttl: UInt8 = 1, tos: UInt8 = 0xC0, routerAlert: Bool = true,
                identification: UInt16 = 0, dontFragment: Bool = false) {
        self.ttl = ttl
        self.tos = tos
        self.routerAlert = routerAlert
        self.identification = identification
        self.dontFragment = dontFragment
    }

    /// IPv4 header length these options produce: 24 with Router Alert, else 20.
    public var headerLength: Int { routerAlert ? 24 : 20 }
}

/// How the encoder fills the Ethernet header.
public struct EthernetEncodeOptions: Sendable, Hashable {
    /// Source MAC (the sending interface's).
    public var source: MACAddress
    /// Destination MAC for a *unicast* IP destination (from a neighbour lookup).
    /// Ignored for multicast destinations, whose MAC is always derived from the group
    /// (RFC 1112 §6.4) so a caller cannot send to a MAC receivers filter out.
    public var destination: MACAddress?
    /// Outer VLAN tag, if any.
    public var outerVLAN: VLANTag?
    /// Inner VLAN tag (QinQ); only written when ``outerVLAN`` is set.
    public var innerVLAN: VLANTag?
    /// Zero-pad the frame to the 60-byte Ethernet minimum (without FCS). Off by
    /// default: NICs and veth pad on transmit, and AF_XDP frames are sent as given.
    public var padToMinimum: Bool

    /// Creates options.
    public init(source: MACAddress, destination: MACAddress? = nil, outerVLAN: VLANTag? = nil,
                innerVLAN: VLANTag? = nil, padToMinimum: Bool = false) {
        self.source = source
        self.destination = destination
        self.outerVLAN = outerVLAN
        self.innerVLAN = innerVLAN
        self.padToMinimum = padToMinimum
    }

    /// Ethernet header length: 14, plus 4 per VLAN tag written.
    public var headerLength: Int {
        guard outerVLAN != nil else { return 14 }
        return innerVLAN == nil ? 18 : 22
    }
}

extension IGMPEncoder {
    /// Encodes an IPv4 packet carrying `message`. `destination` defaults to the
    /// message's ``IGMPMessage/defaultDestination``.
    /// - Returns: the number of bytes written (IP Total Length).
    public static func encodeIPv4(_ message: IGMPMessage, source: IPv4Address,
                                  destination: IPv4Address? = nil,
                                  options: IPv4EncodeOptions = IPv4EncodeOptions(),
                                  into buffer: UnsafeMutableRawBufferPointer) throws(IGMPEncodeError) -> Int {
        let payloadLength = try validatedLength(of: message)
        let headerLength = options.headerLength
        let total = headerLength + payloadLength
        guard total <= 0xFFFF else { throw .packetTooLarge(totalLength: total) }
        guard total <= buffer.count else { throw .bufferTooSmall(needed: total, have: buffer.count) }
        _ = try encode(message, into: UnsafeMutableRawBufferPointer(rebasing: buffer[headerLength..<total]))
        writeIPv4Header(into: buffer, payloadLength: payloadLength, source: source,
                        destination: destination ?? message.defaultDestination, options: options)
        return total
    }

    /// Encodes an IPv4 packet around an already-encoded IGMP message, copied as is
    /// (its checksum does not cover the IP header, so forwarding keeps it valid).
    /// `payload` may overlap `buffer`; the copy is a memmove.
    public static func encodeIPv4(payload: UnsafeRawBufferPointer, source: IPv4Address,
                                  destination: IPv4Address,
                                  options: IPv4EncodeOptions = IPv4EncodeOptions(),
                                  into buffer: UnsafeMutableRawBufferPointer) throws(IGMPEncodeError) -> Int {
        let headerLength = options.headerLength
        let total = headerLength + payload.count
        guard total <= 0xFFFF else { throw .packetTooLarge(totalLength: total) }
        guard total <= buffer.count else { throw .bufferTooSmall(needed: total, have: buffer.count) }
        if payload.count > 0 {
            UnsafeMutableRawBufferPointer(rebasing: buffer[headerLength..<total]).copyMemory(from: payload)
        }
        writeIPv4Header(into: buffer, payloadLength: payload.count, source: source,
                        destination: destination, options: options)
        return total
    }

    /// Encodes a whole Ethernet frame carrying `message`. The destination MAC is
    /// derived from the IP destination when it is multicast, else taken from
    /// `ethernet.destination` (required then).
    /// - Returns: the number of bytes written.
    public static func encodeEthernet(_ message: IGMPMessage, ethernet: EthernetEncodeOptions,
                                      source: IPv4Address, destination: IPv4Address? = nil,
                                      options: IPv4EncodeOptions = IPv4EncodeOptions(),
                                      into buffer: UnsafeMutableRawBufferPointer) throws(IGMPEncodeError) -> Int {
        let ipDestination = destination ?? message.defaultDestination
        let macDestination = try destinationMAC(for: ipDestination, ethernet)
        let headerLength = ethernet.headerLength
        let ipLength = options.headerLength + (try validatedLength(of: message))
        let frameLength = ethernet.padToMinimum ? max(60, headerLength + ipLength) : headerLength + ipLength
        guard frameLength <= buffer.count else {
            throw .bufferTooSmall(needed: frameLength, have: buffer.count)
        }
        _ = try encodeIPv4(message, source: source, destination: ipDestination, options: options,
                           into: UnsafeMutableRawBufferPointer(rebasing: buffer[headerLength...]))
        writeEthernetHeader(into: buffer, ethernet, destination: macDestination)
        for index in (headerLength + ipLength)..<frameLength { buffer.put8(0, at: index) }
        return frameLength
    }

    /// Encodes an IPv4 packet into a new array.
    public static func ipv4Packet(_ message: IGMPMessage, source: IPv4Address,
                                  destination: IPv4Address? = nil,
                                  options: IPv4EncodeOptions = IPv4EncodeOptions()) throws(IGMPEncodeError) -> [UInt8] {
        let length = try validatedLength(of: message) + options.headerLength
        return try makeArray(count: length) { buffer throws(IGMPEncodeError) in
            try encodeIPv4(message, source: source, destination: destination, options: options, into: buffer)
        }
    }

    /// Encodes an Ethernet frame into a new array.
    public static func ethernetFrame(_ message: IGMPMessage, ethernet: EthernetEncodeOptions,
                                     source: IPv4Address, destination: IPv4Address? = nil,
                                     options: IPv4EncodeOptions = IPv4EncodeOptions()) throws(IGMPEncodeError) -> [UInt8] {
        let length = max(ethernet.padToMinimum ? 60 : 0,
                         ethernet.headerLength + options.headerLength + (try validatedLength(of: message)))
        return try makeArray(count: length) { buffer throws(IGMPEncodeError) in
            try encodeEthernet(message, ethernet: ethernet, source: source, destination: destination,
                               options: options, into: buffer)
        }
    }

    static func destinationMAC(for destination: IPv4Address, _ ethernet: EthernetEncodeOptions)
        throws(IGMPEncodeError) -> MACAddress {
        if destination.isMulticast { return .multicast(for: destination) }
        guard let mac = ethernet.destination else { throw .unicastDestinationNeedsMAC(destination) }
        return mac
    }

    /// Writes the IPv4 header (and Router Alert) in front of `payloadLength` bytes
    /// already in place, then its checksum. `buffer` holds at least the whole packet.
    static func writeIPv4Header(into buffer: UnsafeMutableRawBufferPointer, payloadLength: Int,
                                source: IPv4Address, destination: IPv4Address,
                                options: IPv4EncodeOptions) {
        let headerLength = options.headerLength
        buffer.put8(0x40 | UInt8(headerLength / 4), at: 0)
        buffer.put8(options.tos, at: 1)
        buffer.put16(UInt16(truncatingIfNeeded: headerLength + payloadLength), at: 2)
        buffer.put16(options.identification, at: 4)
        buffer.put16(options.dontFragment ? 0x4000 : 0, at: 6)
        buffer.put8(options.ttl, at: 8)
        buffer.put8(IPv4Header.protocolIGMP, at: 9)
        buffer.put16(0, at: 10)
        buffer.put(source, at: 12)
        buffer.put(destination, at: 16)
        if options.routerAlert {
            buffer.put32(0x9404_0000, at: 20)  // RFC 2113 §2.1
        }
        let checksum = InternetChecksum.compute(buffer.readOnly(0..<headerLength))
        buffer.put16(checksum, at: 10)
    }

    /// Writes MACs, tags and the IPv4 EtherType.
    static func writeEthernetHeader(into buffer: UnsafeMutableRawBufferPointer,
                                    _ ethernet: EthernetEncodeOptions, destination: MACAddress) {
        buffer.put(destination, at: 0)
        buffer.put(ethernet.source, at: 6)
        var offset = 12
        if let outer = ethernet.outerVLAN {
            buffer.put16(outer.tpid, at: offset)
            buffer.put16(outer.tci, at: offset + 2)
            offset += 4
            if let inner = ethernet.innerVLAN {
                buffer.put16(inner.tpid, at: offset)
                buffer.put16(inner.tci, at: offset + 2)
                offset += 4
            }
        }
        buffer.put16(EthernetInfo.etherTypeIPv4, at: offset)
    }
}
