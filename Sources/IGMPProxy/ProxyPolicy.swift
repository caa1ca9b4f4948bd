import IGMPMembership
import IGMPWire

/// The proxy's policy engine: a pure function of (its state, one inbound message
/// with its frame metadata, the time passed in) to actions.
///
/// It never touches a socket or reads a clock. The daemon feeds it every IGMP
/// packet its ports receive, naming the interface's role, and executes the
/// actions handed to its closure: ``ProxyAction/transmit(_:)`` on a port,
/// ``ProxyAction/event(_:)`` to client streams, ``ProxyAction/count(_:)`` to metrics.
///
/// ```swift
/// let view = try IGMPPacketView(ethernetFrame: packet.bytes)
/// policy.handle(view, on: .inside, at: now) { action in
///     switch action {
///     case .transmit(let t):
///         _ = try? t.withPayloadBytes { bytes throws(DatapathError) in
///             try ports[t.role].send(igmp: bytes, source: t.source,
///                                    destination: t.destination, options: t.ipOptions)
///         }
///     case .event(let event): events.yield(event)
///     case .count(let counter): metrics.increment(counter, interface: .inside)
///     }
/// }
/// ```
///
/// What it keeps between calls:
/// - the configuration in force: modes, each interface's addressing, the
///   active outside, the membership mode (``reconfigure(_:)`` replaces it);
/// - the querier learned on each upstream, for unicast responses and for
///   accepting queries from the active one only;
/// - a ``MembershipRouter`` per interface that has a router configuration
///   (every downstream under ``MembershipTracking/track``): xigmp's own
///   querier with its election, and the RFC 3376 §6 membership table, held
///   within ``MembershipLimits``;
/// - the host side of each upstream (``HostMembership``): what it reports
///   upstream for the union of the downstream tables (RFC 4605 §4.1), with
///   its retransmissions and query answers pending;
/// - the client API's own memberships under ``MembershipTracking/track``,
///   one more downstream in that union.
///
/// With ``MembershipTracking/passthrough`` it forwards what it hears by mode;
/// with ``MembershipTracking/track`` it answers the inside as querier and
/// reports the union upstream itself. ``tick(at:_:)`` runs every timer of
/// those engines. Forwarding a packet allocates nothing: the payload of a
/// forward is the inbound message bytes, lent for the call.
///
/// A transmit that the caller fails to execute changes nothing here (the policy
/// has no idea whether sends succeed, and needs none), so a send error is the
/// daemon's to count and log; nothing in this type can stop on one (goIGMP exited
/// on any send error).
public struct ProxyPolicy: Sendable {
    /// The configuration in force.
    public internal(set) var configuration: ProxyConfiguration
    /// The querier learned on each upstream.
    var queriers = QuerierTable()
    /// xigmp's own querier and membership table per interface (RFC 3376 §6).
    var routers = RouterSet()
    /// The host side of each upstream (RFC 4605 with ``MembershipTracking/track``).
    var hostPrimary: HostMembership
    var hostAlt: HostMembership
    /// What the client API asked for under ``MembershipTracking/track``: one
    /// more downstream in the union the upstream hears.
    var clientStates: [IPv4Address: GroupFilterState] = [:]

    /// Creates a policy; throws when ``ProxyConfiguration/validate()`` does.
    /// Queriers start at `now` (their startup queries are due at once: call
    /// ``tick(at:_:)``); `seed` drives the random report delays.
    public init(configuration: ProxyConfiguration, startingAt now: ProxyTime = ProxyTime(nanoseconds: 0),
                seed: UInt64 = 1) throws(ProxyConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        let upstream = configuration.upstream
        hostPrimary = HostMembership(robustness: upstream.robustness,
                                     unsolicitedReportInterval: upstream.unsolicitedReportInterval,
                                     mergeWindow: upstream.mergeWindow, seed: seed)
        hostAlt = HostMembership(robustness: upstream.robustness,
                                 unsolicitedReportInterval: upstream.unsolicitedReportInterval,
                                 mergeWindow: upstream.mergeWindow, seed: seed &+ 1)
        for (role, router) in configuration.effectiveRouters {
            guard let address = configuration.addressing(for: role)?.address else { continue }
            do throws(MembershipConfigurationError) {
                routers[role] = try MembershipRouter(configuration: router, address: address,
                                                     startingAt: MembershipTime(nanoseconds: now.nanoseconds))
            } catch {
                throw .invalidRouter(role, error.description)
            }
        }
    }

