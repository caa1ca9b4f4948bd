import CXigmp
import DatapathBPF
import DatapathKernel
import DatapathPrograms
import Glibc
import IGMPWire

/// The classifier's fast path for IPv4 multicast data: routes
/// (ingress, source, group) to inside ports in XDP, without the kernel's
/// multicast routing.
///
/// The kernel side lives in `bpf/igmp_classify.bpf.c`: for a frame to
/// 224.0.0.0/4 (not 224.0.0.0/24, not IGMP) arriving on an ingress that
/// `enable(ingress:)` switched on, the classifier looks up (ingress, S, G)
/// then (ingress, *, G) in `xigmp_fwd_route` and redirects it through the
/// `xigmp_fwd_ports` devmap to one port, or (several egress ports) with
/// BPF_F_BROADCAST|BPF_F_EXCLUDE_INGRESS to the ports of the route's member
/// devmap (one of 32 lent here to a route: one copy per member, however
/// many ports the forwarder has) or, without one, to every port. Each port
/// runs the devmap program `xigmp_fwd_out`, which drops the copy unless the
/// port's slot bit is in the route's mask, decrements TTL (RFC 1624 checksum
/// update) and writes the port's MAC as the source.
///
/// Egress ports must be able to receive XDP-redirected frames:
/// - a **veth** only takes them when its peer runs NAPI: an XDP program on
///   the peer (any, even XDP_PASS) or GRO on the peer
///   (`ethtool -K PEER gro on`); otherwise the kernel drops every copy
///   (`xdp_redirect_err`) — nothing reaches the far side;
/// - a **Linux bridge** has no ndo_xdp_xmit and is refused: use its member
///   ports (or a veth into it) as egress ports instead.
///
/// With no ingress enabled (the `xigmp_fwd_on` count is 0) multicast data
/// costs the classifier one inlined array read more than before (measured
/// with BPF_PROG_TEST_RUN: 23 → 24 ns; unicast and ARP unchanged).
///
/// Not thread-safe: one owner configures a forwarder (slot allocation reads
/// then writes the interface map). One writer per classifier: which member
/// devmap each route has lives in this object, so a second forwarder made
/// with `init(attachedTo:)` takes over from the first, which must not write
/// routes again.
///
/// Routes are plain data: the control plane computes each (S,G) row's full
/// egress set (for IGMPv3 INCLUDE/EXCLUDE it installs (S,G) rows whose set
/// differs from the (*,G) row, or `blockSource` rows), so the kernel does
/// at most two lookups per frame.
public final class MulticastForwarder: @unchecked Sendable {
    /// What happens to multicast data that matches no route.
    public enum Unmatched: Sendable, Equatable {
        /// To the kernel, as if forwarding were off (the default).
        case pass
        /// Dropped in XDP.
        case drop
    }

    /// A route's key: ingress ifindex, source (nil: any source, the (*,G)
    /// row) and group.
    public struct RouteKey: Sendable, Hashable, CustomStringConvertible {
        public let ingress: UInt32
        public let source: IPv4Address?
        public let group: IPv4Address

        /// A source of 0.0.0.0 is the (*,G) row, as the kernel's key has it.
        public init(ingress: UInt32, source: IPv4Address?, group: IPv4Address) {
            self.ingress = ingress
            self.source = source?.rawValue == 0 ? nil : source
            self.group = group
        }

        public var description: String {
            let name = NetworkInterface(index: ingress)?.name ?? "ifindex \(ingress)"
            return "(\(source.map { "\($0)" } ?? "*"), \(group)) on \(name)"
        }

        var raw: xigmp_fwd_key {
            xigmp_fwd_key(ifindex: ingress, source: (source?.rawValue ?? 0).bigEndian, group: group.rawValue.bigEndian)
        }

        init(_ raw: xigmp_fwd_key) {
            ingress = raw.ifindex
            source = raw.source == 0 ? nil : IPv4Address(rawValue: UInt32(bigEndian: raw.source))
            group = IPv4Address(rawValue: UInt32(bigEndian: raw.group))
        }
    }

    /// Frames and IPv4 bytes forwarded for one route (summed over CPUs);
    /// a frame counts once whatever its number of egress ports.
    public struct RouteCounters: Sendable, Equatable {
        public var packets: UInt64
        public var bytes: UInt64
        public init(packets: UInt64 = 0, bytes: UInt64 = 0) {
            self.packets = packets
            self.bytes = bytes
        }
    }

    /// Which path forwards a route (`enum xigmp_fwd_path`).
    public enum Path: UInt32, Sendable, Equatable {
        /// The classifier redirects through the devmap (XDP).
        case xdp = 0
        /// `xigmp_fwd_tc` on the ingress's TC hook clones to each egress.
        case tc = 1
        /// Passed to the kernel, whose MFC forwards it.
        case kernel = 2
    }

