import IGMPMembership
import IGMPWire

/// What the policy needs to know about one interface: its IPv4 address and subnet
/// (for the RFC 3376 §9.2 source check and as the source of what it sends there)
/// and its MAC (to recognise its own frames reflected back).
public struct InterfaceAddressing: Sendable, Hashable {
    /// The interface's IPv4 address: the source of everything the proxy sends on
    /// it, and one of the addresses whose frames are never reprocessed.
    public var address: IPv4Address
    /// The subnet's prefix length, 0–32.
    public var prefixLength: Int
    /// The interface's MAC; nil for L3 devices (GRE, tun), which have none.
    public var mac: MACAddress?

    /// Creates interface facts.
    public init(address: IPv4Address, prefixLength: Int, mac: MACAddress? = nil) {
        self.address = address
        self.prefixLength = prefixLength
        self.mac = mac
    }

    /// The subnet mask as a host-order integer (prefix lengths outside 0–32 are
    /// clamped; ``ProxyConfiguration/validate()`` rejects them first).
    public var netmask: UInt32 {
        let length = min(max(prefixLength, 0), 32)
        return length == 0 ? 0 : UInt32.max << UInt32(32 - length)
    }

    /// True when `host` is on this interface's subnet.
    public func isOnSubnet(_ host: IPv4Address) -> Bool {
        host.rawValue & netmask == address.rawValue & netmask
    }
}

/// Bounds on what one message may make the proxy do (RFC 3376 §9).
public struct ProxyLimits: Sendable, Hashable {
    /// Most sources one v3 group record may list. A report with any record over the
    /// cap is dropped whole (counted as ``ProxyCounter/droppedTooManySources``), not
    /// truncated: a shortened TO_IN, ALLOW or BLOCK list silently changes what the
    /// host asked for, and forwarding copies the message bytes unchanged, so the
    /// proxy can pass on all of a report or none of it. 64 is the FreeBSD IGMPv3
    /// default for recorded sources; a client asking for more gets an error.
    public var maxSourcesPerRecord: Int

    /// Creates limits.
    public init(maxSourcesPerRecord: Int = 64) {
        self.maxSourcesPerRecord = maxSourcesPerRecord
    }
}

/// Everything the policy is configured with. Validated by ``validate()``, which
/// ``ProxyPolicy/init(configuration:)`` calls.
public struct ProxyConfiguration: Sendable, Hashable {
    /// Which modes are on.
    public var modes: ProxyModes
    /// The primary upstream interface; nil while it is absent (waited for,
    /// or gone: see ``ProxyPolicy/setAddressing(_:for:at:_:)``).
    public var outside: InterfaceAddressing?
    /// The alternate upstream, if there is one.
    public var alt: InterfaceAddressing?
    /// The downstream interfaces by slot, ``InterfaceRole/inside(_:)``'s
    /// index: nil is a free slot (an interface removed, or not there yet).
    /// Slots are taken and freed at run time (``ProxyPolicy/addInside(_:at:)``).
    public internal(set) var insides: [InterfaceAddressing?]
    /// The first downstream slot's interface.
    public var inside: InterfaceAddressing? {
        get { insides.first ?? nil }
        set { setAddressing(newValue, for: .inside) }
    }
    /// Which upstream is active at start.
    public var activeOutside: OutsideSelection
    /// Where client reports go unicast (``ProxyMode/unicastMembershipResponse``)
    /// while no querier has been heard on the active outside.
    public var unicastFallback: IPv4Address?
    /// Per-message bounds.
    public var limits: ProxyLimits
    /// How upstream membership is kept (``MembershipTracking``).
    public var membership: MembershipTracking
    /// A querier with a membership table per interface (RFC 3376 §6). With
    /// ``MembershipTracking/track`` the inside always has one (RFC defaults
    /// unless given here); upstream interfaces may have one only in passthrough.
    /// The entry for ``InterfaceRole/inside`` (the first) serves every
    /// downstream that has none of its own.
    public var routers: [InterfaceRole: MembershipConfiguration]
    /// The host side on the active outside under ``MembershipTracking/track``.
    public var upstream: UpstreamConfiguration

