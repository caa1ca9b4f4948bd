import IGMPMembership
import IGMPProxy
import IGMPWire
import Yams

extension DaemonConfig {
    /// Parses and checks a configuration file's text.
    ///
    /// Pure: reads nothing but `text`. `fileName` only labels the issues.
    /// Every problem is collected before throwing, so one run shows them all.
    /// What needs the system (does the interface exist, is it Ethernet) is
    /// left to the caller, who can place its findings with
    /// ``LoadedConfig/issue(at:_:)``.
    ///
    /// - Throws: ``ConfigError`` listing every problem, in file order.
    public static func parse(text: String, fileName: String) throws(ConfigError) -> LoadedConfig {
        var parser = ConfigParser(fileName: fileName)
        return try parser.run(text)
    }
}

/// Walks the YAML tree, collecting issues instead of stopping at the first.
struct ConfigParser {
    let fileName: String
    /// Errors and warnings with the column they were found at, which
    /// orders issues on one line (only syntax errors print a column).
    var errors: [(issue: ConfigIssue, column: Int)] = []
    var warnings: [(issue: ConfigIssue, column: Int)] = []
    var locations: SourceLocations
    /// Original names of the keys composition renamed (see ``YAMLComposition``).
    var shadowed: [String] = []

    init(fileName: String) {
        self.fileName = fileName
        locations = SourceLocations(fileName: fileName)
    }

    /// An error at `line`; without a column it sorts after the errors found
    /// at a key or value of that line (it is derived from them).
    mutating func error(_ line: Int?, _ keyPath: String?, _ message: String, column: Int = .max) {
        errors.append((ConfigIssue(fileName: fileName, line: line, keyPath: keyPath, message: message), column))
    }

    /// An error about `entry`'s value, placed at the value.
    mutating func error(valueOf entry: Entry, _ message: String) {
        error(entry.valueLine, entry.keyPath, message, column: entry.valueColumn)
    }

    /// An error about `entry`'s key, placed at the key.
    mutating func error(keyOf entry: Entry, _ message: String) {
        error(entry.line, entry.keyPath, message, column: entry.column)
    }

    mutating func warn(_ line: Int?, _ keyPath: String?, _ message: String) {
        warnings.append((ConfigIssue(fileName: fileName, line: line, keyPath: keyPath, message: message), 0))
    }

    /// `found` sorted by line, then column, then the order found.
    static func inFileOrder(_ found: [(issue: ConfigIssue, column: Int)]) -> [ConfigIssue] {
        found.enumerated().sorted { a, b in
            let (x, y) = (a.element, b.element)
            if (x.issue.line ?? 0) != (y.issue.line ?? 0) { return (x.issue.line ?? 0) < (y.issue.line ?? 0) }
            if x.column != y.column { return x.column < y.column }
            return a.offset < b.offset
        }.map(\.element.issue)
    }

    /// Takes `name` from `section`, recording where it was written.
    mutating func take(_ name: String, from section: inout Section) -> Entry? {
        guard let entry = section.take(name) else { return nil }
        locations.record(entry.keyPath, line: entry.line)
        return entry
    }

    mutating func run(_ text: String) throws(ConfigError) -> LoadedConfig {
        let root: Node?
        switch YAMLComposition.compose(text, fileName: fileName) {
        case .failure(let issue):
            throw ConfigError(issues: [issue])
        case .document(let node, let shadowed):
            root = node
            self.shadowed = shadowed
        }
        let config: DaemonConfig?
        if let root, !root.isNull {
            if case .mapping(let top) = root {
                config = read(top)
            } else {
                error(root.mark?.line ?? 1, nil, "the top level is \(root.shortDescription); expected a mapping of keys such as interfaces: and modes:")
                config = nil
            }
        } else {
            error(1, nil, "the file has no settings; expected a YAML mapping with at least interfaces and modes")
            config = nil
        }
        guard errors.isEmpty, let config else {
            throw ConfigError(issues: Self.inFileOrder(errors), warnings: Self.inFileOrder(warnings))
        }
        return LoadedConfig(config: config, warnings: Self.inFileOrder(warnings), locations: locations)
    }

