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

/// The ports of the interfaces that play a role, following the kernel's view
/// (rtnetlink, no polling): an interface that appears and matches a role is
/// opened, one that goes (deleted, moved to another namespace, renamed out of
/// its pattern, its address removed) is closed, and changes to one kept
/// (renumbered, renamed, link down or up) are reported. The runtime turns the
/// changes into policy, forwarding, metrics and health updates. Loop thread
/// only.
final class InterfaceLifecycle {
    /// A role's port and the facts it was opened with.
    struct Held {
        let role: InterfaceRole
        let port: any IGMPPort
        var link: LinkState
        var addressing: InterfaceAddressing
        var egressFilter: EgressFilter?

        var name: String { link.name }
        var datapath: DatapathKind { port.kind }
    }

    /// What changed, in the order to apply it.
    enum Change {
        /// A port opened on an interface now playing `role`.
        case added(Held)
        /// The port of `role` closed (its interface gone or no longer
        /// matching; the lifecycle logged why).
        case removed(role: InterfaceRole, name: String)
        /// New address, prefix or MAC on a kept interface.
        case readdressed(role: InterfaceRole, InterfaceAddressing)
        /// A kept interface renamed (same ifindex, still matching).
        case renamed(role: InterfaceRole, from: String, to: String)
        /// Carrier (IFF_LOWER_UP with IFF_UP) gained or lost; `adminDown`:
        /// set down (IFF_UP off), not just without carrier.
        case link(role: InterfaceRole, up: Bool, adminDown: Bool)
    }

    private(set) var held: [Held] = []
    /// What each unmatched pattern waits for (`xigmp status`).
    private(set) var waiting: [String] = []
    let monitor: LinkMonitor
    private let matcher: RoleMatcher
    private let config: DaemonConfig
    private let logger: Logger
    /// Conflicts and open failures already logged (each once until it changes).
    private var logged: Set<String> = []
    /// Interfaces whose port failed to open, with the link as it was: not
    /// retried until the link changes.
    private var failed: [UInt32: LinkState] = [:]
    /// Waits already logged, so each is said once.
    private var waitLogged: Set<String> = []

    init(config: DaemonConfig, logger: Logger, receiveBuffer: Int? = nil) throws(DaemonError) {
        self.config = config
        self.logger = logger
        matcher = RoleMatcher(config.interfaces)
        do {
            monitor = try LinkMonitor(receiveBuffer: receiveBuffer)
        } catch {
            throw DaemonError(error, context: "cannot watch the interfaces (rtnetlink)")
        }
    }

    /// The descriptor to poll.
    var fileDescriptor: Int32 { monitor.fileDescriptor }

    /// Reads the kernel's pending link and address events; true when any
    /// arrived (then call ``reconcile(_:)``).
    func drainEvents() -> Bool {
        var any = false
        let before = monitor.overruns
        monitor.drain { event in
            any = true
            logger.debug("rtnetlink: \(event)")
            // A changed link gets another chance to open.
            failed[event.index] = nil
        }
        if monitor.overruns != before {
            logger.warning("interface events were lost (rtnetlink overrun \(monitor.overruns)): resynchronised from a full dump")
        }
        return any
    }

    /// The held port of `role`.
    func held(_ role: InterfaceRole) -> Held? { held.first { $0.role == role } }

    /// Brings the ports in line with the kernel's view and the patterns.
    func reconcile(_ apply: (Change) -> Void) {
        let links = monitor.links
        var holding: [RoleMatcher.Kind: UInt32] = [:]
        for h in held {
            switch h.role {
            case .outside: holding[.outside] = h.link.index
            case .alt: holding[.alt] = h.link.index
            case .inside: break
            }
        }
        let want = matcher.assign(links, holding: holding)
        for c in want.conflicts where logged.insert(c).inserted { logger.error("interface conflict: \(c)") }
        var wanted: [UInt32: RoleMatcher.Kind] = [:]
        if let o = want.outside { wanted[o] = .outside }
        if let a = want.alt { wanted[a] = .alt }
        for i in want.insides where wanted[i] == nil { wanted[i] = .inside }

        // Close what is gone or no longer wanted in its role.
        var kept: [Held] = []
        for h in held {
            let link = links[h.link.index]
            if let link, wanted[link.index] == Self.kind(of: h.role) {
                kept.append(h)
                continue
            }
            let why = link == nil ? "\(h.name) (ifindex \(h.link.index)) is gone"
                : link?.addresses.isEmpty == true ? "\(h.name) has no IPv4 address left"
                : "\(link?.name ?? h.name) no longer matches interfaces.\(Self.kind(of: h.role).rawValue)"
            close(h)
            logger.notice("\(h.role) \(h.name): port closed: \(why)")
            apply(.removed(role: h.role, name: h.name))
        }
        held = kept

        // Report changes to what stays.
        for i in held.indices {
            guard let link = links[held[i].link.index] else { continue }
            let old = held[i].link
            let role = held[i].role
            if link.name != old.name {
                held[i].link = link
                logger.notice("\(role) \(old.name) is now called \(link.name) (ifindex \(link.index))")
                apply(.renamed(role: role, from: old.name, to: link.name))
            }
            if let addressing = Self.addressing(link), addressing != held[i].addressing {
                let before = held[i].addressing
                held[i].addressing = addressing
                if addressing.address != before.address || addressing.prefixLength != before.prefixLength {
                    logger.notice("\(role) \(link.name): now \(addressing.address)/\(addressing.prefixLength)")
                } else {
                    logger.info("\(role) \(link.name): MAC now \(addressing.mac.map { "\($0)" } ?? "none")")
                }
                apply(.readdressed(role: role, addressing))
            }
            if Self.carrier(link) != Self.carrier(old) {
                logger.notice("\(role) \(link.name): link \(Self.carrier(link) ? "up" : "down")")
                apply(.link(role: role, up: Self.carrier(link), adminDown: !link.up))
            }
            if link.mtu != old.mtu {
                logger.notice("\(role) \(link.name): MTU \(old.mtu) → \(link.mtu)")
            }
            held[i].link = link
        }

        // Open what newly matches.
        for (index, kind) in wanted.sorted(by: { $0.key < $1.key }) {
            guard !held.contains(where: { $0.link.index == index }), let link = links[index] else { continue }
            if let before = failed[index], before == link { continue }
            guard let role = freeRole(kind), let addressing = Self.addressing(link) else { continue }
            do throws(DaemonError) {
                let h = try open(role: role, link: link, addressing: addressing)
                held.append(h)
                failed[index] = nil
                logger.notice("\(role) \(link.name): \(h.datapath.rawValue) datapath, \(addressing.address)/\(addressing.prefixLength)")
                apply(.added(h))
            } catch {
                failed[index] = link
                logger.error("\(role) \(link.name): cannot open: \(error.description) (retried when the interface changes)")
            }
        }

        waiting = want.waiting
        for w in waiting where waitLogged.insert(w).inserted {
            logger.notice("waiting for \(w)")
        }
        waitLogged.formIntersection(waiting)
    }

