import IGMPWire

/// What an interface is to the proxy.
///
/// goIGMP had two upstreams (an Ethernet one and a GRE tunnel, say) and one
/// downstream; exactly one upstream is *active* at a time (see ``OutsideSelection``).
/// xigmp serves any number of downstreams (`interfaces.inside` may be a list), each
/// with its own querier and membership table; the upstream reports their union.
public enum InterfaceRole: Sendable, Hashable, CustomStringConvertible {
    /// The primary upstream, towards the multicast router (the IGMP querier).
    case outside
    /// The alternate upstream (e.g. a GRE tunnel), used instead of ``outside`` when
    /// it is the active one.
    case alt
    /// A downstream: the network of the hosts being served (a docker bridge),
    /// by its position in ``ProxyConfiguration/insides``. In a `switch`,
    /// `case .inside:` matches every downstream.
    case inside(Int)

    /// The first (often the only) downstream.
    public static var inside: InterfaceRole { .inside(0) }

    /// `"outside"`, `"alt"` or `"inside"` (every downstream), as in the config
    /// file and metrics labels (the interface name tells downstreams apart).
    public var description: String {
        switch self {
        case .outside: "outside"
        case .alt: "alt"
        case .inside: "inside"
        }
    }

    /// True for the two upstream roles.
    public var isUpstream: Bool {
        switch self {
        case .outside, .alt: true
        case .inside: false
        }
    }

    /// An order: outside, alt, then the downstreams in order.
    public var sortKey: Int {
        switch self {
        case .outside: 0
        case .alt: 1
        case .inside(let index): 2 + index
        }
    }

    /// The downstream's position, nil for the upstream roles.
    public var insideIndex: Int? {
        if case .inside(let index) = self { return index }
        return nil
    }
}

/// Which upstream is active. Exactly one is: queries are accepted from it only and
/// everything the proxy sends upstream leaves through it.
public enum OutsideSelection: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The primary upstream, ``InterfaceRole/outside``.
    case primary
    /// The alternate upstream, ``InterfaceRole/alt``.
    case alt

    /// The interface role this selection stands for.
    public var role: InterfaceRole {
        switch self {
        case .primary: .outside
        case .alt: .alt
        }
    }

    /// The selection an upstream role stands for; nil for a downstream.
    public init?(role: InterfaceRole) {
        switch role {
        case .outside: self = .primary
        case .alt: self = .alt
        case .inside: return nil
        }
    }

    /// `"primary"` or `"alt"`, as in the config file and `xigmp outside primary|alt`.
    public var description: String {
        switch self {
        case .primary: "primary"
        case .alt: "alt"
        }
    }
}
