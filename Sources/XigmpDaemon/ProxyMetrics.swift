import IGMPMembership
import IGMPProxy
import Prometheus
import XDPDatapath

/// The daemon's Prometheus metrics, all created up front so the packet loop
/// only increments (atomics, no allocation, no lookup by label).
final class ProxyMetrics: @unchecked Sendable {
    let registry: PrometheusCollectorRegistry
    private let counters: [ProxyCounter: Counter]
    private let forwarded: [TransmitPurpose: [InterfaceRole: Counter]]
    private let routerCounters: [InterfaceRole: [MembershipCounter: Counter]]
    private let hostCounters: [InterfaceRole: [HostCounter: Counter]]
    /// The membership counts so far, per interface: `xigmp groups` shows them.
    private(set) var routerTotals: [InterfaceRole: [MembershipCounter: UInt64]] = [:]
    private(set) var hostTotals: [InterfaceRole: [HostCounter: UInt64]] = [:]
    private let groupGauges: [InterfaceRole: Gauge]
    private let transmitErrors: [InterfaceRole: Counter]
    private let roleUp: [InterfaceRole: Gauge]
    private let decodeErrors: [InterfaceRole: Counter]
    private let portGauges: [InterfaceRole: [String: Gauge]]
    let queryToReport: DurationHistogram
    let joinToFirstPacket: DurationHistogram
    private let activeOutside: Gauge
    private let modeGauges: [String: Gauge]

    init(registry: PrometheusCollectorRegistry, interfaces: [InterfaceRole: (name: String, datapath: DatapathKind)]) {
        self.registry = registry
        var c: [ProxyCounter: Counter] = [:]
        for counter in ProxyCounter.allCases {
            c[counter] = registry.makeCounter(descriptor: Self.d("policy", "total", "Decisions of the proxy policy, by kind"),
                                              labels: [("counter", counter.rawValue)])
        }
        counters = c
        var f: [TransmitPurpose: [InterfaceRole: Counter]] = [:]
        for purpose in ProxyMode.allCases.map(TransmitPurpose.mode) + [.query, .upstreamReport] {
            var perRole: [InterfaceRole: Counter] = [:]
            for (role, iface) in interfaces {
                perRole[role] = registry.makeCounter(
                    descriptor: Self.d("forwarded", "total", "IGMP messages sent, by the mode (or engine: query, upstream_report) that sent them and the egress interface"),
                    labels: [("mode", purpose.description), ("role", role.description), ("ifname", iface.name)])
            }
            f[purpose] = perRole
        }
        forwarded = f
        var rc: [InterfaceRole: [MembershipCounter: Counter]] = [:]
        var hc: [InterfaceRole: [HostCounter: Counter]] = [:]
        var gg: [InterfaceRole: Gauge] = [:]
        for (role, iface) in interfaces {
            let labels = [("role", role.description), ("ifname", iface.name)]
            var r: [MembershipCounter: Counter] = [:]
            for counter in MembershipCounter.allCases {
                r[counter] = registry.makeCounter(
                    descriptor: Self.d("membership", "total", "Membership table and querier events (RFC 3376 §6), limits included"),
                    labels: labels + [("counter", counter.rawValue)])
            }
            rc[role] = r
            var h: [HostCounter: Counter] = [:]
            for counter in HostCounter.allCases {
                h[counter] = registry.makeCounter(
                    descriptor: Self.d("upstream", "total", "Reports the upstream host side sent (RFC 4605)"),
                    labels: labels + [("counter", counter.rawValue)])
            }
            hc[role] = h
            gg[role] = registry.makeGauge(descriptor: Self.d("groups", "count", "Groups in the interface's membership table"),
                                          labels: labels)
        }
        routerCounters = rc
        hostCounters = hc
        groupGauges = gg
        var te: [InterfaceRole: Counter] = [:], de: [InterfaceRole: Counter] = [:]
        var pg: [InterfaceRole: [String: Gauge]] = [:]
        var up: [InterfaceRole: Gauge] = [:]
        for (role, iface) in interfaces {
            let labels = [("role", role.description), ("ifname", iface.name)]
            let u = registry.makeGauge(descriptor: Self.d("role", "up", "1 while the role's interface, its program and its sends work; 0 from the moment one fails (see the log and `xigmp status`)"),
                                       labels: labels)
            u.set(1.0)
            up[role] = u
            te[role] = registry.makeCounter(descriptor: Self.d("transmit_errors", "total", "Sends that failed (logged, never fatal)"),
                                            labels: labels)
            de[role] = registry.makeCounter(descriptor: Self.d("decode_errors", "total", "Received frames that did not decode as IGMP"),
                                            labels: labels)
            var g: [String: Gauge] = [:]
            for key in ["rx_packets", "tx_packets", "tx_errors", "wakeups"] {
                g[key] = registry.makeGauge(descriptor: Self.d("port", key, "Port counter \(key) since the daemon started"),
                                            labels: labels + [("datapath", iface.datapath.rawValue)])
            }
            pg[role] = g
        }
        transmitErrors = te
        roleUp = up
        decodeErrors = de
        portGauges = pg
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
    }

    private static func d(_ name: String, _ unit: String, _ help: String) -> MetricNameDescriptor {
        MetricNameDescriptor(namespace: "xigmp", metricName: name, unitName: unit, helpText: help)
    }

    @inline(__always) func count(_ c: ProxyCounter) { counters[c]?.increment() }
    @inline(__always) func forwarded(_ purpose: TransmitPurpose, on role: InterfaceRole) { forwarded[purpose]?[role]?.increment() }
    func count(_ c: MembershipCounter, on role: InterfaceRole) {
        routerCounters[role]?[c]?.increment()
        routerTotals[role, default: [:]][c, default: 0] += 1
    }
    func count(_ c: HostCounter, on role: InterfaceRole) {
        hostCounters[role]?[c]?.increment()
        hostTotals[role, default: [:]][c, default: 0] += 1
    }
    func update(groups: Int, on role: InterfaceRole) { groupGauges[role]?.set(Double(groups)) }

    /// Kernel-side counts read each second (XDP token bucket, egress filter),
    /// by name: `xigmp_kernel_<name>{role,ifname}`. Loop thread only.
    private(set) var kernelTotals: [InterfaceRole: [String: UInt64]] = [:]
    private var kernelGauges: [String: Gauge] = [:]
    func update(kernel name: String, on role: InterfaceRole, ifname: String, _ value: UInt64) {
        kernelTotals[role, default: [:]][name] = value
        // By interface: every inside interface has the role "inside".
        let key = "\(name)/\(role)/\(ifname)"
        if kernelGauges[key] == nil {
            kernelGauges[key] = registry.makeGauge(
                descriptor: Self.d("kernel", name, "Counted in the kernel: xdp_rate_limited (per-source token bucket drops), egress_allowed / egress_dropped / egress_rewritten (host reports the TC egress filter passed, dropped, or passed with other groups' records blanked)"),
                labels: [("role", role.description), ("ifname", ifname)])
        }
        kernelGauges[key]?.set(Double(value))
    }
    @inline(__always) func transmitError(_ role: InterfaceRole) { transmitErrors[role]?.increment() }
    func setRole(_ role: InterfaceRole, up: Bool) { roleUp[role]?.set(up ? 1.0 : 0.0) }
    @inline(__always) func decodeError(_ role: InterfaceRole) { decodeErrors[role]?.increment() }

    func update(port role: InterfaceRole, _ s: PortStatistics) {
        guard let g = portGauges[role] else { return }
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
