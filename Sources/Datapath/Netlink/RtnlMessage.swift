import CXigmp
import DatapathKernel
import Glibc
import IGMPWire

/// The fixed header of a netlink message (struct nlmsghdr), host order.
struct NetlinkHeader: Sendable, Equatable {
    var length: UInt32
    var type: UInt16
    var flags: UInt16
    var seq: UInt32
    /// nlmsg_pid: the port a reply is addressed to; in a notification, the
    /// port of whoever caused the change (or 0).
    var port: UInt32

    var interrupted: Bool { flags & UInt16(CXIGMP_NLM_F_DUMP_INTR) != 0 }
}

/// What one rtnetlink message says, reduced to what `LinkTracker` uses.
enum RtnlPayload: Sendable, Equatable {
    /// RTM_NEWLINK (AF_UNSPEC) with a full description of the link.
    case newLink(LinkState)
    /// RTM_DELLINK (AF_UNSPEC).
    case delLink(index: UInt32)
    /// RTM_NEWADDR (AF_INET).
    case newAddress(index: UInt32, LinkAddress)
    /// RTM_DELADDR (AF_INET).
    case delAddress(index: UInt32, LinkAddress)
    /// NLMSG_DONE: the end of a dump; errno 0, or why the dump failed.
    case done(errno: Int32)
    /// NLMSG_ERROR: errno 0 is an acknowledgement.
    case error(errno: Int32)
    /// Well formed but not for us: another family (AF_BRIDGE port
    /// messages, whose RTM_DELLINK means "left the bridge", not "deleted"),
    /// another message type, or a partial RTM_NEWLINK (wireless events
    /// carry only the name and IFLA_WIRELESS).
    case ignored
    /// Lengths that do not fit, a missing mandatory field: skipped.
    case malformed
}

/// One message of a datagram.
struct RtnlMessage: Sendable, Equatable {
    var header: NetlinkHeader
    var payload: RtnlPayload
}

/// Bounds-checked reads from a received datagram: every accessor returns
/// nil rather than read past the end, so no input can trap. Netlink is in
/// host byte order, except addresses (network order, read byte by byte).
struct NetlinkBytes {
    let raw: UnsafeRawBufferPointer

    var count: Int { raw.count }

    private func fits(_ offset: Int, _ size: Int) -> Bool {
        offset >= 0 && size <= raw.count && offset <= raw.count - size
    }

    func u8(_ offset: Int) -> UInt8? {
        fits(offset, 1) ? raw[offset] : nil
    }

    func u16(_ offset: Int) -> UInt16? {
        fits(offset, 2) ? raw.loadUnaligned(fromByteOffset: offset, as: UInt16.self) : nil
    }

    func u32(_ offset: Int) -> UInt32? {
        fits(offset, 4) ? raw.loadUnaligned(fromByteOffset: offset, as: UInt32.self) : nil
    }

    func bytes(_ range: Range<Int>) -> ArraySlice<UInt8>? {
        guard range.lowerBound >= 0, range.upperBound <= raw.count else { return nil }
        return Array(raw[range])[...]
    }

    /// Walks the attributes (struct nlattr) in `range`, calling `body` with
    /// each type (flag bits masked off) and payload range. False when an
    /// attribute's length does not fit: the rest of the area is unusable.
    func attributes(in range: Range<Int>, _ body: (UInt16, Range<Int>) -> Void) -> Bool {
        guard range.lowerBound >= 0, range.upperBound <= raw.count else { return false }
        var offset = range.lowerBound
        let header = Int(CXIGMP_NLA_HDRLEN)
        while range.upperBound - offset >= header {
            guard let length16 = u16(offset), let type = u16(offset + 2) else { return false }
            let length = Int(length16)
            guard length >= header, length <= range.upperBound - offset else { return false }
            body(type & UInt16(CXIGMP_NLA_TYPE_MASK), (offset + header)..<(offset + length))
            offset += align(length)
        }
        // Fewer bytes than a header left: alignment padding.
        return true
    }

    /// Rounds up to NLMSG_ALIGNTO (also NLA_ALIGNTO).
    func align(_ length: Int) -> Int {
        let to = Int(CXIGMP_NLMSG_ALIGNTO)
        return (length + to - 1) / to * to
    }
}

