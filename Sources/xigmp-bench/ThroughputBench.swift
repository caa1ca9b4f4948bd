import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import Glibc
import IGMPWire
import XigmpTools

/// Non-IGMP frames per second through a veth pair between two namespaces:
/// nothing attached, XDP_PASS, and the classifier, in native and generic
/// mode on the receiving end, in alternating windows.
enum ThroughputBench {
    /// One configuration of the receiving veth.
    struct Config {
        let key: String
        let mode: XDPMode?
        let classifier: Bool
    }

    static let configs = [
        Config(key: "bare", mode: nil, classifier: false),
        Config(key: "native_pass", mode: .native, classifier: false),
        Config(key: "native_classifier", mode: .native, classifier: true),
        Config(key: "generic_pass", mode: .generic, classifier: false),
        Config(key: "generic_classifier", mode: .generic, classifier: true),
    ]

    /// What one window saw.
    struct Window {
        var pps: Double
        var txPps: Double
        /// Received frames per second of the sending thread's CPU time.
        var ppsPerCPU: Double
        /// Sending thread's CPU time over wall time (1: never preempted).
        var cpuShare: Double
        var rxDropped: UInt64
        var txDropped: UInt64
        /// Frames received in the window.
        var frames: UInt64
    }

    /// Measures every configuration; with `only`, just those (for profiling
    /// one of them under perf), and then reports only the raw windows.
    static func run(window seconds: Double, rounds: Int, settle: Double, batch: Int,
                    only: [String]? = nil) throws -> JSON {
        let configs = only.map { keys in Self.configs.filter { keys.contains($0.key) } } ?? Self.configs
        guard !configs.isEmpty else {
            throw BenchError("--configs names none of \(Self.configs.map(\.key).joined(separator: ", "))")
        }
        let net = BenchNetwork()
        defer { net.teardown() }
        let txNS = try net.addNamespace("tx"), rxNS = try net.addNamespace("rx")
        let txIf = "xbt0", rxIf = "xbr0"
        try net.addVethPair(txNS, txIf, "10.200.0.1/24", rxNS, rxIf, "10.200.0.2/24")
        progress("throughput: \(txNS)/\(txIf) → \(rxNS)/\(rxIf)")

        // What `xigmp load` (mode auto) picks here: the same call, in the
        // receiving namespace, then unloaded again at once (it pins).
        let auto = try BenchNetwork.inNamespace(rxNS) { () throws -> ClassifierControl.LoadResult in
            let result = try ClassifierControl.load(ifname: rxIf, mode: .auto, force: false, action: .pass)
            _ = try ClassifierControl.unload(ifname: rxIf)
            return result
        }
        progress("throughput: `xigmp load --mode auto` picks \(auto.mode.rawValue) on veth\(auto.notes.isEmpty ? "" : " (\(auto.notes.joined(separator: "; ")))")")

        let classifier = try Classifier()
        try classifier.setAction(.pass)
        let pass = try XDPTestRun.loadPassProgram()
        let counters = try InterfaceCounters(namespace: rxNS, ifname: rxIf)
        let rxInterface = try BenchNetwork.inNamespace(rxNS) { try NetworkInterface(named: rxIf) }

        let frame = BenchFrames.udpMulticast()
        let blaster = try FrameBlaster(namespace: txNS, ifname: txIf, frame: frame, batch: batch)
        defer { blaster.stop() }
        usleep(UInt32(settle * 1e6))

        var windows = [String: [Window]]()
        for round in 0..<rounds {
            // Rotate the order each round so no configuration always runs
            // first (after a detach) or last.
            var line: [String] = []
            for step in configs.indices {
                let config = configs[(step + round) % configs.count]
                let w = try measure(config, rxNS, rxInterface, program: config.classifier ? classifier.program : pass) {
                    try measureWindow(counters: counters, blaster: blaster, seconds: seconds, settle: settle)
                }
                windows[config.key, default: []].append(w)
                line.append("\(config.key) \(Int(w.pps / 1000)) kpps (\(Int(w.ppsPerCPU / 1000)) per CPU-s, cpu \(Int(w.cpuShare * 100))%)")
                if config.mode != nil {
                    try requireDetached(rxNS, rxInterface)
                }
            }
            progress("throughput: round \(round + 1)/\(rounds): " + line.joined(separator: ", "))
        }
        blaster.stop()
        guard blaster.sent > 0 else { throw BenchError("the traffic generator sent nothing") }
        if only != nil {
            return .object([("per_round_pps", .object(configs.map { c in
                (c.key, .array(windows[c.key]!.map { .rounded($0.pps, 0) }))
            }))])
        }

        func pps(_ key: String) -> Double { Stats.median(windows[key]!.map(\.pps)) }
        /// Median over rounds of the per-round ratio (windows seconds apart).
        func ratio(_ a: String, _ b: String) -> Double {
            Stats.median(zip(windows[a]!, windows[b]!).map { Stats.ratio($0.pps, $1.pps) })
        }
        func mode(_ m: XDPMode) -> JSON {
            let p = "\(m.rawValue)_pass", c = "\(m.rawValue)_classifier"
            let r = ratio(c, p)
            return .object([
                ("pass_pps", .rounded(pps(p), 0)),
                ("classifier_pps", .rounded(pps(c), 0)),
                ("classifier_over_pass", .rounded(r)),
                ("pass_over_bare", .rounded(ratio(p, "bare"))),
                ("classifier_over_bare", .rounded(ratio(c, "bare"))),
                ("goal_met", .bool(r >= 0.95)),
                ("pass_pps_range", Stats.range(windows[p]!.map(\.pps))),
                ("classifier_pps_range", Stats.range(windows[c]!.map(\.pps))),
            ])
        }
        let picked = auto.mode
        let cheaper: XDPMode = pps("native_classifier") >= pps("generic_classifier") ? .native : .generic
        let autoRatio = ratio("\(picked.rawValue)_classifier", "\(picked.rawValue)_pass")
        // The classifier's own counters: every frame counted in a classifier
        // window must have gone through it (settle time adds more), as
        // non-IGMP, so the windows measured what they claim to.
        let seen = try classifier.readCounters()
        let windowed = (windows["native_classifier"]! + windows["generic_classifier"]!).reduce(0) { $0 + $1.frames }
        let igmpSeen = ["query", "v1_report", "v2_report", "v2_leave", "v3_report", "other_igmp", "malformed"]
            .reduce(0) { $0 + seen[$1] }
        var dropped: [(String, JSON)] = []
        for c in configs {
            let ws = windows[c.key]!
            dropped.append((c.key, .object([
                ("rx_dropped", .integer(Int(ws.reduce(0) { $0 + $1.rxDropped }))),
                ("tx_dropped", .integer(Int(ws.reduce(0) { $0 + $1.txDropped }))),
            ])))
        }
        return .object([
            ("bare_pps", .rounded(pps("bare"), 0)),
            ("pass_pps", .rounded(pps("\(picked.rawValue)_pass"), 0)),
            ("classifier_pps", .rounded(pps("\(picked.rawValue)_classifier"), 0)),
            ("mode", .string(picked.rawValue)),
            ("classifier_over_pass", .rounded(autoRatio)),
            ("pass_over_bare", .rounded(ratio("\(picked.rawValue)_pass", "bare"))),
            ("goal_ratio", .number(0.95)),
            ("goal_met", .bool(autoRatio >= 0.95)),
            ("auto_mode", .string(picked.rawValue)),
            ("cheaper_mode", .string(cheaper.rawValue)),
            ("auto_picks_cheaper", .bool(picked == cheaper)),
            ("auto_notes", .array(auto.notes.map { .string($0) })),
            ("native", mode(.native)),
            ("generic", mode(.generic)),
            ("bare_pps_range", Stats.range(windows["bare"]!.map(\.pps))),
            ("generator_tx_pps", .object(configs.map { ($0.key, .rounded(Stats.median(windows[$0.key]!.map(\.txPps)), 0)) })),
            ("classifier_counters", .object([
                ("non_igmp", .integer(Int(seen["non_igmp"]))),
                ("igmp_or_malformed", .integer(Int(igmpSeen))),
                ("frames_in_classifier_windows", .integer(Int(windowed))),
                ("saw_every_frame", .bool(seen["non_igmp"] >= windowed && igmpSeen == 0)),
            ])),
            ("sender_cpu_share", .object(configs.map { ($0.key, .rounded(Stats.median(windows[$0.key]!.map(\.cpuShare)), 2)) })),
            ("drops", .object(dropped)),
            ("per_round_pps", .object(configs.map { c in (c.key, .array(windows[c.key]!.map { .rounded($0.pps, 0) })) })),
            ("window_s", .rounded(seconds, 2)),
            ("rounds", .integer(rounds)),
            ("frame_bytes", .integer(frame.count)),
            ("frame", .string("UDP to 239.1.1.1:5001, no listener (dropped by the receiver's IP layer)")),
            ("generator", .string("AF_PACKET sendmmsg, batch \(batch), PACKET_QDISC_BYPASS, 1 thread")),
            ("counted_by", .string("rx_packets of the receiving veth (/proc/net/dev of its namespace)")),
        ])
    }

