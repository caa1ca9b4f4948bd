/// A Membership Query of any version, as owned values.
///
/// The version is not on the wire as a field: RFC 3376 §7.1 tells it from the
/// message length and Max Resp Code (8 bytes and code 0 → v1, 8 bytes and non-zero
/// → v2, ≥ 12 bytes → v3). The encoder therefore refuses a v1 query with a non-zero
/// code and a v2 query with code 0, because they would come back as the other version.
public struct IGMPQuery: Sendable, Hashable {
    /// Which query format this is.
    public var version: IGMPVersion
    /// The raw Max Resp Code octet: 0 for v1, tenths of a second for v2 (linear,
    /// RFC 2236 §2.2), the ``IGMPTimerCode`` format in tenths for v3 (RFC 3376 §4.1.1).
    public var maxRespCode: UInt8
    /// The group queried; ``IPv4Address/any`` for a general query.
    public var group: IPv4Address
    /// v3 only: Suppress Router-Side Processing (RFC 3376 §4.1.5).
    public var sFlag: Bool
    /// v3 only: Querier's Robustness Variable, 0–7; 0 means "above 7" (RFC 3376 §4.1.6).
    public var qrv: UInt8
    /// v3 only: raw Querier's Query Interval Code, seconds in ``IGMPTimerCode`` format.
    public var qqicCode: UInt8
    /// v3 only: the sources of a group-and-source-specific query.
    public var sources: [IPv4Address]

    /// Creates a query from raw field values; no field is checked here (the encoder does).
    public init(version: IGMPVersion, maxRespCode: UInt8, group: IPv4Address = .any,
                sFlag: Bool = false, qrv: UInt8 = 0, qqicCode: UInt8 = 0,
                sources: [IPv4Address] = []) {
        self.version = version
        self.maxRespCode = maxRespCode
        self.group = group
        self.sFlag = sFlag
        self.qrv = qrv
        self.qqicCode = qqicCode
        self.sources = sources
    }

    /// An IGMPv1 general query (RFC 1112: the code field is unused and sent as 0).
    public static func v1() -> IGMPQuery {
        IGMPQuery(version: .v1, maxRespCode: 0)
    }

    /// An IGMPv2 query; `maxResponseTenths` must be 1…255 (0 would make it a v1 query).
    /// The default of 100 (10 s) is RFC 2236 §8.3's Query Response Interval.
    public static func v2(group: IPv4Address = .any, maxResponseTenths: UInt8 = 100) -> IGMPQuery {
        IGMPQuery(version: .v2, maxRespCode: maxResponseTenths, group: group)
    }

    /// An IGMPv3 query with times given as values, encoded with ``IGMPTimerCode/encode(_:)``
    /// (rounded down when not representable). Defaults are RFC 3376 §8: robustness 2,
    /// query interval 125 s, response interval 10 s.
    public static func v3(group: IPv4Address = .any, sources: [IPv4Address] = [],
                          maxResponseTenths: UInt32 = 100, sFlag: Bool = false,
                          qrv: UInt8 = 2, queryIntervalSeconds: UInt32 = 125) -> IGMPQuery {
        IGMPQuery(version: .v3, maxRespCode: IGMPTimerCode.encode(maxResponseTenths),
                  group: group, sFlag: sFlag, qrv: qrv,
                  qqicCode: IGMPTimerCode.encode(queryIntervalSeconds), sources: sources)
    }

    /// The maximum response time in tenths of a second. A v1 query means 100 (10 s):
    /// RFC 2236 §4 "this MUST be interpreted as a value of 100".
    public var maxResponseTenths: UInt32 {
        switch version {
        case .v1: 100
        case .v2: UInt32(maxRespCode)
        case .v3: IGMPTimerCode.decode(maxRespCode)
        }
    }

    /// The maximum response time in seconds, for showing to operators with a unit.
    public var maxResponseSeconds: Double { Double(maxResponseTenths) / 10 }

    /// v3: the querier's query interval in seconds decoded from QQIC; nil for v1/v2,
    /// which do not carry it.
    public var queryIntervalSeconds: UInt32? {
        version == .v3 ? IGMPTimerCode.decode(qqicCode) : nil
    }

    /// A general query: group 0.0.0.0 (RFC 3376 §4.1.9).
    public var isGeneral: Bool { group.isUnspecified }
    /// A group-specific query: a group and no sources.
    public var isGroupSpecific: Bool { !group.isUnspecified && sources.isEmpty }
    /// A group-and-source-specific query (v3 only): a group and at least one source.
    public var isGroupAndSourceSpecific: Bool { !group.isUnspecified && !sources.isEmpty }
}
