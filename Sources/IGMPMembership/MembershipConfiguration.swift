import IGMPWire

/// The router parameters of one interface (RFC 3376 §8), shared by the
/// ``MembershipTable`` and the ``Querier``. Defaults are the RFC's.
public struct MembershipConfiguration: Sendable, Hashable {
    /// Robustness Variable (§8.1): default 2; must not be 0 and should not be 1.
    public var robustness: Int
    /// Query Interval between general queries (§8.2): default 125 s.
    public var queryInterval: Duration
    /// Query Response Interval, the Max Resp of general queries (§8.3): default 10 s.
    public var queryResponseInterval: Duration
    /// Last Member Query Interval, the Max Resp and spacing of group(-and-source)-
    /// specific queries (§8.8): default 1 s.
    public var lastMemberQueryInterval: Duration
    /// Last Member Query Count (§8.9); nil means the Robustness Variable.
    public var lastMemberQueryCount: Int?
    /// Startup Query Interval (§8.6); nil means a quarter of the Query Interval.
    public var startupQueryInterval: Duration?
    /// Startup Query Count (§8.7); nil means the Robustness Variable.
    public var startupQueryCount: Int?
    /// The version of the queries sent (§7.3.1: the lowest version of any router on
    /// the link, set by the administrator): v1 sends no group-specific queries, v2
    /// no group-and-source-specific ones.
    public var queryVersion: IGMPVersion
    /// Never query, only track membership (the interface is someone else's to query).
    public var passive: Bool
    /// While not the querier, adopt the querier's QRV and QQIC (RFC 3376 §4.1.6, §4.1.7)
    /// as Robustness Variable and Query Interval; configured values return on resuming.
    public var adoptQuerierParameters: Bool
    /// Caps against abuse, each counted when it bites.
    public var limits: MembershipLimits
    /// Fast leave: when the last tracked host of a group (or of a source) leaves,
    /// its state goes at once, with no last-member queries; while other tracked
    /// hosts still ask for it, a leave changes nothing. Off by default (RFC 3376
    /// sends last-member queries). Applies to IGMPv3 groups, and to groups in
    /// IGMPv2 compatibility mode only with ``fastLeaveOlderHosts``.
    public var fastLeave: Bool
    /// Fast leave also for groups in IGMPv2 compatibility mode. Only safe where
    /// hosts do not hear each other's reports (v2 hosts suppress their report
    /// when they hear another's, RFC 2236 §3, so tracking misses them): a
    /// snooping bridge whose querier is this router, or a point-to-point link.
    public var fastLeaveOlderHosts: Bool

    /// Creates a configuration; every default is RFC 3376 §8's.
    public init(robustness: Int = 2, queryInterval: Duration = .seconds(125),
                queryResponseInterval: Duration = .seconds(10),
                lastMemberQueryInterval: Duration = .seconds(1), lastMemberQueryCount: Int? = nil,
                startupQueryInterval: Duration? = nil, startupQueryCount: Int? = nil,
                queryVersion: IGMPVersion = .v3, passive: Bool = false,
                adoptQuerierParameters: Bool = true, limits: MembershipLimits = MembershipLimits(),
                fastLeave: Bool = false, fastLeaveOlderHosts: Bool = false) {
        self.robustness = robustness
        self.queryInterval = queryInterval
        self.queryResponseInterval = queryResponseInterval
        self.lastMemberQueryInterval = lastMemberQueryInterval
        self.lastMemberQueryCount = lastMemberQueryCount
        self.startupQueryInterval = startupQueryInterval
        self.startupQueryCount = startupQueryCount
        self.queryVersion = queryVersion
        self.passive = passive
        self.adoptQuerierParameters = adoptQuerierParameters
        self.limits = limits
        self.fastLeave = fastLeave
        self.fastLeaveOlderHosts = fastLeaveOlderHosts
    }

    /// Group Membership Interval = RV × QI + QRI (§8.4); also the Older Host
    /// Present Interval (§8.13).
    public var groupMembershipInterval: Duration {
        queryInterval * robustness + queryResponseInterval
    }