    /// Which upstream is active.
    public var activeOutside: OutsideSelection { configuration.activeOutside }

    /// Makes `selection` the active upstream: from now on queries are accepted
    /// from it only, everything sent upstream leaves through it, and unicast
    /// responses use the querier learned there. Throws when the alt is selected
    /// and none is configured (nothing changes then).
    public mutating func setActiveOutside(_ selection: OutsideSelection) throws(ProxyConfigurationError) {
        if selection == .alt && configuration.alt == nil { throw .altNotConfigured }
        configuration.activeOutside = selection
    }

    /// Replaces the configuration (SIGHUP), keeping the learned queriers. An
    /// invalid configuration throws and the old one stays.
    public mutating func reconfigure(_ configuration: ProxyConfiguration) throws(ProxyConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
    }

    /// The querier learned on `outside` and still current at `now`.
    public func querier(for outside: OutsideSelection, at now: ProxyTime) -> LearnedQuerier? {
        queriers[outside].flatMap { $0.isCurrent(at: now) ? $0 : nil }
    }

    /// Where client messages go while ``ProxyMode/unicastMembershipResponse`` is on:
    /// the querier of the active outside, else the configured fallback, else nowhere.
    public func unicastResponseTarget(at now: ProxyTime) -> IPv4Address? {
        unicastTarget(at: now)?.address
    }

    /// ``unicastResponseTarget(at:)`` with which of the two it is.
    func unicastTarget(at now: ProxyTime) -> (route: ClientDelivery.Route, address: IPv4Address)? {
        if let learned = querier(for: activeOutside, at: now) { return (.querier, learned.address) }
        return configuration.unicastFallback.map { (.fallback, $0) }
    }

    /// Forgets queriers not heard for their Other Querier Present Interval, with a
    /// ``ProxyEvent/querierChanged(_:)`` event and a count for each. Every other
    /// entry point does this first; a daemon calls it on a timer to hear of expiry
    /// when no IGMP arrives.
    public mutating func expireQueriers(at now: ProxyTime, _ emit: (ProxyAction) -> Void) {
        expire(.primary, at: now, emit)
        expire(.alt, at: now, emit)
    }

    private mutating func expire(_ outside: OutsideSelection, at now: ProxyTime, _ emit: (ProxyAction) -> Void) {
        guard let learned = queriers[outside], !learned.isCurrent(at: now) else { return }
        queriers[outside] = nil
        emit(.count(.querierExpired))
        emit(.event(.querierChanged(QuerierChange(outside: outside, querier: nil, previous: learned.address))))
    }

    // MARK: Inbound

    /// Handles a packet parsed with its IP header (Ethernet frame or IPv4 packet)
    /// that arrived on the interface in `role`. A packet without an IP header has
    /// no metadata to decide on and is counted as ``ProxyCounter/droppedMalformed``;
    /// pass metadata explicitly with the message-view entry point for those.
    /// Allocates nothing unless an event is emitted.
    public mutating func handle(_ packet: IGMPPacketView, on role: InterfaceRole, at now: ProxyTime,
                                _ emit: (ProxyAction) -> Void) {
        guard let metadata = FrameMetadata(packet) else {
            expireQueriers(at: now, emit)
            emit(.count(.droppedMalformed))
            return
        }
        handle(packet.igmp, metadata: metadata, on: role, at: now, emit)
    }

