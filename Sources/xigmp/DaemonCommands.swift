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

    func run() throws {
        let reply: [String: Any]
        do {
            reply = try ControlClient.send(["cmd": "groups"], to: socket)
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        guard reply["ok"] as? Bool == true else {
            printError(reply["error"] as? String ?? "the daemon refused")
            throw ExitCode(1)
        }
        if json {
            print(String(decoding: (try? JSONSerialization.data(withJSONObject: reply, options: [.sortedKeys])) ?? Data(), as: UTF8.self))
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
