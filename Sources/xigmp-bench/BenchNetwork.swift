import CXigmp
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import Foundation
import Glibc
import Synchronization

/// Network namespaces and veth pairs for the throughput run, always torn
/// down: on return, on error, and on SIGINT/SIGTERM/SIGHUP (a signal thread
/// deletes them before exiting). Names are `xbench-PID-ROLE`, unique per
/// run and recognisable, so a later run deletes what a killed one left.
final class BenchNetwork: @unchecked Sendable {
    static let prefix = "xbench-"
    static let ip = "/usr/sbin/ip"

    /// Every namespace created by this process and not yet deleted.
    private static let live = Mutex<[String]>([])

    private(set) var namespaces: [String] = []

    init() {
        Self.sweepStale()
        Self.installSignalTeardown()
    }

    deinit { teardown() }

    /// Deletes this network's namespaces (which deletes their veths). Idempotent.
    func teardown() {
        for ns in namespaces.reversed() {
            Self.removePins(of: ns)
            _ = try? Self.run([Self.ip, "netns", "del", ns], check: false)
            Self.live.withLock { $0.removeAll { $0 == ns } }
        }
        namespaces.removeAll()
    }

    /// A namespace `xbench-PID-ROLE` with lo up and IPv6 off (no MLD or
    /// router solicitations in the counters).
    func addNamespace(_ role: String) throws -> String {
        let name = "\(Self.prefix)\(getpid())-\(role)"
        _ = try? Self.run([Self.ip, "netns", "del", name], check: false)
        try Self.run([Self.ip, "netns", "add", name])
        namespaces.append(name)
        Self.live.withLock { $0.append(name) }
        try Self.run([Self.ip, "-n", name, "link", "set", "lo", "up"])
        for key in ["net.ipv6.conf.all.disable_ipv6", "net.ipv6.conf.default.disable_ipv6"] {
            try Self.run([Self.ip, "netns", "exec", name, "/usr/sbin/sysctl", "-q", "-w", "\(key)=1"])
        }
        return name
    }

    /// A veth pair created directly in the two namespaces (never in the
    /// machine's own), addressed and up.
    func addVethPair(_ nsA: String, _ ifA: String, _ cidrA: String,
                     _ nsB: String, _ ifB: String, _ cidrB: String) throws {
        try Self.run([Self.ip, "link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB])
        for (ns, ifname, cidr) in [(nsA, ifA, cidrA), (nsB, ifB, cidrB)] {
            try Self.run([Self.ip, "-n", ns, "addr", "add", cidr, "dev", ifname])
            try Self.run([Self.ip, "-n", ns, "link", "set", ifname, "up"])
        }
    }

    /// Removes what a `xigmp load` in namespace `ns` pinned, should the run
    /// stop between its load and unload (`/sys/fs/bpf/xigmp/@NS/IFNAME/*`).
    static func removePins(of ns: String) {
        let dir = "\(BPFFS.root)/@\(ns)"
        guard FileManager.default.fileExists(atPath: dir) else { return }
        progress("removing pins left under \(dir)")
        try? FileManager.default.removeItem(atPath: dir)
    }

    /// Deletes `xbench-PID-*` namespaces whose process is gone.
    static func sweepStale() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: NetNamespace.runDirectory) else { return }
        for name in names where name.hasPrefix(prefix) {
            let parts = name.split(separator: "-")
            guard parts.count >= 3, let pid = Int32(parts[1]), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                progress("deleting namespace \(name) left by a run that died")
                removePins(of: name)
                _ = try? run([ip, "netns", "del", name], check: false)
            }
        }
    }

    nonisolated(unsafe) private static var signalThreadStarted = false

    /// Blocks the termination signals in this thread (and so in every
    /// thread started later) and starts one thread that waits for them,
    /// deletes the live namespaces and exits 128+signal. Must run before
    /// other threads exist, which `init` at the start of a subcommand does.
    private static func installSignalTeardown() {
        guard !signalThreadStarted else { return }
        signalThreadStarted = true
        var set = sigset_t()
        sigemptyset(&set)
        for s in [SIGINT, SIGTERM, SIGHUP] { sigaddset(&set, s) }
        pthread_sigmask(SIG_BLOCK, &set, nil)
        let blocked = set
        let thread = Thread {
            var waitSet = blocked
            var sig: Int32 = 0
            sigwait(&waitSet, &sig)
            progress("signal \(sig): deleting namespaces and exiting")
            for ns in live.withLock({ $0 }) {
                removePins(of: ns)
                _ = try? run([ip, "netns", "del", ns], check: false)
            }
            _exit(128 + sig)
        }
        thread.start()
    }

    /// Runs `argv` to completion (stdin from /dev/null, output captured);
    /// with `check`, a non-zero exit throws with its stderr.
    @discardableResult
    static func run(_ argv: [String], check: Bool = true) throws -> (status: Int32, stdout: String) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.standardInput = FileHandle.nullDevice
        let out = Pipe(), err = Pipe()
        process.standardOutput = out
        process.standardError = err
        do { try process.run() } catch {
            throw BenchError("cannot start `\(argv.joined(separator: " "))`: \(error)")
        }
        // Small outputs only (ip, sysctl): reading after exit cannot deadlock
        // below the pipe buffer, but read first anyway to be safe.
        let stdout = out.fileHandleForReading.readDataToEndOfFile()
        let stderr = err.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        let status = process.terminationStatus
        if check && status != 0 {
            let text = String(decoding: stderr, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines)
            throw BenchError("`\(argv.joined(separator: " "))` exited \(status): \(text)")
        }
        return (status, String(decoding: stdout, as: UTF8.self))
    }

    /// Runs `body` with the calling thread in network namespace `ns`, then
    /// moves it back, even when `body` throws. Sockets and links made inside
    /// stay in `ns`; do not start processes from inside.
    static func inNamespace<T>(_ ns: String, _ body: () throws -> T) throws -> T {
        try NetNamespace.run(named: ns, body)
    }
}
