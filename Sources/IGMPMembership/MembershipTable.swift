import IGMPWire

/// The router-side membership state of one interface (RFC 3376 §6, with §7.3
/// compatibility): per group filter mode, group timer, source records and timers,
/// older-version-host-present timers, and the group(-and-source)-specific queries
/// the querier sends on leaves.
///
/// A pure value: no I/O, no clock. Every entry point takes `now` and first
/// processes whatever timers are due, then hands its actions to `emit` in order:
/// ``MembershipAction/sendQuery(_:destination:)``,
/// ``MembershipAction/membershipChanged(_:)`` and ``MembershipAction/count(_:)``.
/// Call ``tick(at:_:)`` no later than ``nextDeadline``.
///
/// Applying a report allocates only when it creates a group or source record,
/// changes the forwarding state (the change event owns its source lists) or sends
/// a group-and-source-specific query; refreshing existing state does not.
///
/// Queries are sent only while ``isQuerier`` is true (§6.6.3: "encountered by a
/// querier"); a non-querier keeps its timers from the querier's queries instead
/// (``receiveQuery(group:sources:sFlag:maxResponseTenths:at:_:)``, §6.6.1).
public struct MembershipTable: Sendable {
    /// The configuration in force.
    public private(set) var configuration: MembershipConfiguration
    /// Whether this router is the querier and so sends Q(G) and Q(G,S).
    public private(set) var isQuerier: Bool
    var timing: Timing
    var groups: [IPv4Address: GroupEntry] = [:]
    /// Groups per last reporter, for ``MembershipLimits/maxGroupsPerHost``.
    var hostGroups: [IPv4Address: Int] = [:]
    /// A lower bound of the earliest timer (UInt64.max: none).
    var deadlineBound: UInt64 = .max
    /// Fast leave acts only from this time on (nanoseconds): before it, hosts
    /// that joined before this table existed may not have reported yet.
    var fastLeaveFrom: UInt64 = 0

    /// Creates an empty table; throws when ``MembershipConfiguration/validate()`` does.
    /// `isQuerier` starts true unless the configuration is passive (§6.6.2: a router
    /// starts up as the querier).
    public init(configuration: MembershipConfiguration) throws(MembershipConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        self.isQuerier = !configuration.passive
        self.timing = Timing(configuration)
    }

    /// Sets whether this router is the querier. Becoming a non-querier forgets all
    /// pending query retransmissions (only the querier sends them).
    public mutating func setQuerier(_ isQuerier: Bool) {
        guard isQuerier != self.isQuerier else { return }
        self.isQuerier = isQuerier
        guard !isQuerier else { return }
        var index = groups.startIndex
        while index != groups.endIndex {
            groups.values[index].cancelQueries()
            index = groups.index(after: index)
        }
    }

    /// Uses `robustness` and `queryInterval` (the querier's QRV and QQI, RFC 3376
    /// §4.1.6–4.1.7) instead of the configured values for timers set from now on;
    /// nil restores the configured value.
    public mutating func adopt(robustness: Int?, queryInterval: Duration?) {
        // Called on every message the router handles: recompute (Duration
        // arithmetic in Int128) only when something changed.
        guard robustness != adopted.robustness || queryInterval != adopted.queryInterval else { return }
        adopted = (robustness, queryInterval)
        timing = Timing(configuration, robustness: robustness, queryInterval: queryInterval)
    }
    private var adopted: (robustness: Int?, queryInterval: Duration?) = (nil, nil)

    /// The Group Membership Interval in force (§8.4), with adopted values.
    public var groupMembershipInterval: Duration { .nanoseconds(timing.groupMembershipInterval) }

    /// The number of groups with state.
    public var groupCount: Int { groups.count }

    /// Hosts tracked over every group (a host in two groups counts twice).
    public var trackedHostCount: Int { groups.values.reduce(0) { $0 + $1.hosts.count } }

    /// Fast leave acts from `time` on: a host that joined before this router
    /// started reports only when queried, so until the first query round is
    /// answered the tracked hosts may not be all the hosts.
    public mutating func armFastLeave(at time: MembershipTime) {
        fastLeaveFrom = time.nanoseconds
    }

    /// Whether fast leave may act on groups in IGMPv2 compatibility mode (hosts
    /// here do not hear each other's reports); see
    /// ``MembershipConfiguration/fastLeaveOlderHosts``.
    public mutating func setFastLeaveOlderHosts(_ allowed: Bool) {
        configuration.fastLeaveOlderHosts = allowed
    }

