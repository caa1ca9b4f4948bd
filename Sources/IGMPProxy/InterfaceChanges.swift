import IGMPMembership
import IGMPWire

/// Interfaces that come and go while the proxy runs: what the daemon tells
/// the policy when the kernel reports a link or address change. Each change
/// touches only its interface: a downstream added or removed changes the
/// upstream report of a group only when the union of the downstreams'
/// states of that group changes (no churn for groups others still hold).
extension ProxyPolicy {
    /// Whether fast leave may act on IGMPv2 groups of the downstream in `role`:
    /// its hosts do not hear each other's reports (the daemon knows the link:
    /// a snooping bridge, a point-to-point link; or the operator says so).
    public mutating func setFastLeaveOlderHosts(_ allowed: Bool, on role: InterfaceRole) {
        routers[role]?.setFastLeaveOlderHosts(allowed)
    }

    /// Takes in a downstream at the first free slot and returns its role.
    /// Its querier starts at `now` (startup queries due at once: call
    /// ``tick(at:_:)``), with the router configuration of
    /// ``ProxyConfiguration/router(for:)``.
    public mutating func addInside(_ addressing: InterfaceAddressing,
                                   at now: ProxyTime) throws(ProxyConfigurationError) -> InterfaceRole {
        var slot = 0
        while slot < configuration.insides.count, configuration.insides[slot] != nil { slot += 1 }
        let role = InterfaceRole.inside(slot)
        var next = configuration
        next.setAddressing(addressing, for: role)
        try next.validate()
        try startRouter(on: role, address: addressing.address, at: now)
        configuration = next
        return role
    }

    /// Removes the downstream in `role`: its table goes, and each group it
    /// held is reported upstream as the union of the others (under
    /// ``MembershipTracking/track``: state-change reports for the groups
    /// whose union changes, nothing for the rest).
    public mutating func removeInside(_ role: InterfaceRole, at now: ProxyTime, _ emit: (ProxyAction) -> Void) {
        guard !role.isUpstream, configuration.addressing(for: role) != nil else { return }
        let held = routers[role]?.table.groupAddresses ?? []
        routers[role] = nil
        configuration.setAddressing(nil, for: role)
        guard configuration.membership == .track else { return }
        let active = activeOutside
        let time = MembershipTime(nanoseconds: now.nanoseconds)
        let routers = routers
        let client = clientStates
        withHost(active) { host, policy in
            for group in held.sorted() {
                let union = Self.reportable(routers.insideUnion(of: group).union(client[group] ?? .none))
                host.setState(of: group, to: union, at: time) { policy.hostAction($0, on: active, at: now, emit) }
            }
        }
    }

    /// New facts for the interface in `role` (renumbered, MAC changed), or
    /// nil: an upstream gone. A downstream's querier restarts from the new
    /// address (the election is redone, startup queries follow; the table
    /// stays) and the subnet check follows at once; what goes upstream
    /// leaves from the new address. Use ``removeInside(_:at:_:)`` for a
    /// downstream that is gone.
    public mutating func setAddressing(_ addressing: InterfaceAddressing?, for role: InterfaceRole,
                                       at now: ProxyTime) throws(ProxyConfigurationError) {
        let before = configuration.addressing(for: role)
        guard before != addressing else { return }
        var next = configuration
        next.setAddressing(addressing, for: role)
        try next.validate()
        if let addressing, addressing.address != before?.address {
            try startRouter(on: role, address: addressing.address, at: now)
        }
        if addressing == nil { routers[role] = nil }
        configuration = next
    }

    /// The interface in `role` came (back) up. A downstream gets startup
    /// queries (its querier restarts; the table stays), so hosts that
    /// missed queries while it was down report again; the active upstream
    /// re-sends the union's state as state-change reports, as Linux's host
    /// stack does when an interface comes up (`ip_mc_up`).
    public mutating func interfaceUp(_ role: InterfaceRole, at now: ProxyTime, _ emit: (ProxyAction) -> Void) {
        if let router = routers[role], let address = configuration.addressing(for: role)?.address {
            var restarted = router
            do throws(MembershipConfigurationError) {
                try restarted.restartQuerier(address: address, at: MembershipTime(nanoseconds: now.nanoseconds))
                routers[role] = restarted
            } catch {
                // The configuration was valid when the router was made; a
                // restart with the same one cannot fail. Keep the old one.
            }
        }
        guard configuration.membership == .track, let outside = OutsideSelection(role: role),
              outside == activeOutside else { return }
        withHost(outside) { host, policy in
            host.reannounce(at: MembershipTime(nanoseconds: now.nanoseconds)) {
                policy.hostAction($0, on: outside, at: now, emit)
            }
        }
    }

    /// A router for `role` (when its configuration has one), keeping the
    /// table of the one there (a renumbered interface keeps its members).
    private mutating func startRouter(on role: InterfaceRole, address: IPv4Address,
                                      at now: ProxyTime) throws(ProxyConfigurationError) {
        guard let config = configuration.router(for: role) else { return }
        let time = MembershipTime(nanoseconds: now.nanoseconds)
        do throws(MembershipConfigurationError) {
            if var existing = routers[role] {
                try existing.restartQuerier(address: address, at: time)
                routers[role] = existing
            } else {
                routers[role] = try MembershipRouter(configuration: config, address: address, startingAt: time)
            }
        } catch {
            throw .invalidRouter(role, error.description)
        }
    }
}
