import IGMPMembership
import IGMPProxy
import IGMPWire
import XigmpTools

extension DaemonConfig {
    /// Interfaces a querier can run on (YAML `querier.<role>`).
    public enum QuerierInterface: String, Sendable, CaseIterable, Hashable {
        /// `interfaces.inside`.
        case inside
        /// `interfaces.outside` (passthrough only).
        case outside
        /// `interfaces.alt` (passthrough only).
        case alt
    }

    /// The XDP per-source token bucket (YAML `limits.reportsPerSecondPerHost`,
    /// `limits.reportBurst`): IGMP from one source beyond it is dropped in the
    /// kernel before the AF_XDP ring, counted as `xdp_rate_limited`.
    public struct ReportRateLimit: Sendable, Hashable {
        /// Sustained IGMP messages per second per source address.
        public var perSecond: Int
        /// Bucket depth (default: a tenth of a second's worth).
        public var burst: Int

        /// Creates a limit.
        public init(perSecond: Int, burst: Int) {
            self.perSecond = perSecond
            self.burst = burst
        }
    }

    /// Whether the hosts of an interface hear each other's reports (YAML
    /// `querier.<role>.isolatedHosts`). IGMPv2 hosts suppress their report when
    /// they hear another's (RFC 2236 §3), so explicit tracking sees all of them
    /// only where they cannot: fast leave acts on IGMPv2 groups only there.
    public enum IsolatedHosts: String, Sendable, Hashable, CaseIterable {
        /// Decided per interface when it is taken in: a Linux bridge with IGMP
        /// snooping on (reports go only to router ports) or a point-to-point
        /// link (ppp, tun) is isolated; anything else is not.
        case auto
        /// The operator says the hosts cannot hear each other.
        case yes
        /// They can (a plain segment, a hub, a non-snooping switch).
        case no
    }

    /// An IPv4 prefix (YAML `egressFilter.allow` items, `239.1.0.0/16`).
    public typealias Prefix = IPv4Prefix
}

extension ConfigParser {
    /// `querier:`: a mapping of interface role to querier settings.
    mutating func readQueriers(_ entry: Entry, limits: MembershipLimits)
        -> ([DaemonConfig.QuerierInterface: MembershipConfiguration], [DaemonConfig.QuerierInterface: DaemonConfig.IsolatedHosts])? {
        guard let mapping = mapping(entry, holding: "querier settings by interface (inside, outside, alt)") else { return nil }
        var section = section(mapping, path: "querier", line: entry.line)
        var result: [DaemonConfig.QuerierInterface: MembershipConfiguration] = [:]
        var isolated: [DaemonConfig.QuerierInterface: DaemonConfig.IsolatedHosts] = [:]
        var valid = true
        for role in DaemonConfig.QuerierInterface.allCases {
            guard let item = take(role.rawValue, from: &section) else { continue }
            if let (router, hosts) = readQuerier(item, limits: limits) {
                result[role] = router
                if hosts != .auto { isolated[role] = hosts }
            } else {
                valid = false
            }
        }
        finish(section)
        return valid ? (result, isolated) : nil
    }

