import AllocationCounting
import Dispatch
import Foundation
import Glibc
import Synchronization
import Testing
@testable import XigmpDaemon
import XigmpTestSupport

/// A stand-in for systemd's notify socket: a SOCK_DGRAM socket bound to a
/// path or an abstract name, read without waiting long.
final class NotifyListener {
    let fd: Int32
    /// The NOTIFY_SOCKET value that reaches it.
    let name: String
    private let path: String?

    /// Bound to a fresh path under /tmp, or to a fresh abstract name.
    init(abstract: Bool) throws {
        let unique = "xigmp-notify-test-\(getpid())-\(UInt32.random(in: 0 ... .max))"
        path = abstract ? nil : "/tmp/\(unique).sock"
        name = abstract ? "@" + unique : path!
        fd = socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw ListenerError("socket: \(String(cString: strerror(errno)))") }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        var bytes = Array(name.utf8)
        if abstract { bytes[0] = 0 }
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in for (i, b) in bytes.enumerated() { buf[i] = b } }
        // The exact length: for an abstract name the bytes after it count.
        let length = socklen_t(MemoryLayout<sockaddr_un>.offset(of: \.sun_path)! + bytes.count + (abstract ? 0 : 1))
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
        }
        guard rc == 0 else { throw ListenerError("bind \(name): \(String(cString: strerror(errno)))") }
    }

    deinit {
        close(fd)
        if let path { unlink(path) }
    }

    /// The next datagram, or nil when none comes within `milliseconds`.
    func receive(milliseconds: Int32 = 1000) -> String? {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        guard poll(&p, 1, milliseconds) == 1 else { return nil }
        var buf = [UInt8](repeating: 0, count: 4096)
        let n = buf.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
        return n < 0 ? nil : String(decoding: buf[..<n], as: UTF8.self)
    }
}

struct ListenerError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}

private func monotonicUsec() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) * 1_000_000 + UInt64(ts.tv_nsec) / 1000
}

/// Failures reported through `onFailure`.
final class FailureLog: Sendable {
    let lines = Mutex<[String]>([])
    func add(_ s: String) { lines.withLock { $0.append(s) } }
    var all: [String] { lines.withLock { $0 } }
}

final class SendResult: Sendable {
    let value = Mutex<(sent: Int, errno: Int32?)>((0, nil))
}