    /// The whole file. A wrong value is reported once and read as nil, and
    /// checks that depend on it are skipped.
    mutating func read(_ top: Node.Mapping) -> DaemonConfig? {
        var section = section(top, path: "", line: top.mark?.line ?? 1)

        let interfaces: DaemonConfig.Interfaces?
        if let entry = take("interfaces", from: &section) {
            interfaces = readInterfaces(entry)
        } else {
            error(section.line, "interfaces", "required key is missing; expected the interfaces by role, e.g. interfaces: {outside: enp1s0, inside: dockerbr}")
            interfaces = nil
        }
        let activeOutside = setting("activeOutside", in: &section) {
            $0.choice($1, DaemonConfig.OutsideInterface.self)
        }.or(.primary)
        let failbackHoldDown = setting("failbackHoldDown", in: &section) { $0.duration($1) }.or(.seconds(10))
        let datapath = setting("datapath", in: &section) {
            $0.choice($1, DaemonConfig.Datapath.self)
        }.or(.auto)
        let xdpMode = setting("xdpMode", in: &section) {
            $0.choice($1, DaemonConfig.XDPMode.self)
        }.or(.auto)
        let modesEntry = take("modes", from: &section)
        // Left out: every mode off (refused as "nothing to do" unless
        // membership: track); wrong: nil.
        let modes = modesEntry.map { readModes($0) } ?? DaemonConfig.Modes()
        let unicastFallback = setting("unicastFallback", in: &section) { $0.readFallback($1) }
        let metrics = mappingSetting("metrics", in: &section) { $0.readMetrics($1) }
        let controlSocket = mappingSetting("control", in: &section) { $0.readControl($1) }
            .or(DaemonConfig.defaultControlSocket)
        let logLevel = setting("logLevel", in: &section) {
            $0.choice($1, DaemonConfig.LogLevel.self)
        }.or(.info)
        let membership = setting("membership", in: &section) {
            $0.choice($1, MembershipTracking.self)
        }.or(.passthrough)
        let limitSettings = mappingSetting("limits", in: &section) { $0.readLimits($1) }.or((MembershipLimits(), nil))
        let limits = limitSettings?.0
        let querierEntry = take("querier", from: &section)
        let querierSettings: ([DaemonConfig.QuerierInterface: MembershipConfiguration],
                               [DaemonConfig.QuerierInterface: DaemonConfig.IsolatedHosts])?? = querierEntry.map { entry in
            limits.map { readQueriers(entry, limits: $0) } ?? nil
        } ?? .some(([:], [:]))
        let queriers: [DaemonConfig.QuerierInterface: MembershipConfiguration]?? = querierSettings.map { $0.map(\.0) }
        let upstream = mappingSetting("upstream", in: &section) { $0.readUpstream($1) }.or(UpstreamConfiguration())
        let egress = mappingSetting("egressFilter", in: &section) { $0.readEgressFilter($1) }
        let forwarding = mappingSetting("forwarding", in: &section) { $0.readForwarding($1) }.or(DaemonConfig.Forwarding())
        let routes = take("routes", from: &section).map { readRoutes($0) } ?? .some([])
        finish(section)
        if routes.map({ !$0.isEmpty }) ?? true, let line = locations.line(of: "routes"), forwarding?.mode == .off {
            error(line, "routes", "static routes need forwarding: {mode: xdp} or {mode: kernel}; forwarding is off")
        }

        if let interfaces, let activeOutside {
            checkActiveOutside(activeOutside, interfaces)
        }
        if let modes {
            checkModes(modes, membership: membership, line: modesEntry?.line ?? section.line)
            if case .valid = unicastFallback, !modes.unicastMembershipResponse {
                warn(locations.line(of: "unicastFallback"), "unicastFallback",
                     "not used: only modes.unicastMembershipResponse sends to it, and it is false")
            }
        }

        if let membership, let modes {
            checkMembership(membership, modes: modes, queriers: (queriers ?? nil) ?? [:], interfaces: interfaces)
        }

        guard let interfaces, let activeOutside, let failbackHoldDown, let datapath, let xdpMode, let modes, let logLevel,
              let controlSocket, case .some(let fallback) = unicastFallback.optional,
              case .some(let metricsListen) = metrics.optional,
              let membership, let limits, let queriers = queriers ?? nil, let upstream,
              case .some(let egressAllow) = egress.optional, let forwarding, let routes else { return nil }
        var routers = queriers
        if membership == .track && routers[.inside] == nil {
            routers[.inside] = MembershipConfiguration(limits: limits)
        }
        var config = DaemonConfig(interfaces: interfaces, activeOutside: activeOutside,
                                  datapath: datapath, xdpMode: xdpMode, modes: modes, unicastFallback: fallback,
                                  metricsListen: metricsListen, controlSocket: controlSocket,
                                  logLevel: logLevel, membership: membership, queriers: routers,
                                  upstream: upstream, limits: limits, reportRateLimit: limitSettings?.1,
                                  egressAllow: egressAllow, forwarding: forwarding, routes: routes)
        config.failbackHoldDown = failbackHoldDown
        config.isolatedHosts = (querierSettings ?? nil)?.1 ?? [:]
        return config
    }

