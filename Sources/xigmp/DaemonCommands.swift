import ArgumentParser
import Foundation
import XigmpDaemon

/// `xigmp outside primary|alt`: switch the running daemon's active upstream.
struct Outside: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Switch the running daemon's active outside interface (primary or alt).",
        discussion: """
            Queries are accepted from the active outside only, and everything outbound leaves
            through it. Talks to the daemon over its control socket (root-only, mode 0600).
            """)

    enum Which: String, ExpressibleByArgument, CaseIterable { case primary, alt }

    @Argument(help: "primary or alt.") var which: Which
    @Option(name: .long, help: ArgumentHelp("The daemon's control socket.", valueName: "PATH"))
    var socket: String = ControlClient.defaultPath
    @Flag(name: .long, help: "Print the daemon's JSON reply.") var json = false

    func run() throws {
        let reply: [String: Any]
        do {
            reply = try ControlClient.send(["cmd": "outside", "value": which.rawValue], to: socket)
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        if json {
            print(String(decoding: (try? JSONSerialization.data(withJSONObject: reply, options: [.sortedKeys])) ?? Data(), as: UTF8.self))
        }
        guard reply["ok"] as? Bool == true else {
            printError(reply["error"] as? String ?? "the daemon refused")
            throw ExitCode(1)
        }
        if !json {
            let iface = reply["interface"] as? String ?? "?"
            print("active outside: \(which.rawValue) (\(iface))")
        }
    }
}

