import CXigmp
import DatapathBPF
import DatapathKernel
import DatapathPrograms
import Glibc
import IGMPWire
import Synchronization

// MARK: - the namespace's mroute socket, shared

/// The one multicast-router socket (MRT_INIT) of a network namespace,
/// shared by everything in this process that programs VIFs and MFC entries
/// (`KernelMulticastRouting`). Nobody reads IGMP from it: the kernel
/// datapath taps interfaces with AF_PACKET instead, which needs no
/// multicast routing in the kernel.
///
/// The kernel allows one mroute socket per namespace (per mroute table):
/// MRT_INIT on a second socket fails with EADDRINUSE, and closing the
/// socket (or MRT_DONE) flushes every VIF and MFC entry it made. So the
/// socket lives as long as any user holds it and VIFs are reference-counted
/// per interface. A drop-everything socket filter keeps IGMP and upcalls
/// from piling up in it.
///
/// Looked up per thread's network namespace (/proc/thread-self/ns/net), so
/// a thread that `setns`es gets that namespace's socket.
final class MulticastRouterSocket: @unchecked Sendable {
    /// The MRT socket: closed in deinit under the registry lock (so a new
    /// one for this namespace is made only after), hence optional.
    private var routerSocket: KernelFD?
    var fd: Int32 { routerSocket?.raw ?? -1 }
    let namespace: UInt64

    private struct VIF {
        var index: UInt16
        var users: Int
        var name: String
    }

    private struct State {
        var vifs: [UInt32: VIF] = [:]  // by ifindex
        var routerAttached = false
    }

    private let state = Mutex(State())

    private struct WeakEntry: @unchecked Sendable {
        weak var socket: MulticastRouterSocket?
    }

    private static let registry = Mutex<[UInt64: WeakEntry]>([:])

    /// The current thread's namespace's shared socket, made (MRT_INIT) when
    /// no user holds one. Errors keep the MRT_INIT errno: EADDRINUSE when
    /// another program is the namespace's multicast router, ENOPROTOOPT or
    /// EOPNOTSUPP without CONFIG_IP_MROUTE.
    static func shared() throws(DatapathError) -> MulticastRouterSocket {
        guard let ns = NetNamespace.inode("/proc/thread-self/ns/net") else {
            throw DatapathError.system("reading this thread's network namespace (/proc/thread-self/ns/net)", errno: errno)
        }
        return try registry.withLock { (table: inout [UInt64: WeakEntry]) throws(DatapathError) -> MulticastRouterSocket in
            if let socket = table[ns]?.socket { return socket }
            let socket = try MulticastRouterSocket(namespace: ns)
            table[ns] = WeakEntry(socket: socket)
            return socket
        }
    }

