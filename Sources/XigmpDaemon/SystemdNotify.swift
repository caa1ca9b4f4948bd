import DatapathKernel
import Glibc
import Synchronization

/// sd_notify(3) without libsystemd: the datagrams a `Type=notify` service
/// sends to `$NOTIFY_SOCKET` (READY, RELOADING, STOPPING, STATUS, WATCHDOG).
///
/// The protocol is one AF_UNIX datagram of `KEY=VALUE` lines per call
/// (sd_notify(3), "Notes"); the socket is a path or, when the name starts
/// with `@`, an abstract name (a leading NUL in `sun_path`, its length
/// exactly the name's). Every send is non-blocking: a systemd that is busy
/// or gone costs the caller one failed sendto, never a wait. Nothing here
/// throws or ends the daemon: a failure is returned and reported once
/// through `onFailure`, since a daemon that keeps forwarding but is not
/// heard by systemd is better than one that stops.
///
/// The watchdog ping is cheap enough for the proxy's loop thread: its
/// datagram and the address are built once, so a ping is one sendto(2) and
/// allocates nothing (`LoopWatchdog`).
public final class SystemdNotifier: Sendable {
    /// Why a notification did not go out: the errno of sendto(2) (0 when
    /// `NOTIFY_SOCKET` cannot be used at all) and a sentence saying so.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public let errno: Int32
        public let description: String
    }

    /// `$NOTIFY_SOCKET` as given.
    public let notifySocket: String
    /// How often to send WATCHDOG=1: half of `$WATCHDOG_USEC`, as
    /// sd_watchdog_enabled(3) advises; nil when systemd wants no pings
    /// (unset, 0, not a number, or `$WATCHDOG_PID` names another process).
    public let watchdogInterval: Duration?

    private let socket: KernelFD?
    private var fd: Int32 { socket?.raw ?? -1 }
    private let address: sockaddr_un
    private let addressLength: socklen_t
    /// Why nothing can be sent (a relative path, a name too long, no socket).
    private let unusable: String?
    private let pid: pid_t
    private let watchdogMessage: [UInt8] = Array("WATCHDOG=1".utf8)
    private let onFailure: @Sendable (String) -> Void
    private let failureReported = Atomic<Bool>(false)

    /// The notifier systemd asked for, or nil when `NOTIFY_SOCKET` is unset
    /// or empty (not started by systemd, or not as `Type=notify`).
    ///
    /// - Parameters:
    ///   - environment: `NOTIFY_SOCKET`, `WATCHDOG_USEC`, `WATCHDOG_PID`.
    ///   - pid: this process (MAINPID=, and checked against WATCHDOG_PID).
    ///   - onFailure: told of the first failed send, once, with the cause.
    public init?(environment: [String: String] = SystemdNotifier.processEnvironment(),
                 pid: pid_t = getpid(),
                 onFailure: @escaping @Sendable (String) -> Void = { _ in }) {
        guard let name = environment["NOTIFY_SOCKET"], !name.isEmpty else { return nil }
        notifySocket = name
        self.pid = pid
        self.onFailure = onFailure
        watchdogInterval = Self.watchdogInterval(environment, pid: pid)

        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let pathOffset = MemoryLayout<sockaddr_un>.offset(of: \.sun_path) ?? 2
        let capacity = MemoryLayout.size(ofValue: addr.sun_path)
        var bytes = Array(name.utf8)
        var length = 0
        var problem: String?
        if bytes.first == UInt8(ascii: "@") {
            // Abstract: the address is exactly NUL + name, no terminator
            // (unix(7), "abstract"); a trailing NUL would name another socket.
            bytes[0] = 0
            length = pathOffset + bytes.count
        } else if bytes.first == UInt8(ascii: "/") {
            length = pathOffset + bytes.count + 1
        } else {
            problem = "it is neither an absolute path nor an abstract '@name'"
        }
        if problem == nil && bytes.count + (bytes[0] == 0 ? 0 : 1) > capacity {
            problem = "the name is longer than sun_path (\(capacity) bytes)"
        }
        if problem == nil {
            withUnsafeMutableBytes(of: &addr.sun_path) { buf in
                for (i, b) in bytes.enumerated() { buf[i] = b }
            }
        }
        address = addr
        addressLength = socklen_t(length)
        if problem == nil {
            socket = KernelFD.socket(AF_UNIX, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue))
            if socket == nil { problem = "cannot create a socket: \(String(cString: strerror(errno)))" }
        } else {
            socket = nil
        }
        unusable = problem
    }


    /// `NOTIFY_SOCKET`, `WATCHDOG_USEC` and `WATCHDOG_PID` of this process.
    public static func processEnvironment() -> [String: String] {
        var env: [String: String] = [:]
        for key in ["NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"] {
            if let value = getenv(key) { env[key] = String(cString: value) }
        }
        return env
    }

    /// sd_watchdog_enabled(3): WATCHDOG_USEC a positive number, and
    /// WATCHDOG_PID unset or this process (a variable inherited from a
    /// parent is not ours to answer).
    static func watchdogInterval(_ environment: [String: String], pid: pid_t) -> Duration? {
        guard let text = environment["WATCHDOG_USEC"], let usec = UInt64(text), usec > 0 else { return nil }
        if let owner = environment["WATCHDOG_PID"] {
            guard let p = pid_t(owner), p == pid else { return nil }
        }
        return .microseconds(max(usec / 2, 1))
    }

    // MARK: - the messages

    /// READY=1 with a status line and MAINPID: start-up is complete.
    @discardableResult
    public func ready(status: String? = nil) -> Failure? {
        var lines = ["READY=1"]
        if let status { lines.append("STATUS=" + Self.oneLine(status)) }
        lines.append("MAINPID=\(pid)")
        return send(lines.joined(separator: "\n"))
    }

    /// RELOADING=1 with MONOTONIC_USEC, before a reload: systemd 253+ wants
    /// the clock to match the reload to its job; older ones ignore it.
    @discardableResult
    public func reloading() -> Failure? {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let usec = UInt64(ts.tv_sec) &* 1_000_000 &+ UInt64(ts.tv_nsec) / 1000
        return send("RELOADING=1\nMONOTONIC_USEC=\(usec)")
    }

    /// READY=1 after a reload, done or refused (the unit leaves "reloading"
    /// either way), with an optional new status line.
    @discardableResult
    public func reloaded(status: String? = nil) -> Failure? {
        send(status.map { "READY=1\nSTATUS=" + Self.oneLine($0) } ?? "READY=1")
    }

    /// STOPPING=1: shutdown has begun.
    @discardableResult
    public func stopping() -> Failure? { send("STOPPING=1") }

    /// STATUS=: a line for `systemctl status`.
    @discardableResult
    public func status(_ text: String) -> Failure? { send("STATUS=" + Self.oneLine(text)) }

    /// WATCHDOG=1, from a prebuilt datagram: no allocation.
    @discardableResult
    public func watchdog() -> Failure? {
        watchdogMessage.withUnsafeBytes { send($0) }
    }

    /// The watchdog for the proxy loop, when systemd asked for one.
    public var loopWatchdog: LoopWatchdog? {
        watchdogInterval.map { LoopWatchdog(period: $0) { [self] in _ = self.watchdog() } }
    }

    /// Any datagram (`KEY=VALUE` lines).
    @discardableResult
    public func send(_ message: String) -> Failure? {
        var m = message
        return m.withUTF8 { send(UnsafeRawBufferPointer($0)) }
    }

    private func send(_ datagram: UnsafeRawBufferPointer) -> Failure? {
        if let unusable { return failed(0, unusable) }
        var rc: Int
        repeat {
            rc = withUnsafePointer(to: address) { p in
                p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                    sendto(fd, datagram.baseAddress, datagram.count, Int32(MSG_NOSIGNAL | MSG_DONTWAIT), $0, addressLength)
                }
            }
        } while rc < 0 && errno == EINTR
        if rc >= 0 { return nil }
        let code = errno
        return failed(code, String(cString: strerror(code)))
    }

    private func failed(_ code: Int32, _ why: String) -> Failure {
        let failure = Failure(errno: code, description: "cannot notify systemd at NOTIFY_SOCKET=\(notifySocket): \(why)")
        if !failureReported.exchange(true, ordering: .relaxed) {
            onFailure(failure.description + " (said once; the daemon goes on, but systemd may not see it ready or alive)")
        }
        return failure
    }

    /// A value is one line of the datagram.
    private static func oneLine(_ text: String) -> String {
        String(text.map { $0 == "\n" || $0 == "\r\n" ? " " : $0 })
    }
}

/// A liveness ping a loop owes its supervisor: `ping` is called from the
/// loop's own thread once every `period`, so a loop that stops turning
/// stops the pings (and systemd's WatchdogSec= restarts the daemon).
public struct LoopWatchdog: Sendable {
    /// The period in nanoseconds of CLOCK_MONOTONIC.
    public let periodNs: UInt64
    /// Called on the loop thread; must not block.
    public let ping: @Sendable () -> Void

    /// A ping every `period`.
    public init(period: Duration, ping: @escaping @Sendable () -> Void) {
        let (seconds, attoseconds) = period.components
        let ns = UInt64(clamping: seconds).multipliedReportingOverflow(by: 1_000_000_000)
        periodNs = ns.overflow ? .max : ns.partialValue &+ UInt64(clamping: attoseconds / 1_000_000_000)
        self.ping = ping
    }

    /// Pings when `period` has passed since `last` (CLOCK_MONOTONIC ns, the
    /// loop's to keep; 0 at start, so the first call pings).
    @inline(__always)
    public func pingIfDue(now: UInt64, last: inout UInt64) {
        if now &- last >= periodNs {
            last = now
            ping()
        }
    }
}