    /// The groups with an entry, unordered.
    public var groupAddresses: [IPv4Address] { Array(groups.keys) }

    /// The forwarding state of `group` (``GroupFilterState/none`` when unknown).
    public func state(of group: IPv4Address) -> GroupFilterState {
        groups[group]?.filterState ?? .none
    }

    /// The group compatibility mode of `group` at `now` (§7.3.2); nil when unknown.
    public func compatibilityMode(of group: IPv4Address, at now: MembershipTime) -> IGMPVersion? {
        groups[group]?.compatibility(at: now.nanoseconds)
    }

    /// When ``tick(at:_:)`` should next be called; nil when no timer runs. Never
    /// later than the earliest timer; it may be earlier (a refreshed timer), and
    /// calling early is harmless.
    public var nextDeadline: MembershipTime? {
        deadlineBound == .max ? nil : MembershipTime(nanoseconds: deadlineBound)
    }

    // MARK: Messages

    /// Applies a report or leave read in place (v1/v2 reports, v2 leaves, each
    /// v3 group record; records of unknown type are skipped, §4.2.12), or a query
    /// heard from another router (only multicast ones: the caller filters unicast
    /// queries, §9.1). `source` is the IP source of the message.
    /// `mac` is the frame's source MAC (nil on L3 links): the tracked host's
    /// record keeps it, and a leave naming a host of another MAC does not
    /// remove that host's record.
    public mutating func handle(_ message: IGMPMessageView, from source: IPv4Address, mac: MACAddress? = nil,
                                at now: MembershipTime, _ emit: (MembershipAction) -> Void) {
        tick(at: now, emit)
        let time = now.nanoseconds
        let host = Reporter(address: source, mac: mac)
        switch message.type {
        case .query:
            let tenths: UInt32
            switch message.queryVersion ?? .v1 {
            case .v1: tenths = 100
            case .v2: tenths = UInt32(message.maxRespCode)
            case .v3: tenths = IGMPTimerCode.decode(message.maxRespCode)
            }
            lowerTimers(group: message.group, sources: message.sources, sFlag: message.sFlag,
                        maxResponseTenths: tenths, now: time, emit)
        case .v1Report:
            olderReport(.v1, group: message.group, from: host, now: time, emit)
        case .v2Report:
            olderReport(.v2, group: message.group, from: host, now: time, emit)
        case .v2Leave:
            process(.toInclude, group: message.group, sources: EmptyCollection(), from: host, now: time, emit)
        case .v3Report:
            for record in message.records {
                guard let type = record.type else { continue }
                process(type, group: record.group, sources: record.sources, from: host, now: time, emit)
            }
        }
    }

    /// Applies an owned message (tests and tools; allocates). Same rules as the
    /// in-place entry point.
    public mutating func handle(_ message: IGMPMessage, from source: IPv4Address, mac: MACAddress? = nil,
                                at now: MembershipTime, _ emit: (MembershipAction) -> Void) {
        tick(at: now, emit)
        let time = now.nanoseconds
        let source = Reporter(address: source, mac: mac)
        switch message {
        case .query(let query):
            lowerTimers(group: query.group, sources: query.sources, sFlag: query.sFlag,
                        maxResponseTenths: query.maxResponseTenths, now: time, emit)
        case .v1Report(let group):
            olderReport(.v1, group: group, from: source, now: time, emit)
        case .v2Report(let group):
            olderReport(.v2, group: group, from: source, now: time, emit)
        case .v2Leave(let group):
            process(.toInclude, group: group, sources: EmptyCollection(), from: source, now: time, emit)
        case .v3Report(let records):
            for record in records {
                process(record.type, group: record.group, sources: record.sources, from: source, now: time, emit)
            }
        }
    }

    /// Applies one IGMPv3 group record from `host` (RFC 3376 §6.4), subject to the
    /// group's compatibility mode (§7.3.2) and the limits.
    public mutating func receiveRecord<Sources: RandomAccessCollection<IPv4Address>>(
        _ type: GroupRecordType, group: IPv4Address, sources: Sources, from host: IPv4Address,
        mac: MACAddress? = nil, at now: MembershipTime, _ emit: (MembershipAction) -> Void
    ) {
        tick(at: now, emit)
        process(type, group: group, sources: sources, from: Reporter(address: host, mac: mac),
                now: now.nanoseconds, emit)
    }

