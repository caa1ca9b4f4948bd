import ArgumentParser
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import Glibc
import XigmpDaemon
import XigmpTools

struct Status: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "List the interfaces that run xigmp's classifier, and the running daemon's roles and state.")

    @OptionGroup var global: GlobalOptions

    @Flag(name: .long, help: "One JSON object on stdout.")
    var json = false

    @Option(name: .long, help: ArgumentHelp("A running daemon's control socket, asked for its state.", valueName: "PATH"))
    var socket: String = ControlClient.defaultPath

    func run() throws {
        try global.apply()
        let list = try XigmpCLI.run { () throws(DatapathError) in try ClassifierControl.status() }
        let stale = try XigmpCLI.run { () throws(DatapathError) in try ClassifierControl.stalePins() }
        // No daemon running is a normal answer (the classifier part stands
        // alone); one that does not answer is an error, said after the rest.
        var daemon: DaemonStatus?
        var unanswered: (message: String, exit: CLIExit)?
        do {
            let reply = try ControlClient.send(ControlRequest(.status), to: socket)
            if let s = reply.status, reply.ok {
                daemon = s
            } else {
                unanswered = (reply.error?.message ?? "the daemon at \(socket) sent no status", .failure)
            }
        } catch where error.kind == .notRunning {
            daemon = nil
        } catch {
            unanswered = (error.description, CLIExit.of(error))
        }
        if json {
            let items = list.map { s in
                let a = s.attachment
                return StatusOutput.AttachedClassifier(
                    ifname: a.interface.name, ifindex: a.interface.index, mode: a.mode.rawValue, progId: a.program.id,
                    linkId: a.linkID, pinned: s.pinDirectory != nil, pinPath: s.pinDirectory)
            }
            print(JSONCoding.line(StatusOutput(interfaces: items, stalePins: stale, daemon: daemon)))
        } else {
            if let daemon { print(Self.render(daemon, socket: socket), terminator: "") }
            if list.isEmpty {
                print("xigmp's classifier is attached to no interface in this namespace")
            } else {
                let rows = [["IFNAME", "IFINDEX", "MODE", "PROG_ID", "LINK_ID", "PINNED"]] + list.map { s in
                    let a = s.attachment
                    return [a.interface.name, String(a.interface.index), a.mode.rawValue, String(a.program.id),
                            a.linkID.map(String.init) ?? "-", s.pinDirectory ?? "no (held by a running process)"]
                }
                print(table(rows))
            }
            for p in stale {
                printNote("stale pins at \(p) (interface gone or program detached): `xigmp unload --all` removes them")
            }
        }
        if let unanswered {
            printError(unanswered.message)
            throw unanswered.exit.code
        }
    }

    /// The daemon's part of the text output.
    static func render(_ d: DaemonStatus, socket: String) -> String {
        let querier = d.querier.map { "\($0.address) (\($0.version))" } ?? "none heard"
        var out = "daemon (\(socket)): active outside \(d.activeOutside) (\(d.activeInterface)),"
            + " modes \(d.modes.joined(separator: ",")), querier \(querier), up \(d.uptimeSeconds)s\n"
        if let f = d.unicastFallback { out += "  unicast fallback: \(f)\n" }
        if d.autoOutside == true { out += "  activeOutside: auto (fails over to alt, returns after the hold-down)\n" }
        for r in d.roles {
            out += "  \(r.role): \(r.interface) (\(r.datapath))" + (r.up ? "" : " DOWN: \(r.reason ?? "unknown")") + "\n"
        }
        for w in d.waiting ?? [] { out += "  waiting for \(w)\n" }
        for p in d.problems ?? [] { out += "  problem: \(p)\n" }
        return out
    }
}

