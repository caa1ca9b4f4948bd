import ArgumentParser
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import Glibc
import IGMPWire
import Synchronization
import XigmpTools

/// Set by SIGINT/SIGTERM so loops end cleanly and ports detach what they
/// attached.
let stopRequested = Atomic<Bool>(false)

func installStopHandlers() {
    signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
    signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
}

extension GroupRecordType: ExpressibleByArgument {
    public init?(argument: String) {
        guard let t = GroupRecordType.allCases.first(where: { $0.shortName == argument }) else { return nil }
        self = t
    }
    public static var allValueStrings: [String] { allCases.map(\.shortName) }
}

extension IPv4Address: ExpressibleByArgument {
    public init?(argument: String) { self.init(argument) }
}

/// A duration argument with a unit (`100ms`, `1s`, `2m`).
struct DurationArgument: ExpressibleByArgument {
    let seconds: Double
    init?(argument: String) {
        // At most a day: every use below turns it into an integer count.
        guard let s = try? DurationParser.seconds(argument), s.isFinite, s >= 0, s <= 86_400 else { return nil }
        seconds = s
    }
    static var defaultCompletionKind: CompletionKind { .default }
}

struct Dump: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Decode IGMP on an interface or from a pcap file, one line per packet (like tcpdump -v).",
        discussion: """
            Live capture uses --datapath: xdp redirects IGMP to AF_XDP sockets while dump runs, \
            so this host's own IGMP stack does not see it meanwhile (that is what the proxy does); \
            kernel reads a raw IGMP socket and disturbs nothing. A malformed packet prints an \
            error line with the reason and dumping goes on. Times are UTC; durations in seconds.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: ArgumentHelp("Capture on this interface.", valueName: "IF")) var iface: String?
    @Option(name: .long, help: ArgumentHelp("Read packets from a pcap file.", valueName: "FILE.pcap")) var read: String?
    @Option(name: .long, help: "Stop after N IGMP packets.") var count: Int?
    @Flag(name: .long, help: "One JSON object per line.") var json = false
    @Option(name: .long, help: ArgumentHelp("Also save the packets to a pcap file.", valueName: "FILE.pcap")) var write: String?
    @Option(name: .long, help: "Datapath for live capture: auto, xdp or kernel.") var datapath: DatapathChoice = .auto
    @Option(name: .customLong("xdp-mode"), help: "With the xdp datapath, when dump attaches the classifier: auto, native or generic.")
    var xdpMode: ClassifierControl.ModeRequest = .auto

    func validate() throws {
        if (iface == nil) == (read == nil) { throw ValidationError("give exactly one of --iface IF or --read FILE.pcap") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if read != nil && write != nil { throw ValidationError("--write goes with --iface (to copy a file, use cp)") }
    }

    func emit(_ bytes: UnsafeRawBufferPointer, layer: LinkLayer, ctx: DumpFormatter.Context) {
        do throws(IGMPParseError) {
            let view = layer == .ethernet ? try IGMPPacketView(ethernetFrame: bytes, verifyChecksums: false)
                                          : try IGMPPacketView(ipv4Packet: bytes, verifyChecksums: false)
            let decoded = DecodedIGMPPacket(view)
            print(json ? DumpFormatter.json(decoded, ctx).rendered : DumpFormatter.text(decoded, ctx))
        } catch {
            print(json ? DumpFormatter.errorJSON(error.description, ctx).rendered : DumpFormatter.errorText(error.description, ctx))
        }
    }

    func run() throws {
        try global.apply()
        if let read { return try dumpFile(read) }
        guard let iface else { return }
        let port = try XigmpCLI.run { () throws(DatapathError) in
            try PortOpening.open(ifname: iface, choice: datapath, receive: true, mode: xdpMode)
        }
        let layer: LinkLayer = port.kind == .xdp ? .ethernet : .ipv4
        var sink: PcapFileSink?
        if let write {
            do throws(ToolError) {
                sink = try PcapFileSink(path: write, linkType: layer == .ethernet ? .ethernet : .raw)
            } catch {
                printError(error.description)
                throw ExitCode(1)
            }
        }
        printNote("listening on \(iface) (\(port.kind.rawValue) datapath); Ctrl-C to stop")
        installStopHandlers()
        var seen = 0
        var failure: ToolError?
        while !stopRequested.load(ordering: .relaxed) && count.map({ seen < $0 }) ?? true {
            let budget = count.map { $0 - seen } ?? 64
            _ = try XigmpCLI.run { () throws(DatapathError) in
                try port.receive(maxBatch: min(budget, 64), timeoutMs: 200) { p in
                    let ctx = DumpFormatter.Context(timeNs: p.timestampNs, ifname: iface,
                                                    queue: p.linkLayer == .ethernet ? p.queue : nil)
                    emit(p.bytes, layer: p.linkLayer, ctx: ctx)
                    if let sink { do throws(ToolError) { try sink.append(p.bytes, timeNs: p.timestampNs) } catch { failure = error } }
                    seen += 1
                }
            }
            fflush(nil)
            if let failure { printError(failure.description); throw ExitCode(1) }
        }
        printNote("\(seen) packet(s)" + (write.map { ", saved to \($0)" } ?? ""))
    }

    func dumpFile(_ path: String) throws {
        do {
            var reader = try PcapReader(bytes: try PcapFileSink.read(path))
            let layer: LinkLayer
            switch reader.linkType {
            case .ethernet: layer = .ethernet
            case .raw: layer = .ipv4
            default:
                throw ToolError("\(path): link type \(reader.linkType) is not supported (Ethernet or raw IPv4 only)")
            }
            var n = 0
            while let r = try reader.next(), count.map({ n < $0 }) ?? true {
                let ns = UInt64(r.seconds) * 1_000_000_000 + r.nanoseconds
                r.data.withUnsafeBytes { emit($0, layer: layer, ctx: DumpFormatter.Context(timeNs: ns, ifname: path)) }
                n += 1
            }
        } catch let e as PcapError {
            printError("\(path): \(e.description)")
            throw ExitCode(1)
        } catch let e as ToolError {
            printError(e.description)
            throw ExitCode(1)
        }
    }
}

/// Options shared by the commands that send: where, how, how often.
struct SendOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Send on this interface.", valueName: "IF")) var iface: String?
    @Option(name: .long, help: ArgumentHelp("Instead of sending, write the frames to a pcap file.", valueName: "FILE.pcap")) var write: String?
    @Option(name: .long, help: ArgumentHelp("Unicast destination instead of the RFC's multicast one.", valueName: "ADDR")) var to: IPv4Address?
    @Option(name: .long, help: ArgumentHelp("Source address (default: the interface's; 192.0.2.1 with --write).", valueName: "ADDR")) var from: IPv4Address?
    @Option(name: .long, help: "Datapath: auto, xdp or kernel.") var datapath: DatapathChoice = .auto
    @Option(name: .long, help: ArgumentHelp("Time between messages, with a unit (100ms, 1s).", valueName: "DURATION")) var interval: DurationArgument?
    @Option(name: .long, help: "How many messages to send.") var count: Int = 1

    func validate() throws {
        if (iface == nil) == (write == nil) { throw ValidationError("give exactly one of --iface IF or --write FILE.pcap") }
        if count < 1 { throw ValidationError("--count must be at least 1") }
        if count > 1 && interval == nil && iface != nil { throw ValidationError("--count above 1 needs --interval (e.g. --interval 1s)") }
    }

    /// Sends (or writes) `message` `count` times, printing each.
    func send(_ message: IGMPMessage) throws {
        let destination = to ?? message.defaultDestination
        if let write {
            let source = from ?? IPv4Address(192, 0, 2, 1)
            do {
                let sink = try PcapFileSink(path: write, linkType: .ethernet)
                let ethernet = EthernetEncodeOptions(source: MACAddress(0x02, 0, 0, 0, 0, 1),
                                                     destination: destination.isMulticast ? nil : MACAddress(0x02, 0, 0, 0, 0, 2))
                let frame = try IGMPEncoder.ethernetFrame(message, ethernet: ethernet, source: source, destination: destination)
                var t = UInt64(realtimeNs())
                for _ in 0..<count {
                    var failure: ToolError?
                    frame.withUnsafeBytes { raw in
                        do throws(ToolError) { try sink.append(raw, timeNs: t) } catch { failure = error }
                    }
                    if let failure { throw failure }
                    t += UInt64((interval?.seconds ?? 0) * 1e9)
                }
            } catch let e as ToolError {
                printError(e.description); throw ExitCode(1)
            } catch {
                printError("cannot build the frame: \(error)"); throw ExitCode(1)
            }
            print("wrote \(count) frame(s) to \(write): \(source) > \(destination): igmp \(DumpFormatter.describe(message))")
            return
        }
        guard let iface else { return }
        let port = try XigmpCLI.run { () throws(DatapathError) in
            try PortOpening.open(ifname: iface, choice: datapath, receive: false)
        }
        let info = try XigmpCLI.run { () throws(DatapathError) in try InterfaceInfo(port.interface) }
        guard let source = from ?? info.primaryIPv4 else {
            printError("\(iface) has no IPv4 address to send from: add one, or pass --from ADDR")
            throw ExitCode(1)
        }
        installStopHandlers()
        for i in 0..<count {
            if stopRequested.load(ordering: .relaxed) { break }
            if i > 0, let interval { usleep(useconds_t(interval.seconds * 1_000_000)) }
            try XigmpCLI.run { () throws(DatapathError) in
                try port.send(message, source: source, destination: destination)
            }
            print("\(DumpFormatter.clock(realtimeNs())) \(iface) \(source) > \(destination): igmp \(DumpFormatter.describe(message)) [\(port.kind.rawValue)]")
            fflush(nil)
        }
    }
}

func realtimeNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
}

/// Turns a builder's refusal into a usage error (exit 64) with its reason.
func build(_ body: () throws(MessageBuilder.Invalid) -> IGMPMessage) throws -> IGMPMessage {
    do { return try body() } catch { throw ValidationError(error.description) }
}

struct Query: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send an IGMP membership query (general, group-specific or group-and-source-specific).",
        discussion: "Sent to 224.0.0.1 (general) or to the group (specific), TTL 1, TOS 0xc0, Router Alert.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var send: SendOptions
    @Option(name: .customLong("igmp-version"), help: "1, 2 or 3.") var version: Int = 3
    @Option(name: .long, help: "Group for a group-specific query.") var group: IPv4Address?
    @Option(name: .long, help: "Source for a group-and-source-specific query (v3; repeatable).") var source: [IPv4Address] = []
    @Option(name: .customLong("max-resp"), help: ArgumentHelp("Max response time with a unit (default 10s).", valueName: "DURATION"))
    var maxResp: DurationArgument?

    func run() throws {
        let m = try build { () throws(MessageBuilder.Invalid) in
            try MessageBuilder.query(version: version, group: group, sources: source, maxResponse: maxResp?.seconds)
        }
        try global.apply()
        try send.send(m)
    }
}

struct Report: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send an IGMP membership report.",
        discussion: """
            v1/v2 reports go to the group itself (RFC 2236 §9), v3 reports to 224.0.0.22. \
            v3 record default: to_ex with no sources (a join), allow with sources.
            """)
    @OptionGroup var global: GlobalOptions
    @OptionGroup var send: SendOptions
    @Option(name: .long, help: "The group.") var group: IPv4Address
    @Option(name: .customLong("igmp-version"), help: "1, 2 or 3.") var version: Int = 3
    @Option(name: .long, help: "v3 record type: is_in, is_ex, to_in, to_ex, allow, block.") var record: GroupRecordType?
    @Option(name: .long, help: "Source for the v3 record (repeatable).") var source: [IPv4Address] = []

    func run() throws {
        let m = try build { () throws(MessageBuilder.Invalid) in
            try MessageBuilder.report(version: version, group: group, record: record, sources: source)
        }
        try global.apply()
        try send.send(m)
    }
}

struct Leave: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Send an IGMP leave: v2 Leave Group to 224.0.0.2, or a v3 TO_IN{} report to 224.0.0.22.")
    @OptionGroup var global: GlobalOptions
    @OptionGroup var send: SendOptions
    @Option(name: .long, help: "The group.") var group: IPv4Address
    @Option(name: .customLong("igmp-version"), help: "2 or 3.") var version: Int = 3

    func run() throws {
        let m = try build { () throws(MessageBuilder.Invalid) in try MessageBuilder.leave(version: version, group: group) }
        try global.apply()
        try send.send(m)
    }
}