    /// A query heard from another router (§6.6.1): with S clear, Q(G) lowers the
    /// group timer and Q(G,A) the timers of A to the querier's Last Member Query
    /// Time — its Max Resp (its LMQI) × our Last Member Query Count. General
    /// queries and queries with S set change nothing.
    public mutating func receiveQuery<Sources: RandomAccessCollection<IPv4Address>>(
        group: IPv4Address, sources: Sources, sFlag: Bool, maxResponseTenths: UInt32,
        at now: MembershipTime, _ emit: (MembershipAction) -> Void
    ) {
        tick(at: now, emit)
        lowerTimers(group: group, sources: sources, sFlag: sFlag, maxResponseTenths: maxResponseTenths,
                    now: now.nanoseconds, emit)
    }

    /// Processes every timer due at `now` (§6.5) and sends due query retransmissions.
    public mutating func tick(at now: MembershipTime, _ emit: (MembershipAction) -> Void) {
        let time = now.nanoseconds
        guard time >= deadlineBound else { return }
        var next = UInt64.max
        var deleted: [IPv4Address] = []
        var index = groups.startIndex
        while index != groups.endIndex {
            if groups.values[index].nextEvent <= time {
                let group = groups.keys[index]
                let groupContext = context(group, time)
                groups.values[index].advance(to: time, groupContext, emit)
                Self.reportChange(of: group, &groups.values[index], emit)
                if groups.values[index].isEmpty { deleted.append(group) }
            }
            next = min(next, groups.values[index].nextEvent)
            index = groups.index(after: index)
        }
        for group in deleted { delete(group, emit) }
        deadlineBound = next
    }

    // MARK: Internals

    /// The reporting host of a message: its IP source and frame source MAC.
    struct Reporter {
        var address: IPv4Address
        var mac: MACAddress?
    }

    /// Whether a leave on `entry` may take effect at once: fast leave is on and
    /// armed, every host of the group is tracked, and the group is in IGMPv3
    /// mode (or IGMPv2 with ``MembershipConfiguration/fastLeaveOlderHosts``).
    func fastLeaveApplies(to entry: GroupEntry, at now: UInt64) -> Bool {
        guard configuration.fastLeave, now >= fastLeaveFrom, entry.untrackedUntil <= now else { return false }
        switch entry.compatibility(at: now) {
        case .v3: return true
        case .v2: return configuration.fastLeaveOlderHosts
        case .v1: return false
        }
    }

    func context(_ group: IPv4Address, _ now: UInt64) -> GroupContext {
        GroupContext(group: group, now: now, timing: timing, isQuerier: isQuerier)
    }

    /// A v1 or v2 report: IS_EX({}) plus the older-version-host-present timer (§7.3.2).
    mutating func olderReport(_ version: IGMPVersion, group: IPv4Address, from host: Reporter,
                              now: UInt64, _ emit: (MembershipAction) -> Void) {
        process(.isExclude, group: group, sources: EmptyCollection(), from: host, now: now, emit)
        let expires = saturatingSum(now, timing.groupMembershipInterval)  // §8.13 = GMI
        if version == .v1 { groups[group]?.v1HostExpires = expires } else { groups[group]?.v2HostExpires = expires }
    }

    /// One record, with the checks, the compatibility translation and the caps.
    mutating func process<Sources: RandomAccessCollection<IPv4Address>>(
        _ type: GroupRecordType, group: IPv4Address, sources: Sources, from host: Reporter,
        now: UInt64, _ emit: (MembershipAction) -> Void
    ) {
        guard group.isMulticast else { return emit(.count(.droppedInvalidGroup)) }
        guard !group.isLinkLocalMulticast else { return emit(.count(.droppedLinkLocalGroup)) }
        guard sources.count <= timing.limits.maxSourcesPerRecord else {
            return emit(.count(.droppedTooManySources))
        }
        // §7.3.2: with older hosts present BLOCK is ignored and TO_EX's sources are;
        // with v1 hosts present leaves (TO_IN) are ignored as well.
        let compatibility = groups[group]?.compatibility(at: now) ?? .v3
        if compatibility != .v3 {
            if type == .blockOldSources { return emit(.count(.ignoredBlockOlderHost)) }
            if compatibility == .v1 && type == .toInclude { return emit(.count(.ignoredLeaveV1Host)) }
            if type == .toExclude && !sources.isEmpty {
                emit(.count(.ignoredToExcludeSources))
                return apply(type, group: group, sources: EmptyCollection(), from: host, now: now, emit)
            }
        }
        apply(type, group: group, sources: sources, from: host, now: now, emit)
    }