enum RtnlParser {
    /// Splits one datagram into messages. A header whose length does not
    /// fit ends the walk (the next header cannot be found) and counts as
    /// one malformed message; a malformed body is reported as `.malformed`
    /// and the walk goes on.
    static func messages(in datagram: UnsafeRawBufferPointer) -> (messages: [RtnlMessage], unparsable: Int) {
        let b = NetlinkBytes(raw: datagram)
        let headerLength = Int(CXIGMP_NLMSG_HDRLEN)
        var result: [RtnlMessage] = []
        var offset = 0
        while b.count - offset >= headerLength {
            guard let length32 = b.u32(offset), let type = b.u16(offset + 4), let flags = b.u16(offset + 6),
                  let seq = b.u32(offset + 8), let port = b.u32(offset + 12) else { return (result, 1) }
            let length = Int(length32)
            guard length >= headerLength, length <= b.count - offset else { return (result, 1) }
            let header = NetlinkHeader(length: length32, type: type, flags: flags, seq: seq, port: port)
            result.append(RtnlMessage(header: header, payload: payload(b, header, offset..<(offset + length))))
            offset += b.align(length)
        }
        return (result, 0)
    }

    static func payload(_ b: NetlinkBytes, _ header: NetlinkHeader, _ message: Range<Int>) -> RtnlPayload {
        let body = message.lowerBound + Int(CXIGMP_NLMSG_HDRLEN)
        switch Int(header.type) {
        case Int(CXIGMP_NLMSG_DONE):
            // Kernels since 2.6 append the dump's status; a bare DONE is success.
            guard message.count >= Int(CXIGMP_NLMSG_HDRLEN) + 4 else { return .done(errno: 0) }
            guard let status = b.u32(body) else { return .malformed }
            return .done(errno: errnoValue(status))
        case Int(CXIGMP_NLMSG_ERROR):
            guard message.count >= Int(CXIGMP_NLMSG_HDRLEN) + 4, let status = b.u32(body) else { return .malformed }
            return .error(errno: errnoValue(status))
        case Int(CXIGMP_RTM_NEWLINK), Int(CXIGMP_RTM_DELLINK):
            return link(b, header, body, message.upperBound)
        case Int(CXIGMP_RTM_NEWADDR), Int(CXIGMP_RTM_DELADDR):
            return address(b, header, body, message.upperBound)
        default:
            return .ignored
        }
    }

    /// A -errno field as a positive errno (0 stays 0). INT_MIN, which has
    /// no positive counterpart, becomes EPROTO rather than overflow.
    static func errnoValue(_ raw: UInt32) -> Int32 {
        let value = Int32(bitPattern: raw)
        if value == Int32.min { return EPROTO }
        return value < 0 ? -value : value
    }

