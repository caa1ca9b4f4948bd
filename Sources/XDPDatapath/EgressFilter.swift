import CXigmp
import Glibc
import IGMPWire
import Synchronization

/// Keeps the host's own IGMP reports and leaves for groups the policy has
/// not allowed off the network: `bpf/igmp_egress.bpf.c` as a tc filter on
/// an interface's clsact egress hook. The kernel's IGMP code runs
/// unchanged; the filter decides, in the kernel, what leaves.
///
/// What it does with each packet leaving the interface:
/// - not IPv4 IGMP, queries, other IGMP types, fragments: passed untouched;
/// - carrying `ownMark` (xigmp's `RawIPSender` sets it): passed, counted
///   as own; AF_XDP transmissions (`XDPPort`) never reach the hook at all;
/// - v1/v2 reports and v2 leaves: passed when their group is in the allow
///   list, else dropped;
/// - v3 reports: passed untouched when every record's group is allowed,
///   dropped when none is. A report naming both kinds (the kernel answers
///   a general query with all its groups in one report) is passed with
///   each disallowed record blanked in place: Record Type 0, which
///   receivers must ignore (RFC 3376 §4.2.12), and group 0.0.0.0, the
///   IGMP checksum fixed; the record keeps its length and its source list;
/// - IGMP that does not parse: dropped, counted as malformed.
///
/// Passing means handing the packet on (TC_ACT_UNSPEC), so filters behind
/// this one on the hook keep seeing all traffic; one before it (a lower
/// pref) that ends classification keeps it from judging anything.
///
/// The attachment is a tc filter (`tc filter show dev IF egress` lists it
/// as `xigmp_egress` at `tcPriority`/`tcHandle`), not a bpf_link: it stays
/// if the process dies. The next `EgressFilter` on the interface replaces
/// such a leftover; by hand, `tc filter del dev IF egress pref 30823
/// handle 0x7867 bpf` removes it. A clsact qdisc this object added is
/// deleted on close when no other filter uses it; one that was there
/// before is left alone, with every other filter on it.
///
/// The object remembers the network namespace it was created in and
/// detaches there, whichever thread closes it (entering it needs
/// CAP_SYS_ADMIN when that thread is elsewhere). Thread-safe.
public final class EgressFilter: @unchecked Sendable {
    /// An IPv4 prefix of the allow list (IGMPWire's, shared with the config).
    public typealias Prefix = IPv4Prefix

    /// The filter's per-CPU counters (`enum xigmp_egress_counter`), summed
    /// over CPUs. `igmp` is the sum of all the others but `recordsHidden`.
    public struct Counters: Sendable, Equatable {
        /// IPv4 IGMP packets seen (protocol 2); non-IGMP is not counted.
        public var igmp: UInt64 = 0
        /// Marked as xigmp's own: passed unexamined.
        public var own: UInt64 = 0
        /// Fragments: passed.
        public var fragments: UInt64 = 0
        /// Queries and other types that announce no membership: passed.
        public var other: UInt64 = 0
        /// Reports and leaves whose every group is allowed: passed.
        public var allowed: UInt64 = 0
        /// Reports and leaves naming a group not allowed: dropped.
        public var dropped: UInt64 = 0
        /// IGMP that does not parse: dropped.
        public var malformed: UInt64 = 0
        /// v3 reports naming allowed and disallowed groups: passed with the
        /// disallowed records blanked (type 0, group 0.0.0.0).
        public var rewritten: UInt64 = 0
        /// Records blanked in the `rewritten` reports (not a packet count).
        public var recordsHidden: UInt64 = 0

        /// Zeroed counters.
        public init() {}

        init(_ v: [UInt64]) {
            func at(_ c: xigmp_egress_counter) -> UInt64 { v[Int(c.rawValue)] }
            igmp = at(XIGMP_EGR_IGMP)
            own = at(XIGMP_EGR_OWN)
            fragments = at(XIGMP_EGR_FRAGMENT)
            other = at(XIGMP_EGR_OTHER)
            allowed = at(XIGMP_EGR_ALLOWED)
            dropped = at(XIGMP_EGR_DROPPED)
            malformed = at(XIGMP_EGR_MALFORMED)
            rewritten = at(XIGMP_EGR_REWRITTEN)
            recordsHidden = at(XIGMP_EGR_RECORDS_HIDDEN)
        }
    }

    /// `skb->mark` of xigmp's own sends (`XIGMP_OWN_MARK`, "xigp"): the
    /// filter passes them unexamined.
    public static let ownMark: UInt32 = XIGMP_OWN_MARK
    /// tc filter handle of the attachment ("xg").
    public static let tcHandle: UInt32 = 0x7867
    /// tc filter priority ("pref") of the attachment. Mid-range: filters
    /// added without a pref get one below the lowest present, which at 1
    /// would leave none.
    public static let tcPriority: UInt32 = 0x7867

