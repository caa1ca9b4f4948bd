extension DaemonConfig {
    /// The configuration as YAML, every key written out (defaults included,
    /// optional values only when set), which parses back to an equal value.
    ///
    /// For `xigmp` to show the configuration in effect.
    public var yaml: String {
        var lines = ["interfaces:", "  outside: \(quoted(interfaces.outside))"]
        if let alt = interfaces.alt { lines.append("  alt: \(quoted(alt))") }
        if interfaces.insides.count == 1 {
            lines.append("  inside: \(quoted(interfaces.inside))")
        } else {
            lines.append("  inside: [\(interfaces.insides.map(quoted).joined(separator: ", "))]")
        }
        if !interfaces.exclude.isEmpty { lines.append("  exclude: [\(interfaces.exclude.map(quoted).joined(separator: ", "))]") }
        if !interfaces.required.isEmpty { lines.append("  required: [\(interfaces.required.map(quoted).joined(separator: ", "))]") }
        lines.append("activeOutside: \(activeOutside.rawValue)")
        lines.append("failbackHoldDown: \(Self.render(failbackHoldDown))")
        lines.append("datapath: \(datapath.rawValue)")
        lines.append("xdpMode: \(xdpMode.rawValue)")
        lines.append("modes:")
        for (name, isOn) in modes.settings { lines.append("  \(name): \(isOn)") }
        if let unicastFallback { lines.append("unicastFallback: \(unicastFallback)") }
        if let metricsListen { lines += ["metrics:", "  listen: \"\(metricsListen)\""] }
        lines += ["control:", "  socket: \(quoted(controlSocket))"]
        lines.append("logLevel: \(logLevel.rawValue)")
        lines.append("membership: \(membership.rawValue)")
        lines += ["limits:", "  maxGroups: \(limits.maxGroups)", "  maxGroupsPerHost: \(limits.maxGroupsPerHost)",
                  "  maxSourcesPerRecord: \(limits.maxSourcesPerRecord)", "  maxSourcesPerGroup: \(limits.maxSourcesPerGroup)",
                  "  maxSuccessiveSourceQueries: \(limits.maxSuccessiveSourceQueries)",
                  "  maxHostsPerGroup: \(limits.maxHostsPerGroup)"]
        if let rate = reportRateLimit {
            lines += ["  reportsPerSecondPerHost: \(rate.perSecond)", "  reportBurst: \(rate.burst)"]
        }
        if !queriers.isEmpty {
            lines.append("querier:")
            for role in QuerierInterface.allCases {
                guard let q = queriers[role] else { continue }
                lines += ["  \(role.rawValue):",
                          "    version: \(q.queryVersion == .v1 ? 1 : q.queryVersion == .v2 ? 2 : 3)",
                          "    robustness: \(q.robustness)",
                          "    queryInterval: \(Self.render(q.queryInterval))",
                          "    queryResponseInterval: \(Self.render(q.queryResponseInterval))",
                          "    lastMemberQueryInterval: \(Self.render(q.lastMemberQueryInterval))"]
                if let n = q.lastMemberQueryCount { lines.append("    lastMemberQueryCount: \(n)") }
                if let d = q.startupQueryInterval { lines.append("    startupQueryInterval: \(Self.render(d))") }
                if let n = q.startupQueryCount { lines.append("    startupQueryCount: \(n)") }
                lines += ["    passive: \(q.passive)", "    adoptQuerierParameters: \(q.adoptQuerierParameters)",
                          "    fastLeave: \(q.fastLeave)"]
                if let isolated = isolatedHosts[role] { lines.append("    isolatedHosts: \(isolated.rawValue)") }
            }
        }
        lines += ["upstream:", "  robustness: \(upstream.robustness)",
                  "  unsolicitedReportInterval: \(Self.render(upstream.unsolicitedReportInterval))",
                  "  mergeWindow: \(Self.render(upstream.mergeWindow))"]
        if let egressAllow {
            lines += ["egressFilter:", "  allow: [\(egressAllow.map(\.description).joined(separator: ", "))]"]
        }
        lines += ["forwarding:", "  mode: \(forwarding.mode.rawValue)", "  unmatched: \(forwarding.unmatched.rawValue)"]
        if let groups = forwarding.groups {
            lines += ["  groups: [\(groups.map(\.description).joined(separator: ", "))]"]
        }
        if !routes.isEmpty {
            lines.append("routes:")
            for r in routes {
                var item = "  - {group: \(r.group)"
                if let s = r.source { item += ", source: \(s)" }
                if let i = r.incoming { item += ", in: \(quoted(i))" }
                item += ", out: [\(r.outgoing.map(quoted).joined(separator: ", "))]}"
                lines.append(item)
            }
        }
        return lines.joined(separator: "\n") + "\n"
    }

    /// A duration as the config writes it: in the largest of s, ms and us
    /// that holds it whole, else in seconds to the nanosecond.
    static func render(_ d: Duration) -> String {
        let (seconds, attoseconds) = d.components
        let nanos = seconds * 1_000_000_000 + attoseconds / 1_000_000_000
        if nanos % 1_000_000_000 == 0 { return "\(nanos / 1_000_000_000)s" }
        if nanos % 1_000_000 == 0 { return "\(nanos / 1_000_000)ms" }
        if nanos % 1000 == 0 { return "\(nanos / 1000)us" }
        // No unit is finer than us, and `125.0000001s` parses to whole
        // nanoseconds: write seconds with nine decimals, which parse back to
        // the same nanosecond (a day of them is far inside a Double's 53 bits).
        let magnitude = nanos.magnitude
        let fraction = String(magnitude % 1_000_000_000)
        return "\(nanos < 0 ? "-" : "")\(magnitude / 1_000_000_000)."
            + String(repeating: "0", count: 9 - fraction.count) + fraction + "s"
    }

    /// A YAML double-quoted scalar: always safe, whatever the name holds.
    private func quoted(_ text: String) -> String {
        var out = "\""
        for scalar in text.unicodeScalars {
            switch scalar {
            case "\"": out += "\\\""
            case "\\": out += "\\\\"
            case _ where !Self.isPrintable(scalar):
                let (escape, digits) = scalar.value <= 0xFF ? ("x", 2) : scalar.value <= 0xFFFF ? ("u", 4) : ("U", 8)
                let hex = String(scalar.value, radix: 16)
                out += "\\" + escape + String(repeating: "0", count: digits - hex.count) + hex
            default: out.unicodeScalars.append(scalar)
            }
        }
        return out + "\""
    }

    /// True for what a YAML reader takes as it is inside a double-quoted
    /// scalar: YAML's printable set (libyaml refuses the rest, C1 controls
    /// and U+FFFE among them), less the line breaks it folds into spaces
    /// (NEL, LS, PS) and the byte order mark.
    private static func isPrintable(_ c: Unicode.Scalar) -> Bool {
        switch c.value {
        case 0x20...0x7E, 0xA0...0x2027, 0x202A...0xD7FF, 0xE000...0xFEFE, 0xFF00...0xFFFD, 0x10000...0x10FFFF:
            return true
        default:
            return false
        }
    }
}
