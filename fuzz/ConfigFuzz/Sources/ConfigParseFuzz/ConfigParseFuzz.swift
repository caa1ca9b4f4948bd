// libFuzzer entry point for the daemon's YAML configuration parser
// (`DaemonConfig.parse(text:fileName:)`, what `xigmp run --config` reads).
// Built by fuzz/run.sh through fuzz/ConfigFuzz/Package.swift.
//
// Every input is read as UTF-8 (invalid bytes become U+FFFD, as a file would
// if `load(path:)` did not refuse it first) and parsed. A refused file must
// come back as issues that print as `FILE[:LINE]: …`. An accepted one goes
// through what the daemon and `xigmp` do with a config, each a place that
// could trap: the YAML rendering must parse back to an equal config, the
// proxy policy must accept it and run its first timers, the static routes
// become a forwarding plan, the rate limit must fit the XDP map's u32s, and
// names and paths must fit the kernel's buffers. A broken promise traps, so
// libFuzzer reports it like a crash.

import IGMPProxy
import IGMPWire
import XigmpConfig

@_cdecl("LLVMFuzzerTestOneInput")
public func configParseFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let text = String(decoding: UnsafeBufferPointer(start: data, count: size), as: UTF8.self)
    exercise(text)
    return 0
}

let fileName = "fuzz.yaml"

/// `precondition`, but the message is printed in -O builds too.
func require(_ condition: @autoclosure () -> Bool, _ message: @autoclosure () -> String) {
    if !condition() { fail(message()) }
}

func fail(_ message: String) -> Never { fatalError(message) }

func exercise(_ text: String) {
    let loaded: LoadedConfig
    do {
        loaded = try DaemonConfig.parse(text: text, fileName: fileName)
    } catch {
        refused(error)
        return
    }
    accepted(loaded)
}

/// What `xigmp run` prints for a refused file.
func refused(_ error: ConfigError) {
    require(!error.issues.isEmpty, "a ConfigError without issues")
    for issue in error.issues + error.warnings {
        require(issue.description.hasPrefix(fileName), "an issue not labelled with the file")
        require(!issue.message.isEmpty, "an issue without a message")
        if let line = issue.line { require(line >= 1, "line \(line)") }
    }
    let lines = error.description.split(omittingEmptySubsequences: false, whereSeparator: \.isNewline)
    // "One line per issue, at most `shownIssues`, then how many more."
    require(lines.count == min(error.issues.count, ConfigError.shownIssues + 1),
            "\(lines.count) description lines for \(error.issues.count) issues:\n\(error.description)")
}

