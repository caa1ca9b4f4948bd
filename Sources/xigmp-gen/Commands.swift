import ArgumentParser
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import Glibc
import IGMPWire
import XigmpTools

struct XigmpGen: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xigmp-gen",
        abstract: "IGMP traffic generator and sink for the xigmp end-to-end benchmarks.",
        discussion: """
            Probes are IGMPv3 reports (one MODE_IS_EXCLUDE record, a join) whose aux data carries \
            a run id, a sequence number and the send time (CLOCK_REALTIME), so a receiver anywhere \
            on the machine can count losses and one-way latency. Each command prints one JSON object.
            """,
        subcommands: [Send.self, Receive.self])
}

/// --netns NAME: enter the namespace with setns(2) before opening anything.
struct NamespaceOption: ParsableArguments {
    @Option(name: .customLong("netns"), help: "Network namespace (ip netns name) to work in.")
    var netns: String?

    func enter() throws {
        if let netns { try NetNamespace.enter(named: netns) }
    }
}

func parseAddress(_ s: String, _ what: String) throws -> IPv4Address {
    guard let a = IPv4Address(s) else { throw ValidationError("\(what): '\(s)' is not an IPv4 address") }
    return a
}

/// prctl(PR_SET_TIMERSLACK): prctl is variadic, so Swift reaches it through dlsym.
func setTimerSlack(nanoseconds: Int) {
    typealias Prctl = @convention(c) (Int32, UInt, UInt, UInt, UInt) -> Int32
    guard let sym = dlsym(nil, "prctl") else { return }
    _ = unsafeBitCast(sym, to: Prctl.self)(29 /* PR_SET_TIMERSLACK */, UInt(nanoseconds), 0, 0, 0)
}

func cpuSecondsOfProcess() -> Double {
    var u = rusage()
    getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &u)
    return Double(u.ru_utime.tv_sec) + Double(u.ru_utime.tv_usec) / 1e6 + Double(u.ru_stime.tv_sec)
        + Double(u.ru_stime.tv_usec) / 1e6
}

struct Send: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send probes (IGMPv3 reports) to an address, paced or as fast as possible.")

    @OptionGroup var ns: NamespaceOption
    @Option(help: "Interface to send on.") var iface: String
    @Option(help: "Destination IPv4 address (unicast: the proxy's inside address).") var to: String
    @Option(help: "Source IPv4 address (default: the interface's primary address).") var from: String?
    @Option(help: "Destination MAC for --method xdp (the next hop's interface).") var dstMac: String?
    @Option(help: "xdp (AF_XDP TX, prebuilt frames), raw (IP_HDRINCL + sendmmsg) or sendto (one syscall a message).")
    var method: String = "xdp"
    @Option(help: "Messages per second; 0 sends as fast as possible.") var rate: Double = 0
    @Option(help: "Stop after this many messages (0: no limit).") var count: Int = 0
    @Option(help: "Stop after this many seconds (0: no limit).") var duration: Double = 0
    @Option(help: "Spread probes over this many groups.") var groups: UInt32 = 256
    @Option(help: "First group.") var groupBase: String = "239.1.0.0"
    @Option(help: "Run id carried in every probe (receivers filter on it).") var runID: UInt16 = 1
    @Option(help: "Largest batch per syscall.") var batch: Int = 64
    @Option(help: "v3 record type (1 IS_IN, 2 IS_EX, 4 TO_EX, 5 ALLOW...).") var record: UInt8 = 2

    func validate() throws {
        if count <= 0 && duration <= 0 { throw ValidationError("give --count or --duration") }
        if batch < 1 || batch > 1024 { throw ValidationError("--batch must be 1...1024") }
        if groups == 0 { throw ValidationError("--groups must be positive") }
    }

    func run() throws {
        try ns.enter()
        let interface = try NetworkInterface(named: iface)
        let info = try InterfaceInfo(interface)
        let source: IPv4Address
        if let from { source = try parseAddress(from, "--from") } else {
            guard let a = info.primaryIPv4 else { throw ValidationError("\(iface) has no IPv4 address: give --from") }
            source = a
        }
        let addressing = Addressing(interface: interface, source: source, destination: try parseAddress(to, "--to"),
                                    groupBase: try parseAddress(groupBase, "--group-base").rawValue, groups: groups,
                                    runID: runID, recordType: record)
        let tx: any Transmitter
        switch method {
        case "xdp":
            guard let dstMac, let mac = MACAddress(dstMac) else {
                throw ValidationError("--method xdp needs --dst-mac (the next hop's MAC, e.g. from `ip -n NS link show IF`)")
            }
            tx = try XDPTransmitter(addressing: addressing, destinationMAC: mac)
        case "raw": tx = try RawTransmitter(addressing: addressing, batch: batch, useSendmmsg: true)
        case "sendto": tx = try RawTransmitter(addressing: addressing, batch: batch, useSendmmsg: false)
        default: throw ValidationError("--method: xdp, raw or sendto")
        }
        // Sub-100 µs sleeps need the timer slack down from its 50 µs default.
        setTimerSlack(nanoseconds: 1)
        let cpu0 = cpuSecondsOfProcess()
        let (sent, seconds) = pace(tx)
        let cpu = cpuSecondsOfProcess() - cpu0
        printJSON([("sent", .integer(sent)), ("seconds", .rounded(seconds)),
                   ("rate_per_s", .rounded(seconds > 0 ? Double(sent) / seconds : 0)),
                   ("offered_rate", .rounded(rate)), ("method", .string(tx.method)),
                   ("backpressure", .integer(Int(tx.backpressure))), ("errors", .integer(Int(tx.errors))),
                   ("cpu_s", .rounded(cpu)), ("run_id", .integer(Int(runID)))])
    }

    /// The send loop: at `rate`, batches are what is due since the start
    /// (so a late wake-up catches up instead of lowering the rate), and
    /// the loop sleeps until the next message is due; flat out, full batches.
    func pace(_ tx: any Transmitter) -> (Int, Double) {
        let limit = count > 0 ? count : Int.max
        let start = monotonicNs()
        let end = duration > 0 ? start + UInt64(duration * 1e9) : UInt64.max
        var sent = 0
        let interval = rate > 0 ? 1e9 / rate : 0
        var checks = 0
        while sent < limit {
            var n = batch
            if rate > 0 {
                let now = monotonicNs()
                if now >= end { break }
                let due = Int(Double(now - start) / interval) + 1 - sent
                if due <= 0 {
                    sleepUntil(monotonic: start + UInt64(Double(sent) * interval))
                    continue
                }
                n = min(due, batch)
            } else {
                checks += 1
                if checks & 15 == 0 && monotonicNs() >= end { break }
            }
            n = min(n, limit - sent)
            sent += tx.send(count: n, sequence: UInt32(truncatingIfNeeded: sent))
        }
        tx.drain()
        return (sent, Double(monotonicNs() - start) / 1e9)
    }
}

