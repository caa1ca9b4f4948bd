/// A 48-bit Ethernet MAC address.
public struct MACAddress: RawRepresentable, Hashable, Comparable, Sendable {
    /// The address in the low 48 bits, first octet most significant (`01:00:5e:…` is
    /// `0x0100_5e…`); the top 16 bits are always zero.
    public let rawValue: UInt64

    /// Creates an address from an integer; bits above 48 are discarded.
    @inlinable
    public init(rawValue: UInt64) { self.rawValue = rawValue & 0xFFFF_FFFF_FFFF }

    /// Creates an address from its six octets in wire order.
    @inlinable
    public init(_ a: UInt8, _ b: UInt8, _ c: UInt8, _ d: UInt8, _ e: UInt8, _ f: UInt8) {
        rawValue = UInt64(a) << 40 | UInt64(b) << 32 | UInt64(c) << 24
            | UInt64(d) << 16 | UInt64(e) << 8 | UInt64(f)
    }

    /// Creates an address from exactly six octets in wire order, or nil for any other count.
    public init?<Bytes: Sequence>(bytes: Bytes) where Bytes.Element == UInt8 {
        var value: UInt64 = 0
        var count = 0
        for byte in bytes {
            count += 1
            if count > 6 { return nil }
            value = value << 8 | UInt64(byte)
        }
        guard count == 6 else { return nil }
        rawValue = value
    }

    /// Parses `"aa:bb:cc:dd:ee:ff"` (either case; `-` accepted as separator, not mixed).
    /// Each field must be exactly two hex digits.
    public init?(_ string: String) {
        var value: UInt64 = 0
        var digits = 0
        var fields = 0
        var separator: UInt8? = nil
        for byte in string.utf8 {
            let nibble: UInt8
            switch byte {
            case UInt8(ascii: "0")...UInt8(ascii: "9"): nibble = byte - UInt8(ascii: "0")
            case UInt8(ascii: "a")...UInt8(ascii: "f"): nibble = byte - UInt8(ascii: "a") + 10
            case UInt8(ascii: "A")...UInt8(ascii: "F"): nibble = byte - UInt8(ascii: "A") + 10
            case UInt8(ascii: ":"), UInt8(ascii: "-"):
                guard digits == 2, fields < 5, separator == nil || separator == byte else { return nil }
                separator = byte
                fields += 1
                digits = 0
                continue
            default:
                return nil
            }
            guard digits < 2 else { return nil }
            digits += 1
            value = value << 4 | UInt64(nibble)
        }
        guard digits == 2, fields == 5 else { return nil }
        rawValue = value
    }

    /// ff:ff:ff:ff:ff:ff.
    public static let broadcast = MACAddress(rawValue: 0xFFFF_FFFF_FFFF)
    /// 00:00:00:00:00:00.
    public static let zero = MACAddress(rawValue: 0)

    /// The Ethernet group address an IPv4 multicast group maps to: 01:00:5e followed by
    /// the low 23 bits of the group (RFC 1112 §6.4). 32 groups share each MAC, so a
    /// receiver must still filter on the IP destination.
    @inlinable
    public static func multicast(for group: IPv4Address) -> MACAddress {
        MACAddress(rawValue: 0x0100_5E00_0000 | UInt64(group.rawValue & 0x7F_FFFF))
    }

    /// The six octets in wire order.
    @inlinable
    public var octets: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) {
        (UInt8(truncatingIfNeeded: rawValue >> 40), UInt8(truncatingIfNeeded: rawValue >> 32),
         UInt8(truncatingIfNeeded: rawValue >> 24), UInt8(truncatingIfNeeded: rawValue >> 16),
         UInt8(truncatingIfNeeded: rawValue >> 8), UInt8(truncatingIfNeeded: rawValue))
    }

    /// The octet at `index` (0 is the first on the wire); `index` must be in 0..<6.
    @inlinable
    public func octet(_ index: Int) -> UInt8 {
        precondition(index >= 0 && index < 6, "MAC octet index out of range")
        return UInt8(truncatingIfNeeded: rawValue >> UInt64(40 - 8 * index))
    }

    /// True when the group bit (I/G, lowest bit of the first octet) is set.
    @inlinable
    public var isMulticast: Bool { rawValue & 0x0100_0000_0000 != 0 }

    /// Orders addresses numerically.
    @inlinable
    public static func < (lhs: MACAddress, rhs: MACAddress) -> Bool { lhs.rawValue < rhs.rawValue }
}

extension MACAddress: CustomStringConvertible, LosslessStringConvertible {
    /// Lower-case colon-separated form, e.g. `"01:00:5e:00:00:16"`.
    public var description: String {
        let hex: [Character] = Array("0123456789abcdef")
        var text = ""
        text.reserveCapacity(17)
        for index in 0..<6 {
            if index > 0 { text.append(":") }
            let byte = octet(index)
            text.append(hex[Int(byte >> 4)])
            text.append(hex[Int(byte & 0xF)])
        }
        return text
    }
}

extension MACAddress: Codable {
    /// Decodes from `"aa:bb:cc:dd:ee:ff"`.
    public init(from decoder: any Decoder) throws {
        let container = try decoder.singleValueContainer()
        let text = try container.decode(String.self)
        guard let address = MACAddress(text) else {
            throw DecodingError.dataCorruptedError(
                in: container, debugDescription: "not a MAC address: \(text)")
        }
        self = address
    }

    /// Encodes as `"aa:bb:cc:dd:ee:ff"`.
    public func encode(to encoder: any Encoder) throws {
        var container = encoder.singleValueContainer()
        try container.encode(description)
    }
}