    /// Attaches `program` as `config` says (nothing for bare), runs `body`,
    /// and detaches: the link is a local of this function, so its last
    /// descriptor is closed, and the program detached, when it returns.
    private static func measure(_ config: Config, _ ns: String, _ interface: NetworkInterface,
                                program: KernelFD, _ body: () throws -> Window) throws -> Window {
        var link: KernelFD?
        if let mode = config.mode {
            link = try BenchNetwork.inNamespace(ns) { try XDP.attach(program: program, to: interface, mode: mode) }
        }
        return try withExtendedLifetime(link) { try body() }
    }

    /// Lets the new configuration settle, then counts received frames over
    /// `seconds`.
    private static func measureWindow(counters: InterfaceCounters, blaster: FrameBlaster,
                                      seconds: Double, settle: Double) throws -> Window {
        usleep(UInt32(settle * 1e6))
        let r0 = try counters.read(), s0 = blaster.sent, c0 = blaster.cpuNanoseconds
        usleep(UInt32(seconds * 1e6))
        let r1 = try counters.read(), s1 = blaster.sent, c1 = blaster.cpuNanoseconds
        let elapsed = Double(r1.time - r0.time) / 1e9
        let cpu = Double(c1 - c0) / 1e9
        return Window(pps: Double(r1.rxPackets - r0.rxPackets) / elapsed,
                      txPps: Double(s1 - s0) / elapsed,
                      ppsPerCPU: Double(r1.rxPackets - r0.rxPackets) / cpu, cpuShare: cpu / elapsed,
                      rxDropped: r1.rxDropped - r0.rxDropped, txDropped: r1.txDropped - r0.txDropped,
                      frames: r1.rxPackets - r0.rxPackets)
    }

    /// Fails when a program is still attached after its link was closed
    /// (the next window would measure the wrong configuration).
    private static func requireDetached(_ ns: String, _ interface: NetworkInterface) throws {
        var tries = 0
        while try BenchNetwork.inNamespace(ns, { try XDP.query(interface) }) != nil {
            tries += 1
            if tries > 100 { throw BenchError("an XDP program stayed attached to \(interface.name) after its link closed") }
            usleep(10_000)
        }
    }
}