    /// Reads the optional scalar key `name` with `read`; written empty
    /// (`key:` or `key: ~`) it counts as left out.
    mutating func setting<Value>(_ name: String, in section: inout Section,
                                 _ read: (inout ConfigParser, Entry) -> Value?) -> Setting<Value> {
        guard let entry = take(name, from: &section), !entry.value.isNull else { return .absent }
        return read(&self, entry).map(Setting.valid) ?? .invalid
    }

    /// Reads the optional mapping key `name` with `read`.
    mutating func mappingSetting<Value>(_ name: String, in section: inout Section,
                                        _ read: (inout ConfigParser, Entry) -> Value?) -> Setting<Value> {
        guard let entry = take(name, from: &section) else { return .absent }
        return read(&self, entry).map(Setting.valid) ?? .invalid
    }

    mutating func readInterfaces(_ entry: Entry) -> DaemonConfig.Interfaces? {
        guard let mapping = mapping(entry, holding: "interface names (outside, alt, inside)")
        else { return nil }
        var section = section(mapping, path: "interfaces", line: entry.line)
        let outside = interfaceName("outside", in: &section, role: "outside", example: "enp1s0")
        let alt = interfaceName("alt", in: &section, role: "alternative outside", example: "gre0")
        let inside = setting("inside", in: &section) { parser, entry in
            parser.interfaceNames(entry, key: "interfaces.inside",
                                  what: "the inside interface's name or glob, e.g. inside: docker0, or a list of them, e.g. inside: [docker0, \"br-*\"]")
        }
        let exclude = setting("exclude", in: &section) { parser, entry in
            parser.interfaceNames(entry, key: "interfaces.exclude", what: "names or globs never to take, e.g. exclude: [\"veth*\"]")
        }.or([])
        let required = setting("required", in: &section) { parser, entry in
            parser.interfaceNames(entry, key: "interfaces.required", what: "names that must exist at start, e.g. required: [enp1s0]")
        }.or([])
        finish(section)
        if outside.isAbsent {
            error(entry.line, "interfaces.outside", "required key is missing; expected the outside interface's name, e.g. outside: enp1s0")
        }
        if inside.isAbsent {
            error(entry.line, "interfaces.inside", "required key is missing; expected the inside interface's name, e.g. inside: dockerbr (or a list, inside: [dockerbr, vlan20])")
        }
        var named: [(role: String, name: String?)] = [("outside", outside.value), ("alt", alt.value)]
        for name in inside.value ?? [] { named.append(("inside", name)) }
        checkDistinct(named)
        if let required, case .valid(let insideNames) = inside {
            let patterns = [outside.value, alt.value].compactMap { $0 } + insideNames
            for name in required where !patterns.contains(where: { InterfacePattern($0).matches(name) }) {
                error(locations.line(of: "interfaces.required") ?? entry.line, "interfaces.required",
                      "'\(name)' matches no role (outside, alt or inside); expected names the roles take")
            }
        }
        guard case .valid(let outsideName) = outside, case .valid(let insideNames) = inside,
              case .some(let altName) = alt.optional, let exclude, let required else { return nil }
        return DaemonConfig.Interfaces(outside: outsideName, alt: altName, insides: insideNames,
                                       exclude: exclude, required: required)
    }

    /// One name (or glob) or a non-empty list of distinct ones.
    mutating func interfaceNames(_ entry: Entry, key: String, what: String) -> [String]? {
        guard case .sequence(let items) = entry.value else {
            guard let text = text(entry, what) else { return nil }
            if let problem = ConfigChecks.interfaceNameProblem(text) {
                error(valueOf: entry, problem)
                return nil
            }
            return [text]
        }
        if items.isEmpty {
            error(valueOf: entry, "the list is empty; expected \(what)")
            return nil
        }
        var names: [String] = []
        var valid = true
        for item in items {
            let line = item.mark?.line ?? entry.line
            guard case .scalar(let scalar) = item, !item.isNull else {
                error(line, key, "expected an interface name, got \(item.shortDescription)")
                valid = false
                continue
            }
            let name = scalar.string
            if let problem = ConfigChecks.interfaceNameProblem(name) {
                error(line, key, problem)
                valid = false
            } else if names.contains(name) {
                error(line, key, "'\(name)' is listed twice; expected each once")
                valid = false
            } else {
                names.append(name)
            }
        }
        return valid ? names : nil
    }