    /// One installed route.
    public struct Route: Sendable {
        public let key: RouteKey
        /// Egress ifindexes (empty: a blocking or kernel-path row).
        public let egress: [UInt32]
        public let path: Path
        /// A kernel-path row: passed to the kernel, whose MFC forwards it.
        public var passesToKernel: Bool { path == .kernel }
        public let counters: RouteCounters
    }

    /// The forwarder's global counters (`enum xigmp_fwd_counter`).
    public struct Counters: Sendable, Equatable {
        /// Frames redirected to their egress port(s).
        public var forwarded: UInt64 = 0
        /// Frames matching a route with TTL <= 1: dropped.
        public var ttlExpired: UInt64 = 0
        /// Frames matching no route, passed / dropped per the ingress setting.
        public var unmatchedPassed: UInt64 = 0
        public var unmatchedDropped: UInt64 = 0
        /// Frames matching a blocking row: dropped.
        public var blocked: UInt64 = 0
        /// Single-egress routes whose port is not registered: passed.
        public var noEgress: UInt64 = 0
        /// Copies the devmap program sent, and dropped because the port is
        /// not in the route (the broadcast case's filtering).
        public var egressSent: UInt64 = 0
        public var egressFiltered: UInt64 = 0
        /// Frames matching a TC- or kernel-path row: passed on by XDP.
        public var kernelPath: UInt64 = 0
        /// TC path: frames replicated, copies sent, copies refused.
        public var tcForwarded: UInt64 = 0
        public var tcCopies: UInt64 = 0
        public var tcErrors: UInt64 = 0
        /// Frames whose egress set came wholly or partly from a provisional
        /// entry (``ProvisionalTable``), on either path.
        public var provisional: UInt64 = 0

        public init() {}

        init(_ v: [UInt64]) {
            func at(_ c: xigmp_fwd_counter) -> UInt64 { v[Int(c.rawValue)] }
            forwarded = at(XIGMP_FWD_CNT_FORWARDED)
            ttlExpired = at(XIGMP_FWD_CNT_TTL_EXPIRED)
            unmatchedPassed = at(XIGMP_FWD_CNT_UNMATCHED_PASSED)
            unmatchedDropped = at(XIGMP_FWD_CNT_UNMATCHED_DROPPED)
            blocked = at(XIGMP_FWD_CNT_BLOCKED)
            noEgress = at(XIGMP_FWD_CNT_NO_EGRESS)
            egressSent = at(XIGMP_FWD_CNT_EGRESS_SENT)
            egressFiltered = at(XIGMP_FWD_CNT_EGRESS_FILTERED)
            provisional = at(XIGMP_FWD_CNT_PROVISIONAL)
            kernelPath = at(XIGMP_FWD_CNT_KERNEL_PATH)
            tcForwarded = at(XIGMP_FWD_CNT_TC_FORWARDED)
            tcCopies = at(XIGMP_FWD_CNT_TC_COPIES)
            tcErrors = at(XIGMP_FWD_CNT_TC_ERRORS)
        }
    }

    /// The maps, shared with the classifier that forwards.
    public let routesMap: BPFMap
    public let portsMap: BPFMap
    public let interfacesMap: BPFMap
    public let statsMap: BPFMap
    public let countersMap: BPFMap
    /// Slot 0: the number of interfaces with ingress forwarding on.
    public let enabledCountMap: BPFMap
    /// Slot -> egress ifindex (the TC path's port list).
    public let slotsMap: BPFMap
    /// The member devmaps (`xigmp_fwd_m0`...), lent one per route with two
    /// or more XDP egress ports; a route's `members` field names its own.
    public let memberMaps: [BPFMap]
    /// The devmap program put in every port's devmap value.
    public let egressProgram: KernelFD
    /// The TC forwarding program, attached to an ingress by `enableTC`.
    public let tcProgram: KernelFD
    /// Where the forwarders reach the shared provisional table.
    public let provisional: ProvisionalTable.Slots
    /// TC attachments by ingress ifindex.
    private var tcAttachments: [UInt32: TCAttachment] = [:]
    /// Which member devmap each route has and the ports in it: the copy
    /// this process keeps, so a join costs one devmap write, no read-back.
    private var lent: [RouteKey: Lent] = [:]
    /// Member devmaps no route has (indexes into `memberMaps`).
    private var freeMemberMaps: [Int] = []
    /// Egress ports in the shared devmap (the ones XDP can transmit to):
    /// only they go in member devmaps.
    private var xdpPorts: Set<UInt32> = []

    private struct Lent {
        let index: Int
        var ports: Set<UInt32>
    }
    /// The classifier instance, when built from one (keeps it alive).
    private let classifier: Classifier?

    /// A forwarder over a classifier instance this process loaded.
    public init(classifier: Classifier) {
        self.classifier = classifier
        routesMap = classifier.forwardRoutes
        portsMap = classifier.forwardPorts
        interfacesMap = classifier.forwardInterfaces
        statsMap = classifier.forwardStats
        countersMap = classifier.forwardCounters
        enabledCountMap = classifier.forwardOn
        egressProgram = classifier.forwardEgressProgram
        slotsMap = classifier.forwardSlots
        memberMaps = classifier.forwardMemberMaps
        freeMemberMaps = Array(memberMaps.indices.reversed())
        tcProgram = classifier.forwardTCProgram
        provisional = classifier.provisional
    }