/// `xigmp groups`: the running daemon's membership tables, queriers and what
/// it reports upstream.
struct Groups: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Show the running daemon's membership tables (RFC 3376 §6), queriers and upstream state.",
        discussion: """
            One table per interface with a querier (the inside under `membership: track`):
            each group's filter mode, group timer and sources with their timers in seconds,
            its compatibility mode and last reporter. Then what the active outside reports
            upstream, and the membership counters (limits included).
            """)

    @Option(name: .long, help: ArgumentHelp("The daemon's control socket.", valueName: "PATH"))
    var socket: String = ControlClient.defaultPath
    @Flag(name: .long, help: "Print the daemon's JSON reply.") var json = false
    @OptionGroup var global: GlobalOptions

    func run() throws {
        try global.apply()
        let reply = try daemonRequest(["cmd": "groups"], socket: socket)
        if json {
            print(jsonLine(reply))
            return
        }
        print(Self.render(reply), terminator: "")
    }

    static func render(_ reply: [String: Any]) -> String {
        var out = "membership: \(reply["membership"] as? String ?? "?")\n"
        let interfaces = reply["interfaces"] as? [[String: Any]] ?? []
        if interfaces.isEmpty { out += "no interface has a querier or membership table (see `querier` in the config)\n" }
        for iface in interfaces {
            let querier = iface["querier"] as? [String: Any] ?? [:]
            var role = querier["role"] as? String ?? "?"
            if let other = querier["querier"] as? String { role += " (querier \(other))" }
            out += "\n\(iface["role"] as? String ?? "?") \(iface["interface"] as? String ?? "?"): \(role)\n"
            let groups = iface["groups"] as? [[String: Any]] ?? []
            if groups.isEmpty { out += "  no groups\n"; continue }
            out += "  " + pad("GROUP", 16) + pad("MODE", 9) + pad("TIMER", 10) + pad("COMPAT", 8) + pad("LAST REPORTER", 16) + "SOURCES\n"
            for g in groups {
                let timer = (g["group_timer_s"] as? Double).map { String(format: "%.1fs", $0) } ?? "-"
                let sources = (g["sources"] as? [[String: Any]] ?? []).map { s -> String in
                    let t = String(format: "%.1fs", s["timer_s"] as? Double ?? 0)
                    return "\(s["address"] as? String ?? "?")(\(t))"
                }
                out += "  " + pad(g["group"] as? String ?? "?", 16) + pad(g["filter_mode"] as? String ?? "?", 9)
                    + pad(timer, 10) + pad(g["compatibility"] as? String ?? "?", 8)
                    + pad(g["last_reporter"] as? String ?? "?", 16) + (sources.isEmpty ? "-" : sources.joined(separator: " ")) + "\n"
            }
        }
        if let up = reply["upstream"] as? [String: Any], reply["membership"] as? String == "track" {
            let groups = up["groups"] as? [[String: Any]] ?? []
            out += "\nupstream \(up["interface"] as? String ?? "?") (reports in IGMP\(up["version"] as? String ?? "?")): "
            out += groups.isEmpty ? "no groups\n" : "\(groups.count) group\(groups.count == 1 ? "" : "s")\n"
            for g in groups {
                let sources = (g["sources"] as? [String] ?? []).joined(separator: ",")
                out += "  \(g["group"] as? String ?? "?") \((g["filter_mode"] as? String ?? "?").uppercased())(\(sources))\n"
            }
        }
        if let counters = reply["counters"] as? [String: [String: Any]], !counters.isEmpty {
            out += "\ncounters:\n"
            for name in counters.keys.sorted() {
                let c = counters[name] ?? [:]
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
            Every entry: source (* for any), group, incoming and outgoing interfaces, the path
            that forwards it (xdp or kernel), packets, bytes, rate and age, and how long after
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
            let reply = try daemonRequest(["cmd": "routes"], socket: socket)
            if json {
                print(jsonLine(reply))
            } else {
                if watch != nil && shown > 0 { print("") }
                print(Self.render(reply), terminator: "")
            }
            shown += 1
            guard let watch, count.map({ shown < $0 }) ?? true else { return }
            fflush(nil)
            usleep(UInt32(watch * 1_000_000))
        }
    }

    static func render(_ reply: [String: Any]) -> String {
        let mode = reply["mode"] as? String ?? "?"
        let rows = reply["routes"] as? [[String: Any]] ?? []
        if rows.isEmpty {
            return mode == "off" ? "forwarding is off (set forwarding.mode in the config)\n" : "forwarding (\(mode)): no entries\n"
        }
        var out = "forwarding (\(mode)): \(rows.count) entr\(rows.count == 1 ? "y" : "ies")\n"
        let header = ["SOURCE", "GROUP", "IN", "OUT", "PATH", "PACKETS", "BYTES", "RATE", "AGE", "FIRST"]
        var table = [header]
        for r in rows {
            let first = (r["first_packet_ms"] as? Double).map { String(format: "%.3fms", $0) } ?? "-"
            table.append([r["source"] as? String ?? "?", r["group"] as? String ?? "?", r["in"] as? String ?? "?",
                          (r["out"] as? [String] ?? []).joined(separator: ","), r["path"] as? String ?? "?",
                          "\(r["packets"] ?? 0)", "\(r["bytes"] ?? 0)", String(format: "%.1f/s", r["rate_pps"] as? Double ?? 0),
                          String(format: "%.0fs", r["age_s"] as? Double ?? 0), first])
        }
        let widths = header.indices.map { i in table.map { $0[i].count }.max() ?? 0 }
        for row in table {
            out += row.enumerated().map { i, cell in cell.padding(toLength: widths[i] + 2, withPad: " ", startingAt: 0) }
                .joined().trimmingCharacters(in: .whitespaces) + "\n"
        }
        return out
    }
}


/// One request to the daemon's control socket; a refusal or an unreachable
/// daemon is printed as one line and exits 1.
func daemonRequest(_ request: [String: Any], socket: String) throws -> [String: Any] {
    let reply: [String: Any]
    do {
        reply = try ControlClient.send(request, to: socket)
    } catch {
        printError(error.description)
        throw ExitCode(1)
    }
    guard reply["ok"] as? Bool == true else {
        printError(reply["error"] as? String ?? "the daemon refused")
        throw ExitCode(1)
    }
    return reply
}

/// A reply as one line of JSON with sorted keys.
func jsonLine(_ object: [String: Any]) -> String {
    String(decoding: (try? JSONSerialization.data(withJSONObject: object, options: [.sortedKeys])) ?? Data(), as: UTF8.self)
}