    /// Other Querier Present Interval = RV × QI + QRI / 2 (§8.5).
    public var otherQuerierPresentInterval: Duration {
        queryInterval * robustness + queryResponseInterval / 2
    }

    /// Last Member Query Count in force (§8.9).
    public var effectiveLastMemberQueryCount: Int { lastMemberQueryCount ?? robustness }

    /// Last Member Query Time = LMQI × LMQC (§8.10).
    public var lastMemberQueryTime: Duration {
        lastMemberQueryInterval * effectiveLastMemberQueryCount
    }

    /// Startup Query Interval in force (§8.6).
    public var effectiveStartupQueryInterval: Duration { startupQueryInterval ?? queryInterval / 4 }

    /// Startup Query Count in force (§8.7).
    public var effectiveStartupQueryCount: Int { startupQueryCount ?? robustness }

    /// Checks what the RFC requires of the values: a Robustness Variable of 1…255
    /// (§8.1; 1 is allowed but not advised), a Query Response Interval below the
    /// Query Interval (§8.3), intervals the chosen query version can encode (v2:
    /// 0.1…25.5 s; v3: up to 3174.4 s and a Query Interval up to 31744 s), and
    /// positive counts and caps.
    public func validate() throws(MembershipConfigurationError) {
        guard (1...255).contains(robustness) else { throw .invalid("robustness must be 1…255") }
        guard queryResponseInterval < queryInterval else {
            throw .invalid("query response interval must be shorter than the query interval (RFC 3376 §8.3)")
        }
        let responseTenths = queryResponseInterval.tenths
        let lastMemberTenths = lastMemberQueryInterval.tenths
        guard responseTenths >= 1, lastMemberTenths >= 1 else {
            throw .invalid("response intervals must be at least 0.1 s")
        }
        switch queryVersion {
        case .v1: break
        case .v2:
            guard responseTenths <= 255, lastMemberTenths <= 255 else {
                throw .invalid("IGMPv2 response intervals must be at most 25.5 s (RFC 2236 §2.2)")
            }
        case .v3:
            guard responseTenths <= IGMPTimerCode.maxValue, lastMemberTenths <= IGMPTimerCode.maxValue,
                  queryInterval.wholeSeconds <= IGMPTimerCode.maxValue else {
                throw .invalid("IGMPv3 intervals exceed what Max Resp Code / QQIC encode (RFC 3376 §4.1.1)")
            }
        }
        guard effectiveLastMemberQueryCount >= 1, effectiveLastMemberQueryCount <= 255,
              effectiveStartupQueryCount >= 1 else { throw .invalid("query counts must be 1…255") }
        guard effectiveStartupQueryInterval > .zero else { throw .invalid("startup query interval must be positive") }
        try limits.validate()
    }
}

/// Caps on what one interface's table holds and sends, against report floods
/// (RFC 3376 §9; the FreeBSD IGMPv3 work's 64 sources and 16 queries).
public struct MembershipLimits: Sendable, Hashable {
    /// Groups the table holds; a record that would create one more is dropped.
    public var maxGroups: Int
    /// Groups one reporting host may hold, counted by each group's last reporter
    /// (IGMPv3 routers keep no per-host state, §6). Hosts reporting from 0.0.0.0
    /// (allowed, §4.2.13) share one budget.
    public var maxGroupsPerHost: Int
    /// Sources in one group record; a record with more is dropped whole.
    public var maxSourcesPerRecord: Int
    /// Source records one group holds; further sources are not recorded.
    public var maxSourcesPerGroup: Int
    /// Group-and-source-specific query actions one group may start per Query
    /// Interval; more are not sent (and their source timers not lowered).
    public var maxSuccessiveSourceQueries: Int
    /// Hosts one group tracks explicitly; a further host's report is applied but
    /// the host is not tracked, and fast leave is off for that group for a Group
    /// Membership Interval (a leave then gets the RFC's last-member queries).
    public var maxHostsPerGroup: Int