    /// One interface's querier settings; every key optional (RFC 3376 §8 defaults).
    mutating func readQuerier(_ entry: Entry, limits: MembershipLimits)
        -> (MembershipConfiguration, DaemonConfig.IsolatedHosts)? {
        guard let mapping = mapping(entry, holding: "querier settings (version, robustness, queryInterval, …)") else { return nil }
        var section = section(mapping, path: entry.keyPath, line: entry.line)
        var c = MembershipConfiguration(limits: limits)
        var valid = true
        func check<T>(_ s: Setting<T>, _ apply: (T) -> Void) {
            switch s {
            case .absent: break
            case .valid(let v): apply(v)
            case .invalid: valid = false
            }
        }
        check(setting("version", in: &section) { $0.integer($1, in: 1...3, "the IGMP version of the queries: 1, 2 or 3") }) {
            c.queryVersion = $0 == 1 ? .v1 : $0 == 2 ? .v2 : .v3
        }
        check(setting("robustness", in: &section) { $0.integer($1, in: 1...255, "the Robustness Variable, 1…255 (RFC 3376 §8.1; default 2)") }) {
            c.robustness = $0
        }
        check(setting("queryInterval", in: &section) { $0.duration($1) }) { c.queryInterval = $0 }
        check(setting("queryResponseInterval", in: &section) { $0.duration($1) }) { c.queryResponseInterval = $0 }
        check(setting("lastMemberQueryInterval", in: &section) { $0.duration($1) }) { c.lastMemberQueryInterval = $0 }
        check(setting("lastMemberQueryCount", in: &section) { $0.integer($1, in: 1...255, "a count, 1…255") }) {
            c.lastMemberQueryCount = $0
        }
        check(setting("startupQueryInterval", in: &section) { $0.duration($1) }) { c.startupQueryInterval = $0 }
        check(setting("startupQueryCount", in: &section) { $0.integer($1, in: 1...255, "a count, 1…255") }) {
            c.startupQueryCount = $0
        }
        check(setting("passive", in: &section) { $0.flag($1) }) { c.passive = $0 }
        check(setting("adoptQuerierParameters", in: &section) { $0.flag($1) }) { c.adoptQuerierParameters = $0 }
        check(setting("fastLeave", in: &section) { $0.flag($1) }) { c.fastLeave = $0 }
        var isolated = DaemonConfig.IsolatedHosts.auto
        check(setting("isolatedHosts", in: &section) { $0.choice($1, DaemonConfig.IsolatedHosts.self) }) { isolated = $0 }
        c.fastLeaveOlderHosts = isolated == .yes
        finish(section)
        guard valid else { return nil }
        do throws(MembershipConfigurationError) {
            try c.validate()
        } catch {
            self.error(entry.line, entry.keyPath, "\(error.description)")
            return nil
        }
        return (c, isolated)
    }

    /// `limits:`: the table caps and the XDP per-host report rate.
    mutating func readLimits(_ entry: Entry) -> (MembershipLimits, DaemonConfig.ReportRateLimit?)? {
        guard let mapping = mapping(entry, holding: "limits (maxGroups, maxGroupsPerHost, maxSourcesPerRecord, …)") else { return nil }
        var section = section(mapping, path: "limits", line: entry.line)
        var l = MembershipLimits()
        var valid = true
        func read(_ name: String, _ range: ClosedRange<Int>, _ apply: (Int) -> Void) {
            switch setting(name, in: &section, { $0.integer($1, in: range, "a whole number, \(range.lowerBound)…\(range.upperBound)") }) {
            case .absent: break
            case .valid(let v): apply(v)
            case .invalid: valid = false
            }
        }
        read("maxGroups", 1...1_000_000) { l.maxGroups = $0 }
        read("maxGroupsPerHost", 1...1_000_000) { l.maxGroupsPerHost = $0 }
        read("maxSourcesPerRecord", 1...366) { l.maxSourcesPerRecord = $0 }
        read("maxSourcesPerGroup", 1...MembershipLimits.sourcesPerQueryFrame) { l.maxSourcesPerGroup = $0 }
        read("maxSuccessiveSourceQueries", 1...1000) { l.maxSuccessiveSourceQueries = $0 }
        read("maxHostsPerGroup", 1...100_000) { l.maxHostsPerGroup = $0 }
        var perSecond: Int?
        var burst: Int?
        read("reportsPerSecondPerHost", 1...10_000_000) { perSecond = $0 }
        read("reportBurst", 1...10_000_000) { burst = $0 }
        finish(section)
        guard valid else { return nil }
        if burst != nil && perSecond == nil {
            error(locations.line(of: "limits.reportBurst"), "limits.reportBurst",
                  "needs limits.reportsPerSecondPerHost, the rate it is a burst of")
            return nil
        }
        let rate = perSecond.map { DaemonConfig.ReportRateLimit(perSecond: $0, burst: burst ?? max(1, $0 / 10)) }
        return (l, rate)
    }

    /// `upstream:`.
    mutating func readUpstream(_ entry: Entry) -> UpstreamConfiguration? {
        guard let mapping = mapping(entry, holding: "upstream host-side settings (robustness, unsolicitedReportInterval, mergeWindow)") else { return nil }
        var section = section(mapping, path: "upstream", line: entry.line)
        var u = UpstreamConfiguration()
        var valid = true
        switch setting("robustness", in: &section, { $0.integer($1, in: 1...7, "transmissions of each state change, 1…7 (default 2)") }) {
        case .absent: break
        case .valid(let v): u.robustness = v
        case .invalid: valid = false
        }
        switch setting("mergeWindow", in: &section, { $0.duration($1) }) {
        case .absent: break
        case .valid(let v):
            if v <= .seconds(1) { u.mergeWindow = v } else {
                error(locations.line(of: "upstream.mergeWindow"), "upstream.mergeWindow",
                      "at most 1s: every join and leave waits up to this long; e.g. 20ms")
                valid = false
            }
        case .invalid: valid = false
        }
        switch setting("unsolicitedReportInterval", in: &section, { $0.duration($1) }) {
        case .absent: break
        case .valid(let v):
            if v > .zero { u.unsolicitedReportInterval = v } else {
                error(locations.line(of: "upstream.unsolicitedReportInterval"), "upstream.unsolicitedReportInterval", "must be above 0, e.g. 1s")
                valid = false
            }
        case .invalid: valid = false
        }
        finish(section)
        return valid ? u : nil
    }

