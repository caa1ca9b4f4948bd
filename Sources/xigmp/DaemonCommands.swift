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
