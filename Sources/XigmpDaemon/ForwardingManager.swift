import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import IGMPMembership
import IGMPProxy
import IGMPWire
import Logging
import XigmpConfig

/// One way of forwarding multicast data (the XDP/TC datapath or the
/// kernel's MFC), as the forwarding manager drives it.
protocol ForwardingBackend: AnyObject {
    /// Installs or replaces an entry; returns the path that forwards it
    /// (`xdp`, `tc` or `kernel`, as `xigmp routes` shows it). Replacing an
    /// entry may move it between paths in place.
    func set(_ key: RouteKey, incoming: NetworkInterface, outgoing: [NetworkInterface]) throws(DatapathError) -> String
    /// Removes an entry.
    func remove(_ key: RouteKey, incoming: NetworkInterface) throws(DatapathError)
    /// Packets and bytes forwarded per entry so far.
    func counters() -> [RouteKey: (packets: UInt64, bytes: UInt64)]
    /// Removes everything this backend installed (shutdown).
    func close()
    /// An outside interface took its role: traffic arriving there can be
    /// forwarded from now on.
    func addIngress(_ port: any IGMPPort, unmatched: DaemonConfig.Forwarding.Unmatched) throws(DatapathError)
    /// That interface went (or no longer plays an outside role).
    func removeIngress(_ interface: NetworkInterface)
    /// An interface (egress or ingress) went: nothing may point at its
    /// ifindex any more.
    func forget(_ interface: NetworkInterface)
    /// An inside interface took its role: its classifier may write
    /// provisional entries (the (*,G) route it writes itself at a join,
    /// ahead of the control plane's) once ``provision(from:groups:)`` says
    /// for which groups.
    func addInside(_ port: any IGMPPort) throws(DatapathError)
    /// That inside went: its allow rows go.
    func removeInside(_ interface: NetworkInterface)
    /// Fills every inside's allow table: joins there for a group under
    /// `groups` write a provisional (`outside`, *, G) entry; nil `outside`
    /// (none active) clears them.
    func provision(from outside: NetworkInterface?, groups: [IPv4Prefix]) throws(DatapathError)
    /// Deletes the provisional entries stamped before `cutoff` (their
    /// reports are handled); counts those a real route covers per
    /// `isRouted(outside ifindex, group)`.
    func confirmProvisional(stampedBefore cutoff: UInt64,
                            isRouted: (UInt32, IPv4Address) -> Bool) -> (confirmed: Int, removed: Int)
}

extension ForwardingBackend {
    func addIngress(_ port: any IGMPPort, unmatched: DaemonConfig.Forwarding.Unmatched) throws(DatapathError) {}
    func removeIngress(_ interface: NetworkInterface) {}
    func forget(_ interface: NetworkInterface) {}
    func addInside(_ port: any IGMPPort) throws(DatapathError) {}
    func removeInside(_ interface: NetworkInterface) {}
    func provision(from outside: NetworkInterface?, groups: [IPv4Prefix]) throws(DatapathError) {}
    func confirmProvisional(stampedBefore cutoff: UInt64,
                            isRouted: (UInt32, IPv4Address) -> Bool) -> (confirmed: Int, removed: Int) { (0, 0) }
}

/// The forwarding entries xigmp installed, kept in step with the plan the
/// membership tables and static routes make (loop thread only).
final class ForwardingManager {
    struct Installed {
        var outgoing: [String]
        var path: String
        var installedNs: UInt64
        var packets: UInt64 = 0
        var bytes: UInt64 = 0
        var rate: Double = 0
        var sampledNs: UInt64
        var firstPacketNs: UInt64?
    }

    /// What `xigmp routes` shows of one entry.
    struct Row: Sendable {
        var key: RouteKey
        var outgoing: [String]
        var path: String
        var packets: UInt64
        var bytes: UInt64
        var packetsPerSecond: Double
        var ageSeconds: Double
        var firstPacketMs: Double?
    }

    let settings: DaemonConfig.Forwarding
    let statics: [DaemonConfig.StaticRoute]
    private let backend: ForwardingBackend?
    private let logger: Logger
    private let metrics: ProxyMetrics
    private(set) var plan = ForwardingPlan()
    private(set) var installed: [RouteKey: Installed] = [:]
    private var interfaces: [String: NetworkInterface] = [:]
    private var lastPollNs: UInt64 = 0
    /// Operations the backend refused so far, and the last one with its
    /// error: `xigmp status` shows them, the metric counts them.
    private(set) var errorCount: UInt64 = 0
    private(set) var lastError: String?
    /// Groups a join on an inside may forward provisionally (through the
    /// (*,G) entry its classifier writes at the report),
    /// before the policy has seen it: those `forwarding.groups` lets a join
    /// forward, every group without it (the classifier and the membership
    /// table both leave out 224.0.0.0/24).
    var provisionalGroups: [IPv4Prefix] { settings.groups ?? [.allMulticast] }
    /// The outside the allow tables point at now ("" none).
    private var provisionedFrom: String?

