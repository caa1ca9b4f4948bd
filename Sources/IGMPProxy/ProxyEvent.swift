import IGMPMembership
import IGMPWire

/// Something a client of the proxy wants to hear about. Owned values: events
/// outlive the packet they came from and cross to client tasks through AsyncStreams.
public enum ProxyEvent: Sendable, Hashable {
    /// A query heard on the active outside (``ProxyMode/queryNotify``).
    case queryHeard(QueryHeard)
    /// A report or leave heard, one event per group (``ProxyMode/membershipReportFromNetwork``).
    case membershipHeard(MembershipHeard)
    /// The querier the proxy would answer unicast changed: learned, replaced by
    /// election, or forgotten after the Other Querier Present Interval. Emitted
    /// whatever the modes, so operators can see it.
    case querierChanged(QuerierChange)
    /// xigmp's own querier on an interface became querier, non-querier or passive
    /// (RFC 3376 §6.6.2).
    case routerQuerierChanged(InterfaceRole, QuerierStatus)
    /// The forwarding state of a group on an interface with a membership table changed.
    case groupChanged(InterfaceRole, MembershipChange)
}

/// A query heard on the active outside.
public struct QueryHeard: Sendable, Hashable {
    /// The IP source: the querier.
    public var querier: IPv4Address
    /// Where it was heard (``InterfaceRole/outside`` or ``InterfaceRole/alt``).
    public var role: InterfaceRole
    /// Query version, told by length and Max Resp Code (RFC 3376 §7.1).
    public var version: IGMPVersion
    /// The group queried; nil for a general query.
    public var group: IPv4Address?
    /// Max Resp Code decoded to seconds: v1 means 10 s (RFC 2236 §4), v2 is linear
    /// tenths (RFC 2236 §2.2), v3 the timer-code form in tenths (RFC 3376 §4.1.1).
    public var maxResponseSeconds: Double
    /// Sources of a group-and-source-specific query (v3); empty otherwise.
    public var sources: [IPv4Address]
    /// True when the query was sent to the proxy's own address rather than
    /// multicast: RFC 3376 §4.1.12 says a system must still process it, but it
    /// never takes part in querier election (RFC 3376 §9.1, FRR issue 1692).
    public var isUnicast: Bool

    /// Creates an event.
    public init(querier: IPv4Address, role: InterfaceRole, version: IGMPVersion, group: IPv4Address?,
                maxResponseSeconds: Double, sources: [IPv4Address] = [], isUnicast: Bool = false) {
        self.querier = querier
        self.role = role
        self.version = version
        self.group = group
        self.maxResponseSeconds = maxResponseSeconds
        self.sources = sources
        self.isUnicast = isUnicast
    }
}

/// What a report or one v3 group record means for a group (RFC 3376 §4.2.12,
/// §6.4), so a client need not know record types to tell a join from a leave.
///
/// | message / record | kind | `sources` mean |
/// |---|---|---|
/// | v1 or v2 report | ``joinExcluding`` | — (empty: every source) |
/// | IS_EX(S), TO_EX(S) | ``joinExcluding`` | the sources *not* wanted |
/// | IS_IN(S), TO_IN(S), ALLOW(S), S ≠ ∅ | ``joinSources`` | the sources wanted |
/// | v2 leave, TO_IN({}) | ``leave`` | — (the whole group; RFC 3376 §5.1) |
/// | BLOCK(S), S ≠ ∅ | ``leaveSources`` | the sources no longer wanted |
/// | IS_IN({}), ALLOW({}), BLOCK({}) | ``noChange`` | — |
///
/// IS_IN({}) reports an empty INCLUDE state and ALLOW({}) / BLOCK({}) change
/// nothing: RFC 3376 §6.4's router state tables leave the group as it was for all
/// three, so none is reported as a join or a leave (in particular BLOCK({}) is not
/// a leave of the whole group, which a client reading "leave, no sources" would
/// conclude). TO_IN({}) is the v3 spelling of a leave and never a join; goIGMP
/// treated every v3 record as a join.
public enum MembershipKind: Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// The host wants the group from every source except those listed.
    case joinExcluding
    /// The host wants the group from the listed sources.
    case joinSources
    /// The host leaves the group.
    case leave
    /// The host no longer wants the listed sources.
    case leaveSources
    /// The record asks for no change.
    case noChange

    /// The kind of a v3 record with `sourceCount` sources.
    public init(recordType: GroupRecordType, sourceCount: Int) {
        switch recordType {
        case .isExclude, .toExclude: self = .joinExcluding
        case .isInclude, .allowNewSources: self = sourceCount > 0 ? .joinSources : .noChange
        case .toInclude: self = sourceCount > 0 ? .joinSources : .leave
        case .blockOldSources: self = sourceCount > 0 ? .leaveSources : .noChange
        }
    }

    /// True for ``joinExcluding`` and ``joinSources``.
    public var isJoin: Bool { self == .joinExcluding || self == .joinSources }
    /// True for ``leave`` and ``leaveSources``.
    public var isLeave: Bool { self == .leave || self == .leaveSources }

    /// `"join"`, `"join-sources"`, `"leave"`, `"leave-sources"` or `"no-change"`.
    public var description: String {
        switch self {
        case .joinExcluding: "join"
        case .joinSources: "join-sources"
        case .leave: "leave"
        case .leaveSources: "leave-sources"
        case .noChange: "no-change"
        }
    }
}

/// A report or leave heard for one group: one event per v1/v2 message, one per
/// v3 group record of a known type (unknown types are ignored, RFC 3376 §4.2.12).
public struct MembershipHeard: Sendable, Hashable {
    /// Where it was heard: ``InterfaceRole/inside`` or the active outside.
    public var role: InterfaceRole
    /// The reporting host (IP source; 0.0.0.0 is allowed by RFC 3376 §4.2.13).
    public var host: IPv4Address
    /// The group.
    public var group: IPv4Address
    /// What it means; see ``MembershipKind``.
    public var kind: MembershipKind
    /// The v3 record's sources (read per ``kind``); empty for v1/v2.
    public var sources: [IPv4Address]
    /// The message version.
    public var version: IGMPVersion
    /// The v3 record type; nil for v1/v2 messages.
    public var recordType: GroupRecordType?
    /// True when the proxy received it unicast (sent to its inside address).
    public var isUnicast: Bool

    /// Creates an event.
    public init(role: InterfaceRole, host: IPv4Address, group: IPv4Address, kind: MembershipKind,
                sources: [IPv4Address] = [], version: IGMPVersion, recordType: GroupRecordType? = nil,
                isUnicast: Bool = false) {
        self.role = role
        self.host = host
        self.group = group
        self.kind = kind
        self.sources = sources
        self.version = version
        self.recordType = recordType
        self.isUnicast = isUnicast
    }

    /// True for IS_IN and IS_EX: current state, sent in answer to a query
    /// (RFC 3376 §4.2.12), rather than a change the host made.
    public var isCurrentState: Bool { recordType.map { !$0.isStateChange } ?? false }
}

/// The querier of one upstream changed.
public struct QuerierChange: Sendable, Hashable {
    /// Which upstream.
    public var outside: OutsideSelection
    /// The querier now learned there; nil when it was forgotten.
    public var querier: IPv4Address?
    /// The one learned before; nil when there was none.
    public var previous: IPv4Address?

    /// Creates an event.
    public init(outside: OutsideSelection, querier: IPv4Address?, previous: IPv4Address?) {
        self.outside = outside
        self.querier = querier
        self.previous = previous
    }
}
