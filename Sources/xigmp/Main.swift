import ArgumentParser
import CXigmp
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import Glibc

@main
enum Entry {
    /// Lets global options stand before the subcommand too
    /// (`xigmp --netns A load ...`, like `ip -n A link`), by moving them
    /// after it, where ArgumentParser expects them.
    static func main() async {
        // A peer that hangs up (a control-socket client, a scraper, a pipe
        // the output goes to) must never kill the process: writes fail with
        // EPIPE instead, and every sender handles that.
        signal(SIGPIPE, SIG_IGN)
        let args = hoistGlobalOptions(Array(CommandLine.arguments.dropFirst()))
        // The daemon records SIGTERM/SIGINT/SIGHUP from its first
        // instruction on, before any thread exists, and acts on them once
        // what it sets up can be undone (`Run`).
        if args.first == "run" { cxigmp_startup_signals_install() }
        await Xigmp.main(args)
    }

    static func hoistGlobalOptions(_ args: [String]) -> [String] {
        var globals: [String] = []
        var i = 0
        while i < args.count {
            let a = args[i]
            if a == "--netns", i + 1 < args.count {
                globals += [a, args[i + 1]]; i += 2
            } else if a.hasPrefix("--netns=") || a == "--verbose" {
                globals.append(a); i += 1
            } else {
                break
            }
        }
        guard !globals.isEmpty, i < args.count else { return args }
        return [args[i]] + globals + args[(i + 1)...]
    }
}

struct Xigmp: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xigmp",
        abstract: "IGMP proxy, querier and multicast edge forwarder for Linux: XDP and TC in the kernel, a Swift control plane on AF_XDP.",
        discussion: """
            `run` is the daemon: it proxies IGMP between the inside and the outside (goIGMP's \
            modes, or RFC 4605 membership tracking with xigmp as the inside's querier) and \
            forwards multicast data to the members. `status`, `groups`, `routes` and `outside` \
            inspect and steer a running daemon through its control socket. `load`, `unload` and \
            `stats` manage the XDP classifier by itself; `doctor` says what this kernel can do; \
            `dump`, `query`, `report` and `leave` decode and send IGMP by hand.

            Every command but `outside` takes --netns NAME to act inside an iproute2 network \
            namespace (prefer it to `ip netns exec`, whose private /sys hides the pins that keep \
            `load` alive).
            """,
        subcommands: [Load.self, Unload.self, Status.self, Doctor.self, Stats.self, Dump.self, Query.self, Report.self, Leave.self, Run.self, Outside.self, Groups.self, Routes.self]
    )
}

/// Options every subcommand takes.
struct GlobalOptions: ParsableArguments {
    @Option(name: .long, help: ArgumentHelp("Act inside this network namespace (a name from `ip netns list`).", valueName: "NAME"))
    var netns: String?

    @Flag(name: .long, help: "Echo libbpf's warnings to stderr.")
    var verbose = false

    /// Enters the namespace and sets up libbpf logging. Call first.
    func apply() throws {
        LibBPFLog.capture(echo: verbose)
        if let netns { try run { () throws(DatapathError) in try NetNamespace.enter(named: netns) } }
    }
}

/// Runs a datapath operation, turning its error into a one-line message on
/// stderr and exit status 1 (no stack trace, nothing half-done).
func run<T>(_ body: () throws(DatapathError) -> T) throws -> T {
    do {
        return try body()
    } catch {
        printError(error.description)
        throw ExitCode(1)
    }
}

func printError(_ message: String) {
    var lines = message.split(separator: "\n", omittingEmptySubsequences: false)
    let first = lines.isEmpty ? "" : String(lines.removeFirst())
    var text = "xigmp: error: \(first)\n"
    for l in lines { text += "  \(l)\n" }
    writeStderr(text)
}

/// Writes to fd 2 directly (the C `stderr` global is not concurrency-safe).
func writeStderr(_ text: String) {
    var bytes = Array(text.utf8)
    _ = bytes.withUnsafeMutableBytes { write(2, $0.baseAddress, $0.count) }
}

func printNote(_ message: String) {
    writeStderr("xigmp: \(message)\n")
}