    static func link(_ b: NetlinkBytes, _ header: NetlinkHeader, _ body: Int, _ end: Int) -> RtnlPayload {
        let fixed = Int(CXIGMP_IFINFOMSG_LEN)
        guard end - body >= fixed,
              let family = b.u8(body + Int(CXIGMP_IFINFOMSG_FAMILY)),
              let hwType = b.u16(body + Int(CXIGMP_IFINFOMSG_TYPE)),
              let index32 = b.u32(body + Int(CXIGMP_IFINFOMSG_INDEX)),
              let flags = b.u32(body + Int(CXIGMP_IFINFOMSG_FLAGS)) else { return .malformed }
        // AF_BRIDGE (bridge port) and other per-family messages describe a
        // facet of the link, not the link: an AF_BRIDGE RTM_DELLINK is sent
        // when a port leaves its bridge.
        guard family == UInt8(AF_UNSPEC) else { return .ignored }
        guard Int32(bitPattern: index32) > 0 else { return .malformed }
        if header.type == UInt16(CXIGMP_RTM_DELLINK) { return .delLink(index: index32) }

        var name: String?, mtu: UInt32?, master: UInt32?, operState = OperState.unknown
        var kind: String?, mac: MACAddress?, wireless = false, bad = false, snooping: Bool?
        let ok = b.attributes(in: (body + fixed)..<end) { type, payload in
            switch Int(type) {
            case Int(CXIGMP_IFLA_IFNAME):
                guard let raw = b.bytes(payload) else { bad = true; return }
                let text = raw.prefix { $0 != 0 }
                if text.isEmpty { bad = true } else { name = String(decoding: text, as: UTF8.self) }
            case Int(CXIGMP_IFLA_MTU):
                if payload.count >= 4, let v = b.u32(payload.lowerBound) { mtu = v } else { bad = true }
            case Int(CXIGMP_IFLA_MASTER):
                if payload.count >= 4, let v = b.u32(payload.lowerBound) { master = v == 0 ? nil : v } else { bad = true }
            case Int(CXIGMP_IFLA_OPERSTATE):
                if payload.count >= 1, let v = b.u8(payload.lowerBound) { operState = OperState(rawValue: v) } else { bad = true }
            case Int(CXIGMP_IFLA_ADDRESS):
                if payload.count == 6, let raw = b.bytes(payload) { mac = MACAddress(bytes: raw) }
            case Int(CXIGMP_IFLA_WIRELESS):
                wireless = true
            case Int(CXIGMP_IFLA_LINKINFO):
                let nested = b.attributes(in: payload) { innerType, innerPayload in
                    if innerType == UInt16(CXIGMP_IFLA_INFO_DATA) {
                        // The kind comes first (the kernel writes IFLA_INFO_KIND
                        // before IFLA_INFO_DATA); only a bridge's is read.
                        guard kind == "bridge" else { return }
                        let data = b.attributes(in: innerPayload) { dataType, dataPayload in
                            guard dataType == UInt16(CXIGMP_IFLA_BR_MCAST_SNOOPING), dataPayload.count >= 1,
                                  let v = b.u8(dataPayload.lowerBound) else { return }
                            snooping = v != 0
                        }
                        if !data { bad = true }
                        return
                    }
                    guard innerType == UInt16(CXIGMP_IFLA_INFO_KIND) else { return }
                    guard let raw = b.bytes(innerPayload) else { bad = true; return }
                    let text = raw.prefix { $0 != 0 }
                    kind = text.isEmpty ? nil : String(decoding: text, as: UTF8.self)
                }
                if !nested { bad = true }
            default:
                break
            }
        }
        guard ok, !bad else { return .malformed }
        // Wireless extension events are RTM_NEWLINK with the name and
        // IFLA_WIRELESS only: not a description of the link.
        if wireless { return .ignored }
        guard let name, let mtu else { return .malformed }
        return .newLink(LinkState(
            index: index32, name: name,
            up: flags & UInt32(CXIGMP_IFF_UP) != 0, lowerUp: flags & UInt32(CXIGMP_IFF_LOWER_UP) != 0,
            operState: operState, mtu: mtu, master: master, kind: kind, mac: mac, hardwareType: hwType,
            bridgeSnooping: snooping))
    }

    static func address(_ b: NetlinkBytes, _ header: NetlinkHeader, _ body: Int, _ end: Int) -> RtnlPayload {
        let fixed = Int(CXIGMP_IFADDRMSG_LEN)
        guard end - body >= fixed,
              let family = b.u8(body + Int(CXIGMP_IFADDRMSG_FAMILY)),
              let prefix = b.u8(body + Int(CXIGMP_IFADDRMSG_PREFIXLEN)),
              let index = b.u32(body + Int(CXIGMP_IFADDRMSG_INDEX)) else { return .malformed }
        guard family == UInt8(AF_INET) else { return .ignored }
        guard prefix <= 32, index != 0 else { return .malformed }
        var local: IPv4Address?, peer: IPv4Address?, bad = false
        let ok = b.attributes(in: (body + fixed)..<end) { type, payload in
            guard type == UInt16(CXIGMP_IFA_LOCAL) || type == UInt16(CXIGMP_IFA_ADDRESS) else { return }
            guard payload.count >= 4, let a = b.u8(payload.lowerBound), let b1 = b.u8(payload.lowerBound + 1),
                  let c = b.u8(payload.lowerBound + 2), let d = b.u8(payload.lowerBound + 3) else { bad = true; return }
            let address = IPv4Address(a, b1, c, d)
            if type == UInt16(CXIGMP_IFA_LOCAL) { local = address } else { peer = address }
        }
        guard ok, !bad else { return .malformed }
        // IFA_LOCAL is the interface's own address; IFA_ADDRESS is the
        // same except on point-to-point links, where it is the peer.
        guard let address = local ?? peer else { return .malformed }
        let a = LinkAddress(address: address, prefixLength: Int(prefix))
        return header.type == UInt16(CXIGMP_RTM_NEWADDR) ? .newAddress(index: index, a) : .delAddress(index: index, a)
    }
}
