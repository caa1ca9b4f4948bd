import CXigmp
import DatapathBPF
import DatapathKernel
import Glibc

/// A loaded instance of the IGMP classifier: its program and maps. Each
/// managed interface gets its own instance, so its XSKMAP slots are that
/// interface's RX queues.
public final class Classifier: @unchecked Sendable {
    /// The program descriptor.
    public let program: KernelFD
    /// Action map, keyed by (ifindex, class).
    public let actions: BPFMap
    /// Per-CPU counters.
    public let counters: BPFMap
    /// XSKMAP: RX queue -> AF_XDP socket.
    public let xsks: BPFMap
    /// The per-source token bucket's configuration (one row).
    public let limits: BPFMap
    /// Kernel info of the program.
    public let info: BPFProgramInfo
    /// Multicast forwarding (see `MulticastForwarder`): the routes,
    /// (ingress, source, group) -> egress mask.
    public let forwardRoutes: BPFMap
    /// The egress ports (DEVMAP_HASH, egress ifindex -> ifindex + devmap program).
    public let forwardPorts: BPFMap
    /// Per-interface forwarding rows: ingress settings, egress slot and MAC.
    public let forwardInterfaces: BPFMap
    /// Per-route per-CPU packet/byte counters.
    public let forwardStats: BPFMap
    /// The forwarder's per-CPU counters.
    public let forwardCounters: BPFMap
    /// One __u32: how many interfaces have forwarding on (0: skip it all).
    public let forwardOn: BPFMap
    /// The devmap program every forwarding port runs (`xigmp_fwd_out`).
    public let forwardEgressProgram: KernelFD
    /// Slot -> egress ifindex, for the TC path.
    public let forwardSlots: BPFMap
    /// The member devmaps, lent one per XDP route with several egress ports.
    public let forwardMemberMaps: [BPFMap]
    /// The TC forwarding path (`xigmp_fwd_tc`), for an ingress's TC hook.
    public let forwardTCProgram: KernelFD
    /// Where this instance reaches the shared provisional table, and its
    /// allow table (``ProvisionalTable``).
    public let provisional: ProvisionalSlots

    /// Opens, verifies and loads the embedded classifier.
    public init() throws(DatapathError) {
        let object = try BPFObject(.igmpClassify)
        try object.load()
        program = try object.program(named: XIGMP_PROG_CLASSIFY)
        actions = try object.map(named: XIGMP_MAP_ACTIONS)
        counters = try object.map(named: XIGMP_MAP_COUNTERS)
        xsks = try object.map(named: XIGMP_MAP_XSKS)
        limits = try object.map(named: XIGMP_MAP_LIMITS)
        info = try BPFProgramInfo(fd: program.raw)
        forwardRoutes = try object.map(named: XIGMP_MAP_FWD_ROUTES)
        forwardPorts = try object.map(named: XIGMP_MAP_FWD_PORTS)
        forwardInterfaces = try object.map(named: XIGMP_MAP_FWD_IFS)
        forwardStats = try object.map(named: XIGMP_MAP_FWD_STATS)
        forwardCounters = try object.map(named: XIGMP_MAP_FWD_COUNTERS)
        forwardOn = try object.map(named: XIGMP_MAP_FWD_ON)
        forwardEgressProgram = try object.program(named: XIGMP_PROG_FWD_OUT)
        forwardSlots = try object.map(named: XIGMP_MAP_FWD_SLOTS)
        var members: [BPFMap] = []
        for n in 0..<Int(XIGMP_FWD_MEMBER_MAPS) { members.append(try object.map(named: XIGMP_MAP_FWD_MEMBER_PREFIX + "\(n)")) }
        forwardMemberMaps = members
        forwardTCProgram = try object.program(named: XIGMP_PROG_FWD_TC)
        provisional = ProvisionalSlots(maps: [try object.map(named: XIGMP_MAP_PROV_ROUTES),
                                                    try object.map(named: XIGMP_MAP_PROV_GATE),
                                                    try object.map(named: XIGMP_MAP_PROV_ACL)])!
        let abi = try object.map(named: XIGMP_MAP_ABI)
        try abi.update(UInt32(0), UInt32(XIGMP_ABI_VERSION))
        // Maps the classifier program does not read itself become its maps
        // too, so whoever finds the attached classifier finds them.
        for map in [abi, forwardSlots] {
            try libbpfCheck(bpf_prog_bind_map(program.raw, map.fd.raw, nil), "binding map \(map.name) to the classifier")
        }
    }

