import ArgumentParser
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import XigmpDaemon

/// Refuses to take the programs of a running daemon away (they would stop
/// working under it), naming it; `what` is the command's verb.
func refuseDaemonInterfaces(_ names: [String]?, what: String, override: String) throws {
    let daemons = DaemonRunState.daemons(inNamespace: DaemonRunState.currentNamespace())
    for d in daemons {
        let hit = names.map { Set($0).intersection(d.interfaces).sorted() } ?? d.interfaces
        guard !hit.isEmpty else { continue }
        printError("an xigmp daemon (pid \(d.pid), control socket \(d.controlSocket)) runs on \(hit.joined(separator: ", ")): \(what) would take its classifier away under it. Stop it first (kill \(d.pid)), or \(override)")
        throw ExitCode(1)
    }
}

extension ClassifierControl.ModeRequest: ExpressibleByArgument {}
extension ClassifierAction: ExpressibleByArgument {}

struct Load: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Attach the IGMP classifier to an interface with a pinned bpf_link.",
        discussion: """
            The link and maps are pinned under /sys/fs/bpf/xigmp/IFNAME (mounting bpffs if \
            needed), so the classifier stays after this command exits. --mode auto tries \
            native XDP and falls back to generic with a message. An interface that already \
            runs an XDP program (xigmp's or another's) is left alone unless --force.
            """)

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Interface to attach to.", valueName: "IF"))
    var iface: String

    @Option(name: .long, help: "XDP mode: auto (native, else generic), native, generic.")
    var mode: ClassifierControl.ModeRequest = .auto

    @Flag(name: .long, help: "Replace whatever XDP program the interface runs now.")
    var force = false

    @Option(name: .long, help: "What to do with IGMP: redirect (to AF_XDP; passed while no socket is bound), pass, drop.")
    var action: ClassifierAction = .redirect

    @Option(name: .customLong("rate-limit"), help: ArgumentHelp("Per-source limit on IGMP frames per second, enforced in XDP (0: off).", valueName: "PPS"))
    var rateLimit: UInt32 = 0

    @Option(name: .long, help: "With --rate-limit: frames a source may send at once.")
    var burst: UInt32 = 10

    func run() throws {
        try global.apply()
        if force { try refuseDaemonInterfaces([iface], what: "load --force", override: "`xigmp unload --force --iface \(iface)` first") }
        let r = try XigmpCLI.run { () throws(DatapathError) in
            try ClassifierControl.load(ifname: iface, mode: mode, force: force, action: action,
                                       rateLimit: rateLimit > 0 ? (rateLimit, burst) : nil)
        }
        for n in r.notes { printNote(n) }
        print("attached xigmp_classify (prog id \(r.programID)) to \(r.interface.name) (ifindex \(r.interface.index)) in \(r.mode.rawValue) mode, IGMP action \(action.rawValue); pinned at \(r.pinDirectory)")
    }
}

struct Unload: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Detach xigmp's classifier and remove its pins.",
        discussion: "Foreign XDP programs are never touched by unload.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Interface to detach from.", valueName: "IF"))
    var iface: String?

    @Flag(name: .long, help: "Every interface of this namespace that runs the classifier, and every stale pin.")
    var all = false

    @Flag(name: .long, help: "Detach even from a running daemon's interfaces (it reports them down).")
    var force = false

    func validate() throws {
        if (iface == nil) == (all == false) {
            throw ValidationError("give exactly one of --iface IF or --all")
        }
    }

    func run() throws {
        try global.apply()
        if !force { try refuseDaemonInterfaces(iface.map { [$0] }, what: "unload", override: "pass --force") }
        let results: [ClassifierControl.UnloadResult]
        if let iface {
            results = [try XigmpCLI.run { () throws(DatapathError) in try ClassifierControl.unload(ifname: iface) }]
        } else {
            results = try XigmpCLI.run { () throws(DatapathError) in try ClassifierControl.unloadAll() }
            if results.isEmpty { print("nothing to unload: xigmp is attached nowhere in this namespace") }
        }
        for r in results {
            var what: [String] = []
            if let id = r.programID { what.append("detached prog id \(id)") }
            if r.removedPins { what.append("removed pins") }
            print("\(r.ifname): \(what.joined(separator: ", "))")
        }
    }
}

/// Namespaced so the global `run` helper stays reachable from commands whose
/// own `run()` shadows it.
enum XigmpCLI {
    static func run<T>(_ body: () throws(DatapathError) -> T) throws -> T {
        try xigmp.run(body)
    }
}