    /// A forwarder over the classifier attached to `interface` (for
    /// instance by `xigmp load`): its maps are found by name among the
    /// program's map ids, and a fresh copy of the devmap program is loaded
    /// on those same maps (every map it uses is also the classifier's).
    public init(attachedTo interface: NetworkInterface) throws(DatapathError) {
        guard let existing = try XDP.query(interface) else {
            throw DatapathError(.notLoaded, "no XDP program on \(interface.name): load the classifier first (`xigmp load --iface \(interface.name)`)")
        }
        guard existing.isOurs else {
            throw DatapathError(.foreignProgram, "\(interface.name) runs a foreign XDP program '\(existing.program.name)' (prog id \(existing.program.id)), not xigmp's classifier: multicast forwarding needs the classifier")
        }
        var byName: [String: BPFMap] = [:]
        for id in existing.program.mapIDs {
            let m = try BPFMap(id: id)
            byName[m.name] = m
        }
        func need(_ name: String) throws(DatapathError) -> BPFMap {
            guard let m = byName[name] else {
                throw DatapathError(.abiMismatch, "the classifier on \(interface.name) (prog id \(existing.program.id)) has no map '\(name)': it predates multicast forwarding; reload it with `xigmp load --force --iface \(interface.name)`")
            }
            return m
        }
        // The ABI version, not a map's size, says whether this control
        // plane can read the attached classifier's maps.
        let reload = "reload it with `xigmp load --force --iface \(interface.name)`"
        guard let abi = byName[XIGMP_MAP_ABI] else {
            throw DatapathError(.abiMismatch, "the classifier on \(interface.name) (prog id \(existing.program.id)) is from an older xigmp (no ABI version); \(reload)")
        }
        let version = try abi.lookup(UInt32(0), as: UInt32.self) ?? 0
        guard version == UInt32(XIGMP_ABI_VERSION) else {
            throw DatapathError(.abiMismatch, "the classifier on \(interface.name) (prog id \(existing.program.id)) speaks BPF ABI \(version), this xigmp speaks \(XIGMP_ABI_VERSION); \(reload)")
        }
        routesMap = try need(XIGMP_MAP_FWD_ROUTES)
        portsMap = try need(XIGMP_MAP_FWD_PORTS)
        interfacesMap = try need(XIGMP_MAP_FWD_IFS)
        statsMap = try need(XIGMP_MAP_FWD_STATS)
        countersMap = try need(XIGMP_MAP_FWD_COUNTERS)
        enabledCountMap = try need(XIGMP_MAP_FWD_ON)
        slotsMap = try need(XIGMP_MAP_FWD_SLOTS)
        var members: [BPFMap] = []
        for n in 0..<Int(XIGMP_FWD_MEMBER_MAPS) { members.append(try need(XIGMP_MAP_FWD_MEMBER_PREFIX + "\(n)")) }
        memberMaps = members
        guard let provisional = ProvisionalTable.Slots(maps: Array(byName.values)) else {
            throw DatapathError(.abiMismatch, "the classifier on \(interface.name) (prog id \(existing.program.id)) has no provisional forwarding maps; \(reload)")
        }
        self.provisional = provisional
        (egressProgram, tcProgram) = try Self.loadEgressPrograms(sharing: byName)
        classifier = nil
        // What earlier processes (another `xigmp` command, a daemon)
        // installed: the XDP ports and the member devmaps with their ports.
        xdpPorts = Set(try keys(of: portsMap, as: UInt32.self))
        for k in try keys(of: routesMap, as: xigmp_fwd_key.self) {
            guard let v = try routesMap.lookup(k, as: xigmp_fwd_route.self),
                  v.members > 0, v.members <= UInt32(memberMaps.count) else { continue }
            let index = Int(v.members) - 1
            lent[RouteKey(k)] = Lent(index: index, ports: Set(try keys(of: memberMaps[index], as: UInt32.self)))
        }
        let used = Set(lent.values.map(\.index))
        freeMemberMaps = memberMaps.indices.reversed().filter { !used.contains($0) }
        // A map no row names (a writer that died between lending and the
        // row write) is emptied before it is lent.
        for index in freeMemberMaps {
            for port in try keys(of: memberMaps[index], as: UInt32.self) { try deleteMember(port, from: memberMaps[index]) }
        }
    }

