import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import Foundation
import Glibc
import IGMPMembership
import IGMPProxy
import IGMPWire
import Logging
import Synchronization
import XigmpConfig

/// The running proxy: one port per interface role, the policy, and a loop
/// on a thread of its own that feeds packets to the policy and carries out
/// what it asks. Everything else (control socket, client API, reloads)
/// talks to the loop through a command queue, so the policy is only ever
/// touched by the loop thread and the packet path takes no locks.
public final class ProxyRuntime: @unchecked Sendable {
    /// The interfaces playing a role now and their datapaths (they come and
    /// go: ``InterfaceLifecycle``).
    public struct InterfaceSet: Sendable {
        /// Name, index, datapath per role present.
        public internal(set) var roles: [InterfaceRole: (name: String, index: UInt32, datapath: DatapathKind)]
    }

    /// What the control socket and client API can ask of the loop.
    public enum Command: Sendable {
        case status
        case setOutside(OutsideSelection)
        /// `activeOutside` nil: `auto`.
        case reconfigure(ProxyModes, unicastFallback: IPv4Address?, activeOutside: OutsideSelection?)
        case clientReport(groups: [IPv4Address], version: IGMPVersion)
        case clientReportRecords([GroupRecord])
        case clientLeave(groups: [IPv4Address], version: IGMPVersion)
        case groups
        case routes
    }

    /// The loop's answer, in the control protocol's types.
    public enum Reply: Sendable {
        /// `status`, `setOutside`, `reconfigure`.
        case status(DaemonStatus)
        case membership(MembershipReply)
        case routes(RoutesReply)
        /// A client request carried out.
        case done
        case failed(String)
    }

    /// Loop thread only.
    private(set) var interfaces = InterfaceSet(roles: [:])
    let metrics: ProxyMetrics
    let logger: Logger
    let events = EventHub()

    private var policy: ProxyPolicy
    private var ports: [(role: InterfaceRole, port: any IGMPPort)] = []
    /// The ports' lifecycle: which interface plays which role, following
    /// the kernel's link and address events.
    private let lifecycle: InterfaceLifecycle
    /// The poll set must be rebuilt (ports opened or closed).
    private var portsChanged = true
    /// `activeOutside: auto`: fail over to alt when the primary goes, back
    /// `failbackHoldDown` after it returns; off once `xigmp outside` pins a
    /// choice (until SIGHUP).
    private var autoOutside: Bool
    /// `querier.inside.isolatedHosts`: decides IGMPv2 fast leave per inside.
    private let isolatedHosts: DaemonConfig.IsolatedHosts
    private let failbackHoldDownNs: UInt64
    /// When the primary came back (auto, while on alt).
    private var primaryBackSince: UInt64?
    /// Called on the loop thread with the names of the interfaces held, when
    /// they change (the run-state file `xigmp unload` reads).
    var onInterfacesChanged: (@Sendable ([String]) -> Void)?
    /// Multicast data forwarding (`forwarding`), nil when off.
    private var forwarding: ForwardingManager?
    /// Whether each role still works (interface, program, sends).
    private let health: RoleHealth

    /// The names of the interfaces the daemon's ports run on (at start; then
    /// `onInterfacesChanged`).
    public private(set) var interfaceNames: [String] = []
    private var forwardingDirty = false
    /// Each inside interface's forwarding state per group, kept from the
    /// policy's `groupChanged` events: read while the policy is busy (inside
    /// its closure), so a join is installed before the policy goes on.
    private var insideStates: [String: [IPv4Address: GroupFilterState]] = [:]
    /// The active outside's name, the incoming interface of every entry;
    /// empty while its interface is absent. Kept apart from the policy so
    /// the policy's closures can read it.
    private var incomingName = ""
    private let pending = Mutex<[(Command, @Sendable (Reply) -> Void)]>([])
    /// A self-pipe: the read end is polled with the ports, a byte written to
    /// the other end wakes the loop for a command or a stop.
    /// The wake-up pipe (commands and stop write a byte; the loop polls).
    private let wakePipe: (read: KernelFD, write: KernelFD)
    private var wakeFD: Int32 { wakePipe.read.raw }
    private var wakeWriteFD: Int32 { wakePipe.write.raw }
    private let stopFlag = Atomic<Bool>(false)
    private let started = realtimeNs()
    private var lastQueryForwardNs: UInt64?
    private var transmitErrorsLogged: UInt64 = 0
    /// When the earliest inside batch of this loop turn was drained: the
    /// provisional entries stamped before it have had their reports
    /// handled (0: no inside batch this turn).
    private var provisionalCutoff: UInt64 = 0
    /// What the loop waits on: the wake-up pipe, rtnetlink and every port's
    /// descriptors (rebuilt when the ports change).
    private var loopWait: EventPoll?
    /// Groups whose inside state changed this turn, their forwarding
    /// entries not yet rewritten (capacity kept across turns).
    private var pendingGroups: [IPv4Address] = []
    private var pollFailuresLogged: UInt64 = 0
    /// Set while the loop cannot build its epoll set (shown by `status`).
    private var loopProblem: String?
    private static let wakeToken = -1
    private static let linksToken = -2