    private init(namespace: UInt64) throws(DatapathError) {
        let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                        Int32(IPPROTO_IGMP))
        guard fd >= 0 else {
            throw DatapathError.system("opening a raw IGMP socket for multicast routing", errno: errno)
        }
        let owned = KernelFD(owning: fd)
        // Nobody reads it: keep IGMP and upcalls out.
        _ = cxigmp_attach_drop_all(fd)
        guard cxigmp_mrt_init(fd) == 0 else {
            throw DatapathError.failed(Self.initFailure(errno), errno: errno)
        }
        routerSocket = owned
        self.namespace = namespace
    }

    private static func initFailure(_ code: Int32) -> String {
        switch code {
        case EADDRINUSE:
            return "becoming this namespace's multicast router (MRT_INIT): another program (smcroute, igmpproxy, pimd, mrouted?) owns the kernel's multicast routing table here; stop it, or run xigmp in another network namespace"
        case ENOPROTOOPT, EOPNOTSUPP:
            return "becoming this namespace's multicast router (MRT_INIT): this kernel has no IPv4 multicast routing (CONFIG_IP_MROUTE)"
        case EPERM, EACCES:
            return "becoming this namespace's multicast router (MRT_INIT): permission denied (\(errnoName(code))); needs root (CAP_NET_ADMIN and CAP_NET_RAW)"
        default:
            return "becoming this namespace's multicast router (MRT_INIT): \(errnoName(code))"
        }
    }

    deinit {
        // Under the registry lock, so a new socket for this namespace can
        // only be made (MRT_INIT) once this one is gone.
        Self.registry.withLock { table in
            _ = cxigmp_mrt_done(fd)
            routerSocket = nil
            if table[namespace] != nil && table[namespace]?.socket == nil { table[namespace] = nil }
        }
    }

    // MARK: router

    /// Marks the namespace's one `KernelMulticastRouting`; false when one
    /// exists already.
    func attachRouter() -> Bool {
        state.withLock { s in
            if s.routerAttached { return false }
            s.routerAttached = true
            return true
        }
    }

    func detachRouter() {
        state.withLock { $0.routerAttached = false }
    }

    // MARK: VIFs

    /// The VIF of `interface`, added (MRT_ADD_VIF, VIFF_USE_IFINDEX) on first
    /// use; each call must be matched by `releaseVIF`. Adding a VIF turns on
    /// ALLMULTI and increments net.ipv4.conf.IF.mc_forwarding.
    func acquireVIF(_ interface: NetworkInterface) throws(DatapathError) -> UInt16 {
        try state.withLock { (s: inout State) throws(DatapathError) -> UInt16 in
            if var vif = s.vifs[interface.index] {
                vif.users += 1
                s.vifs[interface.index] = vif
                return vif.index
            }
            let used = Set(s.vifs.values.map(\.index))
            for index in UInt16(0)..<UInt16(CXIGMP_MAXVIFS) where !used.contains(index) {
                if cxigmp_mrt_add_vif(fd, index, Int32(bitPattern: interface.index)) == 0 {
                    s.vifs[interface.index] = VIF(index: index, users: 1, name: interface.name)
                    return index
                }
                let code = errno
                // A static VIF someone else made (smcroute -N, ip mroute
                // tools) holds this index: try the next.
                if code == EADDRINUSE { continue }
                if code == ENODEV || code == EADDRNOTAVAIL {
                    throw DatapathError(.noSuchInterface, "adding \(interface.name) as a multicast VIF (MRT_ADD_VIF): \(errnoName(code)): does the interface still exist and is it up?", errno: code)
                }
                throw DatapathError.system("adding \(interface.name) as a multicast VIF (MRT_ADD_VIF)", errno: code)
            }
            throw DatapathError(.limitReached, "adding \(interface.name) as a multicast VIF: all \(CXIGMP_MAXVIFS) VIFs (MAXVIFS) are in use")
        }
    }

    /// Drops one use of the interface's VIF; the last one deletes it.
    func releaseVIF(_ ifindex: UInt32) {
        state.withLock { s in
            guard var vif = s.vifs[ifindex] else { return }
            vif.users -= 1
            if vif.users > 0 {
                s.vifs[ifindex] = vif
                return
            }
            s.vifs[ifindex] = nil
            _ = cxigmp_mrt_del_vif(fd, vif.index)
        }
    }

    /// The VIF index of an interface, if it has one here.
    func vifIndex(_ ifindex: UInt32) -> UInt16? {
        state.withLock { $0.vifs[ifindex]?.index }
    }
}

// MARK: - kernel multicast forwarding

/// Per-interface sysctls that matter to kernel multicast forwarding
/// (net.ipv4.conf.IF.*, read from /proc/sys in the calling thread's
/// network namespace); nil where unreadable.
public struct MulticastForwardingSysctls: Sendable, Equatable {
    /// net.ipv4.conf.IF.mc_forwarding: read-only, the kernel counts the
    /// VIFs on the interface (1 while one exists). Nothing to set: it only
    /// shows whether ipmr sees the interface.
    public var mcForwarding: Int?
    /// net.ipv4.conf.IF.rp_filter.
    public var rpFilter: Int?
    /// net.ipv4.conf.all.rp_filter.
    public var allRpFilter: Int?
    /// What the kernel applies: max(all, IF). 0 off, 1 strict (drop
    /// multicast whose source is not routed back out the interface it came
    /// in on), 2 loose (drop sources without any route).
    public var effectiveRpFilter: Int? {
        switch (rpFilter, allRpFilter) {
        case let (i?, a?): return max(i, a)
        case let (i?, nil): return i
        case let (nil, a?): return a
        default: return nil
        }
    }
}