    /// Loads `xigmp_fwd_out` and `xigmp_fwd_tc` from the embedded classifier
    /// object with every map the attached classifier has reused
    /// (`bpf_map__reuse_fd`), the classifier program itself not loaded.
    private static func loadEgressPrograms(sharing maps: [String: BPFMap]) throws(DatapathError) -> (KernelFD, KernelFD) {
        let object = EmbeddedObject.igmpClassify
        guard let bytes = object.bytes else {
            throw DatapathError(.objectMissing, "this xigmp binary was built without its BPF object '\(object.rawValue)': build with `make`, not a bare `swift build`")
        }
        errno = 0
        guard let handle = cxigmp_object_open_mem(bytes.baseAddress, bytes.count, object.rawValue) else {
            throw DatapathError(.objectMissing, "cannot parse embedded BPF object '\(object.rawValue)': \(errnoName(errno == 0 ? EINVAL : errno))")
        }
        defer { bpf_object__close(handle) }
        for (name, map) in maps {
            guard let m = bpf_object__find_map_by_name(handle, name) else { continue }
            try libbpfCheck(bpf_map__reuse_fd(m, map.fd.raw), "reusing map \(name) of the attached classifier")
        }
        if let p = bpf_object__find_program_by_name(handle, XIGMP_PROG_CLASSIFY) {
            try libbpfCheck(bpf_program__set_autoload(p, false), "skipping the classifier program")
        }
        _ = LibBPFLog.take()
        let rc = bpf_object__load(handle)
        guard rc == 0 else {
            throw DatapathError(.verifierRejected, "loading the forwarding devmap program failed: \(errnoName(-rc))",
                                detail: LibBPFLog.tail(LibBPFLog.take(), lines: 12), errno: -rc)
        }
        func take(_ name: String) throws(DatapathError) -> KernelFD {
            guard let p = bpf_object__find_program_by_name(handle, name) else {
                throw DatapathError(.objectMissing, "BPF object '\(object.rawValue)' has no program '\(name)'")
            }
            let copy = fcntl(bpf_program__fd(p), F_DUPFD_CLOEXEC, 0)
            guard copy >= 0 else { throw DatapathError.system("dup program \(name)", errno: errno) }
            return KernelFD(owning: copy)
        }
        return (try take(XIGMP_PROG_FWD_OUT), try take(XIGMP_PROG_FWD_TC))
    }

    // MARK: - interfaces

    private func row(_ ifindex: UInt32) throws(DatapathError) -> xigmp_fwd_if? {
        try interfacesMap.lookup(ifindex, as: xigmp_fwd_if.self)
    }

    private static func emptyRow() -> xigmp_fwd_if {
        xigmp_fwd_if(ingress: 0, unmatched: 0, egress: 0, slot: 0, mac: (0, 0, 0, 0, 0, 0), l3: 0, reserved: 0)
    }

    private func store(_ ifindex: UInt32, _ r: xigmp_fwd_if) throws(DatapathError) {
        if r.ingress == 0 && r.egress == 0 {
            try interfacesMap.delete(ifindex)
        } else {
            try interfacesMap.update(ifindex, r)
        }
        // The classifier's gate: with no ingress on, multicast data costs
        // it one inlined array read and no hash lookup.
        let on = UInt32(try allRows().values.filter { $0.ingress != 0 }.count)
        try enabledCountMap.update(UInt32(0), on)
    }

    /// Every interface row: ifindex -> row.
    private func allRows() throws(DatapathError) -> [UInt32: xigmp_fwd_if] {
        var rows: [UInt32: xigmp_fwd_if] = [:]
        for k in try keys(of: interfacesMap, as: UInt32.self) {
            if let r = try row(k) { rows[k] = r }
        }
        return rows
    }

    /// Forwards multicast data arriving on `ingress` (the interface the
    /// classifier is attached to); `unmatched` says what happens to
    /// multicast data no route matches.
    public func enable(ingress: NetworkInterface, unmatched: Unmatched = .pass) throws(DatapathError) {
        var r = try row(ingress.index) ?? Self.emptyRow()
        r.ingress = 1
        r.l3 = (try? InterfaceInfo(ingress).hasEthernet) == false ? 1 : 0
        r.unmatched = UInt8(unmatched == .drop ? XIGMP_FWD_UNMATCHED_DROP.rawValue : XIGMP_FWD_UNMATCHED_PASS.rawValue)
        try store(ingress.index, r)
    }

    /// Attaches the TC forwarding path to `ingress`'s TC ingress hook (tcx
    /// where the kernel has it, else clsact), so routes on the `.tc` path
    /// forward from there. Idempotent. Call `enable(ingress:)` too.
    @discardableResult
    public func enableTC(ingress: NetworkInterface) throws(DatapathError) -> TCAttachment {
        if let a = tcAttachments[ingress.index] { return a }
        let a = try TCAttachment(program: tcProgram.raw, programName: XIGMP_PROG_FWD_TC, interface: ingress,
                                 hook: .ingress, handle: Self.tcHandle, priority: Self.tcPriority)
        tcAttachments[ingress.index] = a
        return a
    }

    /// Removes the TC path's filter a crashed run left on `ingress` (clsact
    /// kernels only: a tcx link dies with its process). Returns whether one
    /// was there.
    @discardableResult
    public static func removeLeftoverTC(ingress: NetworkInterface) throws(DatapathError) -> Bool {
        try TCAttachment.removeLeftover(programName: XIGMP_PROG_FWD_TC, interface: ingress, hook: .ingress,
                                        handle: tcHandle, priority: tcPriority)
    }