    /// Creates limits.
    public init(maxGroups: Int = 4096, maxGroupsPerHost: Int = 512, maxSourcesPerRecord: Int = 64,
                maxSourcesPerGroup: Int = 256, maxSuccessiveSourceQueries: Int = 16, maxHostsPerGroup: Int = 256) {
        self.maxGroups = maxGroups
        self.maxGroupsPerHost = maxGroupsPerHost
        self.maxSourcesPerRecord = maxSourcesPerRecord
        self.maxSourcesPerGroup = maxSourcesPerGroup
        self.maxSuccessiveSourceQueries = maxSuccessiveSourceQueries
        self.maxHostsPerGroup = maxHostsPerGroup
    }

    /// Sources one group-and-source-specific query can carry in a 1500-byte frame:
    /// (1500 − 24 IP − 12 IGMP) / 4.
    public static let sourcesPerQueryFrame = 366

    func validate() throws(MembershipConfigurationError) {
        guard maxSourcesPerGroup <= Self.sourcesPerQueryFrame else {
            throw .invalid("at most \(Self.sourcesPerQueryFrame) sources per group: one Q(G,S) must fit a frame")
        }
        guard maxGroups >= 1, maxGroupsPerHost >= 1, maxSourcesPerRecord >= 1,
              maxSourcesPerGroup >= 1, maxSuccessiveSourceQueries >= 1, maxHostsPerGroup >= 1 else {
            throw .invalid("every limit must be at least 1")
        }
    }
}

/// A configuration RFC 3376 §8 does not allow.
public enum MembershipConfigurationError: Error, Sendable, Hashable, CustomStringConvertible {
    /// What is wrong, in words.
    case invalid(String)

    /// The explanation.
    public var description: String {
        switch self { case .invalid(let text): text }
    }
}

/// The configuration's intervals in nanoseconds with the adopted querier values
/// applied: what the engines compute with.
struct Timing: Sendable, Hashable {
    var robustness: Int
    var queryInterval: UInt64
    var queryResponseInterval: UInt64
    var groupMembershipInterval: UInt64
    var lastMemberQueryInterval: UInt64
    var lastMemberQueryCount: UInt8
    var lastMemberQueryTime: UInt64
    var queryVersion: IGMPVersion
    var limits: MembershipLimits
    /// QRV field of our queries: RV when it fits 3 bits, else 0 (§4.1.6).
    var qrvField: UInt8
    /// Query Interval in whole seconds for QQIC (§4.1.7).
    var queryIntervalSeconds: UInt32
    /// LMQI in tenths: the Max Resp of group(-and-source)-specific queries (§6.6.3).
    var lastMemberTenths: UInt32

    init(_ configuration: MembershipConfiguration, robustness: Int? = nil, queryInterval: Duration? = nil) {
        var adopted = configuration
        if let robustness { adopted.robustness = robustness }
        if let queryInterval { adopted.queryInterval = queryInterval }
        self.robustness = adopted.robustness
        self.queryInterval = adopted.queryInterval.clampedNanoseconds
        self.queryResponseInterval = adopted.queryResponseInterval.clampedNanoseconds
        self.groupMembershipInterval = adopted.groupMembershipInterval.clampedNanoseconds
        self.lastMemberQueryInterval = adopted.lastMemberQueryInterval.clampedNanoseconds
        self.lastMemberQueryCount = UInt8(clamping: adopted.effectiveLastMemberQueryCount)
        self.lastMemberQueryTime = adopted.lastMemberQueryTime.clampedNanoseconds
        self.queryVersion = adopted.queryVersion
        self.limits = adopted.limits
        self.qrvField = adopted.robustness <= 7 ? UInt8(adopted.robustness) : 0
        self.queryIntervalSeconds = adopted.queryInterval.wholeSeconds
        self.lastMemberTenths = adopted.lastMemberQueryInterval.tenths
    }
}
