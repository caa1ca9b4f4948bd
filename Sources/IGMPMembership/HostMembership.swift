import IGMPWire

/// The host side of one upstream interface (RFC 3376 §5, with the §7.2 older-querier
/// compatibility): what an IGMP proxy reports upstream for the union of its
/// downstream memberships (RFC 4605 §4.1).
///
/// The caller sets each group's desired state with ``setState(of:to:at:_:)``
/// (the union, or ``GroupFilterState/none`` to leave); this type sends the
/// state-change report at once and retransmits it Robustness Variable − 1 more
/// times at random moments within the Unsolicited Report Interval (§5.1), merging
/// changes that arrive meanwhile the way §5.1 says: a filter-mode change is
/// reported as TO_EX/TO_IN with the current sources, source changes as ALLOW and
/// BLOCK, each source retransmitted its own number of times. Queries heard on the
/// interface (``receiveQuery(_:at:_:)``) are answered with current-state records
/// after a random delay within Max Resp (§5.2). While an IGMPv1 or IGMPv2 querier
/// is present (Older Version Querier Present Timeout, §8.12) reports and leaves
/// are sent in that version and source lists are ignored (§7.2.1).
///
/// Pure: time is passed in, messages go to a closure, randomness comes from a
/// seeded generator, so tests drive it through any timeline.
public struct HostMembership: Sendable {
    /// The Robustness Variable for retransmissions (§8.1).
    public private(set) var robustness: Int
    /// Unsolicited Report Interval (§8.11: 1 s for IGMPv3; RFC 2236 §8.10: 10 s for
    /// v2, but one interval for both keeps leave latency low and is what Linux uses).
    public let unsolicitedReportInterval: Duration
    /// State changes within this window of the first are sent as one report
    /// (zero: each at once, as RFC 3376 §5.1 says). Bounds the reports a zap
    /// storm sends upstream, at the cost of up to this much join/leave latency.
    public let mergeWindow: Duration
    /// When the changes held by ``mergeWindow`` are sent (UInt64.max: none held).
    var mergeAt: UInt64 = .max
    /// Groups with a state or with pending retransmissions.
    var groups: [IPv4Address: HostGroup] = [:]
    /// When the next state-change retransmission is due (UInt64.max: none).
    var retransmitAt: UInt64 = .max
    /// When the pending answer to a general query is due (UInt64.max: none).
    var generalResponseAt: UInt64 = .max
    /// No group's answer to a group(-and-source)-specific query is due before
    /// this (UInt64.max: none pending), so deadlines need no walk over the groups.
    var responseBound: UInt64 = .max
    /// Older querier present until (§7.2.1); 0: none heard.
    var v1QuerierUntil: UInt64 = 0
    var v2QuerierUntil: UInt64 = 0
    var random: SplitMix

    /// Creates an empty host state. `seed` drives the random delays.
    public init(robustness: Int = 2, unsolicitedReportInterval: Duration = .seconds(1),
                mergeWindow: Duration = .zero, seed: UInt64 = 1) {
        self.robustness = max(1, robustness)
        self.unsolicitedReportInterval = unsolicitedReportInterval
        self.mergeWindow = mergeWindow
        self.random = SplitMix(state: seed)
    }

    /// The groups with members, ascending, with their state.
    public var memberships: [(group: IPv4Address, state: GroupFilterState)] {
        groups.filter { $0.value.state.hasMembers }.sorted { $0.key < $1.key }.map { ($0.key, $0.value.state) }
    }

    /// The state reported for `group`.
    public func state(of group: IPv4Address) -> GroupFilterState { groups[group]?.state ?? .none }

    /// The version reports are sent in at `now` (§7.2.1).
    public func compatibilityMode(at now: MembershipTime) -> IGMPVersion {
        if v1QuerierUntil > now.nanoseconds { return .v1 }
        if v2QuerierUntil > now.nanoseconds { return .v2 }
        return .v3
    }