struct Stats: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the classifier's counters (summed over CPUs).",
        discussion: """
            Counters: IGMP frames by class (query, v1_report, v2_report, v2_leave, v3_report, \
            other_igmp), non_igmp frames, malformed frames, and what was done with IGMP \
            (redirected + passed + dropped = all IGMP). Diagnostics: no_router_alert, \
            no_socket (redirect asked, no AF_XDP socket: passed), vlan.

            --watch redraws every SECONDS with rates per second until interrupted.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Only this interface.", valueName: "IF"))
    var iface: String?

    @Flag(name: .long, help: "JSON on stdout (one line per sample with --watch).")
    var json = false

    @Option(name: .long, help: ArgumentHelp("Redraw every SECONDS with rates.", valueName: "SECONDS"))
    var watch: Double?

    @Option(name: .long, help: ArgumentHelp("With --watch: stop after N samples.", valueName: "N"))
    var count: Int?

    func validate() throws {
        if let watch, !(watch > 0 && watch <= 3600) { throw ValidationError("--watch takes seconds between 0 and 3600, e.g. --watch 1") }
        if let count, count < 1 { throw ValidationError("--count must be at least 1") }
        if count != nil && watch == nil { throw ValidationError("--count goes with --watch") }
    }

    func sample() throws -> [(String, ClassifierCounters)] {
        try XigmpCLI.run { () throws(DatapathError) -> [(String, ClassifierCounters)] in
            var list = try ClassifierControl.status().map(\.attachment)
            if let iface {
                let wanted = try NetworkInterface(named: iface)
                list = list.filter { $0.interface == wanted }
                if list.isEmpty {
                    throw DatapathError(.notLoaded, "xigmp is not attached to \(iface): run `xigmp load --iface \(iface)` first")
                }
            }
            var result: [(String, ClassifierCounters)] = []
            for a in list { result.append((a.interface.name, try ClassifierControl.counters(of: a))) }
            return result
        }
    }

    func run() throws {
        try global.apply()
        guard let watch else {
            let now = try sample()
            if json { print(statsJSON(now, rates: nil)) } else { printTable(now, rates: nil) }
            return
        }
        var previous = try sample()
        var last = monotonicSeconds()
        var n = 0
        let tty = isatty(STDOUT_FILENO) == 1 && !json
        while count.map({ n < $0 }) ?? true {
            usleep(useconds_t(watch * 1_000_000))
            let now = try sample()
            let t = monotonicSeconds()
            let dt = max(t - last, 1e-6)
            var rates: [String: [Double]] = [:]
            for (name, c) in now {
                let before = previous.first { $0.0 == name }?.1 ?? ClassifierCounters()
                rates[name] = c.delta(since: before).values.map { Double($0) / dt }
            }
            if json {
                print(statsJSON(now, rates: rates))
            } else {
                if tty { print("\u{1B}[H\u{1B}[2J", terminator: "") }
                print("every \(watch)s — Ctrl-C to stop")
                printTable(now, rates: rates)
            }
            fflush(nil)
            previous = now
            last = t
            n += 1
        }
    }

    func statsJSON(_ now: [(String, ClassifierCounters)], rates: [String: [Double]]?) -> String {
        let items: [JSON] = now.map { name, c in
            var fields: [(String, JSON)] = [
                ("ifname", .string(name)),
                ("counters", .object(c.pairs.map { ($0.key, .uint($0.value)) })),
            ]
            if let r = rates?[name] {
                fields.append(("rates_per_s", .object(ClassifierCounters.fields.map { ($0.key, .double((r[$0.slot] * 10).rounded() / 10)) })))
            }
            return .object(fields)
        }
        return JSON.object([("interfaces", .array(items))]).rendered
    }

    func printTable(_ now: [(String, ClassifierCounters)], rates: [String: [Double]]?) {
        if now.isEmpty {
            print("xigmp's classifier is attached to no interface in this namespace")
            return
        }
        var header = ["COUNTER"]
        for (name, _) in now {
            header.append(name)
            if rates != nil { header.append("/s") }
        }
        var rows = [header]
        for f in ClassifierCounters.fields {
            var row = [f.key]
            for (name, c) in now {
                row.append(String(c.values[f.slot]))
                if let r = rates?[name] { row.append(String(format1(r[f.slot]))) }
            }
            rows.append(row)
        }
        print(table(rows))
    }
}

func format1(_ v: Double) -> String {
    let tenths = (v * 10).rounded()
    return "\(Int64(tenths) / 10).\(abs(Int64(tenths) % 10))"
}

func monotonicSeconds() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) / 1e9
}

/// Left-aligned text table, first column left, the rest right-aligned.
func table(_ rows: [[String]]) -> String {
    guard let width = rows.map(\.count).max() else { return "" }
    var widths = Array(repeating: 0, count: width)
    for r in rows { for (i, c) in r.enumerated() { widths[i] = max(widths[i], c.count) } }
    return rows.map { r in
        r.enumerated().map { i, c in
            let pad = String(repeating: " ", count: widths[i] - c.count)
            return i == 0 ? c + pad : pad + c
        }.joined(separator: "  ")
    }.joined(separator: "\n")
}