    /// Creates a configuration.
    public init(modes: ProxyModes, outside: InterfaceAddressing?, alt: InterfaceAddressing? = nil,
                inside: InterfaceAddressing?, additionalInsides: [InterfaceAddressing?] = [],
                activeOutside: OutsideSelection = .primary,
                unicastFallback: IPv4Address? = nil, limits: ProxyLimits = ProxyLimits(),
                membership: MembershipTracking = .passthrough,
                routers: [InterfaceRole: MembershipConfiguration] = [:],
                upstream: UpstreamConfiguration = UpstreamConfiguration()) {
        self.modes = modes
        self.outside = outside
        self.alt = alt
        self.insides = [inside] + additionalInsides
        self.activeOutside = activeOutside
        self.unicastFallback = unicastFallback
        self.limits = limits
        self.membership = membership
        self.routers = routers
        self.upstream = upstream
    }

    /// The router configuration for the interface in `role`, present or
    /// not: its own entry in ``routers``; for a downstream without one, the
    /// first downstream's (``InterfaceRole/inside``), which with
    /// ``MembershipTracking/track`` defaults to RFC 3376's.
    public func router(for role: InterfaceRole) -> MembershipConfiguration? {
        if let own = routers[role] { return own }
        guard !role.isUpstream else { return nil }
        return routers[.inside] ?? (membership == .track ? MembershipConfiguration() : nil)
    }

    /// The routers in force on the interfaces present.
    public var effectiveRouters: [InterfaceRole: MembershipConfiguration] {
        var result: [InterfaceRole: MembershipConfiguration] = [:]
        for role in roles { result[role] = router(for: role) }
        return result
    }

    /// Every interface present: outside and alt when there, the downstreams.
    public var roles: [InterfaceRole] {
        (outside == nil ? [] : [.outside]) + (alt == nil ? [] : [.alt]) + insideRoles
    }

    /// The downstream roles present, in slot order.
    public var insideRoles: [InterfaceRole] { insides.indices.filter { insides[$0] != nil }.map { .inside($0) } }

    /// The facts of the interface in `role`; nil for an absent alt or a
    /// downstream index past the last.
    public func addressing(for role: InterfaceRole) -> InterfaceAddressing? {
        switch role {
        case .outside: outside
        case .alt: alt
        case .inside(let index): insides.indices.contains(index) ? insides[index] : nil
        }
    }

    /// Sets the facts of the interface in `role` (nil: absent), growing the
    /// downstream slots as needed.
    mutating func setAddressing(_ addressing: InterfaceAddressing?, for role: InterfaceRole) {
        switch role {
        case .outside: outside = addressing
        case .alt: alt = addressing
        case .inside(let index):
            guard index >= 0 else { return }
            while insides.count <= index { insides.append(nil) }
            insides[index] = addressing
            while let last = insides.last, last == nil { insides.removeLast() }
        }
    }

    /// Checks the configuration can work.
    ///
    /// Every configured interface needs a real address: it is the source of what
    /// the proxy sends there and how the proxy recognises its own frames coming
    /// back. With 0.0.0.0 a reflected report could not be told from a host's
    /// (RFC 3376 §4.2.13 lets hosts send from 0.0.0.0), and full proxy mode could loop.
    public func validate() throws(ProxyConfigurationError) {
        if activeOutside == .alt && alt == nil { throw .altNotConfigured }
        for role in roles {
            guard let facts = addressing(for: role) else { continue }
            guard (0...32).contains(facts.prefixLength) else {
                throw .prefixLengthOutOfRange(role, facts.prefixLength)
            }
            guard !facts.address.isUnspecified, !facts.address.isMulticast,
                  facts.address.rawValue != UInt32.max else {
                throw .unusableAddress(role, facts.address)
            }
        }
        if let fallback = unicastFallback, fallback.isUnspecified || fallback.isMulticast {
            throw .unusableFallback(fallback)
        }
        guard limits.maxSourcesPerRecord >= 0 else {
            throw .negativeLimit(limits.maxSourcesPerRecord)
        }
        if membership == .track {
            let forwarding = [ProxyMode.proxyInToOut, .proxyOutToIn, .unicastProxyInToOut].filter { modes[$0] }
            if !forwarding.isEmpty { throw .forwardingWhileTracking(forwarding) }
            for role in [InterfaceRole.outside, .alt] where routers[role] != nil {
                throw .routerOnUpstreamWhileTracking(role)
            }
        }
        // Every router entry, for an interface present or one still to come.
        for (role, router) in routers.sorted(by: { $0.key.sortKey < $1.key.sortKey }) {
            do throws(MembershipConfigurationError) { try router.validate() } catch {
                throw .invalidRouter(role, error.description)
            }
        }
        guard (1...7).contains(upstream.robustness) else { throw .invalidUpstream("robustness must be 1…7") }
        guard upstream.unsolicitedReportInterval > .zero else {
            throw .invalidUpstream("the unsolicited report interval must be positive")
        }
    }
}