    /// tc filter handle and priority of the TC path on clsact kernels ("xf").
    public static let tcHandle: UInt32 = 0x7866
    public static let tcPriority: UInt32 = 0x7866

    /// Stops forwarding on `ingress`: the classifier passes its multicast
    /// data to the kernel again, exactly as without forwarding. Routes stay.
    public func disable(ingress: NetworkInterface) throws(DatapathError) {
        tcAttachments[ingress.index] = nil
        guard var r = try row(ingress.index) else { return }
        r.ingress = 0
        r.unmatched = 0
        try store(ingress.index, r)
    }

    /// Makes `iface` an egress port: gives it a slot (a bit in route
    /// masks), records its MAC (the new source MAC of forwarded frames)
    /// and puts it in the devmap with the devmap program. Again on a port
    /// already added refreshes its MAC and program.
    ///
    /// A veth port receives redirected frames only while its peer runs
    /// NAPI (an XDP program on the peer, or `ethtool -K PEER gro on`).
    ///
    /// `xdp` false makes a TC-path port only: a slot and a MAC, no devmap
    /// entry, so any Ethernet-like device (a bridge included) can be one.
    public func addEgress(_ iface: NetworkInterface, xdp: Bool = true) throws(DatapathError) {
        if xdp && iface.driver == "bridge" {
            throw DatapathError(.featureAbsent, "\(iface.name) is a Linux bridge, which cannot transmit XDP-redirected frames (no ndo_xdp_xmit): add its member ports (or a veth into the bridge) as egress ports instead")
        }
        let info = try InterfaceInfo(iface)
        guard info.hasEthernet, let mac = info.mac else {
            throw DatapathError(.featureAbsent, "\(iface.name) has no Ethernet header (hardware type \(info.hardwareType)): XDP forwarding writes Ethernet frames and needs an Ethernet-like egress port")
        }
        let rows = try allRows()
        var r = rows[iface.index] ?? Self.emptyRow()
        if r.egress == 0 {
            let used = Set(rows.values.filter { $0.egress != 0 }.map { Int($0.slot) })
            guard let slot = (0..<Int(XIGMP_FWD_MAX_PORTS)).first(where: { !used.contains($0) }) else {
                throw DatapathError(.limitReached, "cannot add \(iface.name): all \(XIGMP_FWD_MAX_PORTS) egress slots are in use; remove an egress port first")
            }
            r.egress = 1
            r.slot = UInt8(slot)
        }
        let m = mac.rawValue
        r.mac = (UInt8(truncatingIfNeeded: m >> 40), UInt8(truncatingIfNeeded: m >> 32), UInt8(truncatingIfNeeded: m >> 24),
                 UInt8(truncatingIfNeeded: m >> 16), UInt8(truncatingIfNeeded: m >> 8), UInt8(truncatingIfNeeded: m))
        try store(iface.index, r)
        try slotsMap.update(UInt32(r.slot), iface.index)
        guard xdp else { return }
        guard portsMap.valueSize == MemoryLayout<bpf_devmap_val>.size else {
            throw DatapathError(.abiMismatch, "map \(portsMap.name): values are \(portsMap.valueSize) bytes, expected struct bpf_devmap_val (\(MemoryLayout<bpf_devmap_val>.size))")
        }
        let rc = putPort(iface.index, in: portsMap)
        if rc == -EINVAL {
            throw DatapathError(.featureAbsent, "the kernel refused \(iface.name) as an egress port (EINVAL): the devmap program must be loaded with expected_attach_type BPF_XDP_DEVMAP (kernel >= 5.8)", errno: EINVAL)
        }
        try libbpfCheck(rc, "adding \(iface.name) to map \(portsMap.name)")
        if xdpPorts.insert(iface.index).inserted && !lent.isEmpty {
            // A TC-only port turned XDP: routes already naming it get it in
            // their member devmaps (the shared broadcast used to reach it).
            let bit = UInt64(1) << UInt64(r.slot)
            for (key, l) in lent {
                guard let v = try routesMap.lookup(key.raw, as: xigmp_fwd_route.self), v.out_mask & bit != 0 else { continue }
                _ = try lendMembers(key, l.ports.union([iface.index]))
            }
        }
    }

    /// Removes `iface` as an egress port: out of the devmap, its slot freed
    /// and its bit taken out of every route (a route left without ports is
    /// removed, so a later port given the same slot inherits nothing).
    public func removeEgress(_ iface: NetworkInterface) throws(DatapathError) {
        try removeEgress(ifindex: iface.index)
    }