    /// Opens the ports of the interfaces there (attaching the classifier
    /// through unpinned links on XDP interfaces) and builds the policy; the
    /// others are waited for. Throws when an `interfaces.required` one is
    /// missing. Nothing is left attached when this throws: ports release
    /// what they opened as they are dropped.
    public init(config: LoadedConfig, logger: Logger, metrics registryMetrics: ProxyMetricsFactory) throws(DaemonError) {
        self.logger = logger
        let c = config.config
        lifecycle = try InterfaceLifecycle(config: c, logger: logger)
        for name in c.interfaces.required where lifecycle.monitor.link(named: name)?.addresses.isEmpty != false {
            let key = "interfaces.required"
            let line = config.line(of: key).map { ":\($0)" } ?? ""
            let why = lifecycle.monitor.link(named: name) == nil ? "no interface named '\(name)' in this network namespace (see `ip link`)"
                : "\(name) has no IPv4 address; the proxy sends from the interface's address: add one with `ip addr add`"
            throw DaemonError.config("\(config.locations.fileName)\(line): \(key): \(why)")
        }
        var routers: [InterfaceRole: MembershipConfiguration] = [:]
        for (name, router) in c.queriers {
            switch name {
            case .inside: routers[.inside] = router
            case .outside: routers[.outside] = router
            case .alt: routers[.alt] = router
            }
        }
        autoOutside = c.activeOutside == .auto
        isolatedHosts = c.isolatedHosts[.inside] ?? .auto
        failbackHoldDownNs = UInt64(c.failbackHoldDown.components.seconds) &* 1_000_000_000
            &+ UInt64(c.failbackHoldDown.components.attoseconds / 1_000_000_000)
        let proxyConfig = ProxyConfiguration(modes: c.modes, outside: nil, alt: nil, inside: nil,
                                             activeOutside: c.activeOutside == .alt ? .alt : .primary,
                                             unicastFallback: c.unicastFallback,
                                             limits: ProxyLimits(maxSourcesPerRecord: c.limits.maxSourcesPerRecord),
                                             membership: c.membership, routers: routers,
                                             upstream: c.upstream)
        do {
            policy = try ProxyPolicy(configuration: proxyConfig, startingAt: ProxyTime(nanoseconds: monotonicNs()),
                                     seed: realtimeNs())
        } catch {
            throw DaemonError.config("\(config.locations.fileName): \(error.description)")
        }
        metrics = registryMetrics.make([:])
        health = RoleHealth(roles: [], logger: logger, metrics: metrics)
        metrics.update(activeOutside: policy.activeOutside, modes: c.modes)
        var p: [Int32] = [0, 0]
        guard pipe(&p) == 0 else {
            throw DaemonError("cannot create the wake-up pipe: \(String(cString: strerror(errno)))")
        }
        for fd in p {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
            _ = fcntl(fd, F_SETFD, FD_CLOEXEC)
        }
        wakePipe = (KernelFD(owning: p[0]), KernelFD(owning: p[1]))
        if c.forwarding.mode != .off {
            forwarding = try Self.makeForwarding(config: config, logger: logger, metrics: metrics)
            pendingGroups.reserveCapacity(64)
            forwardingDirty = true
        }
        // The interfaces there now; the rest follow from the loop.
        let now = monotonicNs()
        lifecycle.reconcile { apply($0, now: now) }
        chooseOutside(now: now)
        interfaceNames = lifecycle.held.map(\.name)
    }