/// One installed MFC entry and the kernel's counters for it.
public struct KernelRouteStatistics: Sendable, Equatable {
    /// nil: the (*,G) entry.
    public var source: IPv4Address?
    public var group: IPv4Address
    public var incoming: NetworkInterface
    public var outgoing: [NetworkInterface]
    /// Packets and bytes that matched the entry (SIOCGETSGCNT pktcnt,
    /// bytecnt), forwarded or not.
    public var packets: UInt64
    public var bytes: UInt64
    /// Packets of an (S,G) entry that came in on another interface than
    /// `incoming` (and were dropped).
    public var wrongInterface: UInt64
}

/// xigmp's kernel forwarding path: programs the namespace's IPv4 multicast
/// routing table itself (MRT_INIT, VIFs, MFC entries set at join time), so
/// multicast data is forwarded by the kernel on any interface — veth,
/// Linux bridges such as docker0, tun/GRE and other L3 devices — and the
/// benchmark has its kernel baseline. One per network namespace; needs a
/// kernel with CONFIG_IP_MROUTE (`CapabilityProbe` says whether this one
/// has it).
///
/// ## How (*,G) entries work (net/ipv4/ipmr.c, ipmr_base.c; Linux ≥ 4.1)
///
/// An entry with `mfcc_origin` = 0.0.0.0 is a (*,G) entry. On input,
/// `ip_mr_input` looks up the exact (S,G) first (`ipmr_cache_find`); only
/// without one does it try (*,G): `ipmr_cache_find_any(mrt, G, vif)` →
/// `mr_mfc_find_any`, which returns a (0,G) entry only if
/// `ttls[incoming vif] < 255` — the entry's TTL array must list the
/// incoming VIF itself (or a (*,*) "proxy" entry must cover it). Then
/// `ip_mr_forward` checks that the entry's parent VIF is the interface the
/// packet came in on (else `wrong_if` and drop), and forwards to every VIF
/// whose threshold is below the packet's TTL — skipping the incoming VIF
/// for (*,G) entries only. So a (*,G) route is installed as:
/// - `mfcc_parent` = the incoming (upstream) VIF;
/// - `mfcc_ttls[incoming]` = 1 (needed for the lookup, never forwarded to);
/// - `mfcc_ttls[each outgoing]` = 1 (forward if TTL > 1; TTL is decremented);
/// - everything else 0 (ipmr stores 0 as 255: not an output).
/// Without the incoming VIF's TTL the entry is never found: the first
/// packet of every source goes up as an IGMPMSG_NOCACHE upcall and is
/// queued as unresolved (tested: `KernelRoutingTests`).
///
/// An (S,G) entry wins over (*,G) because the exact lookup comes first:
/// an (S,G) with no outputs blocks source S (EXCLUDE), an (S,G) with
/// outputs and no (*,G) admits only S (INCLUDE). For (S,G) entries the
/// kernel does not skip the incoming VIF on output, so it must not be in
/// the TTL array. Packets of sources without a matching entry (INCLUDE
/// mode) go up as NOCACHE upcalls and sit in the unresolved queue for 10 s
/// (at most 10 entries); nothing reads them.
///
/// MRT_ADD_MFC (not the _PROXY variant) matches an existing entry by
/// (S,G) alone, so `setRoute` replaces the incoming interface and outputs
/// of an entry atomically, and there is one entry per (S,G).
///
/// ## What else forwarding needs
///
/// Nothing beyond the VIFs: ip_forward is not consulted for multicast, and
/// mc_forwarding is set by the kernel while a VIF exists. But the input
/// route check (`ip_mc_validate_source` → `fib_validate_source`) applies
/// rp_filter: with strict rp_filter (1) on the incoming interface (or in
/// `all`) multicast from a source whose unicast route does not point back
/// out that interface is dropped before ipmr sees it; loose (2) drops only
/// sources with no route at all. See `sysctls(for:)` /
/// `setReversePathFilter(_:on:)`. The TTL threshold is 1: packets sent with
/// TTL 1 (the default for IP_MULTICAST_TTL) are never forwarded.
///
/// Used from one thread at a time.
public final class KernelMulticastRouting {
    private struct RouteKey: Hashable {
        var source: IPv4Address?
        var group: IPv4Address
    }

