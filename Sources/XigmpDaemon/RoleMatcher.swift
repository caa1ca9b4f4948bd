import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import XigmpConfig

/// Which kernel interface takes which role, from the configuration's names
/// and globs: a pure function of the kernel's view (and of what each upstream
/// role holds now), so the rules are tested without a kernel.
///
/// - `interfaces.exclude` and the loopback are never taken.
/// - A name written out beats a glob; between two globs of different roles
///   the upstream wins (outside, then alt, then inside), logged as a conflict.
/// - An interface enslaved to a bridge is never an inside of its own: the
///   bridge is (a `veth*` glob would otherwise hear every report twice).
/// - An interface without an IPv4 address cannot take a role yet: the proxy
///   sends from that address. It waits, shown as such.
/// - An upstream role takes one interface. A glob matching two usable ones
///   keeps the one the role holds, or takes none: a conflict, logged.
struct RoleMatcher: Sendable {
    enum Kind: String, Sendable, Hashable, CaseIterable {
        case outside, alt, inside
    }

    let outside: InterfacePattern
    let alt: InterfacePattern?
    let insides: [InterfacePattern]
    let exclude: [InterfacePattern]

    init(_ interfaces: DaemonConfig.Interfaces) {
        outside = InterfacePattern(interfaces.outside)
        alt = interfaces.alt.map(InterfacePattern.init)
        insides = interfaces.insides.map(InterfacePattern.init)
        exclude = interfaces.exclude.map(InterfacePattern.init)
    }

    struct Assignment: Equatable, Sendable {
        /// The interface each upstream role takes.
        var outside: UInt32?
        var alt: UInt32?
        /// The insides, by ifindex ascending.
        var insides: [UInt32] = []
        /// What each pattern without an interface waits for, in config order
        /// (`docker0`, `br-*`, `docker0 (no IPv4 address)`).
        var waiting: [String] = []
        /// Conflicts, one line each, naming the interfaces and the patterns.
        var conflicts: [String] = []
    }

    /// The role `name` matches, with whether by its literal name, and the
    /// other roles whose globs match too.
    func kind(of name: String) -> (kind: Kind, literal: Bool, also: [Kind])? {
        if name == "lo" || exclude.contains(where: { $0.matches(name) }) { return nil }
        let patterns: [(Kind, InterfacePattern)] = [(.outside, outside)] + (alt.map { [(.alt, $0)] } ?? [])
            + insides.map { (.inside, $0) }
        if let exact = patterns.first(where: { !$0.1.isGlob && $0.1.text == name }) {
            return (exact.0, true, [])
        }
        let matching = patterns.filter { $0.1.isGlob && $0.1.matches(name) }.map(\.0)
        guard let first = matching.first else { return nil }
        var also: [Kind] = []
        for k in matching.dropFirst() where k != first && !also.contains(k) { also.append(k) }
        return (first, false, also)
    }

    func assign(_ links: [UInt32: LinkState], holding: [Kind: UInt32] = [:]) -> Assignment {
        var result = Assignment()
        var candidates: [Kind: [LinkState]] = [:]
        var unaddressed: [Kind: [String]] = [:]
        for link in links.values.sorted(by: { $0.index < $1.index }) {
            guard let (kind, _, also) = self.kind(of: link.name) else { continue }
            if !also.isEmpty {
                result.conflicts.append("\(link.name) matches interfaces.\(kind.rawValue) and interfaces.\(also.map(\.rawValue).joined(separator: ", interfaces.")): taken as \(kind.rawValue) (name it in interfaces.exclude or write the names out to choose)")
            }
            if kind == .inside && link.master != nil { continue }
            guard !link.addresses.isEmpty else {
                unaddressed[kind, default: []].append(link.name)
                continue
            }
            candidates[kind, default: []].append(link)
        }
        for kind in [Kind.outside, .alt] {
            guard let pattern = kind == .outside ? outside : alt else { continue }
            let usable = candidates[kind] ?? []
            var taken: UInt32?
            if usable.count == 1 {
                taken = usable[0].index
            } else if usable.count > 1 {
                let held = holding[kind].flatMap { h in usable.first { $0.index == h } }
                taken = held?.index
                result.conflicts.append("interfaces.\(kind.rawValue) '\(pattern)' matches \(usable.map(\.name).joined(separator: " and ")): an outside role takes one interface; \(held.map { "keeping \($0.name)" } ?? "taking none") (narrow the pattern or list the others in interfaces.exclude)")
            }
            if kind == .outside { result.outside = taken } else { result.alt = taken }
            if taken == nil && usable.count <= 1 {
                let missing = unaddressed[kind]?.first.map { "\($0) (no IPv4 address)" } ?? pattern.text
                result.waiting.append(missing)
            }
        }
        result.insides = (candidates[.inside] ?? []).map(\.index)
        for pattern in insides {
            let names = (candidates[.inside] ?? []).map(\.name)
            guard !names.contains(where: { pattern.matches($0) }) else { continue }
            if let bare = unaddressed[.inside]?.first(where: { pattern.matches($0) }) {
                result.waiting.append("\(bare) (no IPv4 address)")
            } else {
                result.waiting.append(pattern.text)
            }
        }
        return result
    }
}
