import CXigmp
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import IGMPProxy
import IGMPWire
import Logging
import XigmpConfig

/// `forwarding.mode: xdp`: the classifier's forwarding stage, two paths over
/// one route table per ingress (bpf/igmp_classify.bpf.c, xigmp_fwd_tc.h):
/// - **xdp**: the classifier redirects through its devmap, when the outside
///   runs the XDP datapath and every egress can transmit XDP frames;
/// - **tc**: `xigmp_fwd_tc` on the outside's TC ingress clones each frame to
///   every egress — any Ethernet-like device (a bridge such as docker0, a
///   veth without NAPI, macvlan), from any ingress (a tun or ppp outside
///   too). Attached on the first route that needs it.
/// Neither needs kernel multicast routing (CONFIG_IP_MROUTE).
final class DatapathForwardingBackend: ForwardingBackend {
    private final class Ingress {
        let interface: NetworkInterface
        let forwarder: MulticastForwarder
        /// XDP mode of the classifier on the ingress; nil: no XDP there (the
        /// kernel datapath), so every route takes the TC path.
        let xdpMode: XDPMode?
        /// Egress ports added, and whether to the devmap too.
        var egress: [UInt32: Bool] = [:]
        var tc: TCAttachment?

        init(interface: NetworkInterface, forwarder: MulticastForwarder, xdpMode: XDPMode?) {
            self.interface = interface
            self.forwarder = forwarder
            self.xdpMode = xdpMode
        }
    }

    private var ingresses: [UInt32: Ingress] = [:]
    private let logger: Logger
    /// Provisional forwarding (entries an inside's classifier writes at a
    /// join, before the control plane's route): the table every classifier
    /// instance shares, made with the first one that needs it.
    private var provisional: ProvisionalTable?
    /// XDP insides whose classifier can provision, and the allow rows
    /// written into each.
    private var insides: [UInt32: (interface: NetworkInterface, slots: ProvisionalTable.Slots, rows: [ProvisionalTable.Allow])] = [:]

    private func provisionalTable() throws(DatapathError) -> ProvisionalTable {
        if let provisional { return provisional }
        let t = try ProvisionalTable()
        provisional = t
        return t
    }

    init(logger: Logger) { self.logger = logger }

    /// Enables forwarding on `port`'s interface: over the classifier the XDP
    /// port attached, or (kernel datapath) over a classifier instance loaded
    /// here whose XDP program is never attached, for its TC program and maps.
    func addIngress(_ port: any IGMPPort, unmatched: DaemonConfig.Forwarding.Unmatched) throws(DatapathError) {
        let interface = port.interface
        let forwarder: MulticastForwarder
        var mode: XDPMode?
        if port.kind == .xdp {
            forwarder = try MulticastForwarder(attachedTo: interface)
            mode = try XDP.query(interface)?.mode
        } else {
            forwarder = MulticastForwarder(classifier: try Classifier())
        }
        try forwarder.enable(ingress: interface, unmatched: unmatched == .drop ? .drop : .pass)
        // The TC path attaches on demand; a filter a crashed run left (a
        // clsact one outlives it) would forward for nobody meanwhile.
        if try MulticastForwarder.removeLeftoverTC(ingress: interface) {
            logger.notice("forwarding: removed the TC forwarding filter an earlier run left on \(interface.name)")
        }
        ingresses[interface.index] = Ingress(interface: interface, forwarder: forwarder, xdpMode: mode)
        try provisionalTable().attach(to: forwarder.provisional)
    }

    func addInside(_ port: any IGMPPort) throws(DatapathError) {
        // Only a classifier sees the report early; the kernel datapath's
        // insides wait for the control plane.
        guard let xdp = port as? XDPPort, let slots = xdp.provisionalSlots else { return }
        ProvisionalTable.disallowAll(in: slots.acl)
        try provisionalTable().attach(to: slots)
        insides[port.interface.index] = (port.interface, slots, [])
    }

    func removeInside(_ interface: NetworkInterface) {
        guard let inside = insides.removeValue(forKey: interface.index) else { return }
        ProvisionalTable.disallow(inside.rows, in: inside.slots.acl)
        ProvisionalTable.detach(inside.slots)
    }