    /// When ``tick(at:_:)`` must next be called; nil when nothing is pending.
    public var nextDeadline: MembershipTime? {
        let next = min(retransmitAt, generalResponseAt, responseBound, mergeAt)
        return next == .max ? nil : MembershipTime(nanoseconds: next)
    }

    // MARK: State changes (§5.1)

    /// Makes `new` the reported state of `group` and sends the state-change
    /// report now (the retransmissions follow from ``tick(at:_:)``).
    public mutating func setState(of group: IPv4Address, to new: GroupFilterState, at now: MembershipTime,
                                  _ emit: (HostAction) -> Void) {
        guard group.isMulticast, !group.isLinkLocalMulticast else { return }
        tick(at: now, emit)
        let old = groups[group]?.state ?? .none
        guard old != new else { return }
        var entry = groups[group] ?? HostGroup()
        entry.state = new
        let count = robustness
        let version = compatibilityMode(at: now)
        if version != .v3 {
            // §7.2.1: only membership itself can be told to an older querier.
            entry.allow = [:]
            entry.block = [:]
            guard old.hasMembers != new.hasMembers else {
                groups[group] = entry
                return
            }
            entry.modeChangesLeft = count
        } else if old.mode != new.mode {
            // A filter-mode change (joining any-source is INCLUDE({}) → EXCLUDE,
            // leaving it the reverse) is reported whole: TO_EX / TO_IN (§5.1).
            entry.modeChangesLeft = count
            entry.allow = [:]
            entry.block = [:]
        } else {
            let (gone, added) = difference(old.sources, new.sources)
            // INCLUDE: added sources are allowed, gone ones blocked; EXCLUDE: the
            // reverse. INCLUDE({}) → INCLUDE(S) is ALLOW(S), its reverse BLOCK(S).
            let (allow, block) = new.mode == .include ? (added, gone) : (gone, added)
            for source in allow { entry.allow[source] = count; entry.block[source] = nil }
            for source in block { entry.block[source] = count; entry.allow[source] = nil }
        }
        groups[group] = entry
        if mergeWindow > .zero {
            // Held until the window of the first held change ends, then sent
            // with every other change made meanwhile (one report).
            if mergeAt == .max { mergeAt = saturatingSum(now.nanoseconds, mergeWindow.clampedNanoseconds) }
            return
        }
        sendPendingChanges(only: group, version: version, emit)
        if retransmitAt == .max && hasPendingChanges {
            retransmitAt = saturatingSum(now.nanoseconds, randomDelay(upTo: unsolicitedReportInterval.clampedNanoseconds))
        }
    }

    /// Leaves every group (the active upstream moved away from this interface).
    public mutating func leaveAll(at now: MembershipTime, _ emit: (HostAction) -> Void) {
        for group in groups.keys.sorted() { setState(of: group, to: .none, at: now, emit) }
    }

    /// Reports every group's current state again as state-change records
    /// (TO_EX/TO_IN with the sources, or v1/v2 reports), sent now and
    /// retransmitted like any state change: for an interface that came back
    /// up or a new upstream address, as Linux does in `ip_mc_up`.
    public mutating func reannounce(at now: MembershipTime, _ emit: (HostAction) -> Void) {
        tick(at: now, emit)
        var any = false
        for (group, var entry) in groups where entry.state.hasMembers {
            entry.modeChangesLeft = robustness
            entry.allow = [:]
            entry.block = [:]
            groups[group] = entry
            any = true
        }
        guard any else { return }
        sendPendingChanges(only: nil, version: compatibilityMode(at: now), emit)
        if retransmitAt == .max && hasPendingChanges {
            retransmitAt = saturatingSum(now.nanoseconds, randomDelay(upTo: unsolicitedReportInterval.clampedNanoseconds))
        }
    }

    var hasPendingChanges: Bool { groups.values.contains { $0.hasPendingChange } }

