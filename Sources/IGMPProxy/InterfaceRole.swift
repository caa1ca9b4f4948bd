import IGMPWire

/// What an interface is to the proxy.
///
/// goIGMP had two upstreams (an Ethernet one and a GRE tunnel, say) and one
/// downstream; exactly one upstream is *active* at a time (see ``OutsideSelection``).
public enum InterfaceRole: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The primary upstream, towards the multicast router (the IGMP querier).
    case outside
    /// The alternate upstream (e.g. a GRE tunnel), used instead of ``outside`` when
    /// it is the active one.
    case alt
    /// The downstream: the network of the hosts being served (a docker bridge).
    case inside

    /// `"outside"`, `"alt"` or `"inside"`, as in the config file and metrics labels.
    public var description: String {
        switch self {
        case .outside: "outside"
        case .alt: "alt"
        case .inside: "inside"
        }
    }

    /// True for the two upstream roles.
    public var isUpstream: Bool { self != .inside }
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

    /// The selection an upstream role stands for; nil for ``InterfaceRole/inside``.
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
