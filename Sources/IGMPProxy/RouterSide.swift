import IGMPMembership
import IGMPWire

/// xigmp's own routers, one slot per interface role.
struct RouterSet: Sendable {
    var outside: MembershipRouter?
    var alt: MembershipRouter?
    /// By downstream index; grows as routers are set.
    var insides: [MembershipRouter?] = []

    subscript(role: InterfaceRole) -> MembershipRouter? {
        get {
            switch role {
            case .outside: outside
            case .alt: alt
            case .inside(let index): insides.indices.contains(index) ? insides[index] : nil
            }
        }
        set {
            switch role {
            case .outside: outside = newValue
            case .alt: alt = newValue
            case .inside(let index):
                guard index >= 0 else { return }
                while insides.count <= index { insides.append(nil) }
                insides[index] = newValue
            }
        }
    }

    /// Whether `role` has a router, without copying it out (the getter
    /// copies the whole router: this runs for every received message).
    func contains(_ role: InterfaceRole) -> Bool {
        switch role {
        case .outside: outside != nil
        case .alt: alt != nil
        case .inside(let index): insides.indices.contains(index) && insides[index] != nil
        }
    }

    /// The earliest deadline of the router in `role`, read in place.
    func nextDeadline(of role: InterfaceRole) -> MembershipTime? {
        switch role {
        case .outside: outside?.nextDeadline
        case .alt: alt?.nextDeadline
        case .inside(let index): insides.indices.contains(index) ? insides[index]?.nextDeadline : nil
        }
    }

    /// How many slots ``role(at:)`` numbers: outside, alt, then each downstream.
    var slotCount: Int { 2 + insides.count }

    /// The role of slot `slot` (a walk without allocating).
    func role(at slot: Int) -> InterfaceRole {
        switch slot {
        case 0: .outside
        case 1: .alt
        default: .inside(slot - 2)
        }
    }

    /// The union of every downstream's state of `group` (RFC 4605 §4.1).
    func insideUnion(of group: IPv4Address) -> GroupFilterState {
        var result = GroupFilterState.none
        for router in insides {
            guard let table = router?.table else { continue }
            result = result.union(table.state(of: group))
        }
        return result
    }

    /// Every group any downstream has.
    var insideGroups: [IPv4Address] {
        var groups = Set<IPv4Address>()
        for router in insides {
            guard let table = router?.table else { continue }
            groups.formUnion(table.groupAddresses)
        }
        return groups.sorted()
    }
}

/// The membership state of one interface as `xigmp groups` shows it.
public struct InterfaceMembership: Sendable {
    /// The interface's role.
    public var role: InterfaceRole
    /// The querier's role there.
    public var querier: QuerierStatus
    /// The table.
    public var table: MembershipSnapshot
}

extension ProxyPolicy {
    // MARK: Timers

    /// Runs every timer due at `now`: the queriers' general queries, the
    /// tables' expiries and group(-and-source)-specific queries, the upstream
    /// host side's retransmissions and query answers, and querier expiry.
    public mutating func tick(at now: ProxyTime, _ emit: (ProxyAction) -> Void) {
        expireQueriers(at: now, emit)
        let time = MembershipTime(nanoseconds: now.nanoseconds)
        var slot = 0
        while slot < routers.slotCount {
            let role = routers.role(at: slot)
            slot += 1
            guard var router = routers[role] else { continue }
            routers[role] = nil  // moved out: the closure below may touch self
            router.tick(at: time) { routerAction($0, on: role, at: now, emit) }
            routers[role] = router
        }
        for outside in OutsideSelection.allCases {
            withHost(outside) { host, policy in
                host.tick(at: time) { policy.hostAction($0, on: outside, at: now, emit) }
            }
        }
    }

    /// When ``tick(at:_:)`` must next be called (nil: nothing pending). Querier
    /// expiry is not included: it is only observed, never acted on in time.
    public var nextDeadline: ProxyTime? {
        var next = UInt64.max
        for slot in 0..<routers.slotCount {
            if let d = routers.nextDeadline(of: routers.role(at: slot)) { next = min(next, d.nanoseconds) }
        }
        if let d = hostPrimary.nextDeadline { next = min(next, d.nanoseconds) }
        if let d = hostAlt.nextDeadline { next = min(next, d.nanoseconds) }
        return next == .max ? nil : ProxyTime(nanoseconds: next)
    }

