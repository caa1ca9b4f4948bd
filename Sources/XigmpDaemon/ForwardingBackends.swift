import IGMPProxy
import IGMPWire
import Logging
import XDPDatapath
import XigmpConfig

/// The XDP fast path: the forwarding stage of the classifier on each outside
/// interface, redirecting through its devmap (bpf/igmp_classify.bpf.c).
final class XDPForwardingBackend: ForwardingBackend {
    let path = "xdp"
    /// One forwarder per outside interface (each has its own classifier instance).
    private var forwarders: [UInt32: (interface: NetworkInterface, forwarder: MulticastForwarder)] = [:]
    private var egressAdded: [UInt32: Set<UInt32>] = [:]

    /// Enables forwarding on `ingress`, whose XDP port holds the classifier.
    func addIngress(_ ingress: NetworkInterface, unmatched: DaemonConfig.Forwarding.Unmatched) throws(DatapathError) {
        let forwarder = try MulticastForwarder(attachedTo: ingress)
        try forwarder.enable(ingress: ingress, unmatched: unmatched == .drop ? .drop : .pass)
        forwarders[ingress.index] = (ingress, forwarder)
    }

    /// The outside interface runs the XDP datapath here, and every egress
    /// can transmit redirected frames: Ethernet, and not a bridge (a bridge
    /// has no ndo_xdp_xmit; its traffic goes through the kernel path, where
    /// the bridge's own snooping then picks the ports).
    func accepts(incoming: NetworkInterface, outgoing: [NetworkInterface]) -> Bool {
        guard forwarders[incoming.index] != nil else { return false }
        return outgoing.allSatisfy { out in
            // Asked on every join: the answer (a netlink query and an ioctl)
            // is kept per interface, off the join-to-first-packet path.
            if let known = capable[out.index] { return known }
            let info = try? InterfaceInfo(out)
            let answer = info?.hasEthernet == true && out.driver != "bridge"
            capable[out.index] = answer
            return answer
        }
    }
    private var capable: [UInt32: Bool] = [:]

    func set(_ key: RouteKey, incoming: NetworkInterface, outgoing: [NetworkInterface]) throws(DatapathError) {
        guard let f = forwarders[incoming.index]?.forwarder else {
            throw DatapathError(.kernel, "\(incoming.name) has no XDP forwarder")
        }
        for out in outgoing where egressAdded[incoming.index]?.contains(out.index) != true {
            try f.addEgress(out)
            egressAdded[incoming.index, default: []].insert(out.index)
        }
        if outgoing.isEmpty, let source = key.source {
            try f.blockSource(ingress: incoming, source: source, group: key.group)
        } else {
            try f.setRoute(ingress: incoming, source: key.source, group: key.group, egress: outgoing.map(\.index))
        }
    }

    func remove(_ key: RouteKey, incoming: NetworkInterface) throws(DatapathError) {
        try forwarders[incoming.index]?.forwarder.removeRoute(ingress: incoming, source: key.source, group: key.group)
    }

    /// Marks `key` as the kernel path's on `incoming` (when XDP forwards
    /// there): its frames pass to the MFC even with `unmatched: drop`.
    func passToKernel(_ key: RouteKey, incoming: NetworkInterface) throws(DatapathError) {
        try forwarders[incoming.index]?.forwarder.passToKernel(ingress: incoming, source: key.source, group: key.group)
    }

    func counters() -> [RouteKey: (packets: UInt64, bytes: UInt64)] {
        var out: [RouteKey: (packets: UInt64, bytes: UInt64)] = [:]
        for (_, entry) in forwarders {
            guard let routes = try? entry.forwarder.routes() else { continue }
            for r in routes where !r.passesToKernel {
                out[RouteKey(source: r.key.source, group: r.key.group, incoming: entry.interface.name)] =
                    (r.counters.packets, r.counters.bytes)
            }
        }
        return out
    }

    /// Turns forwarding off on every ingress (the classifier passes multicast
    /// data to the kernel again).
    func close() {
        for (_, entry) in forwarders { try? entry.forwarder.disable(ingress: entry.interface) }
        forwarders = [:]
    }
}

extension ProxyRuntime {
    /// The forwarding manager for `forwarding.mode`: the kernel's MFC always
    /// (what XDP cannot serve, and `kernel` mode), XDP on the outside
    /// interfaces that run the XDP datapath in `xdp` mode.
    static func makeForwarding(config: LoadedConfig, ports: [(role: InterfaceRole, port: any IGMPPort)],
                               logger: Logger, metrics: ProxyMetrics) throws(DaemonError) -> ForwardingManager {
        let c = config.config
        let kernel: KernelForwardingBackend
        do {
            kernel = try KernelForwardingBackend()
        } catch {
            throw DaemonError("\(config.locations.fileName): forwarding: cannot program the kernel's multicast routing: \(error.description)")
        }
        var xdp: XDPForwardingBackend?
        if c.forwarding.mode == .xdp {
            let backend = XDPForwardingBackend()
            for (role, port) in ports where role.isUpstream && port.kind == .xdp {
                do {
                    try backend.addIngress(port.interface, unmatched: c.forwarding.unmatched)
                } catch {
                    throw DaemonError("\(config.locations.fileName): forwarding: cannot enable XDP forwarding on \(port.interface.name): \(error.description)")
                }
            }
            xdp = backend
        }
        return ForwardingManager(settings: c.forwarding, statics: c.routes, xdp: xdp, kernel: kernel,
                                 logger: logger, metrics: metrics)
    }
}

/// The kernel's multicast routing (MFC), programmed at join time: (*,G)
/// entries forward the first packet of any source without an upcall.
final class KernelForwardingBackend: ForwardingBackend {
    let path = "kernel"
    private let routing: KernelMulticastRouting

    /// The kernel is where traffic goes anyway: nothing to let through.
    func passToKernel(_ key: RouteKey, incoming: NetworkInterface) throws(DatapathError) {}

    init() throws(DatapathError) { routing = try KernelMulticastRouting() }

    func accepts(incoming: NetworkInterface, outgoing: [NetworkInterface]) -> Bool { true }

    func set(_ key: RouteKey, incoming: NetworkInterface, outgoing: [NetworkInterface]) throws(DatapathError) {
        try routing.setRoute(source: key.source, group: key.group, incoming: incoming, outgoing: outgoing)
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
