import CXigmp
import Foundation
import Glibc
import IGMPWire
import Synchronization
import AllocationCounting
import Testing
import DatapathKernel

/// A failure of the fixture itself (a command, a syscall), with what to look at.
package struct FixtureError: Error, CustomStringConvertible {
    package let description: String
    package init(_ description: String) { self.description = description }
}

/// What a finished command left behind.
package struct CommandResult {
    package let argv: [String]
    package let status: Int32
    package let stdout: String
    package let stderr: String

    /// `argv` exit N: stderr — for failure messages.
    package var summary: String {
        "`\(argv.joined(separator: " "))` exited \(status): \(stderr.trimmingCharacters(in: .whitespacesAndNewlines))"
    }
}

/// A command running in the background whose output goes to temporary
/// files (no pipe to fill up and deadlock), so its stdout can be watched
/// for a readiness line while the test does something else.
package final class BackgroundCommand {
    package let argv: [String]
    private let process = Process()
    private let outPath: String
    private let errPath: String

    package init(_ argv: [String]) throws {
        self.argv = argv
        let base = "\(NSTemporaryDirectory())xgut-\(getpid())-\(NetnsFixture.nextSerial())"
        outPath = base + ".out"
        errPath = base + ".err"
        _ = FileManager.default.createFile(atPath: outPath, contents: nil)
        _ = FileManager.default.createFile(atPath: errPath, contents: nil)
        process.executableURL = URL(fileURLWithPath: argv[0])
        process.arguments = Array(argv.dropFirst())
        process.standardInput = FileHandle.nullDevice
        process.standardOutput = try FileHandle(forWritingTo: URL(fileURLWithPath: outPath))
        process.standardError = try FileHandle(forWritingTo: URL(fileURLWithPath: errPath))
        do {
            try process.run()
        } catch {
            throw FixtureError("cannot start `\(argv.joined(separator: " "))`: \(error)")
        }
    }

    deinit {
        if process.isRunning { kill(process.processIdentifier, SIGKILL); process.waitUntilExit() }
        unlink(outPath)
        unlink(errPath)
    }

    package var stdout: String { (try? String(contentsOfFile: outPath, encoding: .utf8)) ?? "" }
    package var stderr: String { (try? String(contentsOfFile: errPath, encoding: .utf8)) ?? "" }

    /// Waits until stdout has a line containing `text`; throws with the
    /// command's stderr when it exits first or `seconds` pass.
    package func waitForLine(containing text: String, seconds: Double) throws {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if stdout.split(separator: "\n").contains(where: { $0.contains(text) }) { return }
            if !process.isRunning { break }
            usleep(20_000)
        }
        if stdout.split(separator: "\n").contains(where: { $0.contains(text) }) { return }
        throw FixtureError("`\(argv.joined(separator: " "))` never printed '\(text)' (running: \(process.isRunning)); stderr: \(stderr)")
    }

    /// Waits for exit (SIGTERM, then SIGKILL, after `seconds`).
    @discardableResult
    package func finish(seconds: Double) -> CommandResult {
        let deadline = Date().addingTimeInterval(seconds)
        while process.isRunning && Date() < deadline { usleep(10_000) }
        if process.isRunning {
            kill(process.processIdentifier, SIGTERM)
            let hard = Date().addingTimeInterval(2)
            while process.isRunning && Date() < hard { usleep(10_000) }
            if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        }
        process.waitUntilExit()
        return CommandResult(argv: argv, status: process.terminationStatus, stdout: stdout, stderr: stderr)
    }
}