    /// The interface whose egress the filter guards.
    public let interface: NetworkInterface
    /// Kernel id of the loaded program.
    public var programID: UInt32 { loaded.id }
    /// True when this object added the clsact qdisc (and so may delete it).
    public let createdQdisc: Bool
    /// Notes for the operator (a leftover filter replaced).
    public let notes: [String]

    private let loaded: EgressProgram
    /// While attached, a descriptor of the network namespace the filter
    /// lives in (owned, so the namespace outlasts an `ip netns del` until
    /// close); -1 after `close()`.
    private let namespace: Mutex<Int32>

    /// Loads the filter with `allowed` as its allow list and attaches it to
    /// `interface`'s clsact egress hook (adding the qdisc if missing).
    ///
    /// The list is in place before the program is attached, so no report
    /// is judged against an empty list. Needs root (CAP_BPF, CAP_PERFMON,
    /// CAP_NET_ADMIN) and Linux >= 5.17 (the v3 record walk uses bpf_loop).
    public init(interface: NetworkInterface, allowed: [Prefix] = []) throws(DatapathError) {
        try Privileges.requireBPF("the IGMP egress filter")
        guard try InterfaceInfo(interface).hasEthernet else {
            throw DatapathError(.kernel, "\(interface.name) has no Ethernet header (tun/GRE): the IGMP egress filter parses Ethernet frames and cannot guard it")
        }
        let loaded = try EgressProgram()
        try loaded.setAllowed(allowed)
        let ns = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard ns >= 0 else {
            throw DatapathError.system("opening this thread's network namespace (/proc/thread-self/ns/net)", errno: errno)
        }
        let result: (created: Bool, notes: [String])
        do throws(DatapathError) {
            result = try Self.attach(loaded, to: interface)
        } catch {
            Glibc.close(ns)
            throw error
        }
        self.interface = interface
        self.loaded = loaded
        namespace = Mutex(ns)
        createdQdisc = result.created
        notes = result.notes
    }

    deinit {
        try? close()
        // Still open only when close() failed.
        namespace.withLock { if $0 >= 0 { Glibc.close($0) } }
    }

    /// The allow list, sorted.
    public var allowed: [Prefix] { loaded.allowed }

    /// True until `close()`.
    public var isAttached: Bool { namespace.withLock { $0 >= 0 } }

    /// The counters, summed over CPUs.
    public var counters: Counters {
        get throws(DatapathError) { try loaded.counters() }
    }

    /// Replaces the allow list while the filter runs.
    ///
    /// The kernel cannot swap a whole map at once, so prefixes leaving the
    /// list are deleted before new ones are added: at no moment does the
    /// filter pass a group that neither list allowed, and a group only the
    /// old list allowed stops passing before any new one starts. A report
    /// for a group in both lists passes throughout.
    public func setAllowed(_ prefixes: [Prefix]) throws(DatapathError) {
        try loaded.setAllowed(prefixes)
    }

    /// Detaches the filter (only its own, at `tcPriority`/`tcHandle`) and
    /// deletes the clsact qdisc if this object added it and nothing else
    /// uses it. Idempotent; `deinit` calls it.
    public func close() throws(DatapathError) {
        try namespace.withLock { (ns: inout Int32) throws(DatapathError) in
            guard ns >= 0 else { return }
            try inNamespace(ns) { () throws(DatapathError) in try detach() }
            Glibc.close(ns)
            ns = -1
        }
    }

    // MARK: - attaching