    /// Runs the loop on the calling thread until `stop()`.
    ///
    /// Only what poll(2) reported ready is touched: a port is drained when
    /// one of its descriptors is readable, the wake-up pipe is read when it
    /// is, and only ports that queued transmissions are kicked. At low rates
    /// a batch is one message, so every avoided syscall is a large share of
    /// the cost per message.
    public func run(watchdog: LoopWatchdog? = nil) {
        var lastWatchdog: UInt64 = 0
        var ready: [Bool] = []
        var lastHousekeeping: UInt64 = 0
        var lastPortCheck: UInt64 = 0
        var portCheckCursor = 0
        logger.info("proxy running: active outside \(policy.activeOutside), modes \(policy.configuration.modes.enabled.map(\.rawValue))")
        while !stopFlag.load(ordering: .relaxed) {
            if portsChanged {
                portsChanged = false
                ready = [Bool](repeating: false, count: ports.count)
                do throws(DatapathError) {
                    // A fresh set: what the old one watched may be closed.
                    let set = try EventPoll(capacity: 64)
                    try set.add(wakeFD, token: Self.wakeToken)
                    try set.add(lifecycle.fileDescriptor, token: Self.linksToken)
                    var p = 0
                    while p < ports.count {
                        for fd in ports[p].port.pollDescriptors { try set.add(fd, token: p) }
                        p += 1
                    }
                    loopWait = set
                    if loopProblem != nil {
                        loopProblem = nil
                        logger.notice("the loop watches its ports with epoll again")
                    }
                } catch {
                    // Never silent, never stuck: the loop turns on its
                    // timeout and drains every port each turn until a set
                    // can be built.
                    portsChanged = true
                    loopProblem = "the loop cannot watch its ports with epoll (\(error.description)): it drains every port every 10 ms until it can"
                    if pollFailuresLogged % 1000 == 0 {
                        logger.error("cannot watch the ports with epoll (\(error.description)): draining every port each turn, retrying")
                    }
                    pollFailuresLogged &+= 1
                }
            }
            var timeout: Int32 = forwarding?.awaitingFirstPacket == true ? 2 : 200
            // Unwatched (no epoll set): every port is drained each turn.
            let allReady = loopProblem != nil
            if allReady { timeout = min(timeout, 10) }
            if let deadline = policy.nextDeadline?.nanoseconds {
                let before = monotonicNs()
                let wait = deadline > before ? (deadline - before + 999_999) / 1_000_000 : 0
                timeout = Int32(min(UInt64(timeout), wait))
            }
            var wake = false
            var links = false
            if let loopWait {
                _ = loopWait.wait(timeoutMs: timeout) { token in
                    if token == Self.wakeToken { wake = true } else if token == Self.linksToken { links = true }
                    else if token < ready.count { ready[token] = true }
                }
            } else {
                _ = poll(nil, 0, timeout)
            }
            let now = monotonicNs()
            if allReady {
                metrics.unwatchedTurn()
                wake = true
                links = true
                var r = 0
                while r < ready.count { ready[r] = true; r += 1 }
            }
            var i = 0
            while i < ports.count {
                if ready[i] {
                    ready[i] = false
                    drain(ports[i].port, role: ports[i].role, now: now)
                }
                i += 1
            }
            // What this batch made the policy send goes out now, before
            // the forwarding writes and the checks below.
            if !pendingGroups.isEmpty { flushPorts() }
            if let deadline = policy.nextDeadline?.nanoseconds, deadline <= now {
                policy.tick(at: ProxyTime(nanoseconds: now)) { execute($0, now: now) }
            }
            if wake { processCommands(now: now) }
            if links, lifecycle.drainEvents() {
                lifecycle.reconcile { apply($0, now: now) }
                chooseOutside(now: now)
            }
            if let since = primaryBackSince, now &- since >= failbackHoldDownNs { chooseOutside(now: now) }
            if let forwarding {
                if forwardingDirty {
                    pendingGroups.removeAll(keepingCapacity: true)
                    updateForwarding(now: now)
                } else if !pendingGroups.isEmpty {
                    applyPendingGroups(forwarding, now: now)
                }
                // The routes of this turn's joins are written: their
                // provisional entries have done their job (or, refused,
                // must stop now).
                if provisionalCutoff != 0 {
                    forwarding.confirmProvisional(stampedBefore: provisionalCutoff)
                    provisionalCutoff = 0
                }
                if forwarding.pollDue(now) { forwarding.poll(now: now) }
            }
            // systemd's watchdog hears from the loop itself: a stuck loop
            // gets the daemon restarted.
            watchdog?.pingIfDue(now: now, last: &lastWatchdog)
            if now &- lastHousekeeping > 1_000_000_000 {
                lastHousekeeping = now
                policy.expireQueriers(at: ProxyTime(nanoseconds: now)) { execute($0, now: now) }
                // Entries whose report never reached the loop (a full ring):
                // past XIGMP_PROV_MAX_AGE_NS the forwarders ignore them anyway.
                forwarding?.confirmProvisional(stampedBefore: now &- 100_000_000)
                for role in policy.routerRoles { metrics.update(groups: policy.groupCount(on: role), hosts: policy.trackedHostCount(on: role), on: role) }
                readEgressCounters()
            }
            // Each port's checks (its link and program: a netlink query, its
            // kernel counters: map reads) cost up to a millisecond: one port
            // per step, every port once a second, so the loop never stalls
            // for all of them at once (with 20 insides that stall was 17 ms,
            // and the leaves waiting behind it missed a 5 ms bound).
            if !ports.isEmpty, now &- lastPortCheck >= 1_000_000_000 / UInt64(ports.count) {
                lastPortCheck = now
                portCheckCursor = (portCheckCursor + 1) % ports.count
                let (role, port) = ports[portCheckCursor]
                metrics.update(port: role, port.statistics)
                readClassifierCounters(role, port)
                health.check(role, port)
            }
            flushPorts()
        }
        // Egress filters are clsact filters where the kernel lacks tcx:
        // nothing removes those when the process exits, so they go here.
        lifecycle.closeAll()
        forwarding?.removeAll()
        logger.info("proxy loop stopped")
    }

