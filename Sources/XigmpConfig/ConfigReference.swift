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
        row("interfaces.outside", "interface name", "required",
            "Primary outside interface, toward the upstream querier and the multicast sources."),
        row("interfaces.alt", "interface name", "none",
            "Alternative outside interface (e.g. a GRE tunnel). Only one outside interface is active at a time; switch with `activeOutside`, the Swift API, or `xigmp outside primary|alt` at runtime."),
        row("interfaces.inside", "interface name", "required",
            "Inside interface, toward the hosts or containers served (e.g. a docker bridge). Each role needs its own interface."),
        row("activeOutside", "`primary` or `alt`", "`primary`",
            "The outside interface active at start: queries are accepted from it only, and everything sent outward leaves through it. `alt` needs `interfaces.alt`."),
        row("datapath", "`auto`, `xdp` or `kernel`", "`auto`",
            "How IGMP is read and sent: `xdp` (XDP classifier and AF_XDP, Ethernet interfaces only), `kernel` (raw sockets, any interface), `auto` (XDP on Ethernet, kernel elsewhere)."),
        row("modes", "mapping of booleans", "every mode `false`",
            "The proxy modes, each on or off. At least one mode must be on."),
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
            "Reports sent through the client API go unicast to the querier last heard (or to `unicastFallback` until one is heard) instead of multicast. Sends nothing by itself."),
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
            "Lowest level logged."),
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
            "- Errors name the file, line and key: `xigmp.yaml:3: modes.queryNotify: expected true or false, got 'yes please'`. Every error in the file is reported at once, and nothing is attached.",
        ]
        return lines.joined(separator: "\n") + "\n"
    }()
}