    private struct Route {
        var incoming: NetworkInterface
        var outgoing: [NetworkInterface]
    }

    private let socket: MulticastRouterSocket
    /// Interfaces this router holds a VIF reference for.
    private var interfaces: [UInt32: NetworkInterface] = [:]
    private var routes: [RouteKey: Route] = [:]

    /// Becomes this namespace's multicast router socket. Throws with a clear message when
    /// another program owns the table (EADDRINUSE), the kernel lacks
    /// CONFIG_IP_MROUTE, privileges are missing, or another
    /// `KernelMulticastRouting` of this process serves the namespace.
    public init() throws(DatapathError) {
        try Privileges.requireRawSockets("kernel multicast forwarding")
        let socket = try MulticastRouterSocket.shared()
        guard socket.attachRouter() else {
            throw DatapathError(.alreadyLoaded, "this process already programs this namespace's multicast routing table (one KernelMulticastRouting per network namespace)")
        }
        self.socket = socket
    }

    deinit {
        for key in routes.keys {
            _ = cxigmp_mrt_del_mfc(socket.fd, key.source?.networkOrder ?? 0, key.group.networkOrder)
        }
        for ifindex in interfaces.keys { socket.releaseVIF(ifindex) }
        socket.detachRouter()
        // The last holder of the socket closes it (MRT_DONE).
    }

    /// Adds `iface` as a VIF (VIFF_USE_IFINDEX) unless it is one already;
    /// returns its VIF index. `setRoute` adds interfaces itself.
    @discardableResult
    public func addInterface(_ iface: NetworkInterface) throws(DatapathError) -> Int {
        if interfaces[iface.index] != nil, let vif = socket.vifIndex(iface.index) { return Int(vif) }
        let vif = try socket.acquireVIF(iface)
        interfaces[iface.index] = iface
        return Int(vif)
    }

    /// Removes every route through `iface` and gives up its VIF (deleted
    /// unless a `KernelPort` still uses it).
    public func removeInterface(_ iface: NetworkInterface) {
        for (key, route) in routes where route.incoming.index == iface.index {
            _ = try? removeRoute(source: key.source, group: key.group)
        }
        for (key, route) in routes where route.outgoing.contains(where: { $0.index == iface.index }) {
            _ = try? setRoute(source: key.source, group: key.group, incoming: route.incoming,
                              outgoing: route.outgoing.filter { $0.index != iface.index })
        }
        if interfaces.removeValue(forKey: iface.index) != nil { socket.releaseVIF(iface.index) }
    }

    /// Installs or replaces the route for (source, group): packets to
    /// `group` (from `source`, or from any source when nil: (*,G)) arriving
    /// on `incoming` are forwarded out of each of `outgoing` (never back
    /// out of `incoming`; an empty list blocks them). Effective for the very
    /// next packet: no upcall is involved.
    public func setRoute(source: IPv4Address?, group: IPv4Address, incoming: NetworkInterface,
                         outgoing: [NetworkInterface]) throws(DatapathError) {
        guard group.isMulticast else {
            throw DatapathError(.invalidArgument, "multicast route for \(group): not a multicast group address (224.0.0.0/4)")
        }
        let inVIF = try addInterface(incoming)
        var ttls = [UInt8](repeating: 0, count: Int(CXIGMP_MAXVIFS))
        var outputs: [NetworkInterface] = []
        for out in outgoing where out.index != incoming.index && !outputs.contains(where: { $0.index == out.index }) {
            ttls[try addInterface(out)] = 1
            outputs.append(out)
        }
        // (*,G): mr_mfc_find_any only finds the entry if the incoming VIF
        // has a threshold; ip_mr_forward never sends (*,G) traffic back out
        // of it. (S,G): the incoming VIF must stay out, or it would be.
        if source == nil { ttls[inVIF] = 1 }
        let rc = ttls.withUnsafeBufferPointer {
            cxigmp_mrt_add_mfc(socket.fd, source?.networkOrder ?? 0, group.networkOrder, UInt16(inVIF),
                               $0.baseAddress, $0.count)
        }
        guard rc == 0 else {
            throw DatapathError.system("installing the multicast route \(Self.describe(source, group)) in \(incoming.name) (MRT_ADD_MFC)", errno: errno)
        }
        routes[RouteKey(source: source, group: group)] = Route(incoming: incoming, outgoing: outputs)
    }