    /// Kicks every port's queued sends (and takes back completed frames).
    private func flushPorts() {
        var i = 0
        while i < ports.count {
            do { try ports[i].port.flush() } catch {
                metrics.transmitError(ports[i].role)
                health.sendFailed(ports[i].role, cause: error.description)
            }
            i += 1
        }
    }

    /// Writes the forwarding entries of the groups whose inside state
    /// changed this turn.
    private func applyPendingGroups(_ forwarding: ForwardingManager, now: UInt64) {
        var i = 0
        while !incomingName.isEmpty && i < pendingGroups.count {
            let group = pendingGroups[i]
            forwarding.update(group: group, states: states(of: group), incoming: incomingName, now: now)
            i += 1
        }
        pendingGroups.removeAll(keepingCapacity: true)
    }

    /// Each inside's state of `group`.
    private func states(of group: IPv4Address) -> [String: GroupFilterState] {
        var states: [String: GroupFilterState] = [:]
        for (interface, groups) in insideStates {
            if let state = groups[group] { states[interface] = state }
        }
        return states
    }

    /// Asks the loop to stop; `run()` returns within one poll interval.
    public func stop() {
        stopFlag.store(true, ordering: .relaxed)
        wake()
    }

    /// Sends a command to the loop and waits for its reply.
    public func perform(_ command: Command) async -> Reply {
        await withCheckedContinuation { (k: CheckedContinuation<Reply, Never>) in
            enqueue(command) { k.resume(returning: $0) }
        }
    }

    /// Blocking variant for threads that are not in Swift concurrency.
    public func performSync(_ command: Command) -> Reply {
        let box = Mutex<Reply?>(nil)
        let done = DispatchSemaphore(value: 0)
        enqueue(command) { r in box.withLock { $0 = r }; done.signal() }
        if done.wait(timeout: .now() + 5) == .timedOut { return .failed("the proxy loop did not answer within 5 s") }
        return box.withLock { $0 } ?? .failed("no reply")
    }

    private func enqueue(_ command: Command, _ reply: @escaping @Sendable (Reply) -> Void) {
        if stopFlag.load(ordering: .relaxed) {
            reply(.failed("the proxy is shutting down"))
            return
        }
        pending.withLock { $0.append((command, reply)) }
        wake()
    }

    private func wake() {
        var one: UInt8 = 1
        _ = write(wakeWriteFD, &one, 1)
    }

    // MARK: - the packet path

    private func drain(_ port: any IGMPPort, role: InterfaceRole, now: UInt64) {
        do {
            let n = try port.receive(maxBatch: 64, timeoutMs: 0) { packet in
                let view: IGMPPacketView
                do throws(IGMPParseError) {
                    view = packet.linkLayer == .ethernet ? try IGMPPacketView(ethernetFrame: packet.bytes)
                                                         : try IGMPPacketView(ipv4Packet: packet.bytes)
                } catch {
                    metrics.decodeError(role)
                    return
                }
                policy.handle(view, on: role, at: ProxyTime(nanoseconds: now)) { execute($0, now: now) }
            }
            if n > 0 && !role.isUpstream && provisionalCutoff == 0 { provisionalCutoff = now }
        } catch {
            logger.error("receiving on \(role) \(port.interface.name): \(error.description)")
        }
    }