    private static func attach(_ loaded: EgressProgram, to interface: NetworkInterface) throws(DatapathError)
        -> (created: Bool, notes: [String]) {
        let ifindex = Int32(bitPattern: interface.index)
        var notes: [String] = []
        // Looked at first: asking libbpf to add a qdisc that exists makes
        // the kernel log an error that would reach the operator.
        let present = cxigmp_tc_has_clsact(ifindex)
        guard present >= 0 else { throw tcError("reading the qdiscs of \(interface.name)", present, interface) }
        var created = false
        if present == 0 {
            let rc = cxigmp_tc_hook_create(ifindex)
            guard rc == 0 || rc == -EEXIST else {
                throw tcError("adding a clsact qdisc to \(interface.name)", rc, interface)
            }
            created = rc == 0
        }
        func undo() { if created { _ = cxigmp_tc_hook_destroy(ifindex) } }
        var slot = cxigmp_tc_hook_state()
        let scanned = cxigmp_tc_scan(ifindex, true, tcHandle, tcPriority, &slot)
        guard scanned == 0 else {
            undo()
            throw tcError("reading the egress filters of \(interface.name)", scanned, interface)
        }
        if slot.found {
            // Our slot is taken: by a filter a crashed xigmp left (it
            // still drops reports), or by a foreign one.
            let name = slot.prog_id == 0 ? nil : (try? BPFProgramInfo(id: slot.prog_id))?.name
            guard name == XIGMP_PROG_EGRESS else {
                undo()
                let at = "pref \(tcPriority) handle 0x\(String(tcHandle, radix: 16))"
                throw DatapathError(
                    .foreignProgram,
                    "another filter (\(name.map { "BPF program '\($0)', prog id \(slot.prog_id)" } ?? "not xigmp's")) holds xigmp's tc slot on \(interface.name) egress (\(at)): remove it with `tc filter del dev \(interface.name) egress \(at)`")
            }
            notes.append("replaced the xigmp egress filter already on \(interface.name) (prog id \(slot.prog_id)), left by an earlier run or another xigmp")
        }
        var id: UInt32 = 0
        let attached = cxigmp_tc_attach(ifindex, true, loaded.program.raw, tcHandle, tcPriority, slot.found, &id)
        guard attached == 0 else {
            undo()
            throw tcError("attaching the IGMP egress filter to \(interface.name)", attached, interface)
        }
        return (created, notes)
    }

    /// Removes our filter if it is still ours, then the qdisc if we added
    /// it and no filter is left on either hook.
    private func detach() throws(DatapathError) {
        let ifindex = Int32(bitPattern: interface.index)
        var slot = cxigmp_tc_hook_state()
        let rc = cxigmp_tc_scan(ifindex, true, Self.tcHandle, Self.tcPriority, &slot)
        if rc == -ENODEV { return }  // the interface is gone, and the filter with it
        guard rc == 0 else { throw Self.tcError("reading the egress filters of \(interface.name)", rc, interface) }
        // Anything else in the slot was put there by someone else since
        // (another EgressFilter replaced ours): theirs to remove.
        if slot.found && slot.prog_id == programID {
            let gone = cxigmp_tc_detach(ifindex, true, Self.tcHandle, Self.tcPriority)
            guard gone == 0 || gone == -ENOENT || gone == -ENODEV else {
                throw Self.tcError("detaching the IGMP egress filter from \(interface.name)", gone, interface)
            }
        }
        guard createdQdisc else { return }
        var ingress = cxigmp_tc_hook_state(), egress = cxigmp_tc_hook_state()
        guard cxigmp_tc_scan(ifindex, false, 0, 0, &ingress) == 0, cxigmp_tc_scan(ifindex, true, 0, 0, &egress) == 0,
              ingress.entries == 0, egress.entries == 0 else { return }
        let destroyed = cxigmp_tc_hook_destroy(ifindex)
        guard destroyed == 0 || destroyed == -ENOENT || destroyed == -EINVAL || destroyed == -ENODEV else {
            throw Self.tcError("deleting the clsact qdisc xigmp added to \(interface.name)", destroyed, interface)
        }
    }

    /// Runs `body` in network namespace `ns`, the one the filter was
    /// attached in: ifindexes and tc netlink calls are per namespace.
    private func inNamespace(_ ns: Int32, _ body: () throws(DatapathError) -> Void) throws(DatapathError) {
        var mine = stat(), here = stat()
        if fstat(ns, &mine) == 0, stat("/proc/thread-self/ns/net", &here) == 0,
           mine.st_ino == here.st_ino, mine.st_dev == here.st_dev {
            return try body()
        }
        let back = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard back >= 0 else {
            throw DatapathError.system("opening this thread's network namespace to detach the egress filter of \(interface.name)", errno: errno)
        }
        defer { Glibc.close(back) }
        guard cxigmp_setns_net(ns) == 0 else {
            throw DatapathError.system("entering the network namespace of \(interface.name) to detach its egress filter", errno: errno)
        }
        defer {
            // A thread left in the other namespace would run unrelated
            // work there.
            if cxigmp_setns_net(back) != 0 {
                fatalError("cannot return to the original network namespace after detaching from \(interface.name): \(errnoName(errno))")
            }
        }
        try body()
    }

    private static func tcError(_ what: String, _ rc: Int32, _ interface: NetworkInterface) -> DatapathError {
        let code = -rc
        switch code {
        case ENODEV:
            return DatapathError(.noSuchInterface, "\(what): no such device (ENODEV): it vanished; check `ip link`", errno: code)
        case EINVAL, EOPNOTSUPP:
            return DatapathError(
                .kernel,
                "\(what): the kernel refused (\(errnoName(code))); \(interface.name) may carry an 'ingress' qdisc, which has no egress hook, or a filter of another kind at pref \(tcPriority): see `tc qdisc show dev \(interface.name)` and `tc filter show dev \(interface.name) egress`",
                errno: code)
        case EEXIST:
            return DatapathError(.kernel, "\(what): a filter appeared in xigmp's slot meanwhile (EEXIST): see `tc filter show dev \(interface.name) egress` and retry", errno: code)
        default:
            return DatapathError.system(what, errno: code)
        }
    }
}

/// The egress filter's program and maps, loaded but attached nowhere:
/// what `EgressFilter` attaches, and what the verdict tests run through
/// BPF_PROG_TEST_RUN.
final class EgressProgram: @unchecked Sendable {
    let program: KernelFD
    let id: UInt32
    private let allowMap: BPFMap
    private let counterMap: BPFMap
    /// What the allow map holds; the lock also serialises changes to it.
    private let current = Mutex(Set<EgressFilter.Prefix>())

