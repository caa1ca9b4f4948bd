import CXigmp
import DatapathBPF
import DatapathKernel
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
/// Attached through `TCAttachment`: a tcx bpf_link where the kernel has tcx
/// (6.6+), which the kernel removes when the process dies, however it dies;
/// else a tc filter (`tc filter show dev IF egress` lists it as
/// `xigmp_egress` at `tcPriority`/`tcHandle`), which stays if the process
/// dies: the next `EgressFilter` on the interface replaces such a leftover;
/// by hand, `tc filter del dev IF egress pref 30823 handle 0x7867 bpf`
/// removes it. A clsact qdisc this object added is deleted on close when no
/// other filter uses it; one that was there before is left alone, with
/// every other filter on it.
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
    public var createdQdisc: Bool { attachment.createdQdisc }
    /// Notes for the operator (a leftover filter replaced).
    public var notes: [String] { attachment.notes }
    /// tcx or clsact.
    public var mechanism: TCAttachment.Mechanism { attachment.mechanism }

    private let loaded: EgressProgram
    private let attachment: TCAttachment

    /// Loads the filter with `allowed` as its allow list and attaches it to
    /// `interface`'s clsact egress hook (adding the qdisc if missing).
    ///
    /// The list is in place before the program is attached, so no report
    /// is judged against an empty list. Needs root (CAP_BPF, CAP_PERFMON,
    /// CAP_NET_ADMIN) and Linux >= 5.17 (the v3 record walk uses bpf_loop).
    public init(interface: NetworkInterface, allowed: [Prefix] = [],
                mechanism: TCAttachment.Mechanism? = nil) throws(DatapathError) {
        try Privileges.requireBPF("the IGMP egress filter")
        guard try InterfaceInfo(interface).hasEthernet else {
            throw DatapathError(.featureAbsent, "\(interface.name) has no Ethernet header (tun/GRE): the IGMP egress filter parses Ethernet frames and cannot guard it")
        }
        let loaded = try EgressProgram()
        try loaded.setAllowed(allowed)
        attachment = try TCAttachment(program: loaded.program.raw, programName: XIGMP_PROG_EGRESS, interface: interface,
                                      hook: .egress, handle: Self.tcHandle, priority: Self.tcPriority,
                                      mechanism: mechanism)
        self.interface = interface
        self.loaded = loaded
    }

    /// The allow list, sorted.
    public var allowed: [Prefix] { loaded.allowed }

    /// True until `close()`.
    public var isAttached: Bool { attachment.isAttached }

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

    /// Detaches the filter (a tcx link; or only its own clsact filter, at
    /// `tcPriority`/`tcHandle`, and the clsact qdisc if this object added it
    /// and nothing else uses it). Idempotent; `deinit` calls it.
    public func close() throws(DatapathError) {
        try attachment.close()
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
            throw DatapathError(.limitReached, "\(wanted.count) allowed prefixes exceed the egress filter's \(XIGMP_EGRESS_MAX_PREFIXES): merge them into shorter prefixes")
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