    /// Carries out one action while the packet it may borrow is still lent.
    private func execute(_ action: ProxyAction, now: UInt64) {
        switch action {
        case .count(let c):
            metrics.count(c)
        case .routerCount(let c, let role):
            metrics.count(c, on: role)
        case .upstreamCount(let c, let role):
            metrics.count(c, on: role)
        case .event(let e):
            switch e {
            case .routerQuerierChanged(let role, let status):
                let name = interfaces.roles[role]?.name ?? "\(role)"
                switch status {
                case .querier: logger.notice("\(name): xigmp is the querier")
                case .nonQuerier(let other, _): logger.notice("\(name): \(other) is the querier (lower address); xigmp is quiet")
                case .passive: logger.notice("\(name): passive, not querying")
                }
            case .groupChanged(let role, let change):
                if !role.isUpstream, let name = interfaces.roles[role]?.name {
                    insideStates[name, default: [:]][change.group] = change.new.hasMembers ? change.new : nil
                    if let forwarding, !forwardingDirty, !incomingName.isEmpty {
                        if !change.new.hasMembers {
                            // Gone: the entry goes at once (the host's link
                            // stops carrying the group now).
                            forwarding.update(group: change.group, states: states(of: change.group),
                                              incoming: incomingName, now: now)
                        } else if !pendingGroups.contains(change.group) {
                            // Written once this turn's sends are out (see
                            // run()): the upstream report goes first, since a
                            // cold channel starts only when the upstream hears
                            // it, while a warm one already flows on the
                            // provisional entry the classifier wrote at the
                            // report.
                            pendingGroups.append(change.group)
                        }
                    }
                }
                logger.debug("\(interfaces.roles[role]?.name ?? "\(role)"): \(change.group) \(change.old) → \(change.new)")
            default:
                break
            }
            events.publish(e)
        case .transmit(let t):
            transmit(t, now: now)
        }
    }

    private func transmit(_ t: ProxyTransmit, now: UInt64) {
        guard let port = port(for: t.role) else {
            metrics.transmitError(t.role)
            return
        }
        do throws(DatapathError) {
            // Inbound payloads are the received bytes, sent directly: the
            // generic withPayloadBytes runs unspecialised across modules and
            // cost a quarter of the per-message time (make bench). Originated
            // messages are encoded into stack memory by it.
            if case .inbound(let bytes) = t.payload {
                try port.send(igmp: bytes, source: t.source, destination: t.destination, options: t.ipOptions)
            } else {
                let sent: Void? = try t.withPayloadBytes { (bytes) throws(DatapathError) in
                    try port.send(igmp: bytes, source: t.source, destination: t.destination, options: t.ipOptions)
                }
                guard sent != nil else { throw DatapathError(.invalidArgument, "cannot encode the \(t.purpose) message") }
            }
            metrics.forwarded(t.purpose, on: t.role)
            noteLatency(t, now: now)
        } catch {
            // A failed send is counted and logged (rate-limited), never fatal:
            // goIGMP exited on any send error.
            metrics.transmitError(t.role)
            health.sendFailed(t.role, cause: error.description)
            transmitErrorsLogged &+= 1
            if transmitErrorsLogged <= 10 || transmitErrorsLogged % 1000 == 0 {
                logger.warning("send on \(t.role) failed (\(transmitErrorsLogged) so far): \(error.description)")
            }
        }
    }

    /// Query proxied inside → first report proxied outside: the latency a
    /// querier sees through the proxy.
    private func noteLatency(_ t: ProxyTransmit, now: UInt64) {
        switch t.mode {
        case .proxyOutToIn:
            lastQueryForwardNs = now
        case .proxyInToOut, .unicastProxyInToOut:
            if let q = lastQueryForwardNs {
                metrics.queryToReport.record(.nanoseconds(Int64(now &- q)))
                lastQueryForwardNs = nil
            }
        default:
            break
        }
    }

    private func port(for role: InterfaceRole) -> (any IGMPPort)? {
        var i = 0
        while i < ports.count {
            if ports[i].role == role { return ports[i].port }
            i += 1
        }
        return nil
    }

    // MARK: - interfaces that come and go

