import IGMPWire

/// The frames every subcommand measures, built once up front.
enum BenchFrames {
    /// Source MAC of generated frames (locally administered).
    static let sourceMAC = MACAddress(0x02, 0x00, 0x00, 0x00, 0xbe, 0x01)
    static let source = IPv4Address(10, 200, 0, 1)
    static let udpGroup = IPv4Address(239, 1, 1, 1)
    static let reportGroup = IPv4Address(239, 1, 2, 3)

    /// A 60-byte UDP datagram to 239.1.1.1:5001, the kind of multicast
    /// data the classifier must let through at the lowest cost. 60 bytes is
    /// the Ethernet minimum (without FCS), the worst case per byte.
    static func udpMulticast(to group: IPv4Address = udpGroup, from source: IPv4Address = source,
                             sourceMAC: MACAddress = sourceMAC) -> [UInt8] {
        let payload = 18
        var f: [UInt8] = []
        f.reserveCapacity(60)
        append(mac: .multicast(for: group), to: &f)
        append(mac: sourceMAC, to: &f)
        f += [0x08, 0x00]
        let ipStart = f.count
        let total = 20 + 8 + payload
        f += [0x45, 0x00, UInt8(total >> 8), UInt8(total & 0xff), 0, 0, 0x40, 0x00, 16, 17, 0, 0]
        f += source.octetArray + group.octetArray
        let checksum = f[ipStart...].withUnsafeBytes { InternetChecksum.compute($0) }
        f[ipStart + 10] = UInt8(checksum >> 8)
        f[ipStart + 11] = UInt8(checksum & 0xff)
        // UDP 40000 → 5001, checksum 0 (none; legal over IPv4).
        f += [0x9c, 0x40, 0x13, 0x89, 0, UInt8(8 + payload), 0, 0]
        f += [UInt8](repeating: 0x5a, count: payload)
        return f
    }

    /// An IGMPv2 report for 239.1.2.3 with Router Alert (IHL 6), as a Linux
    /// host sends it; optionally 802.1Q-tagged (VID 100).
    static func v2Report(vlan: Bool = false) throws -> [UInt8] {
        let ethernet = EthernetEncodeOptions(source: sourceMAC,
                                             outerVLAN: vlan ? VLANTag(vid: 100) : nil,
                                             padToMinimum: true)
        return try IGMPEncoder.ethernetFrame(.v2Report(group: reportGroup), ethernet: ethernet, source: source)
    }

    private static func append(mac: MACAddress, to f: inout [UInt8]) {
        let o = mac.octets
        f += [o.0, o.1, o.2, o.3, o.4, o.5]
    }
}

extension IPv4Address {
    /// The four octets in network order.
    var octetArray: [UInt8] {
        let v = rawValue
        return [UInt8(v >> 24), UInt8((v >> 16) & 0xff), UInt8((v >> 8) & 0xff), UInt8(v & 0xff)]
    }
}