    // MARK: Inbound to the routers

    /// A report, leave or another router's query for the router of `role`.
    mutating func routerHear(_ message: IGMPMessageView, metadata: FrameMetadata, on role: InterfaceRole,
                             at now: ProxyTime, _ emit: (ProxyAction) -> Void) {
        guard var router = routers[role] else { return }
        routers[role] = nil
        router.handle(message, from: metadata.source, mac: metadata.sourceMAC, to: metadata.destination,
                      at: MembershipTime(nanoseconds: now.nanoseconds)) { routerAction($0, on: role, at: now, emit) }
        routers[role] = router
    }

    /// Carries out one router action.
    mutating func routerAction(_ action: MembershipAction, on role: InterfaceRole, at now: ProxyTime,
                               _ emit: (ProxyAction) -> Void) {
        switch action {
        case .sendQuery(let query, let destination):
            guard let addressing = configuration.addressing(for: role) else { return }
            emit(.transmit(ProxyTransmit(role: role, source: addressing.address, destination: destination,
                                         payload: .message(.query(query)), purpose: .query)))
        case .membershipChanged(let change):
            emit(.event(.groupChanged(role, change)))
            if configuration.membership == .track && !role.isUpstream {
                // The upstream reports the union of every downstream; with one
                // downstream that is its own state.
                let active = activeOutside
                // The changing router is moved out of `routers` while it
                // runs (see routerHear, tick): the others' union plus its new state.
                var union = routers.insides.count <= 1 ? change.new
                    : change.new.union(routers.insideUnion(of: change.group))
                if let client = clientStates[change.group] { union = union.union(client) }
                union = Self.reportable(union)
                withHost(active) { host, policy in
                    host.setState(of: change.group, to: union, at: MembershipTime(nanoseconds: now.nanoseconds)) {
                        policy.hostAction($0, on: active, at: now, emit)
                    }
                }
            }
        case .querierChanged(let status):
            emit(.event(.routerQuerierChanged(role, status)))
        case .count(let counter):
            emit(.routerCount(counter, role))
        }
    }

    // MARK: The upstream host side

    /// Runs `body` on the host side of `outside`, moved out of self so `body`
    /// may use the policy.
    mutating func withHost(_ outside: OutsideSelection, _ body: (inout HostMembership, inout ProxyPolicy) -> Void) {
        var host: HostMembership
        switch outside {
        case .primary:
            host = hostPrimary
            hostPrimary = HostMembership()
        case .alt:
            host = hostAlt
            hostAlt = HostMembership()
        }
        body(&host, &self)
        switch outside {
        case .primary: hostPrimary = host
        case .alt: hostAlt = host
        }
    }

    /// `state`, or EXCLUDE({}) when its source list is too long for one
    /// record (the union of several downstreams' INCLUDE lists can be):
    /// receiving every source is the safe over-approximation.
    static func reportable(_ state: GroupFilterState) -> GroupFilterState {
        state.sources.count > HostMembership.maxSourcesPerRecord ? GroupFilterState(mode: .exclude) : state
    }

    /// A query heard on the active outside, for the host side to answer.
    mutating func hostHearQuery(_ message: IGMPMessageView, on outside: OutsideSelection, at now: ProxyTime,
                                _ emit: (ProxyAction) -> Void) {
        guard let version = message.queryVersion else { return }
        let tenths: UInt32
        switch version {
        case .v1: tenths = 100
        case .v2: tenths = UInt32(message.maxRespCode)
        case .v3: tenths = IGMPTimerCode.decode(message.maxRespCode)
        }
        withHost(outside) { host, policy in
            host.receiveQuery(version: version, maxResponseTenths: tenths, group: message.group,
                              sources: message.sources, at: MembershipTime(nanoseconds: now.nanoseconds)) {
                policy.hostAction($0, on: outside, at: now, emit)
            }
        }
    }