/// Network namespaces, veth pairs and tun devices for tests, always torn
/// down; plus running code or commands inside a namespace.
///
/// ```swift
/// try NetnsFixture.withTopology { net in
///     let a = try net.addNamespace(), b = try net.addNamespace()
///     try net.addVethPair(a, "va", "10.9.0.1/24", b, "vb", "10.9.0.2/24")
///     let port = try NetnsFixture.inNamespace(a) { try KernelPort(interface: NetworkInterface(named: "va")) }
/// }
/// ```
///
/// Names are `xgut-PID-N`: unique per process and run, and recognisable so
/// a later run deletes what a crashed one left behind.
package final class NetnsFixture {
    /// Namespaces this fixture created, in order.
    private(set) var namespaces: [String] = []
    private var tunDescriptors: [Int32] = []

    private static let serial = Atomic<Int>(0)
    package static func nextSerial() -> Int { serial.add(1, ordering: .relaxed).newValue }

    package static let python = "/usr/bin/python3"  // Debian's, with python3-scapy

    /// Runs `body` with a fresh fixture and tears everything down afterwards,
    /// whether `body` returns or throws. Fails (never skips) without root.
    package static func withTopology<T>(_ body: (NetnsFixture) throws -> T) throws -> T {
        try #require(geteuid() == 0, "namespace tests create netns, veth and tun devices and need root: run `sudo make test`")
        let fixture = NetnsFixture()
        defer { fixture.teardown() }
        return try body(fixture)
    }

    package init() { Self.sweepStale() }

    deinit { teardown() }

    /// Closes tun fds (which deletes their devices) and deletes namespaces
    /// (which deletes the veths in them). Idempotent.
    package func teardown() {
        for fd in tunDescriptors { close(fd) }
        tunDescriptors.removeAll()
        for ns in namespaces.reversed() {
            _ = try? Self.run(["/usr/sbin/ip", "netns", "del", ns], check: false)
        }
        namespaces.removeAll()
    }

    /// Deletes `xgut-PID-*` namespaces whose process is gone (a crashed run).
    package static func sweepStale() {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: "/run/netns") else { return }
        for name in names where name.hasPrefix("xgut-") {
            let parts = name.split(separator: "-")
            guard parts.count >= 3, let pid = Int32(parts[1]), pid != getpid() else { continue }
            if kill(pid, 0) != 0 && errno == ESRCH {
                _ = try? run(["/usr/sbin/ip", "netns", "del", name], check: false)
            }
        }
    }

    // MARK: - building topologies

    /// Creates a namespace with lo up and IPv6 off (no MLD/ND noise).
    @discardableResult
    package func addNamespace() throws -> String {
        let name = "xgut-\(getpid())-\(Self.nextSerial())"
        try Self.run(["/usr/sbin/ip", "netns", "add", name])
        namespaces.append(name)
        try ip(name, "link", "set", "lo", "up")
        try sysctl(name, "net.ipv6.conf.all.disable_ipv6", "1")
        try sysctl(name, "net.ipv6.conf.default.disable_ipv6", "1")
        return name
    }

    /// A veth pair between two namespaces, addressed (CIDR) and up.
    package func addVethPair(_ nsA: String, _ ifA: String, _ cidrA: String?,
                     _ nsB: String, _ ifB: String, _ cidrB: String?) throws {
        try Self.run(["/usr/sbin/ip", "link", "add", ifA, "netns", nsA, "type", "veth", "peer", "name", ifB, "netns", nsB])
        for (ns, ifname, cidr) in [(nsA, ifA, cidrA), (nsB, ifB, cidrB)] {
            if let cidr { try ip(ns, "addr", "add", cidr, "dev", ifname) }
            try ip(ns, "link", "set", ifname, "up")
        }
    }

    /// Creates tun device `name` (IFF_TUN|IFF_NO_PI) in `ns`, addressed and
    /// up, and returns its fd (nonblocking), owned by the fixture: closing
    /// it at teardown deletes the device.
    package func addTun(_ ns: String, _ name: String, _ cidr: String) throws -> Int32 {
        let fd = try Self.inNamespace(ns) { () throws -> Int32 in
            let fd = cxigmp_tun_open(name)
            guard fd >= 0 else { throw FixtureError("creating tun \(name) in \(ns): \(String(cString: strerror(errno)))") }
            return fd
        }
        tunDescriptors.append(fd)
        try ip(ns, "addr", "add", cidr, "dev", name)
        try ip(ns, "link", "set", name, "multicast", "on", "up")
        return fd
    }

    // MARK: - commands in namespaces

    /// `ip -n NS ARGS…`, checked.
    @discardableResult
    package func ip(_ ns: String, _ args: String...) throws -> CommandResult {
        try Self.run(["/usr/sbin/ip", "-n", ns] + args)
    }

    /// `sysctl -w KEY=VALUE` inside `ns`, checked.
    package func sysctl(_ ns: String, _ key: String, _ value: String) throws {
        try exec(ns, ["/usr/sbin/sysctl", "-q", "-w", "\(key)=\(value)"])
    }

    /// `ip netns exec NS ARGV…`.
    @discardableResult
    package func exec(_ ns: String, _ argv: [String], check: Bool = true, timeout: Double = 60) throws -> CommandResult {
        try Self.run(["/usr/sbin/ip", "netns", "exec", ns] + argv, check: check, timeout: timeout)
    }

    /// Starts `ip netns exec NS ARGV…` in the background.
    package func start(_ ns: String, _ argv: [String]) throws -> BackgroundCommand {
        try BackgroundCommand(["/usr/sbin/ip", "netns", "exec", ns] + argv)
    }

    /// Runs a Python 3 script (with scapy available) inside `ns`.
    @discardableResult
    /// Runs the test tool `script` (a file in Tests/TestSupport/python)
    /// with `args` in `ns`.
    package func python(_ ns: String, _ script: String, _ args: [String] = [], timeout: Double = 60) throws -> CommandResult {
        try exec(ns, [Self.python, Self.script(script)] + args, timeout: timeout)
    }

    /// The path of the test tool `name` in Tests/TestSupport/python.
    package static func script(_ name: String) -> String {
        URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("python/\(name)").path
    }

    /// Runs `argv` to completion; with `check`, a non-zero exit throws with stderr.
    @discardableResult
    package static func run(_ argv: [String], check: Bool = true, timeout: Double = 60) throws -> CommandResult {
        let command = try BackgroundCommand(argv)
        let result = command.finish(seconds: timeout)
        if check && result.status != 0 { throw FixtureError(result.summary) }
        return result
    }

    // MARK: - this thread in a namespace

    /// Runs `body` with the current thread in network namespace `ns`, then
    /// moves the thread back, even when `body` throws.
    ///
    /// Synchronous on purpose: an `await` inside could resume on another
    /// thread (leaving this one in `ns` for whatever test runs on it next).
    /// Sockets opened inside stay in `ns` for life and may be used from any
    /// thread afterwards. Do not start processes from inside: run them with
    /// `exec` instead.
    package static func inNamespace<T>(_ ns: String, _ body: () throws -> T) throws -> T {
        try NetNamespace.run(named: ns, body)
    }
}

