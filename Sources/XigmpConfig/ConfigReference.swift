extension DaemonConfig {
    /// One key of the configuration file, as the reference documents it.
    public struct ReferenceRow: Sendable, Equatable {
        /// Dotted key path, e.g. `modes.queryNotify`.
        public let key: String
        /// What may be written.
        public let type: String
        /// What leaving the key out means.
        public let defaultValue: String
        /// What the key does.
        public let meaning: String
    }

    /// Every key the parser accepts, in the order of the reference table.
    public static let referenceRows: [ReferenceRow] = [
        row("interfaces", "mapping", "required",
            "The interfaces xigmp manages, by role."),
        row("interfaces.outside", "interface name or glob", "required",
            "Primary outside interface, toward the upstream querier and the multicast sources. A glob (`ppp*`) takes the one interface that matches; two matching at once is a conflict, logged, and the role keeps the one it had. Missing at start is not fatal: the daemon waits for it (see `interfaces.required`)."),
        row("interfaces.alt", "interface name or glob", "none",
            "Alternative outside interface (e.g. a GRE tunnel). Only one outside interface is active at a time; switch with `activeOutside`, the Swift API, or `xigmp outside primary|alt` at runtime."),
        row("interfaces.inside", "interface name or glob, or a list of them", "required",
            "Inside interface(s), toward the hosts or containers served (e.g. a docker bridge, or `[docker0, vlan20]`). Each gets its own querier and membership table; the upstream hears the union of their groups (RFC 4605 §4.1), queries proxied outside-in go to every one, and forwarding sends a group to each inside interface that has members. Each role needs its own interface. Globs (`br-*`, docker's bridge names) take every interface that matches, now or later; interfaces enslaved to a bridge are never inside roles of their own (the bridge is). An interface appears, goes, is renumbered or comes back up: xigmp follows it (rtnetlink), no restart needed."),
        row("interfaces.exclude", "list of names or globs", "`[]`",
            "Interfaces never taken, whatever pattern matches them (e.g. `[\"veth*\"]`)."),
        row("interfaces.required", "list of names", "`[]`",
            "Interfaces that must exist when the daemon starts (fail fast, exit 2). Any other missing interface is waited for: logged once, shown in `xigmp status` (`waiting for docker0`), taken in when it appears."),
        row("activeOutside", "`primary`, `alt` or `auto`", "`primary`",
            "The outside interface active at start: queries are accepted from it only, and everything sent outward leaves through it. `alt` and `auto` need `interfaces.alt`. `auto` fails over: the primary while it is there with its link up, the alt at once when it goes (memberships moved as `xigmp outside` moves them), the primary again `failbackHoldDown` after it is back. `xigmp outside primary|alt` pins a choice until the next SIGHUP re-reads `activeOutside`."),
        row("failbackHoldDown", "duration", "`10s`",
            "With `activeOutside: auto`: how long the primary must be back (present, link up) before the proxy returns to it."),
        row("datapath", "`auto`, `xdp` or `kernel`", "`auto`",
            "How IGMP is read and sent: `xdp` (XDP classifier and AF_XDP, Ethernet interfaces only), `kernel` (raw sockets, any interface), `auto` (XDP on Ethernet, kernel elsewhere)."),
        row("xdpMode", "`auto`, `native` or `generic`", "`auto`",
            "How the XDP program is attached on XDP interfaces, as `xigmp load --mode`: `auto` is native except on veth, where generic measured cheaper; `native` runs in the driver (on a veth, frames redirected into it are only taken when its peer runs NAPI: an XDP program or GRO on the peer, else they are dropped); `generic` works everywhere, on an skb."),
        row("modes", "mapping of booleans", "every mode `false`",
            "The proxy modes, each on or off. At least one mode must be on, unless `membership: track`: xigmp then has work of its own (the inside's querier and table, the reports upstream) and needs none."),
        row("modes.proxyOutToIn", "boolean", "`false`",
            "Queries heard on the active outside interface (general, group- and source-specific) are re-sent on the inside interface."),
        row("modes.proxyInToOut", "boolean", "`false`",
            "Reports and leaves heard on the inside interface are re-sent on the active outside interface, from its address."),
        row("modes.unicastProxyInToOut", "boolean", "`false`",
            "Unicast translation: IGMP sent unicast to the proxy's inside address is re-sent as multicast on the active outside interface (reports to their group or 224.0.0.22, leaves to 224.0.0.2)."),
        row("modes.queryNotify", "boolean", "`false`",
            "Client API: a stream of the queries heard outside."),
        row("modes.membershipReportFromNetwork", "boolean", "`false`",
            "Client API: a stream of the reports heard, as joins and leaves per group."),
        row("modes.membershipReportToNetwork", "boolean", "`false`",
            "Client API: clients send reports through the proxy."),
        row("modes.unicastMembershipResponse", "boolean", "`false`",
            "Reports sent through the client API (and, under `membership: track`, xigmp's own reports upstream) go unicast to the querier last heard (or to `unicastFallback` until one is heard) instead of multicast. Sends nothing by itself."),
        row("modes.leaveToNetwork", "boolean", "`false`",
            "Client API: clients send leaves through the proxy."),
        row("unicastFallback", "IPv4 unicast address", "none",
            "Where `unicastMembershipResponse` sends while no querier has been heard."),
        row("metrics", "mapping", "none: no endpoint",
            "The Prometheus endpoint; leave it out to keep the endpoint off."),
        row("metrics.listen", "`PORT`, `:PORT` or `IPV4:PORT`", "required under `metrics`",
            "Address of the endpoint. With only a port it listens on 127.0.0.1; other addresses (e.g. `0.0.0.0:9740`) must be written out."),
        row("control", "mapping", "see `control.socket`",
            "The control socket that `xigmp outside` and `xigmp status` talk to."),
        row("control.socket", "absolute path", "`\(defaultControlSocket)`",
            "Path of the UNIX control socket (mode 0600), at most 107 bytes."),
        row("logLevel", "`trace`, `debug`, `info`, `notice`, `warning`, `error` or `critical`", "`info`",
            "Lowest level logged. Read at start only: a changed `logLevel` takes a restart."),
        row("membership", "`passthrough` or `track`", "`passthrough`",
            "`passthrough`: reports and leaves are forwarded as they are (goIGMP; the modes decide). `track` (RFC 4605): the inside's membership table decides what the active outside reports — state-change reports with retransmission, answers to the upstream querier, IGMPv1/v2 reports and leaves while an older querier is present, memberships moved when the active outside changes. `track` runs a querier on the inside and refuses `proxyInToOut`, `proxyOutToIn` and `unicastProxyInToOut`."),
        row("querier", "mapping by interface role", "none (`track`: `inside` with the defaults below)",
            "xigmp's own querier and membership table (RFC 3376 §6) on `inside`, `outside` or `alt` (upstream ones in `passthrough` only). `querier: {inside: {}}` runs one with every default. Durations take a unit: `125s`, `500ms`, `2m`."),
        row("querier.ROLE.version", "1, 2 or 3", "3", "Version of the queries sent; set it to the lowest version of any router on the link (RFC 3376 §7.3.1)."),
        row("querier.ROLE.robustness", "1…255", "2", "Robustness Variable (RFC 3376 §8.1)."),
        row("querier.ROLE.queryInterval", "duration", "`125s`", "Between general queries (§8.2)."),
        row("querier.ROLE.queryResponseInterval", "duration", "`10s`", "Max Resp of general queries (§8.3); below queryInterval."),
        row("querier.ROLE.lastMemberQueryInterval", "duration", "`1s`", "Max Resp and spacing of group(-and-source)-specific queries after a leave (§8.8)."),
        row("querier.ROLE.lastMemberQueryCount", "1…255", "robustness", "Group-specific queries per leave (§8.9)."),
        row("querier.ROLE.startupQueryInterval", "duration", "queryInterval / 4", "Between the startup queries (§8.6)."),
        row("querier.ROLE.startupQueryCount", "1…255", "robustness", "General queries sent at startup (§8.7)."),
        row("querier.ROLE.passive", "boolean", "`false`", "Keep the table but never query (another router queries the link)."),
        row("querier.ROLE.fastLeave", "boolean", "`false`", "When the last tracked host of a group (or of a source) leaves, its forwarding stops at once, with no last-member queries; a leave while other tracked hosts still watch changes nothing. Hosts are tracked by IP and MAC (`xigmp groups`); a leave removes only the record whose IP and MAC it carries, so a spoofed leave can cut only the host it names, until that host's next report. IGMPv2 groups only where `isolatedHosts` holds; off while a group has hosts over `limits.maxHostsPerGroup`, and for the first query response interval after start."),
        row("querier.ROLE.isolatedHosts", "`auto`, `yes`, `no`", "`auto`", "Whether the hosts cannot hear each other's reports, which fast leave needs for IGMPv2 hosts (they suppress their report on hearing another's). `auto`: yes on a Linux bridge with IGMP snooping on (reports reach only router ports) and on point-to-point links (ppp, tun); no elsewhere."),
        row("querier.ROLE.adoptQuerierParameters", "boolean", "`true`", "While another querier is elected, use its QRV and QQIC (§4.1.6–4.1.7)."),
        row("upstream", "mapping", "see below", "The host side that reports the inside's groups upstream under `membership: track`."),
        row("upstream.robustness", "1…7", "2", "Transmissions of each state-change report (RFC 3376 §5.1)."),
        row("upstream.unsolicitedReportInterval", "duration", "`1s`", "Retransmissions are spread at random over this interval (§8.11)."),
        row("upstream.mergeWindow", "duration, at most `1s`", "`0s`", "State changes within this window of the first are sent upstream as one report instead of one each (RFC 3376 §5.1 sends each at once). Bounds the reports a zap storm sends, at the cost of up to this much join and leave latency upstream; the inside's forwarding is not delayed."),
        row("limits", "mapping", "see below", "Caps against IGMP floods (RFC 3376 §9), each counted when it bites (`xigmp groups`, metrics `xigmp_membership_total`)."),
        row("limits.maxGroups", "1…1000000", "4096", "Groups one interface's table holds; reports that would add more are dropped."),
        row("limits.maxGroupsPerHost", "1…1000000", "512", "Groups one reporting host may hold."),
        row("limits.maxSourcesPerRecord", "1…366", "64", "Sources in one group record; a report with a longer record is dropped whole."),
        row("limits.maxSourcesPerGroup", "1…366", "256", "Source records one group holds."),
        row("limits.maxHostsPerGroup", "1…100000", "256", "Hosts one group tracks explicitly. A further host's report still counts, untracked (`untracked_host_limit`), and fast leave is off for that group for a membership interval."),
        row("limits.maxSuccessiveSourceQueries", "1…1000", "16", "Group-and-source-specific queries one group may start per query interval."),
        row("limits.reportsPerSecondPerHost", "1…10000000", "none: unlimited", "XDP datapath: a token bucket per source address in the kernel, before the AF_XDP ring; IGMP beyond it is dropped and counted (`xdp_rate_limited`). One host's flood cannot starve the others."),
        row("limits.reportBurst", "1…10000000", "a tenth of `reportsPerSecondPerHost`", "Depth of that bucket."),
        row("egressFilter", "mapping", "none: no filter",
            "A TC egress filter on the outside interfaces for the reports the host's own kernel sends there: v1/v2 reports and leaves for other groups are dropped; in a v3 report the records for other groups are blanked in place (type 0, group 0.0.0.0, which receivers ignore, RFC 3376 §4.2.12) and the rest passes; a report with no allowed group is dropped. xigmp's own sends pass."),
        row("forwarding", "mapping", "`{mode: off, unmatched: pass}`", "Multicast data forwarding from the active outside to the inside, installed when a join is accepted (and for `routes`), removed on leave or expiry; `xigmp routes` lists the entries."),
        row("forwarding.mode", "`xdp`, `kernel` or `off`", "`off`", "`xdp`: an XDP fast path on the outside for routes whose outgoing interfaces can take redirected frames (Ethernet, not a bridge), the kernel's multicast routing (MFC, programmed by xigmp at join time) for the rest; `kernel`: the MFC only; `off`: IGMP only."),
        row("forwarding.unmatched", "`pass` or `drop`", "`pass`", "Multicast data on the outside that no route matches: to the kernel's stack, or dropped in XDP."),
        row("forwarding.groups", "list of group prefixes", "none: every group", "The groups a join may forward, e.g. `[239.1.0.0/16]`. A join for another group is still tracked and reported upstream but gets no forwarding entry — neither the route nor the provisional entry the XDP classifier writes at the report (the inside's allow table holds these prefixes). Static `routes` are not filtered."),
        row("routes", "list of `{group, source, in, out}`", "none", "Static routes like SMCRoute's, for sources that send without IGMP: `group` (required), `source` (leave out for any source), `in` (default: the active outside), `out` (list of interfaces, required). Need `forwarding.mode` other than `off`."),
        row("egressFilter.allow", "list of group prefixes", "required under `egressFilter`", "The groups the host may report, e.g. `[239.1.0.0/16, 232.1.1.1]`; `[]` drops them all."),
    ]

    private static func row(_ key: String, _ type: String, _ defaultValue: String,
                            _ meaning: String) -> ReferenceRow {
        ReferenceRow(key: key, type: type, defaultValue: defaultValue, meaning: meaning)
    }

    /// The configuration reference in Markdown: a table of every key with
    /// its type, default and meaning, then the rules that apply to all.
    public static let reference: String = {
        func cell(_ text: String) -> String { text.replacingOccurrences(of: "|", with: "\\|") }
        var lines = ["| Key | Type | Default | Meaning |", "|---|---|---|---|"]
        for row in referenceRows {
            lines.append("| `\(row.key)` | \(cell(row.type)) | \(cell(row.defaultValue)) | \(cell(row.meaning)) |")
        }
        lines += [
            "",
            "Rules for every key:",
            "",
            "- Keys are case-sensitive; an unknown key is an error (with a suggestion when it looks like a typo), as is a key given twice.",
            "- Booleans are `true` or `false`, unquoted. YAML 1.1's `yes`, `no`, `on` and `off` are refused, so the file means the same to every YAML reader.",
            "- An optional key written with no value (`alt:` or `alt: ~`) is the same as leaving it out; a mapping written empty has every key at its default.",
            "- Interface names are checked for form here; whether they exist is checked when the daemon starts.",
            "- SIGHUP re-reads the file and applies "
                + Suggestion.list(reloadableKeys.map { "`\($0)`" }, conjunction: "and") + " to the running daemon; a change to any other key takes a restart (an invalid file is reported and the running config stays).",
            "- Errors name the file, line and key: `xigmp.yaml:3: modes.queryNotify: expected true or false, got 'yes please'`. Every error in the file is reported at once, and nothing is attached.",
        ]
        return lines.joined(separator: "\n") + "\n"
    }()
}
