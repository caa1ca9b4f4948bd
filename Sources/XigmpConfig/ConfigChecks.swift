import IGMPProxy
import IGMPMembership
import IGMPWire

/// Checks of single values that need no system access.
enum ConfigChecks {
    /// Longest interface name: IFNAMSIZ (16) less the NUL.
    static let maxInterfaceNameBytes = 15
    /// Longest UNIX socket path: `sun_path` (108 bytes) less the NUL.
    static let maxSocketPathBytes = 107

    /// Why `name` cannot be a Linux interface name (the kernel's
    /// `dev_valid_name`: 1–15 bytes, not `.` or `..`, no `/`, `:` or
    /// white space), as `what is wrong; what is expected`; nil when it can.
    static func interfaceNameProblem(_ name: String) -> String? {
        let expected = "expected a Linux interface name: 1 to \(maxInterfaceNameBytes) bytes, without '/', ':' or spaces"
        if name.isEmpty { return "the name is empty; \(expected)" }
        if name.utf8.count > maxInterfaceNameBytes {
            return "'\(name)' is \(name.utf8.count) bytes long; \(expected)"
        }
        if name == "." || name == ".." { return "'\(name)' is not a valid interface name; \(expected)" }
        let bad = name.unicodeScalars.first {
            $0 == "/" || $0 == ":" || $0.properties.isWhitespace || $0.value < 0x20 || $0.value == 0x7F
        }
        if let bad {
            let shown = bad.properties.isWhitespace || bad.value < 0x20 || bad.value == 0x7F
                ? "a space or control character" : "'\(bad)'"
            return "'\(name)' contains \(shown); \(expected)"
        }
        return nil
    }

    /// Why `address` cannot be a querier's unicast address (e.g. "is a
    /// multicast address"), or nil when it can.
    static func unicastProblem(_ address: IPv4Address) -> String? {
        let first = address.rawValue >> 24
        if address.rawValue == 0xFFFF_FFFF { return "is the limited broadcast address" }
        if address.isMulticast { return "is a multicast address" }
        if first >= 240 { return "is in the reserved block 240.0.0.0/4" }
        if first == 0 { return "is in 0.0.0.0/8 ('this network')" }
        if first == 127 { return "is a loopback address" }
        return nil
    }

    /// Why `path` cannot be the control socket's path, as
    /// `what is wrong; what is expected`; nil when it can.
    static func socketPathProblem(_ path: String) -> String? {
        let example = "e.g. \(DaemonConfig.defaultControlSocket)"
        if !path.hasPrefix("/") {
            return "'\(path)' is not an absolute path; expected a path starting with '/', \(example)"
        }
        if path.hasSuffix("/") {
            return "'\(path)' names a directory; expected the socket's file path, \(example)"
        }
        if path.utf8.contains(0) {
            return "the path contains a NUL byte; expected a plain absolute path, \(example)"
        }
        if path.utf8.count > maxSocketPathBytes {
            return "the path is \(path.utf8.count) bytes long; expected at most \(maxSocketPathBytes) (the limit of a UNIX socket address)"
        }
        return nil
    }
}

extension ConfigParser {
    /// `activeOutside: alt` needs an alt interface.
    mutating func checkActiveOutside(_ active: DaemonConfig.OutsideInterface,
                                     _ interfaces: DaemonConfig.Interfaces) {
        guard active != .primary, interfaces.alt == nil else { return }
        error(locations.line(of: "activeOutside"), "activeOutside",
              "\(active.rawValue) needs interfaces.alt, which is not set; expected interfaces.alt (e.g. alt: gre0) or activeOutside: primary")
    }

    /// One interface cannot play two roles: the proxy would hear its own
    /// output as input and the roles' rules (queries only from outside,
    /// reports only from inside) would contradict each other.
    mutating func checkDistinct(_ roles: [(role: String, name: String?)]) {
        var seen: [(role: String, name: String, line: Int?)] = []
        for (role, name) in roles {
            guard let name else { continue }
            let line = locations.line(of: "interfaces.\(role)")
            if let earlier = seen.first(where: { $0.name == name }) {
                // Report at whichever of the two keys is written later.
                let (here, other) = (earlier.line ?? 0) <= (line ?? 0)
                    ? ((role, line), earlier.role) : ((earlier.role, earlier.line), role)
                error(here.1, "interfaces.\(here.0)",
                      "'\(name)' is also interfaces.\(other); expected a different interface for each role")
            }
            seen.append((role, name, line))
        }
    }

    /// Modes that do nothing, alone or together. Under `membership: track`
    /// xigmp has its own work whatever the modes (the inside's querier and
    /// table, the reports upstream), so none needs to be on; a nil
    /// `membership` (misspelt, reported already) is judged as passthrough.
    mutating func checkModes(_ modes: DaemonConfig.Modes, membership: MembershipTracking?, line: Int) {
        if membership == .track { return }
        // unicastMembershipResponse only changes where client-sent messages
        // go; on its own it sends nothing.
        let acting = modes.enabledNames.filter { $0 != "unicastMembershipResponse" }
        if acting.isEmpty {
            let why = modes.unicastMembershipResponse
                ? "only unicastMembershipResponse is true, which changes where client reports go but sends none, so xigmp would have nothing to do; expected membershipReportToNetwork: true as well, another mode, or membership: track"
                : "no mode is true, so xigmp would have nothing to do; expected at least one of "
                  + Suggestion.list(DaemonConfig.Modes.names) + " set to true, or membership: track (which needs none)"
            error(line, "modes", why)
            return
        }
        if modes.unicastMembershipResponse && !modes.membershipReportToNetwork && !modes.leaveToNetwork {
            warn(locations.line(of: "modes.unicastMembershipResponse") ?? line, "modes.unicastMembershipResponse",
                 "has no effect while membershipReportToNetwork and leaveToNetwork are false: it only changes where messages sent through the client API go")
        }
    }

    /// `membership: track` against the forwarding modes and upstream queriers;
    /// queriers on interfaces that are not configured.
    mutating func checkMembership(_ membership: MembershipTracking, modes: DaemonConfig.Modes,
                                  queriers: [DaemonConfig.QuerierInterface: MembershipConfiguration],
                                  interfaces: DaemonConfig.Interfaces?) {
        if membership == .track {
            for mode in [ProxyMode.proxyInToOut, .proxyOutToIn, .unicastProxyInToOut] where modes[mode] {
                let key = "modes.\(mode.rawValue)"
                error(locations.line(of: key) ?? locations.line(of: "membership"), key,
                      "must be false with membership: track: xigmp reports upstream from its membership table, and forwarding the hosts' messages as well would report everything twice (use membership: passthrough to forward)")
            }
            // By where it was written: a querier with a bad value is still one too many.
            for role in [DaemonConfig.QuerierInterface.outside, .alt]
            where queriers[role] != nil || locations.line(of: "querier.\(role.rawValue)") != nil {
                error(locations.line(of: "querier.\(role.rawValue)"), "querier.\(role.rawValue)",
                      "not allowed with membership: track: xigmp is a host on the upstream (RFC 4605 §4), never its querier")
            }
        }
        if queriers[.alt] != nil, let interfaces, interfaces.alt == nil {
            error(locations.line(of: "querier.alt"), "querier.alt", "there is no interfaces.alt to run it on")
        }
    }
}