    /// Each inside becomes an egress port of `outside` now (not at its
    /// first route), so its slot can go in the allow rows; its path is the
    /// one a route to it alone would take.
    func provision(from outside: NetworkInterface?, groups: [IPv4Prefix]) throws(DatapathError) {
        let ingress = outside.flatMap { ingresses[$0.index] }
        for (index, inside) in insides {
            var rows: [ProvisionalTable.Allow] = []
            if let ingress {
                let xdp = ingress.xdpMode != nil && xdpCanTransmit(from: ingress, to: inside.interface)
                if ingress.egress[index] != true && (xdp || ingress.egress[index] == nil) {
                    try ingress.forwarder.addEgress(inside.interface, xdp: xdp)
                    ingress.egress[index] = xdp
                }
                if !xdp && ingress.tc == nil {
                    ingress.tc = try ingress.forwarder.enableTC(ingress: ingress.interface)
                }
                if let slot = try ingress.forwarder.egressSlot(index) {
                    rows = groups.map {
                        .init(prefix: $0, outside: ingress.interface.index, inside: index, slot: slot,
                              path: ingress.egress[index] == true ? .xdp : .tc)
                    }
                }
            }
            guard rows != inside.rows else { continue }
            ProvisionalTable.disallow(inside.rows.filter { old in !rows.contains { $0.prefix == old.prefix } },
                                      in: inside.slots.acl)
            insides[index]?.rows = []
            try ProvisionalTable.allow(rows, in: inside.slots.acl)
            insides[index]?.rows = rows
        }
    }

    func confirmProvisional(stampedBefore cutoff: UInt64,
                            isRouted: (UInt32, IPv4Address) -> Bool) -> (confirmed: Int, removed: Int) {
        guard let provisional else { return (0, 0) }
        do throws(DatapathError) {
            return try provisional.flush(stampedBefore: cutoff, isRouted: isRouted)
        } catch {
            logger.error("forwarding: deleting provisional entries: \(error.description)")
            return (0, 0)
        }
    }

    /// Whether a native- or generic-mode redirect from `ingress` can hand
    /// frames to `out`: it needs an Ethernet header; in native mode the
    /// kernel's xdp-features must say NDO_XMIT (a veth only while its peer
    /// runs NAPI; never a bridge, tun, macvlan); generic mode transmits
    /// through the stack, which a bridge's devmap entry does not survive.
    private func xdpCanTransmit(from ingress: Ingress, to out: NetworkInterface) -> Bool {
        guard let mode = ingress.xdpMode else { return false }
        let key = XDPKey(mode: mode, ifindex: out.index)
        if let known = capable[key] { return known }
        let info = try? InterfaceInfo(out)
        var answer = info?.hasEthernet == true && out.driver != "bridge"
        if answer && mode == .native {
            // Before Linux 6.3 the kernel cannot say; then the TC path,
            // which always delivers (a native redirect to a veth whose peer
            // has no NAPI is dropped without a trace).
            answer = InterfaceXDPFeatures.probe(out).ndoXmit
        }
        capable[key] = answer
        return answer
    }
    private struct XDPKey: Hashable { var mode: XDPMode; var ifindex: UInt32 }
    /// Asked on every join: the answer (netlink queries) is kept per
    /// interface, off the join-to-first-packet path.
    private var capable: [XDPKey: Bool] = [:]

    func set(_ key: RouteKey, incoming: NetworkInterface, outgoing: [NetworkInterface]) throws(DatapathError) -> String {
        guard let ingress = ingresses[incoming.index] else {
            throw DatapathError(.invalidArgument, "\(incoming.name) has no forwarding ingress (it is not an outside interface)")
        }
        let f = ingress.forwarder
        let xdp = ingress.xdpMode != nil && outgoing.allSatisfy { xdpCanTransmit(from: ingress, to: $0) }
        let path: MulticastForwarder.Path = xdp ? .xdp : .tc
        for out in outgoing where ingress.egress[out.index] != true && (xdp || ingress.egress[out.index] == nil) {
            try f.addEgress(out, xdp: xdp)
            ingress.egress[out.index] = xdp
        }
        if !xdp && ingress.tc == nil {
            let a = try f.enableTC(ingress: incoming)
            ingress.tc = a
            logger.info("forwarding: the TC path is on \(incoming.name) (\(a.mechanism.rawValue)) for egress XDP cannot transmit to")
        }
        if outgoing.isEmpty, let source = key.source {
            try f.blockSource(ingress: incoming, source: source, group: key.group, path: path)
        } else {
            try f.setRoute(ingress: incoming, source: key.source, group: key.group, egress: outgoing.map(\.index), path: path)
        }
        return xdp ? "xdp" : "tc"
    }

    func remove(_ key: RouteKey, incoming: NetworkInterface) throws(DatapathError) {
        try ingresses[incoming.index]?.forwarder.removeRoute(ingress: incoming, source: key.source, group: key.group)
    }