/// What the daemon does with an accepted file.
func accepted(_ loaded: LoadedConfig) {
    let c = loaded.config
    for warning in loaded.warnings {
        require(warning.description.hasPrefix(fileName), "a warning not labelled with the file")
    }
    for keyPath in loaded.locations.keyPaths {
        require((loaded.line(of: keyPath) ?? 0) >= 1, "key \(keyPath) without a line")
        _ = loaded.issue(at: keyPath + ".x", "probe").description
    }

    // `DaemonConfig.yaml` promises a text that parses back to an equal value.
    let rendered = c.yaml
    let again: LoadedConfig
    do {
        again = try DaemonConfig.parse(text: rendered, fileName: fileName)
    } catch {
        fail("the rendered config does not parse:\n\(error)\n--- rendered:\n\(rendered)")
    }
    require(again.config == c, "the rendered config parses to another config:\n\(rendered)--- read back:\n\(again.config.yaml)")
    require(again.config.yaml == rendered, "rendering is not stable")

    // Interface names go to if_nametoindex and SIOCGIFADDR (IFNAMSIZ), the
    // control socket path into sun_path (108 bytes with the NUL).
    var names = [c.interfaces.outside] + c.interfaces.insides
    if let alt = c.interfaces.alt { names.append(alt) }
    for route in c.routes { names += route.outgoing + (route.incoming.map { [$0] } ?? []) }
    for name in names {
        require((1...15).contains(name.utf8.count) && !name.utf8.contains(0), "interface name '\(name)'")
    }
    require(c.controlSocket.utf8.count <= 107 && !c.controlSocket.utf8.contains(0), "control socket path")
    require(c.outsideInterface(c.activeOutside) != nil, "the active outside has no interface")
    if let listen = c.metricsListen {
        require(listen.port != 0 && ListenAddress(listen.description) == listen, "metrics.listen round trip")
    }

    // ProxyRuntime: `setRateLimit(perSecond: UInt32(rate.perSecond), burst: UInt32(rate.burst))`.
    if let rate = c.reportRateLimit {
        require(UInt32(exactly: rate.perSecond) != nil && UInt32(exactly: rate.burst) != nil
                     && rate.perSecond >= 1 && rate.burst >= 1, "rate limit \(rate)")
    }
    // EgressFilter keys: a prefix length of 4…32 inside 224.0.0.0/4.
    for prefix in c.egressAllow ?? [] {
        require((4...32).contains(prefix.length) && prefix.address.isMulticast
                     && IPv4Prefix(prefix.description) == prefix, "egress prefix \(prefix)")
    }

    runPolicy(c)

    // ForwardingManager: the static routes' plan, applied to an empty one.
    let plan = ForwardingPlan(memberships: [:], incoming: c.interfaces.outside,
                              statics: c.routes.map { ($0.source, $0.group, $0.incoming, $0.outgoing) })
    let changes = ForwardingPlan().changes(to: plan)
    require(changes.remove.isEmpty && changes.set.count == plan.routes.count, "forwarding plan changes")
    for route in c.routes { _ = plan.restricted(to: route.group) }
}

/// ProxyRuntime.init: the policy from the config, with made-up interface
/// addresses, then its first timers (startup queries, report retransmissions).
func runPolicy(_ c: DaemonConfig) {
    let outside = InterfaceAddressing(address: IPv4Address(10, 0, 0, 2), prefixLength: 24,
                                      mac: MACAddress(0x02, 0, 0, 0, 0, 1))
    let alt = c.interfaces.alt.map { _ in InterfaceAddressing(address: IPv4Address(10, 1, 0, 2), prefixLength: 30) }
    let insides = c.interfaces.insides.indices.map {
        InterfaceAddressing(address: IPv4Address(172, 16, UInt8(truncatingIfNeeded: $0), 1), prefixLength: 24,
                            mac: MACAddress(0x02, 0, 0, 1, 0, UInt8(truncatingIfNeeded: $0)))
    }
    let routers = Dictionary(uniqueKeysWithValues: c.queriers.map { role, router -> (InterfaceRole, _) in
        switch role {
        case .inside: return (.inside, router)
        case .outside: return (.outside, router)
        case .alt: return (.alt, router)
        }
    })
    let configuration = ProxyConfiguration(
        modes: c.modes, outside: outside, alt: alt, inside: insides[0],
        additionalInsides: Array(insides.dropFirst()),
        activeOutside: c.activeOutside == .alt ? .alt : .primary,
        unicastFallback: c.unicastFallback,
        limits: ProxyLimits(maxSourcesPerRecord: c.limits.maxSourcesPerRecord),
        membership: c.membership, routers: routers, upstream: c.upstream)
    let start = ProxyTime(nanoseconds: 1_000_000_000_000)
    var policy: ProxyPolicy
    do {
        policy = try ProxyPolicy(configuration: configuration, startingAt: start, seed: 42)
    } catch {
        // The parser checks everything the policy does: an accepted file the
        // daemon then refuses has no line to point at.
        fail("the parser accepted a config the policy refuses: \(error)")
    }
    var actions = 0
    var now = start
    for _ in 0..<8 {
        guard let deadline = policy.nextDeadline else { break }
        now = max(deadline, now)
        policy.tick(at: now) { _ in actions += 1 }
        // The daemon's loop ticks while a deadline is due: one that stays
        // due after a tick would spin it.
        if let next = policy.nextDeadline { require(next > now, "a timer still due after tick(at:)") }
    }
    _ = policy.membership(at: now)
    _ = policy.upstreamMemberships(on: policy.activeOutside)
    if actions == Int.max { print("") }  // keep the work alive
}
