/// Hand-built frames for the classifier tests: written byte by byte here so
/// the classifier is not checked only against xigmp's own encoder.
package enum TestFrames {
    package static let srcMAC: [UInt8] = [0x02, 0x00, 0x00, 0x00, 0x00, 0x02]

    package static func ethernet(dst: [UInt8] = [0x01, 0x00, 0x5e, 0x00, 0x00, 0x01],
                         vlans: [UInt16] = [], etherType: UInt16 = 0x0800) -> [UInt8] {
        var f = dst + srcMAC
        // Outer tag 802.1ad when stacked (QinQ), 802.1Q otherwise.
        for (i, vid) in vlans.enumerated() {
            let tpid: UInt16 = (vlans.count == 2 && i == 0) ? 0x88a8 : 0x8100
            f += be16(tpid) + be16(vid)
        }
        return f + be16(etherType)
    }

    package static func be16(_ v: UInt16) -> [UInt8] { [UInt8(v >> 8), UInt8(v & 0xff)] }

    package static func checksum(_ bytes: [UInt8]) -> UInt16 {
        var sum: UInt32 = 0
        var i = 0
        while i + 1 < bytes.count { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]); i += 2 }
        if i < bytes.count { sum += UInt32(bytes[i]) << 8 }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return ~UInt16(sum)
    }

    /// An IPv4 header; `options` are padded to a multiple of 4 with END.
    package static func ipv4(payloadLength: Int, proto: UInt8 = 2, options: [UInt8] = [0x94, 0x04, 0x00, 0x00],
                     src: [UInt8] = [10, 0, 0, 2], dst: [UInt8] = [224, 0, 0, 1],
                     ihlOverride: UInt8? = nil, totalLengthOverride: Int? = nil,
                     fragment: UInt16 = 0, version: UInt8 = 4) -> [UInt8] {
        var opts = options
        while opts.count % 4 != 0 { opts.append(0) }
        let ihl = ihlOverride ?? UInt8(5 + opts.count / 4)
        let total = totalLengthOverride ?? (20 + opts.count + payloadLength)
        var h: [UInt8] = [version << 4 | (ihl & 0xf), 0xc0] + be16(UInt16(total)) + [0, 0] + be16(fragment)
        h += [1, proto, 0, 0] + src + dst + opts
        let c = checksum(h)
        h[10] = UInt8(c >> 8); h[11] = UInt8(c & 0xff)
        return h
    }

    /// An 8-byte IGMP message (query v2, reports, leave) with checksum.
    package static func igmp(type: UInt8, code: UInt8 = 0, group: [UInt8] = [0, 0, 0, 0]) -> [UInt8] {
        var m: [UInt8] = [type, code, 0, 0] + group
        let c = checksum(m)
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xff)
        return m
    }

    /// A v3 report with one IS_EX{} record for 239.1.1.1.
    package static func v3Report() -> [UInt8] {
        var m: [UInt8] = [0x22, 0, 0, 0, 0, 0, 0, 1, 2, 0, 0, 0, 239, 1, 1, 1]
        let c = checksum(m)
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xff)
        return m
    }

    /// A complete IGMP frame of wire type `type`.
    package static func igmpFrame(type: UInt8, routerAlert: Bool = true, vlans: [UInt16] = []) -> [UInt8] {
        let msg = type == 0x22 ? v3Report() : igmp(type: type, code: type == 0x11 ? 100 : 0,
                                                    group: type == 0x11 ? [0, 0, 0, 0] : [239, 1, 2, 3])
        return ethernet(vlans: vlans) + ipv4(payloadLength: msg.count, options: routerAlert ? [0x94, 4, 0, 0] : []) + msg
    }

    /// Pads to the 60-byte Ethernet minimum, as a NIC delivers short frames.
    package static func padded(_ f: [UInt8]) -> [UInt8] {
        f.count >= 60 ? f : f + Array(repeating: 0, count: 60 - f.count)
    }
}
