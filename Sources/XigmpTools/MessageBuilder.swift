import IGMPWire

/// Builds the messages `xigmp query|report|leave` send from command-line
/// values, refusing combinations the RFCs do not allow with a message that
/// says what would work instead.
public enum MessageBuilder {
    /// Why the options do not make a valid message.
    public struct Invalid: Error, CustomStringConvertible, Equatable {
        /// The explanation.
        public let description: String
        init(_ d: String) { description = d }
    }

    /// A query. `maxResponse` in seconds (nil: 10 s, the RFC default).
    public static func query(version: Int, group: IPv4Address?, sources: [IPv4Address],
                             maxResponse: Double?, qrv: UInt8 = 2, queryInterval: UInt32 = 125) throws(Invalid) -> IGMPMessage {
        if let group, !group.isMulticast { throw Invalid("--group \(group) is not a multicast address (224.0.0.0/4)") }
        let tenths = maxResponse.map { ($0 * 10).rounded() } ?? 100
        switch version {
        case 1:
            if group != nil { throw Invalid("IGMPv1 has only general queries: drop --group, or use --igmp-version 2 or 3") }
            if !sources.isEmpty { throw Invalid("source-specific queries need --igmp-version 3") }
            if maxResponse != nil { throw Invalid("IGMPv1 queries carry no max response time (hosts use 10 s): drop --max-resp") }
            return .query(.v1())
        case 2:
            if !sources.isEmpty { throw Invalid("source-specific queries need --igmp-version 3") }
            guard tenths >= 1, tenths <= 255 else {
                throw Invalid("IGMPv2 max response time is 0.1s to 25.5s in steps of 0.1s; got \(maxResponse ?? 0)s")
            }
            return .query(.v2(group: group ?? .any, maxResponseTenths: UInt8(tenths)))
        case 3:
            if !sources.isEmpty && group == nil {
                throw Invalid("a source-specific query needs --group (RFC 3376 §4.1.9: group-and-source-specific)")
            }
            let maxTenths = Double(IGMPTimerCode.decode(255))
            guard tenths >= 1, tenths <= maxTenths else {
                throw Invalid("IGMPv3 max response time is 0.1s to \(maxTenths / 10)s; got \(maxResponse ?? 0)s")
            }
            return .query(.v3(group: group ?? .any, sources: sources, maxResponseTenths: UInt32(tenths),
                              qrv: qrv, queryIntervalSeconds: queryInterval))
        default:
            throw Invalid("--igmp-version must be 1, 2 or 3")
        }
    }

    /// A membership report. For v3 the record type defaults to TO_EX with
    /// no sources (a join, what Linux sends) and ALLOW with sources.
    public static func report(version: Int, group: IPv4Address, record: GroupRecordType?,
                              sources: [IPv4Address]) throws(Invalid) -> IGMPMessage {
        guard group.isMulticast, !group.isLinkLocalMulticast else {
            throw Invalid("--group \(group) must be a multicast group outside 224.0.0.0/24 (RFC 3376 §6: link-local groups are never reported)")
        }
        switch version {
        case 1, 2:
            if record != nil || !sources.isEmpty {
                throw Invalid("--record and --source need --igmp-version 3 (v1/v2 reports carry only the group)")
            }
            return version == 1 ? .v1Report(group: group) : .v2Report(group: group)
        case 3:
            let type = record ?? (sources.isEmpty ? .toExclude : .allowNewSources)
            if (type == .allowNewSources || type == .blockOldSources) && sources.isEmpty {
                throw Invalid("an \(type.shortName) record without sources says nothing: add --source")
            }
            return .v3Report([GroupRecord(type: type, group: group, sources: sources)])
        default:
            throw Invalid("--igmp-version must be 1, 2 or 3")
        }
    }

    /// A leave: v2 Leave Group, or a v3 TO_IN{} record (RFC 3376 §5.1: the
    /// v3 way to leave). IGMPv1 has no leave message.
    public static func leave(version: Int, group: IPv4Address) throws(Invalid) -> IGMPMessage {
        guard group.isMulticast, !group.isLinkLocalMulticast else {
            throw Invalid("--group \(group) must be a multicast group outside 224.0.0.0/24")
        }
        switch version {
        case 1: throw Invalid("IGMPv1 has no leave message (hosts just stop reporting): use --igmp-version 2 or 3")
        case 2: return .v2Leave(group: group)
        case 3: return .v3Report([GroupRecord(type: .toInclude, group: group)])
        default: throw Invalid("--igmp-version must be 2 or 3")
        }
    }
}