    /// Sets the action for `igmpClass` on `ifindex` (0: every interface
    /// without a row of its own).
    public func setAction(_ action: ClassifierAction, for igmpClass: IGMPClass, ifindex: UInt32 = 0) throws(DatapathError) {
        let key = xigmp_action_key(ifindex: ifindex, igmp_class: igmpClass.rawValue)
        try actions.update(key, xigmp_action_value(action: action.raw, reserved: 0))
    }

    /// Sets one action for every class on every interface (wildcard rows).
    public func setAction(_ action: ClassifierAction) throws(DatapathError) {
        for c in IGMPClass.allCases { try setAction(action, for: c) }
    }

    /// Limits IGMP from each source to `perSecond` frames per second with
    /// bursts of `burst`, in XDP before anything reaches the ring; frames
    /// over it are dropped and counted as `rate_limited`. 0 turns it off.
    public func setRateLimit(perSecond: UInt32, burst: UInt32) throws(DatapathError) {
        try Self.setRateLimit(perSecond: perSecond, burst: burst, in: limits)
    }

    /// Writes the token-bucket configuration into a classifier's limits map.
    package static func setRateLimit(perSecond: UInt32, burst: UInt32, in limits: BPFMap) throws(DatapathError) {
        let cost: UInt64 = perSecond == 0 ? 0 : 1_000_000_000 / UInt64(perSecond)
        let config = xigmp_limit_config(cost_ns: cost, burst_ns: cost * UInt64(max(burst, 1)))
        try limits.update(UInt32(0), config)
    }

    /// Reads the counters.
    public func readCounters() throws(DatapathError) -> ClassifierCounters {
        ClassifierCounters(values: try counters.perCPUSums(slots: ClassifierCounters.slotCount))
    }

    /// Runs the program once on `frame` (BPF_PROG_TEST_RUN) and returns the
    /// verdict; `repeat` > 1 also measures the kernel's mean ns per run.
    public func testRun(_ frame: [UInt8], ingressIfindex: UInt32 = 0, rxQueue: UInt32 = 0,
                        repeat count: UInt32 = 1) throws(DatapathError) -> (verdict: XDPVerdict, nsPerRun: UInt32) {
        try XDPTestRun.run(program: program, frame: frame, ingressIfindex: ingressIfindex,
                           rxQueue: rxQueue, repeat: count)
    }
}

/// XDP program return codes.
public enum XDPVerdict: UInt32, Sendable, CustomStringConvertible {
    case aborted = 0, drop, pass, tx, redirect
    public var description: String {
        switch self {
        case .aborted: return "XDP_ABORTED"
        case .drop: return "XDP_DROP"
        case .pass: return "XDP_PASS"
        case .tx: return "XDP_TX"
        case .redirect: return "XDP_REDIRECT"
        }
    }
}

/// BPF_PROG_TEST_RUN for XDP programs.
public enum XDPTestRun {
    /// Runs `program` on `frame` `repeat` times; returns the last verdict and
    /// the kernel's mean duration per run in ns.
    public static func run(program: KernelFD, frame: [UInt8], ingressIfindex: UInt32 = 0,
                           rxQueue: UInt32 = 0, repeat count: UInt32 = 1) throws(DatapathError) -> (verdict: XDPVerdict, nsPerRun: UInt32) {
        var result = cxigmp_test_run()
        let rc = frame.withUnsafeBytes {
            cxigmp_xdp_test_run(program.raw, $0.baseAddress, UInt32($0.count), nil, 0, count,
                                ingressIfindex, rxQueue, &result)
        }
        try libbpfCheck(rc, "BPF_PROG_TEST_RUN")
        guard let verdict = XDPVerdict(rawValue: result.retval) else {
            throw DatapathError(.abiMismatch, "BPF_PROG_TEST_RUN returned unknown verdict \(result.retval)")
        }
        return (verdict, result.duration_ns)
    }

    /// Loads the embedded one-line XDP_PASS program (the cost baseline).
    public static func loadPassProgram() throws(DatapathError) -> KernelFD {
        let object = try BPFObject(.xdpPass)
        try object.load()
        return try object.program(named: XIGMP_PROG_PASS)
    }
}

