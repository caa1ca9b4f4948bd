/// The IGMP Type octet, the first byte of every IGMP message (IANA "IGMP Type Numbers").
///
/// Only the five types an IGMP proxy acts on are modelled; anything else (DVMRP 0x13,
/// mtrace 0x1e/0x1f, multicast router discovery 0x30–0x32) is reported as
/// ``IGMPParseError/unknownType(_:)``.
public enum IGMPType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Membership Query, all versions (version is told by length, RFC 3376 §7.1).
    case query = 0x11
    /// IGMPv1 Membership Report (RFC 1112 appendix I).
    case v1Report = 0x12
    /// IGMPv2 Membership Report (RFC 2236 §2.1).
    case v2Report = 0x16
    /// IGMPv2 Leave Group (RFC 2236 §2.1).
    case v2Leave = 0x17
    /// IGMPv3 Membership Report (RFC 3376 §4.2).
    case v3Report = 0x22

    /// Short operator-facing name: `query`, `v1-report`, `v2-report`, `v2-leave`, `v3-report`.
    public var description: String {
        switch self {
        case .query: "query"
        case .v1Report: "v1-report"
        case .v2Report: "v2-report"
        case .v2Leave: "v2-leave"
        case .v3Report: "v3-report"
        }
    }
}

/// An IGMP protocol version.
public enum IGMPVersion: UInt8, Sendable, Hashable, Comparable, CaseIterable, CustomStringConvertible {
    /// IGMPv1, RFC 1112.
    case v1 = 1
    /// IGMPv2, RFC 2236.
    case v2 = 2
    /// IGMPv3, RFC 3376.
    case v3 = 3

    /// `"v1"`, `"v2"` or `"v3"`.
    public var description: String { "v\(rawValue)" }

    /// Orders by version number.
    public static func < (lhs: IGMPVersion, rhs: IGMPVersion) -> Bool { lhs.rawValue < rhs.rawValue }
}

/// The Record Type of an IGMPv3 group record (RFC 3376 §4.2.12).
///
/// Records with any other value must be silently ignored (same section); the
/// packet view exposes their raw type and the owned decoder drops them.
public enum GroupRecordType: UInt8, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// MODE_IS_INCLUDE: current state, receive only from the listed sources.
    case isInclude = 1
    /// MODE_IS_EXCLUDE: current state, receive from all but the listed sources.
    case isExclude = 2
    /// CHANGE_TO_INCLUDE_MODE: filter-mode change; with no sources it is a leave.
    case toInclude = 3
    /// CHANGE_TO_EXCLUDE_MODE: filter-mode change; with no sources it is an any-source join.
    case toExclude = 4
    /// ALLOW_NEW_SOURCES: start receiving from the listed sources.
    case allowNewSources = 5
    /// BLOCK_OLD_SOURCES: stop receiving from the listed sources.
    case blockOldSources = 6

    /// Short name as operators and tcpdump print it: `is_in`, `is_ex`, `to_in`, `to_ex`,
    /// `allow`, `block`.
    public var shortName: String {
        switch self {
        case .isInclude: "is_in"
        case .isExclude: "is_ex"
        case .toInclude: "to_in"
        case .toExclude: "to_ex"
        case .allowNewSources: "allow"
        case .blockOldSources: "block"
        }
    }

    /// The RFC 3376 name, e.g. `MODE_IS_INCLUDE`.
    public var description: String {
        switch self {
        case .isInclude: "MODE_IS_INCLUDE"
        case .isExclude: "MODE_IS_EXCLUDE"
        case .toInclude: "CHANGE_TO_INCLUDE_MODE"
        case .toExclude: "CHANGE_TO_EXCLUDE_MODE"
        case .allowNewSources: "ALLOW_NEW_SOURCES"
        case .blockOldSources: "BLOCK_OLD_SOURCES"
        }
    }

    /// True for the state-change records (3–6) a host sends unsolicited, false for the
    /// current-state records (1–2) sent in answer to a query (RFC 3376 §4.2.12).
    public var isStateChange: Bool { rawValue >= 3 }

    /// True when a record of this type with `sourceCount` sources takes the host away
    /// from (some of) the group's traffic: TO_IN{} is the v3 spelling of a leave
    /// (RFC 3376 §5.1 leaving a group is a change to INCLUDE{}), and BLOCK removes
    /// sources. Neither must ever be treated as a join — goIGMP did.
    public func isLeave(sourceCount: Int) -> Bool {
        switch self {
        case .toInclude: sourceCount == 0
        case .blockOldSources: true
        case .isInclude, .isExclude, .toExclude, .allowNewSources: false
        }
    }

    /// True when the record asks for traffic: any EXCLUDE-mode record (even with sources
    /// listed, it still wants every other source), ALLOW, and INCLUDE records with at
    /// least one source. IS_IN{} asks for nothing and is neither a join nor a leave
    /// (RFC 3376 §6.4: it leaves router state unchanged).
    public func isJoin(sourceCount: Int) -> Bool {
        switch self {
        case .isExclude, .toExclude: true
        case .allowNewSources: sourceCount > 0
        case .isInclude, .toInclude: sourceCount > 0
        case .blockOldSources: false
        }
    }
}
