import ArgumentParser
import Foundation
import XigmpDaemon
import XigmpTools

/// `xigmp outside primary|alt`: switch the running daemon's active upstream.
struct Outside: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Switch the running daemon's active outside interface (primary or alt).",
        discussion: """
            Queries are accepted from the active outside only, and everything outbound leaves \
            through it. Talks to the daemon over its control socket (root-only, mode 0600).
            """)

    enum Which: String, ExpressibleByArgument, CaseIterable { case primary, alt }

    @Argument(help: "primary or alt.") var which: Which
    @Option(name: .long, help: ArgumentHelp("The daemon's control socket.", valueName: "PATH"))
    var socket: String = ControlClient.defaultPath
    @Flag(name: .long, help: "Print the daemon's JSON reply.") var json = false

    func run() throws {
        let reply = try daemonRequest(ControlRequest(.outside, value: which.rawValue), socket: socket)
        guard let status = reply.status else { throw daemonOddity(socket, "no status in the outside reply") }
        if json {
            print(JSONCoding.line(status))
        } else {
            print("active outside: \(status.activeOutside) (\(status.activeInterface))")
        }
    }
}

/// `xigmp groups`: the running daemon's membership tables, queriers and what
/// it reports upstream.
struct Groups: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the running daemon's membership tables (RFC 3376 §6), queriers and upstream state.",
        discussion: """
            One table per interface with a querier (the inside under `membership: track`): \
            each group's filter mode, group timer and sources with their timers in seconds, \
            its compatibility mode and last reporter. Then what the active outside reports \
            upstream, and the membership counters (limits included).
            """)

    @Option(name: .long, help: ArgumentHelp("The daemon's control socket.", valueName: "PATH"))
    var socket: String = ControlClient.defaultPath
    @Flag(name: .long, help: "Print the daemon's JSON reply.") var json = false
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.apply()
        let reply = try daemonRequest(ControlRequest(.groups), socket: socket)
        guard let membership = reply.membership else { throw daemonOddity(socket, "no membership in the groups reply") }
        print(json ? JSONCoding.line(membership) : Self.render(membership), terminator: json ? "\n" : "")
    }

    static func render(_ reply: MembershipReply) -> String {
        var out = "membership: \(reply.membership)\n"
        if reply.interfaces.isEmpty { out += "no interface has a querier or membership table (see `querier` in the config)\n" }
        for iface in reply.interfaces {
            var role = iface.querier.role
            if let other = iface.querier.querier { role += " (querier \(other))" }
            out += "\n\(iface.role) \(iface.interface): \(role)\n"
            if iface.groups.isEmpty { out += "  no groups\n"; continue }
            out += "  " + pad("GROUP", 16) + pad("MODE", 9) + pad("TIMER", 10) + pad("COMPAT", 8) + pad("HOSTS", 7)
                + pad("LAST REPORTER", 16) + "SOURCES\n"
            for g in iface.groups {
                let timer = g.groupTimerSeconds.map { String(format: "%.1fs", $0) } ?? "-"
                let sources = g.sources.map { "\($0.address)(\(String(format: "%.1fs", $0.timerSeconds)))" }
                let hosts = g.hosts ?? []
                let count = "\(hosts.count)" + (g.hostsUntracked == true ? "+" : "")
                out += "  " + pad(g.group, 16) + pad(g.filterMode, 9) + pad(timer, 10) + pad(g.compatibility, 8)
                    + pad(count, 7) + pad(g.lastReporter, 16) + (sources.isEmpty ? "-" : sources.joined(separator: " ")) + "\n"
                for h in hosts {
                    let wants = h.filterMode.uppercased() + "(" + h.sources.joined(separator: ",") + ")"
                    out += "    host " + pad(h.address, 16) + pad(h.mac ?? "-", 18) + pad(wants, 12)
                        + String(format: "%.1fs", h.timerSeconds) + "\n"
                }
                if g.hostsUntracked == true {
                    out += "    (more hosts than limits.maxHostsPerGroup: fast leave is off for this group)\n"
                }
            }
        }
        if reply.membership == "track" {
            let up = reply.upstream
            out += "\nupstream \(up.interface) (reports in IGMP\(up.version)): "
            out += up.groups.isEmpty ? "no groups\n" : "\(up.groups.count) group\(up.groups.count == 1 ? "" : "s")\n"
            for g in up.groups {
                out += "  \(g.group) \(g.filterMode.uppercased())(\(g.sources.joined(separator: ",")))\n"
            }
        }
        if !reply.counters.isEmpty {
            out += "\ncounters:\n"
            for name in reply.counters.keys.sorted() {
                let c = reply.counters[name] ?? [:]
                out += "  \(name): " + c.keys.sorted().map { "\($0)=\(c[$0] ?? 0)" }.joined(separator: " ") + "\n"
            }
        }
        return out
    }

    private static func pad(_ s: String, _ width: Int) -> String {
        s.count >= width ? s + " " : s + String(repeating: " ", count: width - s.count)
    }
}

