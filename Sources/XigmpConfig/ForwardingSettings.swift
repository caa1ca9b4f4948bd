import IGMPWire

extension DaemonConfig {
    /// How multicast data is forwarded (YAML `forwarding`).
    public struct Forwarding: Sendable, Hashable {
        /// Which datapath forwards (YAML `forwarding.mode`).
        public var mode: Mode
        /// What happens to multicast data no route matches (YAML `forwarding.unmatched`).
        public var unmatched: Unmatched
        /// The groups a join may forward (YAML `forwarding.groups`); nil:
        /// every group. A join for another group is still tracked and
        /// reported upstream, but gets no forwarding entry, provisional or
        /// real. Static routes are not filtered.
        public var groups: [IPv4Prefix]?

        /// Creates settings; the defaults are the YAML file's.
        public init(mode: Mode = .off, unmatched: Unmatched = .pass, groups: [IPv4Prefix]? = nil) {
            self.mode = mode
            self.unmatched = unmatched
            self.groups = groups
        }

        /// Whether a join for `group` may be forwarded.
        public func allows(_ group: IPv4Address) -> Bool {
            groups.map { $0.contains { $0.contains(group) } } ?? true
        }

        /// `forwarding.mode`.
        public enum Mode: String, Sendable, CaseIterable {
            /// XDP on the outside where the egress can take redirected frames,
            /// the kernel's multicast routing for the rest.
            case xdp
            /// The kernel's multicast routing (MFC) only.
            case kernel
            /// No forwarding (IGMP only).
            case off
        }

        /// `forwarding.unmatched`.
        public enum Unmatched: String, Sendable, CaseIterable {
            /// To the kernel's stack, as if xigmp were not there.
            case pass
            /// Dropped in XDP.
            case drop
        }
    }

    /// A static route (YAML `routes` items), like SMCRoute's `mroute`.
    public struct StaticRoute: Sendable, Hashable, CustomStringConvertible {
        /// The group.
        public var group: IPv4Address
        /// The source; nil for any source, (*,G).
        public var source: IPv4Address?
        /// The incoming interface; nil for the active outside interface.
        public var incoming: String?
        /// The outgoing interfaces.
        public var outgoing: [String]

        /// Creates a route.
        public init(group: IPv4Address, source: IPv4Address? = nil, incoming: String? = nil, outgoing: [String]) {
            self.group = group
            self.source = source
            self.incoming = incoming
            self.outgoing = outgoing
        }

        /// `(S,G) in → outs`.
        public var description: String {
            "(\(source?.description ?? "*"),\(group)) \(incoming ?? "outside") → \(outgoing.joined(separator: ","))"
        }
    }
}

extension ConfigParser {
    /// `forwarding:`.
    mutating func readForwarding(_ entry: Entry) -> DaemonConfig.Forwarding? {
        guard let mapping = mapping(entry, holding: "forwarding settings (mode, unmatched, groups)") else { return nil }
        var section = section(mapping, path: "forwarding", line: entry.line)
        let mode = setting("mode", in: &section) { $0.choice($1, DaemonConfig.Forwarding.Mode.self) }.or(.off)
        let unmatched = setting("unmatched", in: &section) { $0.choice($1, DaemonConfig.Forwarding.Unmatched.self) }.or(.pass)
        var groups: [IPv4Prefix]??
        if let list = take("groups", from: &section) {
            groups = groupPrefixes(list, key: "forwarding.groups").map { .some($0) }
        } else {
            groups = .some(nil)
        }
        finish(section)
        guard let mode, let unmatched, let groups else { return nil }
        return DaemonConfig.Forwarding(mode: mode, unmatched: unmatched, groups: groups)
    }

    /// `routes:`: a list of `{group, source, in, out}`.
    mutating func readRoutes(_ entry: Entry) -> [DaemonConfig.StaticRoute]? {
        if entry.value.isNull { return [] }
        guard case .sequence(let items) = entry.value else {
            error(valueOf: entry, "expected a list of routes, e.g. routes: [{group: 232.1.1.1, source: 10.0.0.5, out: [dockerbr]}], got \(entry.value.shortDescription)")
            return nil
        }
        var routes: [DaemonConfig.StaticRoute] = []
        var valid = true
        for (index, item) in items.enumerated() {
            let line = item.mark?.line ?? entry.line
            let path = "routes[\(index)]"
            guard case .mapping(let mapping) = item else {
                error(line, path, "expected a route such as {group: 232.1.1.1, out: [dockerbr]}, got \(item.shortDescription)")
                valid = false
                continue
            }
            var section = section(mapping, path: path, line: line)
            let group = setting("group", in: &section) { parser, e -> IPv4Address? in
                guard let text = parser.text(e, "a multicast group such as 232.1.1.1") else { return nil }
                guard let g = IPv4Address(text), g.isMulticast, !g.isLinkLocalMulticast else {
                    parser.error(valueOf: e, "'\(text)' is not a routable multicast group; expected an address in 224.0.1.0–239.255.255.255, e.g. 232.1.1.1")
                    return nil
                }
                return g
            }
            let source = setting("source", in: &section) { parser, e -> IPv4Address? in
                guard let text = parser.text(e, "the source's unicast address, e.g. 10.0.0.5") else { return nil }
                guard let s = IPv4Address(text), ConfigChecks.unicastProblem(s) == nil else {
                    parser.error(valueOf: e, "'\(text)' is not a unicast source address; expected e.g. 10.0.0.5 (leave source out for any source)")
                    return nil
                }
                return s
            }
            let incoming = setting("in", in: &section) { parser, e -> String? in
                guard let name = parser.text(e, "an interface name") else { return nil }
                if let problem = ConfigChecks.interfaceNameProblem(name) { parser.error(valueOf: e, problem); return nil }
                return name
            }
            var outs: [String]?
            if let out = take("out", from: &section) {
                switch out.value {
                case .sequence(let names):
                    var list: [String] = []
                    for n in names {
                        guard case .scalar(let scalar) = n, ConfigChecks.interfaceNameProblem(scalar.string) == nil else {
                            error(n.mark?.line ?? out.line, "\(path).out", "expected interface names, got \(n.shortDescription)")
                            valid = false
                            continue
                        }
                        list.append(scalar.string)
                    }
                    if list.isEmpty && !names.isEmpty { outs = nil } else if list.isEmpty {
                        error(out.line, "\(path).out", "needs at least one interface")
                        valid = false
                    } else { outs = list }
                case .scalar(let scalar) where !out.value.isNull:
                    outs = [scalar.string]
                default:
                    error(valueOf: out, "expected a list of interface names, e.g. out: [dockerbr]")
                    valid = false
                }
            } else {
                error(line, "\(path).out", "required; expected the interfaces to forward to, e.g. out: [dockerbr]")
                valid = false
            }
            if group.isAbsent { error(line, "\(path).group", "required; expected the multicast group, e.g. group: 232.1.1.1") }
            finish(section)
            guard case .valid(let g) = group, case .some(let s) = source.optional, case .some(let i) = incoming.optional,
                  let outs else { valid = false; continue }
            if let i, outs.contains(i) {
                error(line, "\(path).out", "\(i) is the incoming interface; a route never forwards back where it came from")
                valid = false
                continue
            }
            routes.append(DaemonConfig.StaticRoute(group: g, source: s, incoming: i, outgoing: outs))
        }
        return valid ? routes : nil
    }
}