struct Receive: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Count probes arriving on an interface (AF_PACKET, kernel timestamps) and report latency percentiles.")

    @OptionGroup var ns: NamespaceOption
    @Option(help: "Interface to listen on.") var iface: String
    @Option(help: "Only count probes of this run id.") var runID: UInt16?
    @Option(help: "Stop once this many distinct probes arrived (0: no such stop).") var expect: Int = 0
    @Option(help: "Stop after this many seconds in all.") var duration: Double = 60
    @Option(help: "Stop when nothing arrived for this many seconds (after the first probe).") var idle: Double = 0.5
    @Option(help: "Stop when nothing at all arrived within this many seconds.") var startTimeout: Double = 10
    @Option(help: "Create this file once the socket is listening.") var readyFile: String?
    @Option(help: "Also write every latency (ns, one per line, in arrival order) to this file.") var latenciesFile: String?

    func run() throws {
        try ns.enter()
        let interface = try NetworkInterface(named: iface)
        let rx = try ProbeReceiver(interface: interface, runID: runID, expected: expect)
        signal(SIGINT) { _ in stopRequested = 1 }
        signal(SIGTERM) { _ in stopRequested = 1 }
        if let readyFile {
            _ = KernelFD(owning: open(readyFile, O_CREAT | O_WRONLY | O_TRUNC | O_CLOEXEC, 0o644))
        }
        let start = monotonicNs()
        let hardEnd = start + UInt64(duration * 1e9)
        let startEnd = start + UInt64(startTimeout * 1e9)
        var lastCount = 0
        var lastChange = start
        rx.run { r, now in
            if r.unique != lastCount { lastCount = r.unique; lastChange = now }
            if now >= hardEnd { return true }
            if expect > 0 && r.unique >= expect { return true }
            if r.unique == 0 { return now >= startEnd }
            return Double(now - lastChange) / 1e9 >= idle
        }
        let r = rx.result
        // In arrival order, so that a tail can be placed in time.
        if let latenciesFile, let f = fopen(latenciesFile, "w") {
            for v in r.latencies { fputs("\(v)\n", f) }
            fclose(f)
        }
        var lat = r.latencies
        lat.sort()
        func us(_ p: Double) -> JSON {
            guard let v = percentile(lat, p) else { return .null }
            return .rounded(Double(v) / 1000)
        }
        let gone = rx.missing(below: expect)
        let span = r.lastNs > r.firstNs ? Double(r.lastNs - r.firstNs) / 1e9 : 0
        let mean = lat.isEmpty ? JSON.null : .rounded(Double(lat.reduce(0, +)) / Double(lat.count) / 1000)
        printJSON([("received", .integer(r.received)), ("unique", .integer(r.unique)), ("duplicates", .integer(r.duplicates)),
                   ("foreign", .integer(r.foreign)), ("socket_drops", .integer(Int(r.socketDrops))),
                   ("max_seq", .integer(Int(r.maxSequence))),
                   ("seconds", .rounded(span)), ("rate_per_s", .rounded(span > 0 ? Double(r.unique - 1) / span : 0)),
                   ("min_us", lat.isEmpty ? .null : .rounded(Double(lat[0]) / 1000)),
                   ("p50_us", us(50)), ("p90_us", us(90)), ("p99_us", us(99)), ("p999_us", us(99.9)),
                   ("max_us", lat.isEmpty ? .null : .rounded(Double(lat[lat.count - 1]) / 1000)),
                   ("mean_us", mean), ("missing", .integer(gone.count)), ("missing_gaps", .integer(gone.gaps)),
                   ("missing_first", .string(gone.first.map(String.init).joined(separator: " ")))])
    }
}
