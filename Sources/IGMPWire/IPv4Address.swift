/// An IPv4 address held as a 32-bit integer in host byte order.
///
/// `rawValue` of 224.0.0.1 is `0xE000_0001` whatever the machine's endianness;
/// the codec converts to and from network order at the wire boundary only.
public struct IPv4Address: RawRepresentable, Hashable, Comparable, Sendable {
    /// The address as a host-order integer (`a.b.c.d` is `a << 24 | b << 16 | c << 8 | d`).
    public var rawValue: UInt32

    /// Creates an address from a host-order integer.
    @inlinable
    public init(rawValue: UInt32) { self.rawValue = rawValue }

    /// Creates an address from its four dotted-quad octets, most significant first.
    @inlinable
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8) {
        rawValue = UInt32(a) << 24 | UInt32(b) << 16 | UInt32(c) << 8 | UInt32(d)
    }

    /// Parses a strict dotted quad such as `"224.0.0.22"`.
    ///
    /// Exactly four decimal fields of 1–3 digits, each ≤ 255, no sign, no spaces and
    /// no leading zeros (`"010.0.0.1"` is rejected: `inet_aton` would read it as octal,
    /// `inet_pton` refuses it, so accepting it would make operators guess).
    public init?(_ string: String) {
        var value: UInt32 = 0
        var field: UInt32 = 0
        var digits = 0
        var fields = 0
        var leadingZero = false
        for byte in string.utf8 {
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"):
                if digits == 1 && leadingZero { return nil }
                if digits == 0 { leadingZero = byte == UInt8(ascii: "0") }
                digits += 1
                if digits > 3 { return nil }
                field = field * 10 + UInt32(byte - UInt8(ascii: "0"))
                if field > 255 { return nil }
            case UInt8(ascii: "."):
                guard digits > 0, fields < 3 else { return nil }
                value = value << 8 | field
                fields += 1
                field = 0
                digits = 0
            default:
                return nil
            }
        }
        guard digits > 0, fields == 3 else { return nil }
        rawValue = value << 8 | field
    }

    /// 0.0.0.0: the unspecified address; also the Group Address of a general query.
    public static let any = IPv4Address(rawValue: 0)
    /// 224.0.0.1, all systems on this subnet: destination of general queries (RFC 2236 §9).
    public static let allSystems = IPv4Address(224, 0, 0, 1)
    /// 224.0.0.2, all routers on this subnet: destination of IGMPv2 leaves (RFC 2236 §9).
    public static let allRouters = IPv4Address(224, 0, 0, 2)
    /// 224.0.0.22, all IGMPv3-capable routers: destination of v3 reports (RFC 3376 §4.2.14).
    public static let igmpv3Routers = IPv4Address(224, 0, 0, 22)

    /// The four octets, most significant first.
    @inlinable
    public var octets: (UInt8, UInt8, UInt8, UInt8) {
        (UInt8(truncatingIfNeeded: rawValue >> 24), UInt8(truncatingIfNeeded: rawValue >> 16),
         UInt8(truncatingIfNeeded: rawValue >> 8), UInt8(truncatingIfNeeded: rawValue))
    }

    /// True for 224.0.0.0/4 (class D).
    @inlinable
    public var isMulticast: Bool { rawValue >> 28 == 0xE }

    /// True for 224.0.0.0/24, the local network control block: never forwarded and
    /// never reported (RFC 3376 §5, RFC 2236 §6 "not sent for the all-systems group").
    @inlinable
    public var isLinkLocalMulticast: Bool { rawValue & 0xFFFF_FF00 == 0xE000_0000 }

    /// True for 0.0.0.0.
    @inlinable
    public var isUnspecified: Bool { rawValue == 0 }

    /// Orders addresses numerically.
    @inlinable
    public static func < (lhs: IPv4Address, rhs: IPv4Address) -> Bool {
        lhs.rawValue < rhs.rawValue
    }
}

extension IPv4Address: CustomStringConvertible, LosslessStringConvertible {
    /// The dotted-quad form, e.g. `"239.1.2.3"`.
    public var description: String {
        let o = octets
        return "\(o.0).\(o.1).\(o.2).\(o.3)"
    }
}

extension IPv4Address: Codable {
    /// Decodes from a dotted-quad string (config files and JSON read naturally).
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let address = IPv4Address(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "not a dotted-quad IPv4 address: \(text)")
        }
        self = address
    }

    /// Encodes as a dotted-quad string.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