    /// Removes the route for (source, group); with `incoming`, only if it
    /// comes in there. False when there was no such route.
    @discardableResult
    public func removeRoute(source: IPv4Address?, group: IPv4Address,
                            incoming: NetworkInterface? = nil) throws(DatapathError) -> Bool {
        let key = RouteKey(source: source, group: group)
        guard let route = routes[key] else { return false }
        if let incoming, incoming.index != route.incoming.index { return false }
        routes[key] = nil
        guard cxigmp_mrt_del_mfc(socket.fd, source?.networkOrder ?? 0, group.networkOrder) == 0 else {
            let code = errno
            if code == ENOENT { return true }  // the kernel dropped it (interface gone)
            throw DatapathError.system("removing the multicast route \(Self.describe(source, group)) (MRT_DEL_MFC)", errno: code)
        }
        return true
    }

    /// Removes every route this router installed.
    public func removeAllRoutes() {
        for key in Array(routes.keys) { _ = try? removeRoute(source: key.source, group: key.group) }
    }

    /// The routes this router installed, with the kernel's counters
    /// (SIOCGETSGCNT); an entry the kernel no longer has reads as zeros.
    public func routeStatistics() -> [KernelRouteStatistics] {
        routes.map { key, route in
            var count = cxigmp_sg_count()
            _ = cxigmp_mrt_sg_count(socket.fd, key.source?.networkOrder ?? 0, key.group.networkOrder, &count)
            return KernelRouteStatistics(source: key.source, group: key.group, incoming: route.incoming,
                                         outgoing: route.outgoing, packets: count.packets, bytes: count.bytes,
                                         wrongInterface: count.wrong_if)
        }.sorted { ($0.group, $0.source?.rawValue ?? 0) < ($1.group, $1.source?.rawValue ?? 0) }
    }

    /// The VIF index of an interface this router uses, if any.
    public func vifIndex(of iface: NetworkInterface) -> Int? {
        interfaces[iface.index] == nil ? nil : socket.vifIndex(iface.index).map(Int.init)
    }

    // MARK: sysctls

    /// The forwarding-relevant sysctls of `iface` in the calling thread's
    /// network namespace.
    public static func sysctls(for iface: NetworkInterface) -> MulticastForwardingSysctls {
        MulticastForwardingSysctls(mcForwarding: readSysctl("net/ipv4/conf/\(iface.name)/mc_forwarding"),
                                   rpFilter: readSysctl("net/ipv4/conf/\(iface.name)/rp_filter"),
                                   allRpFilter: readSysctl("net/ipv4/conf/all/rp_filter"))
    }

    /// Writes net.ipv4.conf.IF.rp_filter (0 off, 1 strict, 2 loose). The
    /// kernel applies max(all, IF), so turning it off on one interface
    /// needs net.ipv4.conf.all.rp_filter ≤ the wanted value too.
    public static func setReversePathFilter(_ mode: Int, on iface: NetworkInterface) throws(DatapathError) {
        guard (0...2).contains(mode) else {
            throw DatapathError(.invalidArgument, "rp_filter on \(iface.name): \(mode) is not 0 (off), 1 (strict) or 2 (loose)")
        }
        try Sysctl.write("net/ipv4/conf/\(iface.name)/rp_filter", mode)
    }

    static func readSysctl(_ key: String) -> Int? { Sysctl.read(key) }

    private static func describe(_ source: IPv4Address?, _ group: IPv4Address) -> String {
        "(\(source.map { "\($0)" } ?? "*"),\(group))"
    }
}

extension IPv4Address {
    /// The address as a network-byte-order `s_addr`.
    var networkOrder: UInt32 { rawValue.bigEndian }
}

private extension String {
    var trimmedWhitespace: String {
        let set = " \n\t"
        var s = Substring(self)
        while let c = s.first, set.contains(c) { s.removeFirst() }
        while let c = s.last, set.contains(c) { s.removeLast() }
        return String(s)
    }
}
