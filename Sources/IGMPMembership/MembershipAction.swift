import IGMPWire

/// What the membership engines ask their caller to do, handed to a closure one at
/// a time in order (the style of `ProxyAction`). Owned values only, so `Sendable`.
public enum MembershipAction: Sendable, Hashable {
    /// Send `query` out of the interface to `destination`: 224.0.0.1 for general
    /// queries, the group itself for group(-and-source)-specific ones
    /// (RFC 3376 §4.1.12). IP source is the interface address; IP options are the
    /// IGMP defaults (TTL 1, Router Alert).
    case sendQuery(IGMPQuery, destination: IPv4Address)
    /// The forwarding state of a group changed (the input of the RFC 4605 union).
    case membershipChanged(MembershipChange)
    /// The querier role changed (RFC 3376 §6.6.2).
    case querierChanged(QuerierStatus)
    /// Add one to a counter.
    case count(MembershipCounter)
}

/// A router filter mode (RFC 3376 §6.2.1).
public enum FilterMode: String, Sendable, Hashable, Codable, CustomStringConvertible {
    /// Forward only the listed sources.
    case include
    /// Forward all sources but the listed ones.
    case exclude

    /// `"include"` or `"exclude"`.
    public var description: String { rawValue }
}

/// The forwarding meaning of a group's state (RFC 3376 §6.3): INCLUDE(sources) or
/// EXCLUDE(sources), where in EXCLUDE mode the sources are the "excluded" list only
/// (timer zero); "requested" sources are forwarded like any other. A group that
/// does not exist is INCLUDE({}).
public struct GroupFilterState: Sendable, Hashable, CustomStringConvertible {
    /// The filter mode.
    public var mode: FilterMode
    /// The sources, ascending.
    public var sources: [IPv4Address]

    /// Creates a state.
    public init(mode: FilterMode, sources: [IPv4Address] = []) {
        self.mode = mode
        self.sources = sources
    }

    /// No membership: INCLUDE({}).
    public static let none = GroupFilterState(mode: .include)

    /// True unless this is INCLUDE({}).
    public var hasMembers: Bool { mode == .exclude || !sources.isEmpty }

    /// The membership that covers both `self` and `other`: how a proxy
    /// merges its downstreams for the upstream (RFC 4605 §4.1), by the rules
    /// RFC 3376 §3.2 gives for merging sockets. Any EXCLUDE makes EXCLUDE
    /// with the sources every EXCLUDE blocks and no INCLUDE asks for;
    /// otherwise INCLUDE with every source asked for.
    public func union(_ other: GroupFilterState) -> GroupFilterState {
        switch (mode, other.mode) {
        case (.include, .include):
            return GroupFilterState(mode: .include, sources: Array(Set(sources).union(other.sources)).sorted())
        case (.exclude, .exclude):
            return GroupFilterState(mode: .exclude, sources: Array(Set(sources).intersection(other.sources)).sorted())
        case (.exclude, .include):
            return GroupFilterState(mode: .exclude, sources: Array(Set(sources).subtracting(other.sources)).sorted())
        case (.include, .exclude):
            return other.union(self)
        }
    }

    /// E.g. `EXCLUDE(10.0.0.1)`.
    public var description: String {
        "\(mode.rawValue.uppercased())(\(sources.map(\.description).joined(separator: ",")))"
    }
}

/// A group's forwarding state before and after something changed it.
public struct MembershipChange: Sendable, Hashable {
    /// The group.
    public var group: IPv4Address
    /// The state before (``GroupFilterState/none`` for a new group).
    public var old: GroupFilterState
    /// The state after (``GroupFilterState/none`` for a deleted group).
    public var new: GroupFilterState

    /// Creates a change.
    public init(group: IPv4Address, old: GroupFilterState, new: GroupFilterState) {
        self.group = group
        self.old = old
        self.new = new
    }
}

/// The querier role of this router on the interface (RFC 3376 §6.6.2).
public enum QuerierStatus: Sendable, Hashable {
    /// This router sends the queries.
    case querier
    /// Another router with a lower address does, heard last at the time given
    /// and presumed present until `until`.
    case nonQuerier(otherQuerier: IPv4Address, until: MembershipTime)
    /// Configured never to query.
    case passive
}

