import DatapathKernel
import IGMPWire

/// An IPv4 address on an interface with its prefix length (`10.0.0.1/24`):
/// unlike `IPv4Prefix`, the host bits are kept, since they are the address.
public struct LinkAddress: Sendable, Hashable, CustomStringConvertible {
    /// The interface's own address (IFA_LOCAL).
    public let address: IPv4Address
    /// The subnet's prefix length, 0...32.
    public let prefixLength: Int

    /// Creates an address; `prefixLength` is not checked.
    public init(address: IPv4Address, prefixLength: Int) {
        self.address = address
        self.prefixLength = prefixLength
    }

    /// `"10.0.0.1/24"`.
    public var description: String { "\(address)/\(prefixLength)" }
}

/// RFC 2863 operational state of an interface (IFLA_OPERSTATE, `IF_OPER_*`),
/// kept raw so a value a newer kernel adds survives.
public struct OperState: RawRepresentable, Sendable, Hashable, CustomStringConvertible {
    /// The kernel's `IF_OPER_*` number.
    public let rawValue: UInt8

    /// Wraps a raw `IF_OPER_*` value.
    public init(rawValue: UInt8) { self.rawValue = rawValue }

    /// The driver does not say (loopback, tun without carrier reporting).
    public static let unknown = OperState(rawValue: 0)
    /// Some component is missing (hot-unplugged).
    public static let notPresent = OperState(rawValue: 1)
    /// Down.
    public static let down = OperState(rawValue: 2)
    /// Down because a lower layer is (a veth whose peer is down).
    public static let lowerLayerDown = OperState(rawValue: 3)
    /// In test mode.
    public static let testing = OperState(rawValue: 4)
    /// Up but waiting for an event (802.1X).
    public static let dormant = OperState(rawValue: 5)
    /// Up and able to pass packets.
    public static let up = OperState(rawValue: 6)

    /// iproute2's spelling: `UP`, `DOWN`, `LOWERLAYERDOWN`, …
    public var description: String {
        let names = ["UNKNOWN", "NOTPRESENT", "DOWN", "LOWERLAYERDOWN", "TESTING", "DORMANT", "UP"]
        return Int(rawValue) < names.count ? names[Int(rawValue)] : "OPER_\(rawValue)"
    }
}

/// What rtnetlink says about one interface of the namespace.
public struct LinkState: Sendable, Hashable, CustomStringConvertible {
    /// Kernel ifindex, unique within the namespace for the link's life.
    public var index: UInt32
    /// Interface name; a rename keeps the index.
    public var name: String
    /// IFF_UP: administratively up (`ip link set X up`).
    public var up: Bool
    /// IFF_LOWER_UP: the driver reports carrier.
    public var lowerUp: Bool
    /// IFLA_OPERSTATE.
    public var operState: OperState
    /// IFLA_MTU.
    public var mtu: UInt32
    /// IFLA_MASTER: the ifindex of the bridge (or bond, VRF) it is
    /// enslaved to; nil when it has none.
    public var master: UInt32?
    /// IFLA_INFO_KIND: the link type it was created as (`veth`, `bridge`,
    /// `tun`, `vlan`); nil for devices without one (loopback, most NICs).
    public var kind: String?
    /// IFLA_ADDRESS when it is six bytes (Ethernet-like).
    public var mac: MACAddress?
    /// ARPHRD_* hardware type (1 Ethernet, 772 loopback, 65534 none/tun).
    public var hardwareType: UInt16
    /// For a bridge, IFLA_BR_MCAST_SNOOPING: whether it snoops IGMP (and so
    /// forwards reports only to router ports); nil for other kinds. As the
    /// bridge was when last reported: changing the option alone sends no
    /// RTM_NEWLINK.
    public var bridgeSnooping: Bool?
    /// IPv4 addresses in the order the kernel reported them (primary first
    /// for a dump).
    public var addresses: [LinkAddress]

    /// Creates a state; for tests and callers that build a view by hand.
    public init(index: UInt32, name: String, up: Bool = false, lowerUp: Bool = false,
                operState: OperState = .unknown, mtu: UInt32 = 1500, master: UInt32? = nil,
                kind: String? = nil, mac: MACAddress? = nil, hardwareType: UInt16 = 1,
                bridgeSnooping: Bool? = nil, addresses: [LinkAddress] = []) {
        self.index = index
        self.name = name
        self.up = up
        self.lowerUp = lowerUp
        self.operState = operState
        self.mtu = mtu
        self.master = master
        self.kind = kind
        self.mac = mac
        self.hardwareType = hardwareType
        self.bridgeSnooping = bridgeSnooping
        self.addresses = addresses
    }

    /// True when everything but `addresses` is equal: what decides whether
    /// an RTM_NEWLINK changed the link.
    public func sameLink(as other: LinkState) -> Bool {
        index == other.index && name == other.name && up == other.up && lowerUp == other.lowerUp
            && operState == other.operState && mtu == other.mtu && master == other.master
            && kind == other.kind && mac == other.mac && hardwareType == other.hardwareType
            && bridgeSnooping == other.bridgeSnooping
    }

    /// `3 va veth UP,LOWER_UP mtu 1500 master 5 10.0.0.1/24`, for logs.
    public var description: String {
        var text = "\(index) \(name)"
        if let kind { text += " \(kind)" }
        text += " " + [up ? "UP" : "DOWN", lowerUp ? "LOWER_UP" : nil].compactMap { $0 }.joined(separator: ",")
        text += " \(operState) mtu \(mtu)"
        if let master { text += " master \(master)" }
        if let mac { text += " \(mac)" }
        for a in addresses { text += " \(a)" }
        return text
    }
}

/// A change to the namespace's links, as `LinkMonitor.drain` reports it.
/// After a socket overrun the difference between the old view and a fresh
/// dump arrives as these same events, in the order the kernel itself would
/// have sent them (a link's addresses go before it does).
public enum LinkEvent: Sendable, Hashable {
    /// A link appeared (created, or moved into this namespace). Its
    /// addresses follow as `addressAdded`.
    case linkAdded(LinkState)
    /// A field other than `addresses` changed: name (same index), flags,
    /// carrier, operstate, MTU, master, MAC.
    case linkChanged(old: LinkState, new: LinkState)
    /// A link went away: deleted, or moved to another namespace.
    case linkRemoved(LinkState)
    /// An IPv4 address was added to link `index`.
    case addressAdded(index: UInt32, address: IPv4Address, prefixLength: Int)
    /// An IPv4 address was removed from link `index`.
    case addressRemoved(index: UInt32, address: IPv4Address, prefixLength: Int)

    /// The ifindex the event is about.
    public var index: UInt32 {
        switch self {
        case .linkAdded(let s), .linkRemoved(let s): return s.index
        case .linkChanged(_, let new): return new.index
        case .addressAdded(let i, _, _), .addressRemoved(let i, _, _): return i
        }
    }
}
