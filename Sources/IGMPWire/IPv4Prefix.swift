/// An IPv4 prefix: an address and a prefix length, host bits cleared
/// (`239.1.0.0/16`). The egress filter's allow list and the config's
/// `egressFilter.allow` items.
public struct IPv4Prefix: Sendable, Hashable, Comparable, CustomStringConvertible, LosslessStringConvertible {
    /// The network address (bits past `length` are zero).
    public let address: IPv4Address
    /// Prefix length in bits, 0...32.
    public let length: Int

    /// The prefix of `length` bits of `address` (host bits are cleared);
    /// nil when `length` is outside 0...32.
    public init?(_ address: IPv4Address, length: Int) {
        guard (0...32).contains(length) else { return nil }
        self.address = IPv4Address(rawValue: address.rawValue & Self.mask(length))
        self.length = length
    }

    /// Parses `"239.1.0.0/16"`; a bare address means /32.
    public init?(_ description: String) {
        let parts = description.split(separator: "/", maxSplits: 1, omittingEmptySubsequences: false)
        guard let address = IPv4Address(String(parts[0])) else { return nil }
        var length = 32
        if parts.count == 2 {
            guard parts[1].utf8.count <= 2, parts[1].utf8.allSatisfy({ (0x30...0x39).contains($0) }),
                  let n = Int(parts[1]) else { return nil }
            length = n
        }
        self.init(address, length: length)
    }

    /// Every multicast group, 224.0.0.0/4.
    public static let allMulticast = IPv4Prefix(address: IPv4Address(224, 0, 0, 0), length: 4)

    private init(address: IPv4Address, length: Int) {
        self.address = address
        self.length = length
    }

    /// True when `group` lies in the prefix.
    public func contains(_ group: IPv4Address) -> Bool {
        group.rawValue & Self.mask(length) == address.rawValue
    }

    /// `"239.1.0.0/16"`.
    public var description: String { "\(address)/\(length)" }

    /// By address, then shorter prefixes first.
    public static func < (lhs: IPv4Prefix, rhs: IPv4Prefix) -> Bool {
        (lhs.address, lhs.length) < (rhs.address, rhs.length)
    }

    private static func mask(_ length: Int) -> UInt32 {
        length == 0 ? 0 : ~UInt32(0) << UInt32(32 - length)
    }
}