    /// Closes every port (shutdown). TC egress filters are not bpf_links
    /// where the kernel lacks tcx: removed here, on the way out.
    func closeAll() {
        for h in held { close(h) }
        held = []
    }

    // MARK: -

    private func close(_ h: Held) {
        guard let filter = h.egressFilter else { return }
        do throws(DatapathError) { try filter.close() } catch {
            logger.error("\(h.role) \(filter.interface.name): cannot remove the egress filter: \(error.description) (remove it with `tc filter del dev \(filter.interface.name) egress pref \(EgressFilter.tcPriority)`)")
        }
    }

    private func freeRole(_ kind: RoleMatcher.Kind) -> InterfaceRole? {
        switch kind {
        case .outside: return held.contains { $0.role == .outside } ? nil : .outside
        case .alt: return held.contains { $0.role == .alt } ? nil : .alt
        case .inside:
            var slot = 0
            while held.contains(where: { $0.role == .inside(slot) }) { slot += 1 }
            return .inside(slot)
        }
    }

    static func kind(of role: InterfaceRole) -> RoleMatcher.Kind {
        switch role {
        case .outside: .outside
        case .alt: .alt
        case .inside: .inside
        }
    }

    /// The first (primary) IPv4 address and the MAC: what the proxy sends from.
    static func addressing(_ link: LinkState) -> InterfaceAddressing? {
        guard let a = link.addresses.first else { return nil }
        return InterfaceAddressing(address: a.address, prefixLength: a.prefixLength, mac: link.mac)
    }

    /// Up and carrying: IFF_UP and IFF_LOWER_UP.
    static func carrier(_ link: LinkState) -> Bool { link.up && link.lowerUp }

    /// Opens the port of `role` on `link` (attaching the classifier through
    /// an unpinned link on XDP interfaces) and its egress filter.
    private func open(role: InterfaceRole, link: LinkState, addressing: InterfaceAddressing) throws(DaemonError) -> Held {
        let c = config
        let iface = NetworkInterface(name: link.name, index: link.index)
        let choice: DatapathChoice = switch c.datapath {
        case .auto: .auto
        case .xdp: .xdp
        case .kernel: .kernel
        }
        do {
            let info = try InterfaceInfo(iface)
            let kind = try choice.resolve(for: info)
            let port: any IGMPPort
            switch kind {
            case .xdp:
                var options = XDPPort.Options()
                switch c.xdpMode {
                case .auto: options.mode = .auto
                case .native: options.mode = .native
                case .generic: options.mode = .generic
                }
                let p = try XDPPort(interface: iface, options: options)
                for n in p.notes { logger.notice("\(n)") }
                if let rate = c.reportRateLimit {
                    try p.setRateLimit(perSecond: UInt32(rate.perSecond), burst: UInt32(rate.burst))
                }
                port = p
            case .kernel:
                let p = try KernelPort(interface: iface, captureAllGroups: true)
                for w in p.warnings { logger.warning("\(w)") }
                if c.reportRateLimit != nil {
                    logger.warning("\(link.name): limits.reportsPerSecondPerHost works in XDP; this interface uses the kernel datapath, so it is not rate limited")
                }
                port = p
            }
            var filter: EgressFilter?
            if let allow = c.egressAllow, role.isUpstream {
                let f = try EgressFilter(interface: iface, allowed: allow)
                for n in f.notes { logger.notice("\(n)") }
                filter = f
                logger.info("\(role) \(link.name): TC egress filter passes host reports for \(allow.isEmpty ? "no group" : allow.map(\.description).joined(separator: ", "))")
            }
            return Held(role: role, port: port, link: link, addressing: addressing, egressFilter: filter)
        } catch {
            throw DaemonError(error)
        }
    }
}
