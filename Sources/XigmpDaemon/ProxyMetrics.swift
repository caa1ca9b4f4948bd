import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import IGMPMembership
import IGMPProxy
import Prometheus

/// The daemon's Prometheus metrics. Series per interface are created when
/// the interface takes a role and unregistered when it goes, so the packet
/// loop only increments (atomics, no allocation, no lookup by label; the
/// series of the last decision is kept, so a run of alike messages does no
/// dictionary lookup either); all of it happens on the loop thread.
final class ProxyMetrics: @unchecked Sendable {
    let registry: PrometheusCollectorRegistry
    private let counters: [ProxyCounter: Counter]
    /// Every series of one interface in its role.
    private final class RoleSeries {
        var forwarded: [TransmitPurpose: Counter] = [:]
        var router: [MembershipCounter: Counter] = [:]
        var host: [HostCounter: Counter] = [:]
        var groups: Gauge?
        var hosts: Gauge?
        var transmitErrors: Counter?
        var up: Gauge?
        var decodeErrors: Counter?
        var port: [String: Gauge] = [:]
        var kernel: [String: Gauge] = [:]
    }
    private var roles: [InterfaceRole: RoleSeries] = [:]
    /// The membership counts so far, per interface: `xigmp groups` shows them.
    private(set) var routerTotals: [InterfaceRole: [MembershipCounter: UInt64]] = [:]
    private(set) var hostTotals: [InterfaceRole: [HostCounter: UInt64]] = [:]
    let queryToReport: DurationHistogram
    let joinToFirstPacket: DurationHistogram
    private let activeOutside: Gauge
    private let modeGauges: [String: Gauge]
    private let failovers: [OutsideSelection: Counter]
    private let provisionalOutcomes: (confirmed: Counter, removed: Counter)
    /// Loop turns that drained every port because no epoll set could be
    /// built (see the log); 0 in a healthy daemon.
    private let unwatchedTurns: Counter
    private let forwardingErrors: Counter

