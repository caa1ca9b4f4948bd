/// One IGMPv3 group record (RFC 3376 §4.2.4), as owned values.
public struct GroupRecord: Sendable, Hashable {
    /// The record type.
    public var type: GroupRecordType
    /// The multicast group the record is about.
    public var group: IPv4Address
    /// The source list.
    public var sources: [IPv4Address]
    /// Auxiliary data. On the wire its length is Aux Data Len in 32-bit words
    /// (RFC 3376 §4.2.6), so the encoder requires a multiple of 4 bytes, at most 1020.
    public var auxData: [UInt8]

    /// Creates a record.
    public init(type: GroupRecordType, group: IPv4Address, sources: [IPv4Address] = [],
                auxData: [UInt8] = []) {
        self.type = type
        self.group = group
        self.sources = sources
        self.auxData = auxData
    }

    /// See ``GroupRecordType/isLeave(sourceCount:)``.
    public var isLeave: Bool { type.isLeave(sourceCount: sources.count) }
    /// See ``GroupRecordType/isJoin(sourceCount:)``.
    public var isJoin: Bool { type.isJoin(sourceCount: sources.count) }

    /// Bytes this record takes on the wire: 8 + 4 per source + aux data.
    public var encodedLength: Int { 8 + 4 * sources.count + auxData.count }
}

/// An IGMP message of any supported type, as owned values.
public enum IGMPMessage: Sendable, Hashable {
    /// A Membership Query (v1, v2 or v3).
    case query(IGMPQuery)
    /// An IGMPv1 Membership Report for a group.
    case v1Report(group: IPv4Address)
    /// An IGMPv2 Membership Report for a group.
    case v2Report(group: IPv4Address)
    /// An IGMPv2 Leave Group for a group.
    case v2Leave(group: IPv4Address)
    /// An IGMPv3 Membership Report with its group records.
    case v3Report([GroupRecord])

    /// The Type octet this message is sent with.
    public var type: IGMPType {
        switch self {
        case .query: .query
        case .v1Report: .v1Report
        case .v2Report: .v2Report
        case .v2Leave: .v2Leave
        case .v3Report: .v3Report
        }
    }

    /// The IGMP version of the message.
    public var version: IGMPVersion {
        switch self {
        case .query(let query): query.version
        case .v1Report: .v1
        case .v2Report, .v2Leave: .v2
        case .v3Report: .v3
        }
    }

    /// The group the message is about; nil for v3 reports, whose groups are per record.
    public var group: IPv4Address? {
        switch self {
        case .query(let query): query.group
        case .v1Report(let group), .v2Report(let group), .v2Leave(let group): group
        case .v3Report: nil
        }
    }

    /// The IP destination the RFCs prescribe:
    /// general query → 224.0.0.1 and group(-and-source)-specific query → the group
    /// (RFC 2236 §9, RFC 3376 §4.1.12); v1/v2 report → the group itself (RFC 1112 app. I,
    /// RFC 2236 §9 — snooping switches depend on it; goIGMP sent them to 224.0.0.22);
    /// v2 leave → 224.0.0.2 (RFC 2236 §9); v3 report → 224.0.0.22 (RFC 3376 §4.2.14).
    public var defaultDestination: IPv4Address {
        switch self {
        case .query(let query): query.isGeneral ? .allSystems : query.group
        case .v1Report(let group), .v2Report(let group): group
        case .v2Leave: .allRouters
        case .v3Report: .igmpv3Routers
        }
    }

    /// The exact number of bytes the encoded message takes (no padding, ever).
    public var encodedLength: Int {
        switch self {
        case .query(let query): query.version == .v3 ? 12 + 4 * query.sources.count : 8
        case .v1Report, .v2Report, .v2Leave: 8
        case .v3Report(let records): records.reduce(8) { $0 + $1.encodedLength }
        }
    }
}