    /// Carries one lifecycle change into the policy, the ports, forwarding,
    /// metrics and health.
    private func apply(_ change: InterfaceLifecycle.Change, now: UInt64) {
        let t = ProxyTime(nanoseconds: now)
        let emit: (ProxyAction) -> Void = { self.execute($0, now: now) }
        switch change {
        case .added(let h):
            do throws(ProxyConfigurationError) {
                try policy.setAddressing(h.addressing, for: h.role, at: t)
            } catch {
                logger.error("\(h.role) \(h.name): \(error.description)")
                return
            }
            ports.append((h.role, h.port))
            if !h.role.isUpstream {
                let isolated = HostIsolation.isolated(h.link, setting: isolatedHosts)
                policy.setFastLeaveOlderHosts(isolated.answer, on: h.role)
                logger.debug("\(h.role) \(h.name): hosts \(isolated.answer ? "cannot" : "may") hear each other's reports (\(isolated.why))")
            }
            interfaces.roles[h.role] = (h.name, h.link.index, h.datapath)
            metrics.addRole(h.role, name: h.name, datapath: h.datapath)
            health.add(h.role)
            if !InterfaceLifecycle.carrier(h.link) { linkDown(h.role, name: h.name, adminDown: !h.link.up) }
            if !h.role.isUpstream { forwarding?.addInside(h.port) }
            if h.role.isUpstream {
                forwarding?.addIngress(h.port)
                if h.role == policy.activeOutside.role {
                    incomingName = h.name
                    // Back with the memberships it had: re-announced (ip_mc_up).
                    policy.interfaceUp(h.role, at: t, emit)
                }
            }
            forwardingDirty = true
            portsChanged = true
        case .removed(let role, let name):
            if role.isUpstream {
                do throws(ProxyConfigurationError) { try policy.setAddressing(nil, for: role, at: t) } catch {}
                forwarding?.removeIngress(named: name)
            } else {
                policy.removeInside(role, at: t, emit)
                insideStates[name] = nil
                forwarding?.removeInside(named: name)
            }
            forwarding?.forget(interface: name)
            ports.removeAll { $0.role == role }
            interfaces.roles[role] = nil
            if role == policy.activeOutside.role { incomingName = "" }
            metrics.removeRole(role)
            health.remove(role)
            forwardingDirty = true
            portsChanged = true
        case .readdressed(let role, let addressing):
            do throws(ProxyConfigurationError) {
                try policy.setAddressing(addressing, for: role, at: t)
            } catch {
                logger.error("\(role): new address \(addressing.address)/\(addressing.prefixLength) refused: \(error.description)")
            }
            if role == policy.activeOutside.role { policy.interfaceUp(role, at: t, emit) }
        case .renamed(let role, let from, let to):
            if let f = interfaces.roles[role] { interfaces.roles[role] = (to, f.index, f.datapath) }
            if let states = insideStates.removeValue(forKey: from) { insideStates[to] = states }
            forwarding?.renamed(from: from, to: to)
            if incomingName == from { incomingName = to }
            metrics.removeRole(role)
            if let f = interfaces.roles[role] { metrics.addRole(role, name: to, datapath: f.datapath) }
            forwardingDirty = true
        case .link(let role, let up, let adminDown):
            let name = interfaces.roles[role]?.name ?? "\(role)"
            if up {
                health.linkUp(role, name: name)
                policy.interfaceUp(role, at: t, emit)
            } else {
                linkDown(role, name: name, adminDown: adminDown)
            }
        }
        let names = lifecycle.held.map(\.name)
        if names != interfaceNames {
            interfaceNames = names
            onInterfacesChanged?(names)
        }
    }

    /// A link without carrier: down for an upstream, or for any interface
    /// set down; an inside bridge merely without carrier has no hosts yet
    /// (docker0 before its first container), which is not a failure.
    private func linkDown(_ role: InterfaceRole, name: String, adminDown: Bool) {
        if role.isUpstream || adminDown {
            health.linkDown(role, name: name)
        } else {
            logger.info("\(role) \(name): no carrier (no host attached yet)")
        }
    }

    /// `activeOutside: auto`: the primary while it is there with its link
    /// up; the alt at once when it is not (and the alt is); the primary
    /// again once it has been back `failbackHoldDown`.
    private func chooseOutside(now: UInt64) {
        guard autoOutside else { return }
        func usable(_ role: InterfaceRole) -> Bool {
            guard let h = lifecycle.held(role) else { return false }
            return InterfaceLifecycle.carrier(h.link)
        }
        let primaryOK = usable(.outside), altOK = usable(.alt)
        var want = policy.activeOutside
        switch policy.activeOutside {
        case .primary:
            primaryBackSince = nil
            if !primaryOK && altOK { want = .alt }
        case .alt:
            if !primaryOK {
                primaryBackSince = nil
            } else if !altOK {
                want = .primary
            } else if let since = primaryBackSince {
                if now &- since >= failbackHoldDownNs { want = .primary }
            } else {
                primaryBackSince = now
                logger.notice("activeOutside auto: the primary outside is back; returning to it in \(failbackHoldDownNs / 1_000_000) ms unless it goes again")
            }
        }
        guard want != policy.activeOutside else { return }
        let t = ProxyTime(nanoseconds: now)
        do throws(ProxyConfigurationError) {
            try policy.setActiveOutside(want, at: t) { execute($0, now: now) }
        } catch {
            logger.error("activeOutside auto: cannot switch to \(want): \(error.description)")
            return
        }
        primaryBackSince = nil
        metrics.failover(to: want)
        metrics.update(activeOutside: want, modes: policy.configuration.modes)
        incomingName = interfaces.roles[want.role]?.name ?? ""
        forwardingDirty = true
        logger.notice("activeOutside auto: \(want == .alt ? "failed over to" : "returned to") the \(want) outside (\(incomingName))")
    }

    // MARK: - commands

    private func processCommands(now: UInt64) {
        var sink = [UInt8](repeating: 0, count: 64)
        while sink.withUnsafeMutableBytes({ read(wakeFD, $0.baseAddress, $0.count) }) > 0 {}
        let batch = pending.withLock { p -> [(Command, @Sendable (Reply) -> Void)] in
            let b = p
            p.removeAll()
            return b
        }
        for (command, reply) in batch { reply(handle(command, now: now)) }
    }