    init(settings: DaemonConfig.Forwarding, statics: [DaemonConfig.StaticRoute], backend: ForwardingBackend?,
         logger: Logger, metrics: ProxyMetrics, knownInterfaces: [NetworkInterface] = []) {
        self.settings = settings
        self.statics = statics
        self.backend = backend
        self.logger = logger
        self.metrics = metrics
        for i in knownInterfaces { interfaces[i.name] = i }
    }

    /// True while an installed entry waits for its first packet: the loop then
    /// polls the counters often, for the join-to-first-packet histogram.
    /// Kept by the calls that change the entries, so the loop reads it without
    /// walking them on every wake-up.
    private(set) var awaitingFirstPacket = false

    private func noteAwaiting() {
        awaitingFirstPacket = installed.values.contains { $0.firstPacketNs == nil }
    }

    // MARK: Interfaces that come and go

    /// An outside interface took its role: forwarding from it is enabled.
    func addIngress(_ port: any IGMPPort) {
        interfaces[port.interface.name] = port.interface
        do throws(DatapathError) {
            try backend?.addIngress(port, unmatched: settings.unmatched)
        } catch {
            failed("enabling forwarding on \(port.interface.name)", error)
        }
    }

    /// An inside interface took its role: its classifier may provision
    /// (the rows follow with the next ``update(memberships:incoming:now:)``).
    func addInside(_ port: any IGMPPort) {
        interfaces[port.interface.name] = port.interface
        do throws(DatapathError) {
            try backend?.addInside(port)
        } catch {
            failed("provisional forwarding on \(port.interface.name)", error)
        }
        provisionedFrom = nil
    }

    /// The inside `name` went: its allow rows go.
    func removeInside(named name: String) {
        guard let gone = interfaces[name] else { return }
        backend?.removeInside(gone)
        provisionedFrom = nil
    }

    /// Points every inside's allow table at `incoming` (nil: clears them).
    private func provision(from incoming: String?) {
        guard let backend else { return }
        provisionedFrom = incoming ?? ""
        do throws(DatapathError) {
            try backend.provision(from: try incoming.map { (n) throws(DatapathError) in try interface(n) },
                                  groups: provisionalGroups)
        } catch {
            failed("provisional forwarding from \(incoming ?? "no outside")", error)
        }
    }

    /// After a batch of reports is handled and the routes it made are
    /// written: the provisional entries of those reports (stamped before
    /// `cutoff`) go. One stays only while its report waits in the ring.
    func confirmProvisional(stampedBefore cutoff: UInt64) {
        guard let backend else { return }
        let incoming = provisionedFrom ?? ""
        let r = backend.confirmProvisional(stampedBefore: cutoff) { _, group in
            installed[RouteKey(source: nil, group: group, incoming: incoming)] != nil
        }
        metrics.provisional(confirmed: r.confirmed, removed: r.removed)
    }

    /// The outside interface `name` went: forwarding from it is off (its
    /// route table goes with it). Its entries are removed by the next
    /// ``update(memberships:incoming:now:)``, which has no ingress then.
    func removeIngress(named name: String) {
        guard let gone = interfaces[name] else { return }
        backend?.removeIngress(gone)
    }

    /// The interface `name` went: the name no longer means its ifindex (a
    /// re-created one gets a new one), and the backend lets go of it.
    func forget(interface name: String) {
        guard let gone = interfaces.removeValue(forKey: name) else { return }
        backend?.forget(gone)
    }

    /// A kept interface renamed: the new name means the same ifindex; the
    /// old one stays known until the entries under it are removed.
    func renamed(from old: String, to new: String) {
        guard let known = interfaces[old] else { return }
        interfaces[new] = NetworkInterface(name: new, index: known.index)
    }

    /// Recomputes the plan and applies the difference. `incoming` nil: no
    /// active outside is there now, so nothing is forwarded.
    func update(memberships: [String: [(group: IPv4Address, state: GroupFilterState)]], incoming: String?, now: UInt64) {
        let settings = settings
        let memberships = settings.groups == nil ? memberships
            : memberships.mapValues { $0.filter { settings.allows($0.group) } }
        let next = incoming.map {
            ForwardingPlan(memberships: memberships, incoming: $0,
                           statics: statics.map { ($0.source, $0.group, $0.incoming, $0.outgoing) })
        } ?? ForwardingPlan()
        apply(plan.changes(to: next), now: now)
        plan = next
        noteAwaiting()
        // Every time: an inside's egress slot may have moved under it.
        provision(from: incoming)
    }