    /// `removeEgress` by ifindex (for an interface that is already gone).
    public func removeEgress(ifindex: UInt32) throws(DatapathError) {
        try portsMap.delete(ifindex)
        xdpPorts.remove(ifindex)
        guard var r = try row(ifindex), r.egress != 0 else { return }
        let bit = UInt64(1) << UInt64(r.slot)
        let slots = try slotTable()
        for k in try keys(of: routesMap, as: xigmp_fwd_key.self) {
            guard var v = try routesMap.lookup(k, as: xigmp_fwd_route.self), v.out_mask & bit != 0 else { continue }
            v.out_mask &= ~bit
            if v.out_mask == 0 {
                try deleteRoute(k)
                continue
            }
            v.out_count = UInt32(v.out_mask.nonzeroBitCount)
            v.single_ifindex = v.out_count == 1 ? slots[v.out_mask.trailingZeroBitCount] ?? 0 : 0
            let left = Set((0..<64).filter { v.out_mask & (UInt64(1) << UInt64($0)) != 0 }.compactMap { slots[$0] })
                .intersection(v.path == Path.xdp.rawValue ? xdpPorts : [])
            if left.count < 2 { v.members = 0 }
            try routesMap.update(k, v)
            try trimMembers(RouteKey(k), to: left)
        }
        try slotsMap.update(UInt32(r.slot), UInt32(0))
        r.egress = 0
        r.slot = 0
        r.mac = (0, 0, 0, 0, 0, 0)
        try store(ifindex, r)
    }

    /// slot -> egress ifindex.
    private func slotTable() throws(DatapathError) -> [Int: UInt32] {
        var t: [Int: UInt32] = [:]
        for (k, r) in try allRows() where r.egress != 0 { t[Int(r.slot)] = k }
        return t
    }

    // MARK: - routes

    /// Installs (or replaces) the route for (`ingress`, `source`, `group`):
    /// frames go to every ifindex in `egress` (each added with `addEgress`).
    /// `source` nil is the (*,G) row; an empty `egress` removes the route.
    /// A replaced route keeps its counters.
    public func setRoute(ingress: NetworkInterface, source: IPv4Address?, group: IPv4Address,
                         egress: [UInt32], path: Path = .xdp) throws(DatapathError) {
        let key = RouteKey(ingress: ingress.index, source: source, group: group)
        guard !egress.isEmpty else { return try removeRoute(ingress: ingress, source: source, group: group) }
        try checkGroup(group, key)
        // One lookup per egress, names only for errors: this runs between a
        // join and its first forwarded packet, and every syscall shows there.
        var mask: UInt64 = 0
        for ifindex in Set(egress) {
            func name() -> String { NetworkInterface(index: ifindex)?.name ?? "ifindex \(ifindex)" }
            if ifindex == ingress.index {
                throw DatapathError(.invalidArgument, "route \(key): \(name()) is the ingress; a frame is never sent back out of the interface it arrived on")
            }
            guard let r = try row(ifindex), r.egress != 0 else {
                throw DatapathError(.invalidArgument, "route \(key): \(name()) is not an egress port: add it with addEgress first")
            }
            mask |= UInt64(1) << UInt64(r.slot)
        }
        let count = UInt32(mask.nonzeroBitCount)
        let single = count == 1 ? Set(egress).first! : 0
        try install(key, xigmp_fwd_route(out_mask: mask, out_count: count, single_ifindex: single,
                                          path: path.rawValue, members: 0),
                    members: path == .xdp ? Set(egress) : [])
    }

    /// Installs a blocking row: frames from `source` to `group` on `ingress`
    /// are dropped even when a (*,G) route exists (an IGMPv3 EXCLUDEd
    /// source, or a source no INCLUDE list names).
    public func blockSource(ingress: NetworkInterface, source: IPv4Address, group: IPv4Address,
                            path: Path = .xdp) throws(DatapathError) {
        let key = RouteKey(ingress: ingress.index, source: source, group: group)
        try checkGroup(group, key)
        try install(key, xigmp_fwd_route(out_mask: 0, out_count: 0, single_ifindex: 0, path: path.rawValue, members: 0))
    }

    /// Installs a kernel-path row: frames from `source` (nil: any) to `group`
    /// on `ingress` pass to the kernel, whose MFC entry forwards them, even
    /// when the ingress drops unmatched data.
    public func passToKernel(ingress: NetworkInterface, source: IPv4Address?, group: IPv4Address) throws(DatapathError) {
        let key = RouteKey(ingress: ingress.index, source: source, group: group)
        try checkGroup(group, key)
        try install(key, xigmp_fwd_route(out_mask: 0, out_count: 0, single_ifindex: 0,
                                          path: Path.kernel.rawValue, members: 0))
    }

    private func checkGroup(_ group: IPv4Address, _ key: RouteKey) throws(DatapathError) {
        guard group.rawValue >> 28 == 0xE, group.rawValue >> 8 != 0xE0_0000 else {
            throw DatapathError(.invalidArgument, "route \(key): \(group) is not a forwardable multicast group (224.0.0.0/4 outside the link-local 224.0.0.0/24)")
        }
    }