    private func handle(_ command: Command, now: UInt64) -> Reply {
        let t = ProxyTime(nanoseconds: now)
        let emit: (ProxyAction) -> Void = { self.execute($0, now: now) }
        switch command {
        case .status:
            return .status(status(at: t))
        case .setOutside(let selection):
            do throws(ProxyConfigurationError) {
                try policy.setActiveOutside(selection, at: t, emit)
            } catch {
                return .failed(error.description)
            }
            if autoOutside { logger.notice("activeOutside auto is off until the next SIGHUP: `xigmp outside` chose \(selection)") }
            autoOutside = false
            primaryBackSince = nil
            metrics.update(activeOutside: selection, modes: policy.configuration.modes)
            incomingName = interfaces.roles[selection.role]?.name ?? ""
            forwardingDirty = true
            logger.notice("active outside is now \(selection) (\(interfaces.roles[selection.role]?.name ?? "?"))")
            return .status(status(at: t))
        case .reconfigure(let modes, let fallback, let active):
            var next = policy.configuration
            next.modes = modes
            next.unicastFallback = fallback
            do throws(ProxyConfigurationError) {
                try next.validate()
                try policy.reconfigure(next)
                // Through the switch, so tracked memberships move with it.
                if let active { try policy.setActiveOutside(active, at: t, emit) }
            } catch {
                return .failed(error.description)
            }
            autoOutside = active == nil
            primaryBackSince = nil
            if autoOutside { chooseOutside(now: now) }
            metrics.update(activeOutside: policy.activeOutside, modes: modes)
            incomingName = interfaces.roles[policy.activeOutside.role]?.name ?? ""
            forwardingDirty = true
            return .status(status(at: t))
        case .clientReport(let groups, let version):
            return client { () throws(ClientRequestError) in try policy.clientReport(groups: groups, version: version, at: t, emit) }
        case .clientReportRecords(let records):
            return client { () throws(ClientRequestError) in try policy.clientReport(records: records, at: t, emit) }
        case .clientLeave(let groups, let version):
            return client { () throws(ClientRequestError) in try policy.clientLeave(groups: groups, version: version, at: t, emit) }
        case .routes:
            func tenths(_ v: Double) -> Double { (v * 10).rounded() / 10 }
            let rows = (forwarding?.rows(now: now) ?? []).map { r in
                RoutesReply.Route(source: r.key.source?.description ?? "*", group: r.key.group.description,
                                  incoming: r.key.incoming, out: r.outgoing, path: r.path, packets: r.packets,
                                  bytes: r.bytes, ratePps: tenths(r.packetsPerSecond), ageSeconds: tenths(r.ageSeconds),
                                  firstPacketMs: r.firstPacketMs.map { ($0 * 1000).rounded() / 1000 })
            }
            return .routes(RoutesReply(mode: forwarding?.settings.mode.rawValue ?? "off", routes: rows))
        case .groups:
            return .membership(membershipReply(at: t))
        }
    }

    /// The `groups` reply: timers in seconds, to the millisecond.
    private func membershipReply(at t: ProxyTime) -> MembershipReply {
        func ms(_ s: Double) -> Double { (s * 1000).rounded() / 1000 }
        let tables = policy.membership(at: t).map { m -> MembershipReply.InterfaceTable in
            let querier: MembershipReply.QuerierRole
            switch m.querier {
            case .querier: querier = .init(role: "querier")
            case .passive: querier = .init(role: "passive")
            case .nonQuerier(let other, _): querier = .init(role: "non-querier", querier: other.description)
            }
            let groups = m.table.groups.map { g in
                MembershipReply.Group(
                    group: g.group.description, filterMode: g.filterMode.rawValue, compatibility: g.compatibilityMode,
                    lastReporter: g.lastReporter.description, groupTimerSeconds: g.groupTimerSeconds.map(ms),
                    sources: g.sources.map { .init(address: $0.address.description, timerSeconds: ms($0.timerSeconds),
                                                   forwarding: $0.forwarding) },
                    hosts: g.hosts.map { .init(address: $0.address.description, mac: $0.mac, filterMode: $0.filterMode.rawValue,
                                               sources: $0.sources.map(\.description), timerSeconds: ms($0.timerSeconds)) },
                    hostsUntracked: g.hostsUntracked)
            }
            return .init(interface: interfaces.roles[m.role]?.name ?? "\(m.role)", role: "\(m.role)",
                         querier: querier, groups: groups)
        }
        let active = policy.activeOutside
        let upstream = policy.upstreamMemberships(on: active).map {
            MembershipReply.UpstreamGroup(group: $0.group.description, filterMode: $0.state.mode.rawValue,
                                          sources: $0.state.sources.map(\.description))
        }
        return MembershipReply(
            membership: policy.configuration.membership.rawValue, interfaces: tables,
            upstream: .init(interface: interfaces.roles[active.role]?.name ?? "",
                            version: "\(policy.upstreamCompatibility(on: active, at: t))", groups: upstream),
            counters: membershipCounters())
    }

