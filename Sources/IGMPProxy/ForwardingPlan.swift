import IGMPMembership
import IGMPWire

/// Which traffic one forwarding entry matches: data to `group` from `source`
/// (nil: any source, (*,G)) arriving on `incoming`.
public struct RouteKey: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// The source; nil for (*,G).
    public var source: IPv4Address?
    /// The group.
    public var group: IPv4Address
    /// The incoming interface's name.
    public var incoming: String

    /// Creates a key.
    public init(source: IPv4Address?, group: IPv4Address, incoming: String) {
        self.source = source
        self.group = group
        self.incoming = incoming
    }

    /// By group, then (*,G) before (S,G), then source, then interface.
    public static func < (a: RouteKey, b: RouteKey) -> Bool {
        if a.group != b.group { return a.group < b.group }
        switch (a.source, b.source) {
        case (nil, .some): return true
        case (.some, nil): return false
        case (let x?, let y?) where x != y: return x < y
        default: return a.incoming < b.incoming
        }
    }

    /// `(S,G) in IF` or `(*,G) in IF`.
    public var description: String { "(\(source?.description ?? "*"),\(group)) in \(incoming)" }
}

/// The forwarding entries the control plane wants: each key with its outgoing
/// interfaces (empty: match and forward nowhere, an excluded source).
///
/// Built from the membership of the interfaces with a table (RFC 3376 §6.3:
/// EXCLUDE(X) forwards every source but X, INCLUDE(S) only S) and the static
/// routes. A pure function of its inputs, so the daemon recomputes a group on
/// every change and applies only the difference.
public struct ForwardingPlan: Sendable, Equatable {
    /// Outgoing interface names per key, sorted.
    public private(set) var routes: [RouteKey: [String]] = [:]

    /// An empty plan.
    public init() {}

    /// The plan for `memberships` (interface name → group → state) with data
    /// arriving on `incoming`, plus `statics` (a static route's nil incoming
    /// means `incoming`). Static and membership outputs for one key are merged.
    public init(memberships: [String: [(group: IPv4Address, state: GroupFilterState)]], incoming: String,
                statics: [(source: IPv4Address?, group: IPv4Address, incoming: String?, outgoing: [String])]) {
        var routes: [RouteKey: Set<String>] = [:]
        for (egress, groups) in memberships where egress != incoming {
            for (group, state) in groups {
                Self.add(group: group, state: state, egress: egress, incoming: incoming, into: &routes)
            }
        }
        for s in statics {
            let key = RouteKey(source: s.source, group: s.group, incoming: s.incoming ?? incoming)
            routes[key, default: []].formUnion(s.outgoing.filter { $0 != key.incoming })
        }
        // An (S,G) entry for a source excluded on one egress must still carry
        // every other egress the (*,G) entry has (the kernel looks up (S,G) first).
        for (key, outs) in routes where key.source != nil {
            let any = RouteKey(source: nil, group: key.group, incoming: key.incoming)
            if let wildcard = routes[any] { routes[key] = outs.union(wildcard.filter { !Self.excludes($0, key, memberships) }) }
        }
        self.routes = routes.mapValues { $0.sorted() }
    }

    static func add(group: IPv4Address, state: GroupFilterState, egress: String, incoming: String,
                    into routes: inout [RouteKey: Set<String>]) {
        switch state.mode {
        case .exclude:
            routes[RouteKey(source: nil, group: group, incoming: incoming), default: []].insert(egress)
            for source in state.sources {
                let key = RouteKey(source: source, group: group, incoming: incoming)
                if routes[key] == nil { routes[key] = [] }
            }
        case .include:
            for source in state.sources {
                routes[RouteKey(source: source, group: group, incoming: incoming), default: []].insert(egress)
            }
        }
    }

    /// True when `egress` excludes `key`'s source (EXCLUDE mode listing it).
    static func excludes(_ egress: String, _ key: RouteKey,
                         _ memberships: [String: [(group: IPv4Address, state: GroupFilterState)]]) -> Bool {
        guard let source = key.source, let groups = memberships[egress],
              let state = groups.first(where: { $0.group == key.group })?.state else { return false }
        return state.mode == .exclude && state.sources.contains(source)
    }

    /// The entries of `group` only.
    public func restricted(to group: IPv4Address) -> ForwardingPlan {
        var plan = ForwardingPlan()
        plan.routes = routes.filter { $0.key.group == group }
        return plan
    }

    /// Replaces the entries of `group` with `next`'s (which should hold only
    /// that group's: the plan of one group's memberships and static routes).
    public mutating func replace(group: IPv4Address, with next: ForwardingPlan) {
        // In place: a join must not copy every other group's entries.
        for key in routes.keys.filter({ $0.group == group }) { routes[key] = nil }
        for (key, outs) in next.routes where key.group == group { routes[key] = outs }
    }

    /// What turns `self` into `next`: keys to set (new or changed outputs) and keys to remove.
    public func changes(to next: ForwardingPlan) -> (set: [(RouteKey, [String])], remove: [RouteKey]) {
        let set = next.routes.filter { routes[$0.key] != $0.value }.sorted { $0.key < $1.key }.map { ($0.key, $0.value) }
        let remove = routes.keys.filter { next.routes[$0] == nil }.sorted()
        return (set, remove)
    }
}