    /// Carries out one host-side action: reports go out of `outside` from its
    /// address, or unicast to the querier when ``ProxyMode/unicastMembershipResponse``
    /// is on and one is known (the unicast translation of goIGMP, for upstreams
    /// that drop multicast IGMP).
    func hostAction(_ action: HostAction, on outside: OutsideSelection, at now: ProxyTime,
                    _ emit: (ProxyAction) -> Void) {
        switch action {
        case .send(let message, let destination):
            guard let addressing = configuration.addressing(for: outside.role) else { return }
            var target = destination
            if configuration.modes.unicastMembershipResponse,
               let unicast = querier(for: outside, at: now)?.address ?? configuration.unicastFallback {
                target = unicast
            }
            emit(.transmit(ProxyTransmit(role: outside.role, source: addressing.address, destination: target,
                                         payload: .message(message), purpose: .upstreamReport)))
        case .count(let counter):
            emit(.upstreamCount(counter, outside.role))
        }
    }

    /// Makes `selection` the active upstream and, when tracking, moves the
    /// memberships: the old upstream's host side leaves every group (TO_IN({}) or
    /// v2 leaves, retransmitted), the new one joins the inside's groups.
    public mutating func setActiveOutside(_ selection: OutsideSelection, at now: ProxyTime,
                                          _ emit: (ProxyAction) -> Void) throws(ProxyConfigurationError) {
        let previous = activeOutside
        try setActiveOutside(selection)
        guard configuration.membership == .track, previous != selection else { return }
        let time = MembershipTime(nanoseconds: now.nanoseconds)
        withHost(previous) { host, policy in
            host.leaveAll(at: time) { policy.hostAction($0, on: previous, at: now, emit) }
        }
        let routers = routers
        let client = clientStates
        let groups = Set(routers.insideGroups).union(client.keys).sorted()
        withHost(selection) { host, policy in
            for group in groups {
                host.setState(of: group, to: Self.reportable(routers.insideUnion(of: group).union(client[group] ?? .none)),
                              at: time) {
                    policy.hostAction($0, on: selection, at: now, emit)
                }
            }
        }
    }

    // MARK: Views

    /// Every interface's membership table and querier role at `now`.
    public func membership(at now: ProxyTime) -> [InterfaceMembership] {
        let time = MembershipTime(nanoseconds: now.nanoseconds)
        return configuration.insideRoles.compactMap { role in
            guard let router = routers[role] else { return nil }
            return InterfaceMembership(role: role, querier: router.querier.status, table: router.snapshot(at: time))
        } + [InterfaceRole.outside, .alt].compactMap { role in
            guard let router = routers[role] else { return nil }
            return InterfaceMembership(role: role, querier: router.querier.status, table: router.snapshot(at: time))
        }
    }

    /// What the host side reports on `outside` (empty unless tracking).
    public func upstreamMemberships(on outside: OutsideSelection) -> [(group: IPv4Address, state: GroupFilterState)] {
        outside == .primary ? hostPrimary.memberships : hostAlt.memberships
    }

    /// The version the host side of `outside` reports in at `now` (§7.2.1).
    public func upstreamCompatibility(on outside: OutsideSelection, at now: ProxyTime) -> IGMPVersion {
        let time = MembershipTime(nanoseconds: now.nanoseconds)
        return outside == .primary ? hostPrimary.compatibilityMode(at: time) : hostAlt.compatibilityMode(at: time)
    }
}

extension ProxyPolicy {
    /// The roles with a router.
    public var routerRoles: [InterfaceRole] {
        (configuration.insideRoles + [.outside, .alt]).filter { routers[$0] != nil }
    }

    /// Groups in the table of `role` (0 without a router).
    public func groupCount(on role: InterfaceRole) -> Int { routers[role]?.table.groupCount ?? 0 }

    /// Hosts tracked over the groups of `role`'s table (0 without a router).
    public func trackedHostCount(on role: InterfaceRole) -> Int { routers[role]?.table.trackedHostCount ?? 0 }
}

extension ProxyPolicy {
    /// The forwarding state of every group in the table of `role` (empty
    /// without a router): the input of the forwarding plan.
    public func groupStates(on role: InterfaceRole) -> [(group: IPv4Address, state: GroupFilterState)] {
        guard let table = routers[role]?.table else { return [] }
        return table.snapshot(at: .zero).groups.map { ($0.group, table.state(of: $0.group)) }
    }
}