/// How the proxy keeps upstream membership.
public enum MembershipTracking: String, Sendable, Hashable, CaseIterable {
    /// goIGMP's way: reports and leaves are forwarded as they are (the modes decide).
    case passthrough
    /// RFC 4605: the inside's membership table decides; the union is reported on
    /// the active outside by xigmp's own host side, which also answers queries there.
    case track
}

/// The host side of the active outside (RFC 3376 §5, §8.1, §8.11).
public struct UpstreamConfiguration: Sendable, Hashable {
    /// Transmissions of each state-change report (the Robustness Variable).
    public var robustness: Int
    /// Retransmissions are spread at random over this interval.
    public var unsolicitedReportInterval: Duration
    /// State changes within this window are sent as one report (zero: each
    /// at once, RFC 3376 §5.1); see ``HostMembership/mergeWindow``.
    public var mergeWindow: Duration

    /// Creates one; defaults are RFC 3376's.
    public init(robustness: Int = 2, unsolicitedReportInterval: Duration = .seconds(1), mergeWindow: Duration = .zero) {
        self.robustness = robustness
        self.unsolicitedReportInterval = unsolicitedReportInterval
        self.mergeWindow = mergeWindow
    }
}

/// Why a configuration or an outside switch was refused.
public enum ProxyConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// The alt outside was selected but none is configured.
    case altNotConfigured
    /// A prefix length outside 0–32.
    case prefixLengthOutOfRange(InterfaceRole, Int)
    /// An interface address that cannot be a unicast source (0.0.0.0, multicast,
    /// broadcast).
    case unusableAddress(InterfaceRole, IPv4Address)
    /// A unicast fallback that is not a unicast address.
    case unusableFallback(IPv4Address)
    /// A negative limit.
    case negativeLimit(Int)
    /// Forwarding modes on while membership is tracked.
    case forwardingWhileTracking([ProxyMode])
    /// A querier on an upstream while membership is tracked.
    case routerOnUpstreamWhileTracking(InterfaceRole)
    /// A querier configuration RFC 3376 §8 does not allow.
    case invalidRouter(InterfaceRole, String)
    /// An upstream host-side setting out of range.
    case invalidUpstream(String)

    /// One line for operators.
    public var description: String {
        switch self {
        case .altNotConfigured:
            "the alt outside interface is selected but no alt interface is configured (or it is not there now)"
        case .prefixLengthOutOfRange(let role, let length):
            "\(role) interface: prefix length \(length) is not in 0...32"
        case .unusableAddress(let role, let address):
            "\(role) interface: \(address) cannot be a source address (need a unicast address)"
        case .unusableFallback(let address):
            "unicastFallback \(address) is not a unicast address"
        case .negativeLimit(let value):
            "maxSourcesPerRecord \(value) is negative"
        case .forwardingWhileTracking(let modes):
            "membership: track reports upstream from the membership table, so the forwarding modes "
                + modes.map(\.rawValue).joined(separator: ", ")
                + " would report everything twice; turn them off (or use membership: passthrough)"
        case .routerOnUpstreamWhileTracking(let role):
            "querier.\(role): with membership: track xigmp is a host on the upstream (RFC 4605 §4), never its querier; remove querier.\(role)"
        case .invalidRouter(let role, let why):
            "querier.\(role): \(why)"
        case .invalidUpstream(let why):
            "upstream: \(why)"
        }
    }
}