    /// Writes a route's counters, member devmap and row. Ports join the
    /// member devmap before the row's mask names them and leave it after,
    /// so the devmap may hold a port too many for a moment (the devmap
    /// program filters it by mask), never one too few. When the member
    /// devmap fails, the route is still installed and forwards through the
    /// shared devmap (a copy per port, filtered); the error is thrown after.
    private func install(_ key: RouteKey, _ route: xigmp_fwd_route, members egress: Set<UInt32> = []) throws(DatapathError) {
        var k = key.raw
        // Counters first (zeroed, kept when they exist), so the first
        // forwarded frame is already counted.
        let cpus = try Self.possibleCPUs()
        var zeros = [xigmp_fwd_stats](repeating: xigmp_fwd_stats(packets: 0, bytes: 0), count: cpus)
        let rc = zeros.withUnsafeMutableBytes { bpf_map_update_elem(statsMap.fd.raw, &k, $0.baseAddress, UInt64(BPF_NOEXIST)) }
        if rc < 0 && rc != -EEXIST {
            if rc == -E2BIG || rc == -ENOMEM {
                throw DatapathError(.limitReached, "route \(key): the route table is full (\(XIGMP_FWD_MAX_ROUTES) routes)", errno: -rc)
            }
            try libbpfCheck(rc, "creating the counters of route \(key)")
        }
        var value = route
        let want = egress.intersection(xdpPorts)
        let hadMembers = lent[key] != nil
        var memberError: DatapathError?
        do throws(DatapathError) { value.members = try lendMembers(key, want) } catch {
            memberError = error
            value.members = 0
        }
        do {
            try routesMap.update(k, value)
        } catch {
            // A member devmap lent for this write goes back: no row names it.
            if !hadMembers { releaseMembers(key) }
            if error.errno == E2BIG || error.errno == ENOMEM {
                throw DatapathError(.limitReached, "route \(key): the route table is full (\(XIGMP_FWD_MAX_ROUTES) routes)", errno: error.errno)
            }
            throw error
        }
        if value.members == 0 {
            releaseMembers(key)
        } else {
            do throws(DatapathError) { try trimMembers(key, to: want) } catch { memberError = error }
        }
        if let e = memberError {
            throw DatapathError(e.kind, "route \(key): its member devmap failed (\(e.message)); the route forwards through the shared devmap (a copy per egress port, filtered)",
                                detail: e.detail, errno: e.errno)
        }
    }

    // MARK: - member devmaps

    /// The `members` field for a route whose XDP egress ports are `ports`:
    /// its member devmap (lent now if it had none, with every port added)
    /// once the ports are in it, 0 for fewer than two ports (the classifier
    /// redirects to one port by ifindex) or when all are lent (it
    /// broadcasts over the shared devmap).
    private func lendMembers(_ key: RouteKey, _ ports: Set<UInt32>) throws(DatapathError) -> UInt32 {
        guard ports.count >= 2 else { return 0 }
        if lent[key] == nil {
            guard let index = freeMemberMaps.popLast() else { return 0 }
            lent[key] = Lent(index: index, ports: [])
        }
        let l = lent[key]!
        for port in ports.subtracting(l.ports) {
            try libbpfCheck(putPort(port, in: memberMaps[l.index]),
                            "adding ifindex \(port) to member devmap \(memberMaps[l.index].name)")
            lent[key]!.ports.insert(port)
        }
        return UInt32(l.index + 1)
    }

    /// Takes out of the route's member devmap the ports it no longer has
    /// (after the row stopped naming them); the whole devmap goes back to
    /// the pool when fewer than two are left (the row names none by then).
    private func trimMembers(_ key: RouteKey, to ports: Set<UInt32>) throws(DatapathError) {
        guard let l = lent[key] else { return }
        guard ports.count >= 2 else { return releaseMembers(key) }
        for port in l.ports.subtracting(ports) {
            try deleteMember(port, from: memberMaps[l.index])
            lent[key]!.ports.remove(port)
        }
    }

    /// Empties the route's member devmap and puts it back in the pool (its
    /// row names it no more). A port that cannot be taken out stays: the
    /// devmap program filters it by mask for the next route it is lent to.
    private func releaseMembers(_ key: RouteKey) {
        guard let l = lent.removeValue(forKey: key) else { return }
        var emptied = true
        for port in l.ports {
            do throws(DatapathError) { try deleteMember(port, from: memberMaps[l.index]) } catch { emptied = false }
        }
        // One that could not be emptied is not lent again: its stray ports
        // would cost a filtered copy each on every frame of the next route.
        if emptied { freeMemberMaps.append(l.index) }
    }

    /// Puts `port` in a devmap (the shared one or a member devmap) with the
    /// devmap program; the kernel's return code.
    private func putPort(_ port: UInt32, in map: BPFMap) -> Int32 {
        var key = port
        var value = bpf_devmap_val()
        value.ifindex = port
        value.bpf_prog.fd = egressProgram.raw
        return bpf_map_update_elem(map.fd.raw, &key, &value, UInt64(BPF_ANY))
    }