    init(registry: PrometheusCollectorRegistry, interfaces: [InterfaceRole: (name: String, datapath: DatapathKind)]) {
        self.registry = registry
        var c: [ProxyCounter: Counter] = [:]
        for counter in ProxyCounter.allCases {
            c[counter] = registry.makeCounter(descriptor: Self.d("policy", "total", "Decisions of the proxy policy, by kind"),
                                              labels: [("counter", counter.rawValue)])
        }
        counters = c
        queryToReport = registry.makeDurationHistogram(
            descriptor: Self.d("query_to_report", "seconds",
                          "Time from a query proxied inside to the first report proxied outside after it"),
            buckets: [.milliseconds(1), .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100),
                      .milliseconds(500), .seconds(1), .seconds(5), .seconds(10), .seconds(30)])
        joinToFirstPacket = registry.makeDurationHistogram(
            descriptor: Self.d("join_to_first_packet", "seconds",
                          "Time from a forwarding entry installed (a join accepted, or a static route) to its first forwarded packet"),
            buckets: [.microseconds(100), .microseconds(250), .microseconds(500), .milliseconds(1), .milliseconds(2),
                      .milliseconds(5), .milliseconds(10), .milliseconds(50), .milliseconds(100), .seconds(1), .seconds(10)])
        activeOutside = registry.makeGauge(descriptor: Self.d("active_outside", "alt", "1 while the alt outside interface is active, 0 for primary"))
        var mg: [String: Gauge] = [:]
        for mode in ProxyMode.allCases {
            mg[mode.rawValue] = registry.makeGauge(descriptor: Self.d("mode", "enabled", "1 when the mode is on"),
                                                   labels: [("mode", mode.rawValue)])
        }
        modeGauges = mg
        var fo: [OutsideSelection: Counter] = [:]
        for o in OutsideSelection.allCases {
            fo[o] = registry.makeCounter(descriptor: Self.d("outside_switches", "total", "Switches of the active outside made by activeOutside: auto, by the outside switched to"),
                                         labels: [("to", o.description)])
        }
        failovers = fo
        let pd = Self.d("provisional", "total", "Provisional forwarding entries the classifier wrote at a join, deleted once the loop had handled the batch of reports: confirmed (a real (*,G) route now stands) or removed (the join was refused or left)")
        provisionalOutcomes = (registry.makeCounter(descriptor: pd, labels: [("outcome", "confirmed")]),
                               registry.makeCounter(descriptor: pd, labels: [("outcome", "removed")]))
        unwatchedTurns = registry.makeCounter(descriptor: Self.d("loop_unwatched_turns", "total", "Loop turns that drained every port on a short timeout because the ports could not be watched with epoll (see the log); 0 when healthy"))
        forwardingErrors = registry.makeCounter(descriptor: Self.d("forwarding_errors", "total", "Forwarding entries or interfaces the kernel refused to install, change or remove (logged; the last one shows in `xigmp status`); 0 when healthy"))
        for (role, iface) in interfaces { addRole(role, name: iface.name, datapath: iface.datapath) }
    }

    /// The series of an interface that took `role`.
    func addRole(_ role: InterfaceRole, name: String, datapath: DatapathKind) {
        removeRole(role)
        lastForwarded = nil
        let r = RoleSeries()
        let labels = [("role", role.description), ("ifname", name)]
        for purpose in ProxyMode.allCases.map(TransmitPurpose.mode) + [.query, .upstreamReport] {
            r.forwarded[purpose] = registry.makeCounter(
                descriptor: Self.d("forwarded", "total", "IGMP messages sent, by the mode (or engine: query, upstream_report) that sent them and the egress interface"),
                labels: [("mode", purpose.description)] + labels)
        }
        for counter in MembershipCounter.allCases {
            r.router[counter] = registry.makeCounter(
                descriptor: Self.d("membership", "total", "Membership table and querier events (RFC 3376 §6), limits included"),
                labels: labels + [("counter", counter.rawValue)])
        }
        for counter in HostCounter.allCases {
            r.host[counter] = registry.makeCounter(
                descriptor: Self.d("upstream", "total", "Reports the upstream host side sent (RFC 4605)"),
                labels: labels + [("counter", counter.rawValue)])
        }
        r.groups = registry.makeGauge(descriptor: Self.d("groups", "count", "Groups in the interface's membership table"),
                                      labels: labels)
        r.hosts = registry.makeGauge(descriptor: Self.d("tracked_hosts", "count", "Reporting hosts tracked over the interface's groups (a host in two groups counts twice)"),
                                     labels: labels)
        r.up = registry.makeGauge(descriptor: Self.d("role", "up", "1 while the role's interface, its link, its program and its sends work; 0 from the moment one fails (see the log and `xigmp status`)"),
                                  labels: labels)
        r.up?.set(1.0)
        r.transmitErrors = registry.makeCounter(descriptor: Self.d("transmit_errors", "total", "Sends that failed (logged, never fatal)"),
                                                labels: labels)
        r.decodeErrors = registry.makeCounter(descriptor: Self.d("decode_errors", "total", "Received frames that did not decode as IGMP"),
                                              labels: labels)
        for key in ["rx_packets", "tx_packets", "tx_errors", "wakeups"] {
            r.port[key] = registry.makeGauge(descriptor: Self.d("port", key, "Port counter \(key) since the interface took its role"),
                                             labels: labels + [("datapath", datapath.rawValue)])
        }
        roles[role] = r
        routerTotals[role] = nil
        hostTotals[role] = nil
        kernelTotals[role] = nil
    }

    /// Drops every series of the interface in `role` (it went).
    func removeRole(_ role: InterfaceRole) {
        lastForwarded = nil
        guard let r = roles.removeValue(forKey: role) else { return }
        for c in r.forwarded.values { registry.unregisterCounter(c) }
        for c in r.router.values { registry.unregisterCounter(c) }
        for c in r.host.values { registry.unregisterCounter(c) }
        for g in r.port.values { registry.unregisterGauge(g) }
        for g in r.kernel.values { registry.unregisterGauge(g) }
        for g in [r.groups, r.hosts, r.up].compactMap({ $0 }) { registry.unregisterGauge(g) }
        for c in [r.transmitErrors, r.decodeErrors].compactMap({ $0 }) { registry.unregisterCounter(c) }
        routerTotals[role] = nil
        hostTotals[role] = nil
        kernelTotals[role] = nil
    }

    func unwatchedTurn() { unwatchedTurns.increment() }
    func forwardingError() { forwardingErrors.increment() }
    func failover(to outside: OutsideSelection) { failovers[outside]?.increment() }
    /// Provisional entries deleted after their batch, by outcome.
    func provisional(confirmed: Int, removed: Int) {
        if confirmed > 0 { provisionalOutcomes.confirmed.increment(by: Int64(confirmed)) }
        if removed > 0 { provisionalOutcomes.removed.increment(by: Int64(removed)) }
    }

    private static func d(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "xigmp", metricName: name, unitName: unit, helpText: help)
    }

    // The last series each per-message call resolved: a raw-valued enum
    // hashes its String, so a dictionary lookup per message cost about 3 %
    // of the daemon at 40k msg/s (perf), and a run of messages mostly
    // counts the same decision sent the same way.
    private var lastCount: (key: ProxyCounter, counter: Counter?)?
    private var lastForwarded: (purpose: TransmitPurpose, role: InterfaceRole, counter: Counter?)?

    @inline(__always) func count(_ c: ProxyCounter) {
        if let last = lastCount, last.key == c {
            last.counter?.increment()
            return
        }
        let counter = counters[c]
        lastCount = (c, counter)
        counter?.increment()
    }
    @inline(__always) func forwarded(_ purpose: TransmitPurpose, on role: InterfaceRole) {
        if let last = lastForwarded, last.role == role, last.purpose == purpose {
            last.counter?.increment()
            return
        }
        let counter = roles[role]?.forwarded[purpose]
        lastForwarded = (purpose, role, counter)
        counter?.increment()
    }
    func count(_ c: MembershipCounter, on role: InterfaceRole) {
        roles[role]?.router[c]?.increment()
        routerTotals[role, default: [:]][c, default: 0] += 1
    }
    func count(_ c: HostCounter, on role: InterfaceRole) {
        roles[role]?.host[c]?.increment()
        hostTotals[role, default: [:]][c, default: 0] += 1
    }
    func update(groups: Int, hosts: Int, on role: InterfaceRole) {
        roles[role]?.groups?.set(Double(groups))
        roles[role]?.hosts?.set(Double(hosts))
    }

    /// Kernel-side counts read each second (XDP token bucket, egress filter),
    /// by name: `xigmp_kernel_<name>{role,ifname}`. Loop thread only.
    private(set) var kernelTotals: [InterfaceRole: [String: UInt64]] = [:]
    func update(kernel name: String, on role: InterfaceRole, ifname: String, _ value: UInt64) {
        guard let r = roles[role] else { return }
        kernelTotals[role, default: [:]][name] = value
        if r.kernel[name] == nil {
            r.kernel[name] = registry.makeGauge(
                descriptor: Self.d("kernel", name, "Counted in the kernel: xdp_rate_limited (per-source token bucket drops), xdp_provisional_installed (provisional forwarding entries written at a join on an inside), egress_allowed / egress_dropped / egress_rewritten (host reports the TC egress filter passed, dropped, or passed with other groups' records blanked)"),
                labels: [("role", role.description), ("ifname", ifname)])
        }
        r.kernel[name]?.set(Double(value))
    }
    @inline(__always) func transmitError(_ role: InterfaceRole) { roles[role]?.transmitErrors?.increment() }
    func setRole(_ role: InterfaceRole, up: Bool) { roles[role]?.up?.set(up ? 1.0 : 0.0) }
    @inline(__always) func decodeError(_ role: InterfaceRole) { roles[role]?.decodeErrors?.increment() }

    func update(port role: InterfaceRole, _ s: PortStatistics) {
        guard let g = roles[role]?.port else { return }
        g["rx_packets"]?.set(Double(s.rxPackets))
        g["tx_packets"]?.set(Double(s.txPackets))
        g["tx_errors"]?.set(Double(s.txErrors))
        g["wakeups"]?.set(Double(s.wakeups))
    }

    func update(activeOutside selection: OutsideSelection, modes: ProxyModes) {
        activeOutside.set(selection == .alt ? 1.0 : 0.0)
        for mode in ProxyMode.allCases { modeGauges[mode.rawValue]?.set(modes[mode] ? 1.0 : 0.0) }
    }
}