    // MARK: Queries (§5.2, §7.2.1)

    /// A query heard on the interface (multicast or unicast to us: §4.1.12 says
    /// both are answered). Older querier versions switch the reports' version.
    public mutating func receiveQuery(_ query: IGMPQuery, at now: MembershipTime, _ emit: (HostAction) -> Void) {
        receiveQuery(version: query.version, maxResponseTenths: query.maxResponseTenths, group: query.group,
                     sources: query.sources, at: now, emit)
    }

    /// The in-place form: a query's fields.
    public mutating func receiveQuery<Sources: Collection<IPv4Address>>(
        version: IGMPVersion, maxResponseTenths: UInt32, group: IPv4Address, sources: Sources,
        at now: MembershipTime, _ emit: (HostAction) -> Void
    ) {
        tick(at: now, emit)
        let time = now.nanoseconds
        // §8.12 Older Version Querier Present Timeout = RV × QI + QRI, with the
        // defaults for QI (the older querier's own is not on the wire).
        let olderPresent = saturatingSum(saturatingProduct(125_000_000_000, UInt64(robustness)),
                                         UInt64(maxResponseTenths) * 100_000_000)
        switch version {
        case .v1: v1QuerierUntil = saturatingSum(time, olderPresent)
        case .v2: v2QuerierUntil = saturatingSum(time, olderPresent)
        case .v3: break
        }
        let tenths = version == .v1 ? 100 : max(maxResponseTenths, 1)
        let due = saturatingSum(time, randomDelay(upTo: UInt64(tenths) * 100_000_000))
        if group.isUnspecified {
            // One pending general response at most; an earlier one stands (§5.2 rule 1).
            if generalResponseAt == .max || due < generalResponseAt { generalResponseAt = due }
            return
        }
        guard var entry = groups[group], entry.state.hasMembers else { return }
        // §5.2 rules 3–5: a pending answer keeps the earlier time; a group-specific
        // query (or any older-version one) makes it an answer for the whole group;
        // source lists of group-and-source-specific queries are merged.
        let wasPending = entry.responseAt != .max
        entry.responseAt = min(entry.responseAt, due)
        responseBound = min(responseBound, entry.responseAt)
        if sources.isEmpty || version != .v3 {
            entry.responseSources = nil
        } else if !wasPending {
            entry.responseSources = Array(Set(sources)).sorted()
        } else if let asked = entry.responseSources {
            entry.responseSources = Array(Set(asked).union(sources)).sorted()
        }
        groups[group] = entry
    }

    // MARK: Timers

    /// Sends what is due at `now`: retransmissions, query answers; forgets older
    /// queriers whose timeout passed.
    public mutating func tick(at now: MembershipTime, _ emit: (HostAction) -> Void) {
        let time = now.nanoseconds
        let version = compatibilityMode(at: now)
        if generalResponseAt <= time {
            generalResponseAt = .max
            answerGeneralQuery(version: version, emit)
            // A general answer covers every pending group answer (§5.2 rule 2).
            if responseBound != .max {
                for key in Array(groups.keys) { groups[key]?.clearResponse() }
                responseBound = .max
            }
        }
        if responseBound <= time {
            var due: [IPv4Address] = []
            var next = UInt64.max
            for (group, entry) in groups {
                if entry.responseAt <= time { due.append(group) } else { next = min(next, entry.responseAt) }
            }
            for group in due.sorted() { answerGroupQuery(group, version: version, emit) }
            responseBound = next
        }
        if mergeAt <= time {
            mergeAt = .max
            sendPendingChanges(only: nil, version: version, emit)
            if retransmitAt == .max && hasPendingChanges {
                retransmitAt = saturatingSum(time, randomDelay(upTo: unsolicitedReportInterval.clampedNanoseconds))
            }
        }
        if retransmitAt <= time {
            retransmitAt = .max
            sendPendingChanges(only: nil, version: version, emit)
            if hasPendingChanges {
                retransmitAt = saturatingSum(time, randomDelay(upTo: unsolicitedReportInterval.clampedNanoseconds))
            }
        }
    }

