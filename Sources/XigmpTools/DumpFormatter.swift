import IGMPWire

/// Renders decoded IGMP the way `tcpdump -v` would (one line per packet),
/// or as one JSON object per packet. Times are shown in seconds.
public enum DumpFormatter {
    /// Where and when a packet was seen.
    public struct Context: Sendable {
        /// Arrival time, nanoseconds since the epoch.
        public var timeNs: UInt64
        /// Interface name (or the pcap file name when reading one).
        public var ifname: String
        /// RX queue it arrived on, when the datapath knows (AF_XDP).
        public var queue: UInt32?
        /// Creates a context.
        public init(timeNs: UInt64, ifname: String, queue: UInt32? = nil) {
            self.timeNs = timeNs
            self.ifname = ifname
            self.queue = queue
        }
    }

    /// "HH:MM:SS.uuuuuu" in UTC.
    public static func clock(_ ns: UInt64) -> String {
        let secs = ns / 1_000_000_000
        let micros = (ns / 1000) % 1_000_000
        let day = secs % 86_400
        func two(_ v: UInt64) -> String { v < 10 ? "0\(v)" : "\(v)" }
        var frac = String(micros)
        frac = String(repeating: "0", count: 6 - frac.count) + frac
        return "\(two(day / 3600)):\(two(day / 60 % 60)):\(two(day % 60)).\(frac)"
    }

    /// Seconds with one decimal and a unit: "10.0s".
    public static func seconds(_ tenths: UInt32) -> String { "\(tenths / 10).\(tenths % 10)s" }

    /// One tcpdump-like line.
    public static func text(_ p: DecodedIGMPPacket, _ ctx: Context) -> String {
        var line = "\(clock(ctx.timeNs)) \(ctx.ifname) "
        if let ip = p.ip { line += "\(ip.source) > \(ip.destination): " }
        line += "igmp " + describe(p.message)
        var notes: [String] = []
        if let ip = p.ip {
            notes.append("ttl \(ip.ttl)")
            if !ip.routerAlert { notes.append("no router alert") }
        }
        if !p.igmpChecksumOK { notes.append("bad igmp checksum") }
        if let ip = p.ip, !ip.checksumOK { notes.append("bad ip checksum") }
        if p.ignoredRecordCount > 0 { notes.append("\(p.ignoredRecordCount) unknown record(s) ignored") }
        if !notes.isEmpty { line += " (" + notes.joined(separator: ", ") + ")" }
        return line
    }

    /// The message part of a line: "query v2 [max resp time 10.0s]" etc.
    public static func describe(_ m: IGMPMessage) -> String {
        switch m {
        case .query(let q):
            var s = "query \(q.version)"
            if !q.group.isUnspecified { s += " [gaddr \(q.group)" + sourcesText(q.sources) + "]" }
            if q.version != .v1 { s += " [max resp time \(seconds(q.maxResponseTenths))]" }
            if q.version == .v3 {
                s += " [qrv \(q.qrv)] [qqic \(q.queryIntervalSeconds ?? 0)s]"
                if q.sFlag { s += " [s]" }
            }
            return s
        case .v1Report(let g): return "v1 report \(g)"
        case .v2Report(let g): return "v2 report \(g)"
        case .v2Leave(let g): return "leave \(g)"
        case .v3Report(let records):
            var s = "v3 report, \(records.count) group record(s)"
            for r in records {
                s += " [gaddr \(r.group) \(r.type.shortName)" + sourcesText(r.sources, braces: true) + "]"
            }
            return s
        }
    }

    private static func sourcesText(_ sources: [IPv4Address], braces: Bool = false) -> String {
        if sources.isEmpty { return braces ? " { }" : "" }
        return " { " + sources.map(\.description).joined(separator: " ") + " }"
    }

    /// A line for a packet that did not decode; dumping goes on.
    public static func errorText(_ reason: String, _ ctx: Context) -> String {
        "\(clock(ctx.timeNs)) \(ctx.ifname) error: \(reason)"
    }

    /// Epoch seconds with microseconds, as a JSON number.
    static func epoch(_ ns: UInt64) -> JSON {
        .double(Double(ns / 1000) / 1_000_000)
    }

    /// The JSON object for a packet: `time, ifname, src, dst, ttl,
    /// router_alert, type, version, group, max_resp_s, sources, records,
    /// qrv, qqic_s, s_flag, checksum_ok` (null where a field does not apply).
    public static func json(_ p: DecodedIGMPPacket, _ ctx: Context) -> JSON {
        let m = p.message
        var query: IGMPQuery?
        if case .query(let q) = m { query = q }
        let records: JSON
        if case .v3Report(let rs) = m {
            records = .array(rs.map { r in
                .object([("type", .string(r.type.shortName)), ("group", .string(r.group.description)),
                         ("sources", .array(r.sources.map { .string($0.description) }))])
            })
        } else {
            records = .null
        }
        let checksumOK = p.igmpChecksumOK && (p.ip?.checksumOK ?? true)
        let ip = p.ip
        let src: JSON = ip.map { .string($0.source.description) } ?? .null
        let dst: JSON = ip.map { .string($0.destination.description) } ?? .null
        let ttl: JSON = ip.map { .uint(UInt64($0.ttl)) } ?? .null
        let ra: JSON = ip.map { .bool($0.routerAlert) } ?? .null
        let group: JSON = m.group.map { .string($0.description) } ?? .null
        var maxResp = JSON.null, sources = JSON.null, qrv = JSON.null, qqic = JSON.null, sFlag = JSON.null
        if let q = query {
            maxResp = .double(Double(q.maxResponseTenths) / 10)
            sources = .array(q.sources.map { .string($0.description) })
            if q.version == .v3 {
                qrv = .uint(UInt64(q.qrv))
                sFlag = .bool(q.sFlag)
                if let s = q.queryIntervalSeconds { qqic = .uint(UInt64(s)) }
            }
        }
        let fields: [(String, JSON)] = [
            ("time", epoch(ctx.timeNs)), ("ifname", .string(ctx.ifname)),
            ("src", src), ("dst", dst), ("ttl", ttl), ("router_alert", ra),
            ("type", .string(typeName(m))), ("version", .uint(UInt64(m.version.rawValue))),
            ("group", group), ("max_resp_s", maxResp), ("sources", sources), ("records", records),
            ("qrv", qrv), ("qqic_s", qqic), ("s_flag", sFlag), ("checksum_ok", .bool(checksumOK)),
        ]
        return .object(fields + (ctx.queue.map { [("queue", JSON.uint(UInt64($0)))] } ?? []))
    }

    /// The JSON object for a packet that did not decode.
    public static func errorJSON(_ reason: String, _ ctx: Context) -> JSON {
        .object([("time", epoch(ctx.timeNs)), ("ifname", .string(ctx.ifname)), ("error", .string(reason))])
    }

    /// `type` values in JSON.
    public static func typeName(_ m: IGMPMessage) -> String {
        switch m {
        case .query: return "query"
        case .v1Report: return "v1_report"
        case .v2Report: return "v2_report"
        case .v2Leave: return "v2_leave"
        case .v3Report: return "v3_report"
        }
    }
}