    /// Recomputes the forwarding entries from the tables and static routes.
    private func updateForwarding(now: UInt64) {
        forwardingDirty = false
        let memberships = insideStates.mapValues { groups in groups.map { (group: $0.key, state: $0.value) } }
        forwarding?.update(memberships: memberships, incoming: incomingName.isEmpty ? nil : incomingName, now: now)
    }

    /// The XDP token bucket's and the egress filters' counts, into metrics.
    private func readKernelCounters() {
        for (role, port) in ports { readClassifierCounters(role, port) }
        readEgressCounters()
    }

    /// The classifier's counters of one port (an XDP port's map reads).
    private func readClassifierCounters(_ role: InterfaceRole, _ port: any IGMPPort) {
        guard let xdp = port as? XDPPort, let counters = try? xdp.classifierCounters() else { return }
        metrics.update(kernel: "xdp_rate_limited", on: role, ifname: port.interface.name, counters["rate_limited"])
        if !role.isUpstream {
            metrics.update(kernel: "xdp_provisional_installed", on: role, ifname: port.interface.name,
                           counters["provisional_installed"])
        }
    }

    private func readEgressCounters() {
        for h in lifecycle.held {
            guard let filter = h.egressFilter, let counters = try? filter.counters else { continue }
            let role = h.role
            metrics.update(kernel: "egress_allowed", on: role, ifname: filter.interface.name, counters.allowed)
            metrics.update(kernel: "egress_dropped", on: role, ifname: filter.interface.name, counters.dropped)
            metrics.update(kernel: "egress_rewritten", on: role, ifname: filter.interface.name, counters.rewritten)
        }
    }

    private func membershipCounters() -> [String: [String: UInt64]] {
        readKernelCounters()
        var out: [String: [String: UInt64]] = [:]
        for (role, f) in interfaces.roles {
            var c: [String: UInt64] = [:]
            for (k, v) in metrics.routerTotals[role] ?? [:] { c[k.rawValue] = v }
            for (k, v) in metrics.hostTotals[role] ?? [:] { c["upstream_" + k.rawValue] = v }
            for (k, v) in metrics.kernelTotals[role] ?? [:] { c[k] = v }
            if !c.isEmpty { out[f.name] = c }
        }
        return out
    }

    private func client(_ body: () throws(ClientRequestError) -> ClientDelivery) -> Reply {
        do {
            _ = try body()
            return .done
        } catch {
            return .failed(error.description)
        }
    }

    private func status(at t: ProxyTime) -> DaemonStatus {
        let roles = interfaces.roles.sorted(by: { $0.key.sortKey < $1.key.sortKey }).map { role, f in
            let h = health.states[role]
            return RoleStatus(role: role.description, interface: f.name, ifindex: f.index, datapath: f.datapath.rawValue,
                              up: h?.up ?? true, reason: h?.up == false ? (h?.reason ?? "unknown") : nil)
        }
        return DaemonStatus(
            activeOutside: policy.activeOutside.description,
            activeInterface: interfaces.roles[policy.activeOutside.role]?.name ?? "",
            modes: policy.configuration.modes.enabled.map(\.rawValue),
            membership: policy.configuration.membership.rawValue,
            uptimeSeconds: (realtimeNs() &- started) / 1_000_000_000,
            querier: policy.querier(for: policy.activeOutside, at: t).map { .init(address: $0.address.description, version: "\($0.version)") },
            unicastFallback: policy.configuration.unicastFallback?.description,
            roles: roles, waiting: lifecycle.waiting, autoOutside: autoOutside,
            problems: { let p = [loopProblem, forwarding?.problem].compactMap { $0 }; return p.isEmpty ? nil : p }())
    }
}

/// Creates the metrics once the interfaces are known.
public struct ProxyMetricsFactory: Sendable {
    let registry: PrometheusCollectorRegistryBox
    /// Metrics in `registry`.
    public init(registry: PrometheusCollectorRegistryBox) { self.registry = registry }
    func make(_ interfaces: [InterfaceRole: (name: String, datapath: DatapathKind)]) -> ProxyMetrics {
        ProxyMetrics(registry: registry.registry, interfaces: interfaces)
    }
}

func monotonicNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

func realtimeNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