    // MARK: Sending

    /// Sends the pending state-change records of `only` (or of every group) once,
    /// and counts them down.
    mutating func sendPendingChanges(only: IPv4Address?, version: IGMPVersion, _ emit: (HostAction) -> Void) {
        let keys = only.map { [$0] } ?? groups.keys.sorted()
        var records: [GroupRecord] = []
        for group in keys {
            guard var entry = groups[group], entry.hasPendingChange else { continue }
            if version != .v3 {
                if entry.modeChangesLeft > 0 {
                    entry.modeChangesLeft -= 1
                    if entry.state.hasMembers {
                        emit(.send(version == .v1 ? .v1Report(group: group) : .v2Report(group: group), destination: group))
                        emit(.count(.sentStateChange))
                    } else if version == .v2 {
                        emit(.send(.v2Leave(group: group), destination: .allRouters))
                        emit(.count(.sentLeave))
                        entry.modeChangesLeft = 0  // RFC 2236 §3: one leave
                    } else {
                        entry.modeChangesLeft = 0  // IGMPv1 has no leave
                    }
                }
                entry.allow = [:]
                entry.block = [:]
                groups[group] = entry
                cleanUp(group)
                continue
            }
            if entry.modeChangesLeft > 0 {
                entry.modeChangesLeft -= 1
                let type: GroupRecordType = entry.state.mode == .exclude ? .toExclude : .toInclude
                records.append(GroupRecord(type: type, group: group, sources: entry.state.sources))
            } else {
                let allow = entry.allow.keys.sorted()
                let block = entry.block.keys.sorted()
                if !allow.isEmpty { records.append(GroupRecord(type: .allowNewSources, group: group, sources: allow)) }
                if !block.isEmpty { records.append(GroupRecord(type: .blockOldSources, group: group, sources: block)) }
                entry.allow = entry.allow.compactMapValues { $0 > 1 ? $0 - 1 : nil }
                entry.block = entry.block.compactMapValues { $0 > 1 ? $0 - 1 : nil }
            }
            groups[group] = entry
            cleanUp(group)
        }
        emitReports(records, counter: .sentStateChange, emit)
    }

    mutating func answerGeneralQuery(version: IGMPVersion, _ emit: (HostAction) -> Void) {
        let members = memberships
        guard !members.isEmpty else { return }
        if version != .v3 {
            for (group, _) in members {
                emit(.send(version == .v1 ? .v1Report(group: group) : .v2Report(group: group), destination: group))
                emit(.count(.sentCurrentState))
            }
            return
        }
        let records = members.map {
            GroupRecord(type: $0.state.mode == .exclude ? .isExclude : .isInclude, group: $0.group, sources: $0.state.sources)
        }
        emitReports(records, counter: .sentCurrentState, emit)
    }

    mutating func answerGroupQuery(_ group: IPv4Address, version: IGMPVersion, _ emit: (HostAction) -> Void) {
        guard var entry = groups[group] else { return }
        let asked = entry.responseSources
        entry.clearResponse()
        groups[group] = entry
        let state = entry.state
        guard state.hasMembers else { return }
        if version != .v3 {
            emit(.send(version == .v1 ? .v1Report(group: group) : .v2Report(group: group), destination: group))
            emit(.count(.sentCurrentState))
            return
        }
        let record: GroupRecord
        if let asked {
            // §5.2: Q(G,S) is answered with IS_IN of the asked sources this host
            // wants: INCLUDE(A) → A ∩ S; EXCLUDE(A) → S − A. Nothing when empty.
            let own = Set(state.sources)
            let wanted = asked.filter { state.mode == .include ? own.contains($0) : !own.contains($0) }
            guard !wanted.isEmpty else { return }
            record = GroupRecord(type: .isInclude, group: group, sources: wanted)
        } else {
            record = GroupRecord(type: state.mode == .exclude ? .isExclude : .isInclude, group: group, sources: state.sources)
        }
        emitReports([record], counter: .sentCurrentState, emit)
    }