    mutating func interfaceName(_ name: String, in section: inout Section, role: String,
                                example: String) -> Setting<String> {
        setting(name, in: &section) { parser, entry in
            guard let text = parser.text(entry, "the \(role) interface's name, e.g. \(example)") else { return nil }
            if let problem = ConfigChecks.interfaceNameProblem(text) {
                parser.error(valueOf: entry, problem)
                return nil
            }
            return text
        }
    }

    mutating func readModes(_ entry: Entry) -> DaemonConfig.Modes? {
        guard let mapping = mapping(entry, holding: "modes set to true or false") else { return nil }
        var section = section(mapping, path: "modes", line: entry.line)
        var valid = true
        func read(_ name: String, _ parser: inout ConfigParser) -> Bool {
            guard let entry = parser.take(name, from: &section) else { return false }
            guard let value = parser.flag(entry) else { valid = false; return false }
            return value
        }
        let modes = DaemonConfig.Modes(
            proxyOutToIn: read("proxyOutToIn", &self),
            proxyInToOut: read("proxyInToOut", &self),
            unicastProxyInToOut: read("unicastProxyInToOut", &self),
            queryNotify: read("queryNotify", &self),
            membershipReportFromNetwork: read("membershipReportFromNetwork", &self),
            membershipReportToNetwork: read("membershipReportToNetwork", &self),
            unicastMembershipResponse: read("unicastMembershipResponse", &self),
            leaveToNetwork: read("leaveToNetwork", &self))
        finish(section)
        return valid ? modes : nil
    }

    mutating func readFallback(_ entry: Entry) -> IPv4Address? {
        guard let text = text(entry, "the upstream querier's IPv4 address, e.g. 10.99.0.1") else { return nil }
        guard let address = IPv4Address(text) else {
            error(valueOf: entry, "'\(text)' is not an IPv4 address; expected a dotted quad such as 10.99.0.1")
            return nil
        }
        if let problem = ConfigChecks.unicastProblem(address) {
            error(valueOf: entry, "\(address) \(problem); expected the unicast address of the upstream querier, e.g. 10.99.0.1")
            return nil
        }
        return address
    }

    mutating func readMetrics(_ entry: Entry) -> ListenAddress? {
        guard let mapping = mapping(entry, holding: "endpoint settings (listen)") else { return nil }
        var section = section(mapping, path: "metrics", line: entry.line)
        let listen = setting("listen", in: &section) { parser, entry -> ListenAddress? in
            guard let text = parser.text(entry, "PORT, :PORT or IPV4:PORT, e.g. 127.0.0.1:9740") else { return nil }
            switch ListenAddress.parse(text) {
            case .success(let address): return address
            case .failure(let problem):
                parser.error(valueOf: entry, problem.message)
                return nil
            }
        }
        finish(section)
        if listen.isAbsent {
            error(entry.line, "metrics.listen", "required when metrics is given; expected PORT, :PORT or IPV4:PORT, e.g. listen: 9740 (leave metrics out to keep the endpoint off)")
        }
        return listen.value
    }

    mutating func readControl(_ entry: Entry) -> String? {
        guard let mapping = mapping(entry, holding: "control socket settings (socket)") else { return nil }
        var section = section(mapping, path: "control", line: entry.line)
        let socket = setting("socket", in: &section) { parser, entry -> String? in
            guard let path = parser.text(entry, "an absolute path such as \(DaemonConfig.defaultControlSocket)") else { return nil }
            if let problem = ConfigChecks.socketPathProblem(path) {
                parser.error(valueOf: entry, problem)
                return nil
            }
            return path
        }
        finish(section)
        return socket.or(DaemonConfig.defaultControlSocket)
    }
}

/// A setting as read: left out, good, or wrong (and already reported).
enum Setting<Value> {
    case absent, valid(Value), invalid

    /// The value, `fallback` when left out, nil when wrong.
    func or(_ fallback: Value) -> Value? {
        switch self {
        case .absent: return fallback
        case .valid(let value): return value
        case .invalid: return nil
        }
    }

    /// `.some(nil)` when left out, `.some(value)` when good, nil when wrong.
    var optional: Value?? {
        switch self {
        case .absent: return .some(nil)
        case .valid(let value): return .some(value)
        case .invalid: return nil
        }
    }

    /// The value when good.
    var value: Value? {
        if case .valid(let value) = self { return value }
        return nil
    }

    var isAbsent: Bool {
        if case .absent = self { return true }
        return false
    }
}
