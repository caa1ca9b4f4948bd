import IGMPWire

/// The router side of one interface: a ``Querier`` and a ``MembershipTable`` kept
/// in step — what the daemon holds per managed interface.
///
/// Queries go to the election first; the table learns from it whether it is the
/// querier (and so sends Q(G)/Q(G,S)) and which Robustness Variable and Query
/// Interval are in force (adopted from the querier, §4.1.6–4.1.7). Multicast
/// queries from other routers then lower the table's timers (§6.6.1); unicast
/// ones are counted and otherwise ignored (§9.1). Reports and leaves go to the
/// table, querier or not (§6: every router keeps membership state).
public struct MembershipRouter: Sendable {
    /// The querier.
    public private(set) var querier: Querier
    /// The membership table.
    public private(set) var table: MembershipTable

    /// Creates both from one configuration; the querier starts at `now`.
    public init(configuration: MembershipConfiguration, address: IPv4Address,
                startingAt now: MembershipTime) throws(MembershipConfigurationError) {
        self.querier = try Querier(configuration: configuration, address: address, startingAt: now)
        self.table = try MembershipTable(configuration: configuration)
        table.setQuerier(querier.isQuerier)
        // Fast leave trusts the tracked hosts once every host had a chance to
        // report: the startup query's response interval (a passive router
        // waits for another querier's round, a whole membership interval).
        let settle = configuration.passive ? configuration.groupMembershipInterval : configuration.queryResponseInterval
        table.armFastLeave(at: MembershipTime(nanoseconds: saturatingSum(now.nanoseconds, settle.clampedNanoseconds)))
    }

    /// The earlier of the querier's and the table's deadlines.
    public var nextDeadline: MembershipTime? {
        switch (querier.nextDeadline, table.nextDeadline) {
        case (let a?, let b?): min(a, b)
        case (let a?, nil): a
        case (nil, let b): b
        }
    }

    /// Runs both engines' timers.
    public mutating func tick(at now: MembershipTime, _ emit: (MembershipAction) -> Void) {
        querier.tick(at: now, emit)
        sync()
        table.tick(at: now, emit)
    }

    /// Handles one IGMP message read in place, received on the interface from IP
    /// `source` to IP `destination`. Own messages must be filtered out before
    /// (by MAC and IP, as `ProxyPolicy` does).
    public mutating func handle(_ message: IGMPMessageView, from source: IPv4Address, mac: MACAddress? = nil,
                                to destination: IPv4Address, at now: MembershipTime,
                                _ emit: (MembershipAction) -> Void) {
        tick(at: now, emit)
        if message.type == .query {
            guard let version = message.queryVersion else { return }
            querier.receiveQuery(version: version, qrv: message.qrv, qqicCode: message.qqicCode,
                                 from: source, to: destination, at: now, emit)
            sync()
            guard destination.isMulticast else { return }
        }
        table.handle(message, from: source, mac: mac, at: now, emit)
    }

    /// Handles an owned message (tests and tools; allocates).
    public mutating func handle(_ message: IGMPMessage, from source: IPv4Address, mac: MACAddress? = nil,
                                to destination: IPv4Address, at now: MembershipTime,
                                _ emit: (MembershipAction) -> Void) {
        tick(at: now, emit)
        if case .query(let query) = message {
            querier.receiveQuery(query, from: source, to: destination, at: now, emit)
            sync()
            guard destination.isMulticast else { return }
        }
        table.handle(message, from: source, mac: mac, at: now, emit)
    }

    /// Whether fast leave may act on groups in IGMPv2 compatibility mode here.
    public mutating func setFastLeaveOlderHosts(_ allowed: Bool) {
        table.setFastLeaveOlderHosts(allowed)
    }

    /// Restarts the querier from `address` at `now`, as a router that just
    /// started (§6.6.2: querier, startup queries due at once) — for an
    /// interface renumbered or back up. The table and its timers stay.
    public mutating func restartQuerier(address: IPv4Address, at now: MembershipTime) throws(MembershipConfigurationError) {
        querier = try Querier(configuration: querier.configuration, address: address, startingAt: now)
        sync()
    }

    /// The table's snapshot.
    public func snapshot(at now: MembershipTime) -> MembershipSnapshot { table.snapshot(at: now) }

    /// Tells the table the querier's role and the parameters in force.
    private mutating func sync() {
        table.setQuerier(querier.isQuerier)
        let configuration = querier.configuration
        let robustness = querier.robustness == configuration.robustness ? nil : querier.robustness
        let interval = querier.queryInterval == configuration.queryInterval ? nil : querier.queryInterval
        table.adopt(robustness: robustness, queryInterval: interval)
    }
}