    /// Most sources one record can carry in a report that fits a 1500-byte
    /// frame: (1500 − 24 IP with Router Alert − 8 report header − 8 record
    /// header) / 4. A state with more cannot be reported as it is.
    public static let maxSourcesPerRecord = (1500 - 24 - 8 - 8) / 4

    /// Packs records into v3 reports that fit a 1500-byte frame (24 bytes of IP
    /// header with Router Alert, 8 of report header), splitting none.
    func emitReports(_ records: [GroupRecord], counter: HostCounter, _ emit: (HostAction) -> Void) {
        let budget = 1500 - 24 - 8
        var batch: [GroupRecord] = []
        var size = 0
        for record in records {
            let length = record.encodedLength
            if !batch.isEmpty && size + length > budget {
                emit(.send(.v3Report(batch), destination: .igmpv3Routers))
                emit(.count(counter))
                batch = []
                size = 0
            }
            batch.append(record)
            size += length
        }
        if !batch.isEmpty {
            emit(.send(.v3Report(batch), destination: .igmpv3Routers))
            emit(.count(counter))
        }
    }

    /// Drops a group's entry once it has no members and nothing pending.
    mutating func cleanUp(_ group: IPv4Address) {
        guard let entry = groups[group], !entry.state.hasMembers, !entry.hasPendingChange,
              entry.responseAt == .max else { return }
        groups[group] = nil
    }

    mutating func randomDelay(upTo limit: UInt64) -> UInt64 {
        limit == 0 ? 0 : random.next() % (limit + 1)
    }

    func difference(_ old: [IPv4Address], _ new: [IPv4Address]) -> (gone: [IPv4Address], added: [IPv4Address]) {
        let before = Set(old)
        let after = Set(new)
        return (old.filter { !after.contains($0) }, new.filter { !before.contains($0) })
    }
}

/// One group's host-side state.
struct HostGroup: Sendable {
    var state = GroupFilterState.none
    /// Filter-mode change reports still to send (§5.1).
    var modeChangesLeft = 0
    /// Sources to list in ALLOW / BLOCK records, with transmissions left.
    var allow: [IPv4Address: Int] = [:]
    var block: [IPv4Address: Int] = [:]
    /// A pending answer to a group(-and-source)-specific query.
    var responseAt: UInt64 = .max
    /// The sources asked about; nil: the whole group.
    var responseSources: [IPv4Address]?

    var hasPendingChange: Bool { modeChangesLeft > 0 || !allow.isEmpty || !block.isEmpty }

    mutating func clearResponse() {
        responseAt = .max
        responseSources = nil
    }
}

/// What ``HostMembership`` asks its caller to do.
public enum HostAction: Sendable, Hashable {
    /// Send `message` out of the interface to `destination` (v3 reports to
    /// 224.0.0.22, v1/v2 reports to the group, leaves to 224.0.0.2), from the
    /// interface's address with the IGMP IP defaults.
    case send(IGMPMessage, destination: IPv4Address)
    /// Add one to a counter.
    case count(HostCounter)
}

/// What the host side counts (label values of the metrics).
public enum HostCounter: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// A state-change report (or an older-version report) sent, retransmissions included.
    case sentStateChange = "sent_state_change"
    /// A current-state report answering a query.
    case sentCurrentState = "sent_current_state"
    /// An IGMPv2 leave.
    case sentLeave = "sent_leave"

    /// The label value.
    public var description: String { rawValue }
}

/// A small deterministic generator (SplitMix64) for the random report delays.
struct SplitMix: Sendable {
    var state: UInt64
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