// MARK: - tools for namespace tests

/// Sends `count` UDP datagrams to a multicast group out of `ifindex`.
package func sendUDP(to group: IPv4Address, port: UInt16, ifindex: UInt32, count: Int) throws {
    let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
    guard fd >= 0 else { throw FixtureError("udp socket: \(String(cString: strerror(errno)))") }
    defer { close(fd) }
    var m = ip_mreqn()
    m.imr_ifindex = Int32(ifindex)
    setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &m, socklen_t(MemoryLayout<ip_mreqn>.size))
    var to = sockaddr_in()
    to.sin_family = sa_family_t(AF_INET)
    to.sin_port = port.bigEndian
    to.sin_addr.s_addr = group.rawValue.bigEndian
    let payload = [UInt8](repeating: 0x55, count: 64)
    for _ in 0..<count {
        let rc = withUnsafePointer(to: &to) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                sendto(fd, payload, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard rc == payload.count else { throw FixtureError("udp sendto: \(String(cString: strerror(errno)))") }
    }
}

/// Reads packets from a tun fd until `match` accepts one or time runs out.
package func readTun(_ fd: Int32, seconds: Double, where match: ([UInt8]) -> Bool) throws -> [UInt8]? {
    var buffer = [UInt8](repeating: 0, count: 65_536)
    let deadline = realtimeNanoseconds() + UInt64(seconds * 1e9)
    while realtimeNanoseconds() < deadline {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&pfd, 1, 20) > 0 else { continue }
        let n = read(fd, &buffer, buffer.count)
        if n > 0, match(Array(buffer[0..<n])) { return Array(buffer[0..<n]) }
    }
    return nil
}

/// An IPv4 packet with Identification and header checksum zeroed.
package func maskingIDAndChecksum(_ packet: [UInt8]) -> [UInt8] {
    var p = packet
    for i in [4, 5, 10, 11] where i < p.count { p[i] = 0 }
    return p
}

/// A stop request and its acknowledgement, shared with a helper thread.
package final class StopFlag: Sendable {
    package let value = Atomic<Bool>(false)
    package let done = Atomic<Bool>(false)
    package init() {}
}

/// A count shared with a helper thread.
package final class AtomicCounter: Sendable {
    package let value = Atomic<Int>(0)
    package init() {}
}