    /// `egressFilter:` with its `allow` list of group prefixes.
    mutating func readEgressFilter(_ entry: Entry) -> [DaemonConfig.Prefix]? {
        guard let mapping = mapping(entry, holding: "egress filter settings (allow)") else { return nil }
        var section = section(mapping, path: "egressFilter", line: entry.line)
        var prefixes: [DaemonConfig.Prefix] = []
        var valid = true
        if let list = take("allow", from: &section) {
            if let p = groupPrefixes(list, key: "egressFilter.allow") { prefixes = p } else { valid = false }
        } else {
            error(entry.line, "egressFilter.allow", "required when egressFilter is given; expected the groups the host may report, e.g. allow: [239.1.0.0/16] (an empty list drops every report the host's kernel sends)")
            valid = false
        }
        finish(section)
        return valid ? prefixes : nil
    }

    /// A list of multicast group prefixes (`[239.1.0.0/16, 232.1.1.1]`), at
    /// `key`; nil after reporting what is wrong.
    mutating func groupPrefixes(_ list: Entry, key: String) -> [DaemonConfig.Prefix]? {
        var prefixes: [DaemonConfig.Prefix] = []
        var valid = true
        switch list.value {
        case .sequence(let items):
            for item in items {
                let line = item.mark?.line ?? list.line
                guard case .scalar(let scalar) = item, let prefix = DaemonConfig.Prefix(scalar.string) else {
                    error(line, key, "expected a group prefix such as 239.1.0.0/16, got \(item.shortDescription)")
                    valid = false
                    continue
                }
                guard prefix.address.isMulticast, prefix.length >= 4 else {
                    error(line, key, "\(prefix) is not inside 224.0.0.0/4; expected multicast group prefixes")
                    valid = false
                    continue
                }
                prefixes.append(prefix)
            }
        default:
            if !list.value.isNull {
                let name = key.split(separator: ".").last.map(String.init) ?? key
                error(valueOf: list, "expected a list of group prefixes, e.g. \(name): [239.1.0.0/16], got \(list.value.shortDescription)")
                valid = false
            }
        }
        return valid ? prefixes : nil
    }

    /// A whole number in `range`.
    mutating func integer(_ entry: Entry, in range: ClosedRange<Int>, _ what: String) -> Int? {
        guard let text = text(entry, what) else { return nil }
        guard let value = Int(text), range.contains(value) else {
            error(valueOf: entry, "expected \(what), got '\(text)'")
            return nil
        }
        return value
    }

    /// The longest duration any setting takes: a day. IGMP's own fields end
    /// far below it (QQIC and Max Resp Code top out at 31744 s and 3174.4 s,
    /// RFC 3376 §4.1.1 and §4.1.7), and the cap keeps every sum and product
    /// the engines make of these values (robustness × interval + …) far
    /// inside Int64 nanoseconds.
    static let longestDuration = 86_400.0

    /// A duration with a unit (`125s`, `100ms`, `2m`), at most a day.
    mutating func duration(_ entry: Entry) -> Duration? {
        guard let text = text(entry, "a duration with a unit, e.g. 125s, 100ms, 2m") else { return nil }
        do throws(DurationParser.Failure) {
            let seconds = try DurationParser.seconds(text)
            guard seconds.isFinite, seconds >= 0, seconds <= Self.longestDuration else {
                self.error(valueOf: entry, "expected a duration from 0 to 24h, got '\(text.prefix(40))\(text.count > 40 ? "…" : "")'")
                return nil
            }
            return .nanoseconds(Int64((seconds * 1e9).rounded()))
        } catch {
            self.error(valueOf: entry, error.description)
            return nil
        }
    }
}