    /// Recomputes the entries of one group and applies the difference: what a
    /// membership change does, at once, before anything else the change
    /// causes (the join-to-first-packet path). `states` is each inside
    /// interface's state of `group` (absent: no members there).
    func update(group: IPv4Address, states: [String: GroupFilterState], incoming: String, now: UInt64) {
        // A group `forwarding.groups` leaves out: as if it had no members.
        let memberships = settings.allows(group) ? states.mapValues { [(group: group, state: $0)] } : [:]
        let next = ForwardingPlan(memberships: memberships, incoming: incoming,
                                  statics: statics.filter { $0.group == group }
                                      .map { ($0.source, $0.group, $0.incoming, $0.outgoing) })
        apply(plan.restricted(to: group).changes(to: next), now: now)
        plan.replace(group: group, with: next)
        noteAwaiting()
    }

    private func apply(_ changes: (set: [(RouteKey, [String])], remove: [RouteKey]), now: UInt64) {
        guard let backend else { return }
        let (set, remove) = changes
        for key in remove {
            guard installed.removeValue(forKey: key) != nil else { continue }
            // An ingress that went took its route table with it.
            guard let incoming = try? interface(key.incoming) else { continue }
            do throws(DatapathError) {
                try backend.remove(key, incoming: incoming)
            } catch {
                failed("removing \(key)", error)
            }
        }
        for (key, outs) in set {
            do throws(DatapathError) {
                let incoming = try interface(key.incoming)
                var outgoing: [NetworkInterface] = []
                for name in outs { outgoing.append(try interface(name)) }
                // Recorded before the backend can fail half-way, so a
                // removal still finds it.
                var entry = installed[key] ?? Installed(outgoing: outs, path: "", installedNs: now, sampledNs: now)
                entry.outgoing = outs
                installed[key] = entry
                let path = try backend.set(key, incoming: incoming, outgoing: outgoing)
                installed[key]?.path = path
            } catch {
                failed("installing \(key) → \(outs.joined(separator: ","))", error)
            }
        }
    }

    /// Reads the counters: rates, and the first packet of new entries.
    func poll(now: UInt64) {
        lastPollNs = now
        var counts: [RouteKey: (packets: UInt64, bytes: UInt64)] = [:]
        if let backend {
            for (k, v) in backend.counters() { counts[k] = v }
        }
        for (key, var entry) in installed {
            guard let c = counts[key] else { continue }
            let elapsed = Double(now &- entry.sampledNs) / 1e9
            if elapsed >= 0.5 {
                entry.rate = Double(c.packets &- entry.packets) / elapsed
                entry.sampledNs = now
                entry.packets = c.packets
            } else if entry.firstPacketNs != nil {
                installed[key] = entry
                continue
            }
            entry.bytes = c.bytes
            if entry.firstPacketNs == nil && c.packets > 0 {
                entry.firstPacketNs = now
                entry.packets = c.packets
                metrics.joinToFirstPacket.record(.nanoseconds(Int64(now &- entry.installedNs)))
            }
            installed[key] = entry
        }
        noteAwaiting()
    }

    /// Due for a poll at `now`: every 2 ms while an entry waits for its first
    /// packet, else once a second.
    func pollDue(_ now: UInt64) -> Bool {
        now &- lastPollNs >= (awaitingFirstPacket ? 2_000_000 : 1_000_000_000)
    }

    /// The table for `xigmp routes`.
    func rows(now: UInt64) -> [Row] {
        installed.sorted { $0.key < $1.key }.map { key, e in
            Row(key: key, outgoing: e.outgoing, path: e.path, packets: e.packets, bytes: e.bytes,
                packetsPerSecond: e.rate, ageSeconds: Double(now &- e.installedNs) / 1e9,
                firstPacketMs: e.firstPacketNs.map { Double($0 &- e.installedNs) / 1e6 })
        }
    }

    /// Removes every entry (shutdown).
    func removeAll() {
        for (key, _) in installed {
            guard let incoming = try? interface(key.incoming) else { continue }
            try? backend?.remove(key, incoming: incoming)
        }
        installed = [:]
        plan = ForwardingPlan()
        awaitingFirstPacket = false
        backend?.close()
    }

    // MARK: -

    private func interface(_ name: String) throws(DatapathError) -> NetworkInterface {
        if let known = interfaces[name] { return known }
        let found = try NetworkInterface(named: name)
        interfaces[name] = found
        return found
    }

    private func failed(_ what: String, _ error: DatapathError) {
        errorCount += 1
        lastError = "\(what): \(error.description)"
        metrics.forwardingError()
        if errorCount <= 10 || errorCount % 1000 == 0 {
            logger.error("forwarding: \(what): \(error.description)")
        }
    }

    /// What `xigmp status` says of the failures, nil when there were none.
    var problem: String? {
        guard let lastError else { return nil }
        return "forwarding: \(errorCount) operation\(errorCount == 1 ? "" : "s") refused by the kernel so far (see the log); the last: \(lastError)"
    }
}