    mutating func apply<Sources: RandomAccessCollection<IPv4Address>>(
        _ type: GroupRecordType, group: IPv4Address, sources: Sources, from reporter: Reporter,
        now: UInt64, _ emit: (MembershipAction) -> Void
    ) {
        let host = reporter.address
        let limits = timing.limits
        if let owner = groups[group]?.lastReporter {
            // Ownership for the per-host cap follows the last reporter, unless that
            // would put the new reporter over its cap.
            if owner != host && hostGroups[host, default: 0] < limits.maxGroupsPerHost {
                release(owner)
                hostGroups[host, default: 0] += 1
                groups[group]?.lastReporter = host
            }
        } else {
            // A missing group is INCLUDE({}): only EXCLUDE records and records
            // that add sources create state; anything else changes nothing.
            let creates = type == .isExclude || type == .toExclude
                || (!sources.isEmpty && type != .blockOldSources)
            guard creates else { return emit(.count(.recordApplied)) }
            guard groups.count < limits.maxGroups else { return emit(.count(.droppedGroupLimit)) }
            guard hostGroups[host, default: 0] < limits.maxGroupsPerHost else {
                return emit(.count(.droppedHostGroupLimit))
            }
            hostGroups[host, default: 0] += 1
            var entry = GroupEntry()
            entry.lastReporter = host
            groups[group] = entry
        }
        var groupContext = context(group, now)
        var fastLeave = false
        if let index = groups.index(forKey: group) {
            switch groups.values[index].track(type, sources, host: host, mac: reporter.mac, now: now,
                                              gmi: saturatingSum(now, timing.groupMembershipInterval),
                                              limit: limits.maxHostsPerGroup) {
            case .tracked:
                fastLeave = (type == .toInclude || type == .blockOldSources)
                    && fastLeaveApplies(to: groups.values[index], at: now)
            case .macMismatch: emit(.count(.leaveMACMismatch))
            case .overLimit: emit(.count(.untrackedHostLimit))
            }
        }
        // Fast leave: the RFC's row without its last-member queries (as a
        // non-querier applies it), then the state the tracked hosts ask for.
        if fastLeave { groupContext.isQuerier = false }
        groups[group]?.apply(type, sources, groupContext, emit)
        if fastLeave { _ = groups[group]?.fastLeave(now: now, emit) }
        var empty = false
        if let index = groups.index(forKey: group) {
            Self.reportChange(of: group, &groups.values[index], emit)
            empty = groups.values[index].isEmpty
            deadlineBound = min(deadlineBound, groups.values[index].nextEvent)
        }
        if empty { delete(group, emit) }
        emit(.count(.recordApplied))
    }

    mutating func lowerTimers<Sources: RandomAccessCollection<IPv4Address>>(
        group: IPv4Address, sources: Sources, sFlag: Bool, maxResponseTenths: UInt32, now: UInt64,
        _ emit: (MembershipAction) -> Void
    ) {
        guard !sFlag, !group.isUnspecified, groups[group] != nil else { return }
        let lowered = saturatingSum(now, saturatingProduct(UInt64(maxResponseTenths) * 100_000_000,
                                                           UInt64(timing.lastMemberQueryCount)))
        if groups[group]?.lowerTimers(for: sources, to: lowered) == true {
            emit(.count(.timersLoweredByQuery))
            deadlineBound = min(deadlineBound, lowered)
        }
    }

    /// Emits the change the last operation made to `entry`, if any.
    static func reportChange(of group: IPv4Address, _ entry: inout GroupEntry, _ emit: (MembershipAction) -> Void) {
        guard let before = entry.before else { return }
        entry.before = nil
        let after = entry.isEmpty ? GroupFilterState.none : entry.filterState
        if before != after { emit(.membershipChanged(MembershipChange(group: group, old: before, new: after))) }
    }

    mutating func delete(_ group: IPv4Address, _ emit: (MembershipAction) -> Void) {
        guard let entry = groups.removeValue(forKey: group) else { return }
        release(entry.lastReporter)
        emit(.count(.groupDeleted))
    }

    mutating func release(_ host: IPv4Address) {
        guard let count = hostGroups[host] else { return }
        if count <= 1 { hostGroups[host] = nil } else { hostGroups[host] = count - 1 }
    }
}