/// Everything the membership engines count. Raw values are metric label values.
public enum MembershipCounter: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    // Records and messages taken in.
    /// A group record (or a v1/v2 report or leave, as its v3 equivalent) applied.
    case recordApplied = "record_applied"
    /// A group record, report or leave for an address that is not multicast.
    case droppedInvalidGroup = "dropped_invalid_group"
    /// A report for 224.0.0.0/24, which is never reported (RFC 3376 §5).
    case droppedLinkLocalGroup = "dropped_link_local_group"
    /// A record with more sources than ``MembershipLimits/maxSourcesPerRecord``.
    case droppedTooManySources = "dropped_too_many_sources"
    /// A source not recorded: the group holds ``MembershipLimits/maxSourcesPerGroup``.
    case droppedSourceLimit = "dropped_source_limit"
    /// A new group refused: the table holds ``MembershipLimits/maxGroups``.
    case droppedGroupLimit = "dropped_group_limit"
    /// A new group refused: its reporter holds ``MembershipLimits/maxGroupsPerHost``.
    case droppedHostGroupLimit = "dropped_host_group_limit"

    // Host tracking and fast leave.
    /// A host's report applied but the host not tracked: the group tracks
    /// ``MembershipLimits/maxHostsPerGroup`` hosts (fast leave off for the group a while).
    case untrackedHostLimit = "untracked_host_limit"
    /// A leave whose source MAC is not the MAC of the host record it names: the
    /// record is kept (fast leave does not act on it; the RFC's queries do).
    case leaveMACMismatch = "leave_mac_mismatch"
    /// Fast leave cut a group or some of its sources at once (no tracked host
    /// asks for them any more).
    case fastLeave = "fast_leave"

    // Compatibility (RFC 3376 §7.3.2).
    /// A v2 leave or TO_IN ignored: an IGMPv1 host is present.
    case ignoredLeaveV1Host = "ignored_leave_v1_host"
    /// A BLOCK ignored: an older-version host is present.
    case ignoredBlockOlderHost = "ignored_block_older_host"
    /// A TO_EX's sources ignored (treated as TO_EX({})): an older-version host is present.
    case ignoredToExcludeSources = "ignored_to_exclude_sources"

    // Queries.
    /// A general query sent.
    case sentGeneralQuery = "sent_general_query"
    /// A group-specific query sent (first or retransmission).
    case sentGroupQuery = "sent_group_query"
    /// A group-and-source-specific query message sent (first or retransmission).
    case sentSourceQuery = "sent_source_query"
    /// A Q(G,S) not started: ``MembershipLimits/maxSuccessiveSourceQueries`` reached.
    case droppedSourceQueryLimit = "dropped_source_query_limit"
    /// A Q(G) or Q(G,S) the configured query version cannot express (v1: none; v2: no
    /// sources), so not sent and no timer lowered.
    case skippedQueryVersion = "skipped_query_version"
    /// A query heard with S clear lowered timers (RFC 3376 §6.6.1).
    case timersLoweredByQuery = "timers_lowered_by_query"

    // Timers (RFC 3376 §6.5).
    /// A group timer expired in EXCLUDE mode and the group went to INCLUDE.
    case groupToInclude = "group_to_include"
    /// A group record deleted: no members left.
    case groupDeleted = "group_deleted"
    /// A source timer expired.
    case sourceExpired = "source_expired"

    // Querier election (RFC 3376 §6.6.2, §9.1).
    /// A query from a lower address: this router stopped querying.
    case querierLost = "querier_lost"
    /// The other querier went quiet: this router queries again.
    case querierResumed = "querier_resumed"
    /// A query from a higher address than ours: no part in the election.
    case queryFromHigherAddress = "query_from_higher_address"
    /// A unicast query: never takes part in election (RFC 3376 §9.1, FRR #1692).
    case unicastQueryNotElected = "unicast_query_not_elected"
    /// A query from 0.0.0.0 (a snooping switch's proxy query): not a router, no
    /// part in the election.
    case unspecifiedQueryNotElected = "unspecified_query_not_elected"
    /// A query of an older version than configured: the link needs the lower
    /// query version (RFC 3376 §7.3.1), which is the administrator's to set.
    case olderVersionQuery = "older_version_query"
    /// The querier's QRV/QQIC adopted (RFC 3376 §4.1.6, §4.1.7).
    case adoptedQuerierParameters = "adopted_querier_parameters"

    /// The label value.
    public var description: String { rawValue }
}