    private func deleteMember(_ port: UInt32, from map: BPFMap) throws(DatapathError) {
        var k = port
        let rc = bpf_map_delete_elem(map.fd.raw, &k)
        // ENOENT: the kernel took out an interface that went.
        if rc != -ENOENT { try libbpfCheck(rc, "removing ifindex \(port) from member devmap \(map.name)") }
    }

    /// Removes a route (and its counters); absent is not an error.
    public func removeRoute(ingress: NetworkInterface, source: IPv4Address?, group: IPv4Address) throws(DatapathError) {
        try deleteRoute(RouteKey(ingress: ingress.index, source: source, group: group).raw)
    }

    private func deleteRoute(_ k: xigmp_fwd_key) throws(DatapathError) {
        try routesMap.delete(k)
        releaseMembers(RouteKey(k))
        try statsMap.delete(k)
    }

    /// Every installed route with its egress ifindexes and counters.
    public func routes() throws(DatapathError) -> [Route] {
        let slots = try slotTable()
        var result: [Route] = []
        for k in try keys(of: routesMap, as: xigmp_fwd_key.self) {
            guard let v = try routesMap.lookup(k, as: xigmp_fwd_route.self) else { continue }
            let egress = (0..<64).filter { v.out_mask & (UInt64(1) << UInt64($0)) != 0 }.compactMap { slots[$0] }
            result.append(Route(key: RouteKey(k), egress: egress.sorted(), path: Path(rawValue: v.path) ?? .xdp,
                                counters: try counters(of: k)))
        }
        return result.sorted { ($0.key.ingress, $0.key.group, $0.key.source?.rawValue ?? 0) < ($1.key.ingress, $1.key.group, $1.key.source?.rawValue ?? 0) }
    }

    /// The ports of a route's member devmap as the kernel holds them, nil
    /// when it has none (one egress port, a TC- or kernel-path row, or a
    /// route that broadcasts over the shared devmap).
    public func memberPorts(ingress: NetworkInterface, source: IPv4Address?, group: IPv4Address) throws(DatapathError) -> [UInt32]? {
        let k = RouteKey(ingress: ingress.index, source: source, group: group).raw
        guard let v = try routesMap.lookup(k, as: xigmp_fwd_route.self),
              v.members > 0, v.members <= UInt32(memberMaps.count) else { return nil }
        return try keys(of: memberMaps[Int(v.members) - 1], as: UInt32.self).sorted()
    }

    /// The counters of one route, nil when it is not installed.
    public func counters(ingress: NetworkInterface, source: IPv4Address?, group: IPv4Address) throws(DatapathError) -> RouteCounters? {
        let k = RouteKey(ingress: ingress.index, source: source, group: group).raw
        guard try routesMap.lookup(k, as: xigmp_fwd_route.self) != nil else { return nil }
        return try counters(of: k)
    }

    private func counters(of key: xigmp_fwd_key) throws(DatapathError) -> RouteCounters {
        var k = key
        let cpus = try Self.possibleCPUs()
        var values = [xigmp_fwd_stats](repeating: xigmp_fwd_stats(packets: 0, bytes: 0), count: cpus)
        let rc = values.withUnsafeMutableBytes { bpf_map_lookup_elem(statsMap.fd.raw, &k, $0.baseAddress) }
        if rc == -ENOENT { return RouteCounters() }
        try libbpfCheck(rc, "reading map \(statsMap.name)")
        return values.reduce(into: RouteCounters()) { $0.packets &+= $1.packets; $0.bytes &+= $1.bytes }
    }

    /// The global forwarding counters, summed over CPUs.
    public var counters: Counters {
        get throws(DatapathError) {
            Counters(try countersMap.perCPUSums(slots: Int(XIGMP_FWD_CNT__MAX.rawValue)))
        }
    }

    // MARK: - helpers

    private static func possibleCPUs() throws(DatapathError) -> Int {
        let n = Int(libbpf_num_possible_cpus())
        guard n > 0 else { throw DatapathError.system("counting possible CPUs", errno: -Int32(n)) }
        return n
    }

    /// Every key of `map` (`bpf_map_get_next_key`).
    private func keys<K: BitwiseCopyable>(of map: BPFMap, as _: K.Type) throws(DatapathError) -> [K] {
        guard MemoryLayout<K>.size == map.keySize else {
            throw DatapathError(.invalidArgument, "map \(map.name): keys are \(map.keySize) bytes, caller passed \(MemoryLayout<K>.size)")
        }
        var result: [K] = []
        try withUnsafeTemporaryAllocation(of: K.self, capacity: 2) { buf throws(DatapathError) in
            let prev = buf.baseAddress!, next = buf.baseAddress! + 1
            var first = true
            while true {
                let rc = bpf_map_get_next_key(map.fd.raw, first ? nil : UnsafeRawPointer(prev), next)
                if rc == -ENOENT { break }
                try libbpfCheck(rc, "listing map \(map.name)")
                result.append(next.pointee)
                prev.pointee = next.pointee
                first = false
                if result.count > map.maxEntries * 2 { break }  // a map changing under us
            }
        }
        return result
    }
}