    /// Opens, verifies and loads the embedded filter; its allow list starts
    /// empty (every report and leave dropped).
    init() throws(DatapathError) {
        let object = try BPFObject(.igmpEgress)
        try object.load()
        program = try object.program(named: XIGMP_PROG_EGRESS)
        allowMap = try object.map(named: XIGMP_MAP_EGRESS_ALLOW)
        counterMap = try object.map(named: XIGMP_MAP_EGRESS_COUNTS)
        id = try BPFProgramInfo(fd: program.raw).id
    }

    var allowed: [EgressFilter.Prefix] { current.withLock { $0.sorted() } }

    /// See `EgressFilter.setAllowed(_:)`: deletions first, then additions.
    func setAllowed(_ prefixes: [EgressFilter.Prefix]) throws(DatapathError) {
        let wanted = Set(prefixes)
        guard wanted.count <= Int(XIGMP_EGRESS_MAX_PREFIXES) else {
            throw DatapathError(.kernel, "\(wanted.count) allowed prefixes exceed the egress filter's \(XIGMP_EGRESS_MAX_PREFIXES): merge them into shorter prefixes")
        }
        try current.withLock { (held: inout Set<EgressFilter.Prefix>) throws(DatapathError) in
            // The set follows the map step by step, so a failure half-way
            // leaves it describing what the kernel holds.
            for p in held.subtracting(wanted) {
                try allowMap.delete(p.key)
                held.remove(p)
            }
            for p in wanted.subtracting(held) {
                try allowMap.update(p.key, UInt8(1))
                held.insert(p)
            }
        }
    }

    func counters() throws(DatapathError) -> EgressFilter.Counters {
        EgressFilter.Counters(try counterMap.perCPUSums(slots: Int(XIGMP_EGR__MAX.rawValue)))
    }

    /// Runs the program once on an Ethernet `frame` with `skb->mark` set
    /// to `mark` (BPF_PROG_TEST_RUN); returns its verdict: TC_ACT_UNSPEC
    /// (-1, passed on) or TC_ACT_SHOT (2).
    func testRun(_ frame: [UInt8], mark: UInt32 = 0) throws(DatapathError) -> Int32 {
        try testRunWithOutput(frame, mark: mark).verdict
    }

    /// As `testRun`, also returning the frame as the program left it.
    func testRunWithOutput(_ frame: [UInt8], mark: UInt32 = 0) throws(DatapathError) -> (verdict: Int32, frame: [UInt8]) {
        // bpf_test_run_opts by hand (LIBBPF_OPTS does not import): zeroed,
        // sz set. The kernel takes only a few __sk_buff fields (mark among
        // them) and wants the rest zero.
        var ctx = __sk_buff()
        ctx.mark = mark
        var out = [UInt8](repeating: 0, count: frame.count + 256)
        var opts = bpf_test_run_opts()
        opts.sz = MemoryLayout<bpf_test_run_opts>.size
        let rc = frame.withUnsafeBytes { input in
            out.withUnsafeMutableBytes { output in
                withUnsafeMutablePointer(to: &ctx) { ctxp in
                    opts.data_in = input.baseAddress
                    opts.data_size_in = UInt32(input.count)
                    opts.data_out = output.baseAddress
                    opts.data_size_out = UInt32(output.count)
                    opts.ctx_in = UnsafeRawPointer(ctxp)
                    opts.ctx_size_in = UInt32(MemoryLayout<__sk_buff>.size)
                    opts.repeat = 1
                    return bpf_prog_test_run_opts(program.raw, &opts)
                }
            }
        }
        try libbpfCheck(rc, "BPF_PROG_TEST_RUN of the egress filter")
        return (Int32(bitPattern: opts.retval), Array(out.prefix(Int(opts.data_size_out))))
    }
}

extension IPv4Prefix {
    /// The LPM-trie key (`struct xigmp_egress_key`).
    var key: xigmp_egress_key {
        xigmp_egress_key(prefixlen: UInt32(length), addr: address.rawValue.bigEndian)
    }
}