/// `xigmp routes`: the running daemon's multicast forwarding entries.
struct Routes: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the running daemon's multicast forwarding entries.",
        discussion: """
            Every entry: source (* for any), group, incoming and outgoing interfaces, the path \
            that forwards it (xdp, tc or kernel), packets, bytes, rate and age, and how long after \
            it was installed its first packet was forwarded.
            """)

    @Option(name: .long, help: ArgumentHelp("The daemon's control socket.", valueName: "PATH"))
    var socket: String = ControlClient.defaultPath
    @Flag(name: .long, help: "Print the daemon's JSON reply (one object per refresh with --watch).") var json = false
    @Option(name: .long, help: ArgumentHelp("Refresh every SECONDS until interrupted.", valueName: "SECONDS"))
    var watch: Double?
    @Option(name: .long, help: ArgumentHelp("With --watch, stop after this many refreshes.", valueName: "N"))
    var count: Int?
    @OptionGroup var global: GlobalOptions

    func validate() throws {
        if let watch, !(watch > 0) { throw ValidationError("--watch takes a positive number of seconds, e.g. --watch 1") }
        if count != nil && watch == nil { throw ValidationError("--count needs --watch") }
    }

    func run() throws {
        try global.apply()
        var shown = 0
        while true {
            let reply = try daemonRequest(ControlRequest(.routes), socket: socket)
            guard let routes = reply.routes else { throw daemonOddity(socket, "no routes in the routes reply") }
            if json {
                print(JSONCoding.line(routes))
            } else {
                if watch != nil && shown > 0 { print("") }
                print(Self.render(routes), terminator: "")
            }
            shown += 1
            guard let watch, count.map({ shown < $0 }) ?? true else { return }
            fflush(nil)
            usleep(UInt32(watch * 1_000_000))
        }
    }

    static func render(_ reply: RoutesReply) -> String {
        let rows = reply.routes
        if rows.isEmpty {
            return reply.mode == "off" ? "forwarding is off (set forwarding.mode in the config)\n" : "forwarding (\(reply.mode)): no entries\n"
        }
        var out = "forwarding (\(reply.mode)): \(rows.count) entr\(rows.count == 1 ? "y" : "ies")\n"
        let header = ["SOURCE", "GROUP", "IN", "OUT", "PATH", "PACKETS", "BYTES", "RATE", "AGE", "FIRST"]
        var table = [header]
        for r in rows {
            let first = r.firstPacketMs.map { String(format: "%.3fms", $0) } ?? "-"
            table.append([r.source, r.group, r.incoming, r.out.joined(separator: ","), r.path, "\(r.packets)", "\(r.bytes)",
                          String(format: "%.1f/s", r.ratePps), String(format: "%.0fs", r.ageSeconds), first])
        }
        let widths = header.indices.map { i in table.map { $0[i].count }.max() ?? 0 }
        for row in table {
            out += row.enumerated().map { i, cell in cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) }
                .joined().trimmingCharacters(in: .whitespaces) + "\n"
        }
        return out
    }
}

/// One request to the daemon's control socket. No daemon answering exits 3;
/// a refusal exits 1 (see `CLIExit`); either is one line on stderr.
func daemonRequest(_ request: ControlRequest, socket: String) throws -> ControlReply {
    let reply: ControlReply
    do {
        reply = try ControlClient.send(request, to: socket)
    } catch {
        printError(error.description)
        throw CLIExit.of(error).code
    }
    guard reply.ok else {
        printError(reply.error?.message ?? "the daemon refused")
        throw CLIExit.failure.code
    }
    return reply
}

/// A reply of our version without the body its command promises: a daemon
/// bug, said as such.
func daemonOddity(_ socket: String, _ what: String) -> ExitCode {
    printError("the daemon at \(socket) sent \(what) (a bug: please report it with the daemon's version)")
    return CLIExit.noDaemon.code
}

/// The exit statuses every command keeps to (README "Exit status").
enum CLIExit: Int32 {
    /// Done.
    case ok = 0
    /// The kernel, the daemon or the input refused; the message says why.
    case failure = 1
    /// The configuration file is invalid (`run`, `run --check`).
    case config = 2
    /// No daemon answered on the control socket: none runs there, it did
    /// not answer in time, or it speaks another major protocol version.
    case noDaemon = 3
    /// Bad usage (an option or argument); ArgumentParser's own code.
    case usage = 64

    var code: ExitCode { ExitCode(rawValue) }

    static func of(_ failure: ControlClient.Failure) -> CLIExit {
        switch failure.kind {
        case .notRunning, .noAnswer: .noDaemon
        case .local: .failure
        }
    }
}