    /// Handles one IGMP message, read in place, that arrived on the interface in
    /// `role` in a frame described by `metadata`. The core entry point.
    public mutating func handle(_ message: IGMPMessageView, metadata: FrameMetadata, on role: InterfaceRole,
                                at now: ProxyTime, _ emit: (ProxyAction) -> Void) {
        expireQueriers(at: now, emit)
        // Own frames first: a reflection of what we sent must not even be counted
        // as anything else: own frames never come back in as input, so full
        // proxy cannot loop on a segment that reflects (README.md, Daemon).
        if isOwnFrame(metadata) {
            emit(.count(.droppedOwnFrame))
            return
        }
        if !metadata.routerAlert { emit(.count(.missingRouterAlert)) }
        if metadata.ttl != 1 { emit(.count(.ttlNotOne)) }
        guard message.checksumOK else {
            emit(.count(.droppedMalformed))
            return
        }
        if role.isUpstream && role != activeOutside.role {
            emit(.count(.droppedInactiveOutside))
            return
        }
        if message.type == .query {
            // Another router's query: the election and timers of xigmp's own
            // querier there (RFC 3376 §6.6), whatever the modes.
            let heardByRouter = routers.contains(role)
            if heardByRouter {
                // A query from off the subnet must not win the election
                // (RFC 3376 §9: only link-local peers take part).
                let source = metadata.source
                if let addressing = configuration.addressing(for: role), !source.isUnspecified,
                   !addressing.isOnSubnet(source) {
                    emit(.count(.droppedSourceOffSubnet))
                    if !role.isUpstream { return }
                } else {
                    routerHear(message, metadata: metadata, on: role, at: now, emit)
                }
            }
            guard role.isUpstream else {
                if !heardByRouter { emit(.count(.droppedQueryOnInside)) }
                return
            }
            handleQuery(message, metadata: metadata, on: role, at: now, emit)
        } else {
            handleMembership(message, metadata: metadata, on: role, at: now, emit)
        }
    }

    /// Handles an owned message: encodes it and takes exactly the path a received
    /// packet with these bytes would (tests prove the two agree). For tests and
    /// tools; allocates. A message that does not encode is counted as
    /// ``ProxyCounter/droppedMalformed``.
    public mutating func handle(_ message: IGMPMessage, metadata: FrameMetadata, on role: InterfaceRole,
                                at now: ProxyTime, _ emit: (ProxyAction) -> Void) {
        guard let bytes = try? IGMPEncoder.encode(message) else {
            expireQueriers(at: now, emit)
            emit(.count(.droppedMalformed))
            return
        }
        bytes.withUnsafeBytes { buffer in
            guard let view = try? IGMPMessageView(buffer) else {
                expireQueriers(at: now, emit)
                emit(.count(.droppedMalformed))
                return
            }
            handle(view, metadata: metadata, on: role, at: now, emit)
        }
    }

    /// True when the frame came from one of the proxy's own interfaces, by MAC or
    /// by IP. Both are checked because L3 devices have no MAC and a bridge that
    /// reflects frames keeps the MAC while a routed echo keeps the IP. The
    /// configuration guarantees no own address is 0.0.0.0, so hosts sending from
    /// 0.0.0.0 (RFC 3376 §4.2.13) are never mistaken for the proxy.
    func isOwnFrame(_ metadata: FrameMetadata) -> Bool {
        let source = metadata.source
        let mac = metadata.sourceMAC
        if let outside = configuration.outside {
            if source == outside.address { return true }
            if let mac, mac == outside.mac { return true }
        }
        if let alt = configuration.alt {
            if source == alt.address { return true }
            if let mac, mac == alt.mac { return true }
        }
        // An index walk: no iterator, nothing allocated per packet.
        let insides = configuration.insides
        var index = 0
        while index < insides.count {
            if let inside = insides[index] {
                if source == inside.address { return true }
                if let mac, mac == inside.mac { return true }
            }
            index += 1
        }
        return false
    }

    /// The addressing of the active upstream; nil while its interface is absent.
    var activeAddressing: InterfaceAddressing? {
        configuration.addressing(for: activeOutside.role)
    }
}