    /// The outside interface went or gave up its role: its forwarding is
    /// turned off (the classifier passes data to the kernel again; its TC
    /// attachment goes), as `close()` does for every ingress.
    func removeIngress(_ interface: NetworkInterface) {
        guard let entry = ingresses.removeValue(forKey: interface.index) else { return }
        ProvisionalTable.detach(entry.forwarder.provisional)
        for (ifindex, _) in entry.egress { try? entry.forwarder.removeEgress(ifindex: ifindex) }
        try? entry.forwarder.disable(ingress: entry.interface)
    }

    /// An egress went: no ingress may still point at its ifindex (a new
    /// interface could get it), and its capability answer is stale.
    func forget(_ interface: NetworkInterface) {
        for (_, entry) in ingresses where entry.egress[interface.index] != nil {
            try? entry.forwarder.removeEgress(ifindex: interface.index)
            entry.egress[interface.index] = nil
        }
        capable = capable.filter { $0.key.ifindex != interface.index }
        ingresses[interface.index] = nil
        removeInside(interface)
    }

    func counters() -> [RouteKey: (packets: UInt64, bytes: UInt64)] {
        var out: [RouteKey: (packets: UInt64, bytes: UInt64)] = [:]
        for (_, entry) in ingresses {
            guard let routes = try? entry.forwarder.routes() else { continue }
            for r in routes where !r.passesToKernel {
                out[RouteKey(source: r.key.source, group: r.key.group, incoming: entry.interface.name)] =
                    (r.counters.packets, r.counters.bytes)
            }
        }
        return out
    }

    /// Turns forwarding off on every ingress (the classifier passes multicast
    /// data to the kernel again; the TC attachments go).
    func close() {
        for (index, _) in insides { removeInside(NetworkInterface(name: "", index: index)) }
        for (_, entry) in ingresses {
            ProvisionalTable.detach(entry.forwarder.provisional)
            for (ifindex, _) in entry.egress { try? entry.forwarder.removeEgress(ifindex: ifindex) }
            try? entry.forwarder.disable(ingress: entry.interface)
        }
        ingresses = [:]
    }
}

extension ProxyRuntime {
    /// The forwarding manager for `forwarding.mode`: `xdp` forwards in the
    /// kernel's datapath hooks (XDP and TC, no MFC needed); `kernel` through
    /// the kernel's multicast routing, refused where the kernel has none.
    static func makeForwarding(config: LoadedConfig, logger: Logger, metrics: ProxyMetrics) throws(DaemonError) -> ForwardingManager {
        let c = config.config
        let backend: ForwardingBackend
        switch c.forwarding.mode {
        case .kernel:
            if !KernelCapabilities.current.ipMroute {
                throw DaemonError.config("\(config.locations.fileName): forwarding.mode: kernel needs the kernel's IPv4 multicast routing, which this kernel lacks (CONFIG_IP_MROUTE); use forwarding.mode: xdp, which forwards without it")
            }
            do {
                backend = try KernelForwardingBackend()
            } catch {
                throw DaemonError.config("\(config.locations.fileName): forwarding: cannot program the kernel's multicast routing: \(error.description)")
            }
        case .xdp, .off:
            // Ingresses are added as the outside interfaces take their roles.
            backend = DatapathForwardingBackend(logger: logger)
        }
        return ForwardingManager(settings: c.forwarding, statics: c.routes, backend: backend,
                                 logger: logger, metrics: metrics)
    }
}

/// The kernel's multicast routing (MFC), programmed at join time: (*,G)
/// entries forward the first packet of any source without an upcall.
final class KernelForwardingBackend: ForwardingBackend {
    private let routing: KernelMulticastRouting

    init() throws(DatapathError) { routing = try KernelMulticastRouting() }

    func set(_ key: RouteKey, incoming: NetworkInterface, outgoing: [NetworkInterface]) throws(DatapathError) -> String {
        try routing.setRoute(source: key.source, group: key.group, incoming: incoming, outgoing: outgoing)
        return "kernel"
    }

    func remove(_ key: RouteKey, incoming: NetworkInterface) throws(DatapathError) {
        try routing.removeRoute(source: key.source, group: key.group, incoming: incoming)
    }

    func counters() -> [RouteKey: (packets: UInt64, bytes: UInt64)] {
        var out: [RouteKey: (packets: UInt64, bytes: UInt64)] = [:]
        for s in routing.routeStatistics() {
            out[RouteKey(source: s.source, group: s.group, incoming: s.incoming.name)] = (s.packets, s.bytes)
        }
        return out
    }

    func close() { routing.removeAllRoutes() }
}