@Suite("sd_notify without libsystemd")
struct SystemdNotifyTests {
    /// Sends every kind of message, in the daemon's order, and checks that
    /// the listener gets exactly those datagrams, in order, and no more.
    func lifecycle(abstract: Bool) throws {
        let listener = try NotifyListener(abstract: abstract)
        let failures = FailureLog()
        let made = SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.name], pid: 4242) { failures.add($0) }
        let notifier = try #require(made)
        #expect(notifier.ready(status: "proxy running: outside eth0, inside docker0") == nil)
        #expect(listener.receive() == "READY=1\nSTATUS=proxy running: outside eth0, inside docker0\nMAINPID=4242")

        let before = monotonicUsec()
        #expect(notifier.reloading() == nil)
        let after = monotonicUsec()
        let reloading = try #require(listener.receive())
        let lines = reloading.split(separator: "\n")
        #expect(lines.count == 2 && lines[0] == "RELOADING=1" && lines[1].hasPrefix("MONOTONIC_USEC="))
        let usec = try #require(UInt64(lines[1].dropFirst("MONOTONIC_USEC=".count)), "\(reloading)")
        #expect(usec >= before && usec <= after, "MONOTONIC_USEC \(usec) is CLOCK_MONOTONIC in µs, between \(before) and \(after)")

        notifier.reloaded()
        #expect(listener.receive() == "READY=1")
        notifier.status("waiting for docker0\nsecond line")
        #expect(listener.receive() == "STATUS=waiting for docker0 second line")
        notifier.watchdog()
        notifier.watchdog()
        #expect(listener.receive() == "WATCHDOG=1")
        #expect(listener.receive() == "WATCHDOG=1")
        notifier.stopping()
        #expect(listener.receive() == "STOPPING=1")
        #expect(listener.receive(milliseconds: 50) == nil, "nothing more than was sent")
        #expect(failures.all.isEmpty)
    }

    @Test("a path NOTIFY_SOCKET gets READY, RELOADING, READY, STATUS, WATCHDOG, STOPPING in order")
    func pathSocket() throws { try lifecycle(abstract: false) }

    @Test("an abstract '@name' NOTIFY_SOCKET is reached (leading NUL, exact length)")
    func abstractSocket() throws { try lifecycle(abstract: true) }

    @Test("NOTIFY_SOCKET unset or empty: no notifier")
    func unset() {
        #expect(SystemdNotifier(environment: [:]) == nil)
        #expect(SystemdNotifier(environment: ["NOTIFY_SOCKET": ""]) == nil)
        #expect(SystemdNotifier(environment: ["WATCHDOG_USEC": "2000000"]) == nil)
    }

    @Test("WATCHDOG_USEC: half of it; nil when 0, garbage, or WATCHDOG_PID is another process",
          arguments: [
              (["WATCHDOG_USEC": "2000000"], Duration.seconds(1)),
              (["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "4242"], .seconds(1)),
              (["WATCHDOG_USEC": "30000000"], .seconds(15)),
              (["WATCHDOG_USEC": "1"], .microseconds(1)),
              ([:], nil),
              (["WATCHDOG_USEC": "0"], nil),
              (["WATCHDOG_USEC": ""], nil),
              (["WATCHDOG_USEC": "garbage"], nil),
              (["WATCHDOG_USEC": "-2000000"], nil),
              (["WATCHDOG_USEC": "2s"], nil),
              (["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "4243"], nil),
              (["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": "pid"], nil),
              (["WATCHDOG_USEC": "2000000", "WATCHDOG_PID": ""], nil),
          ] as [([String: String], Duration?)])
    func watchdogInterval(environment: [String: String], expected: Duration?) throws {
        var env = environment
        env["NOTIFY_SOCKET"] = "/run/systemd/notify"
        let notifier = try #require(SystemdNotifier(environment: env, pid: 4242))
        #expect(notifier.watchdogInterval == expected)
        #expect((notifier.loopWatchdog?.periodNs).map { Duration.nanoseconds($0) } == expected)
    }

    @Test("LoopWatchdog pings on the first call, then once per period")
    func loopWatchdog() {
        let pings = Atomic<Int>(0)
        let w = LoopWatchdog(period: .milliseconds(1000)) { pings.add(1, ordering: .relaxed) }
        #expect(w.periodNs == 1_000_000_000)
        var last: UInt64 = 0
        let start: UInt64 = 5_000_000_000
        w.pingIfDue(now: start, last: &last)
        #expect(pings.load(ordering: .relaxed) == 1, "the first call pings")
        for ms in stride(from: UInt64(200), through: 2200, by: 200) {
            w.pingIfDue(now: start + ms * 1_000_000, last: &last)
        }
        // Then at 1000 and 2000 ms: a period, not a period and a poll.
        #expect(pings.load(ordering: .relaxed) == 3)
    }

    @Test("a watchdog ping allocates nothing (uprobe malloc count, 8 pings through LoopWatchdog)")
    func watchdogAllocatesNothing() throws {
        try #require(geteuid() == 0, "counting malloc calls with uprobes needs root: run `sudo make test`")
        let listener = try NotifyListener(abstract: false)
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.name, "WATCHDOG_USEC": "2000000"]))
        let w = try #require(notifier.loopWatchdog)
        var last: UInt64 = 0
        var now: UInt64 = 10_000_000_000
        w.pingIfDue(now: now, last: &last)  // warm-up: lazy metadata, the closure's first call
        #expect(listener.receive() == "WATCHDOG=1")
        let counter = try MallocCallCounter()
        let calls = try counter.counting {
            var i = 0
            while i < 8 {
                now &+= w.periodNs
                w.pingIfDue(now: now, last: &last)
                i += 1
            }
        }
        #expect(calls == 0, "\(calls) allocator calls for 8 pings")
        var received = 0
        while listener.receive(milliseconds: 100) == "WATCHDOG=1" { received += 1 }
        #expect(received == 8)
    }

    @Test("nobody listening: every send returns the errno, onFailure hears of it once, nothing throws")
    func nobodyListening() {
        let failures = FailureLog()
        let path = "/tmp/xigmp-notify-test-\(getpid())-absent.sock"
        let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": path], onFailure: { failures.add($0) })
        #expect(notifier?.ready(status: "x")?.errno == ENOENT)
        #expect(notifier?.watchdog()?.errno == ENOENT)
        #expect(notifier?.stopping()?.errno == ENOENT)
        #expect(failures.all.count == 1)
        #expect(failures.all.first?.contains("NOTIFY_SOCKET=\(path)") == true)
    }

    @Test("NOTIFY_SOCKET neither a path nor '@name', or too long: refused with the reason, once")
    func unusableName() {
        for name in ["run/systemd/notify", "vsock:2:1234", "/" + String(repeating: "a", count: 107),
                     "@" + String(repeating: "a", count: 108)] {
            let failures = FailureLog()
            let notifier = SystemdNotifier(environment: ["NOTIFY_SOCKET": name], onFailure: { failures.add($0) })
            #expect(notifier?.ready()?.errno == 0, "\(name)")
            #expect(notifier?.watchdog() != nil)
            #expect(failures.all.count == 1)
        }
    }

    @Test("a receiver that never reads: sends fail with EAGAIN at once, never block")
    func neverBlocks() throws {
        let listener = try NotifyListener(abstract: false)
        let notifier = try #require(SystemdNotifier(environment: ["NOTIFY_SOCKET": listener.name]))
        // On a thread, so a send that blocks fails the test instead of
        // hanging it: closing the listener then wakes the sender.
        let result = SendResult()
        let done = DispatchSemaphore(value: 0)
        Thread.detachNewThread {
            var sent = 0
            while sent < 100_000 {
                if let f = notifier.watchdog() {
                    result.value.withLock { $0 = (sent, f.errno) }
                    break
                }
                sent += 1
            }
            done.signal()
        }
        let finished = done.wait(timeout: .now() + 3) == .success
        if !finished { shutdown(listener.fd, Int32(SHUT_RDWR)) }
        #expect(finished, "a send blocked on the full queue")
        let r = result.value.withLock { $0 }
        #expect(r.errno == EAGAIN, "after \(r.sent) datagrams the queue is full (net.unix.max_dgram_qlen)")
    }
}
