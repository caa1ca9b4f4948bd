import DatapathKernel
import Foundation
import Glibc
import Synchronization

/// A small request/reply server on its own thread: one request per
/// connection (a line for the control socket, a header block for HTTP), the
/// handler's reply, close. One poll(2) loop serves every connection at
/// once, all non-blocking, so no client can stall another: each connection
/// has a deadline (`deadline`, from accept to the last byte of the reply),
/// at most `maxClients` are open (a new one past that closes the oldest, so
/// the backlog never fills and stalled clients cannot lock anyone out),
/// requests are capped at 64 KiB, and replies go
/// out with MSG_NOSIGNAL, so a client that hangs up early costs nothing but
/// its reply (no SIGPIPE). Requests are rare (operators, scrapers); a
/// handler runs on this thread.
///
/// Hand-written rather than SwiftNIO's HTTP1 server: the whole job is one
/// request line or header block per connection on loopback or a UNIX
/// socket, and the test that matters (50 slowloris clients, a scrape still
/// answers within 1 s: netns-tests/test_daemon.sh) holds; SwiftNIO
/// would add its build (about two minutes on these 2 cores) to every CI run.
final class SocketServer: @unchecked Sendable {
    /// What the server listens on.
    enum Endpoint: Sendable, CustomStringConvertible {
        case unix(path: String, mode: mode_t)
        case tcp(host: String, port: UInt16)

        var description: String {
            switch self {
            case .unix(let path, _): return path
            case .tcp(let host, let port): return "\(host):\(port)"
            }
        }
    }

    /// Connections served at once; more are closed at accept.
    static let maxClients = 32
    /// From accept to the last byte of the reply.
    static let deadlineNs: UInt64 = 2_000_000_000
    static let maxRequest = 65536

    /// The listening socket: owned here until the serving thread takes it
    /// (it closes when that thread's loop ends), so no descriptor is ever
    /// closed under a thread still polling or accepting on it.
    private let listener: Mutex<KernelFD?>
    let endpoint: Endpoint
    private let handler: @Sendable ([UInt8]) -> [UInt8]
    private let terminator: [UInt8]
    /// Written by `stop()` to wake the loop, which then closes everything
    /// itself: no descriptor is closed under a thread still using it.
    /// The wake-up pipe: the serving thread holds `self`, so these outlive it.
    private let wakeRead: KernelFD
    private let wakeWrite: KernelFD
    private let finished = DispatchSemaphore(value: 0)
    private let state = NSLock()
    private var started = false
    private var isStopped = false

    /// Binds and listens; `terminator` ends a request ("\n" or "\r\n\r\n").
    init(_ endpoint: Endpoint, terminator: [UInt8], handler: @escaping @Sendable ([UInt8]) -> [UInt8]) throws(DaemonError) {
        self.endpoint = endpoint
        self.terminator = terminator
        self.handler = handler
        let flags = Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue)
        let owned: KernelFD
        switch endpoint {
        case .unix(let path, let mode):
            // Only a socket a crashed daemon left may be replaced: never a
            // file or anything else someone named by mistake.
            var st = stat()
            if lstat(path, &st) == 0 {
                guard st.st_mode & S_IFMT == S_IFSOCK else {
                    throw DaemonError("control.socket: \(path) exists and is not a socket; choose another path (xigmp never replaces a file)")
                }
                if ControlClient.isAlive(path) {
                    throw DaemonError("another xigmp daemon is running (its control socket \(path) answers): stop it first, or set control.socket")
                }
                unlink(path)
            }
            let raw = socket(AF_UNIX, flags, 0)
            guard raw >= 0 else { throw DaemonError("cannot create the control socket: \(String(cString: strerror(errno)))") }
            owned = KernelFD(owning: raw)
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty { mkdir(dir, 0o755) }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                throw DaemonError("control socket path \(path) is too long (at most 107 bytes)")
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { buf in
                for (i, b) in bytes.enumerated() { buf[i] = b }
            }
            // Create it private: umask first, chmod after, so no moment
            // exists where another user could connect.
            let old = umask(0o177)
            let sock = owned.raw
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            umask(old)
            guard rc == 0 else {
                let e = errno
                throw DaemonError("cannot bind the control socket \(path): \(String(cString: strerror(e)))")
            }
            chmod(path, mode)
        case .tcp(let host, let port):
            let raw = socket(AF_INET, flags, 0)
            guard raw >= 0 else { throw DaemonError("cannot create the metrics socket: \(String(cString: strerror(errno)))") }
            owned = KernelFD(owning: raw)
            var one: Int32 = 1
            setsockopt(owned.raw, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
                throw DaemonError("metrics.listen: '\(host)' is not an IPv4 address")
            }
            let sock = owned.raw
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(sock, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else {
                let e = errno
                throw DaemonError("cannot listen on \(host):\(port) for metrics: \(String(cString: strerror(e)))")
            }
        }
        guard listen(owned.raw, 64) == 0 else {
            let e = errno
            throw DaemonError("listen on \(endpoint): \(String(cString: strerror(e)))")
        }
        var p: [Int32] = [0, 0]
        guard pipe(&p) == 0 else {
            let e = errno
            throw DaemonError("cannot create the server's wake-up pipe: \(String(cString: strerror(e)))")
        }
        for d in p {
            _ = fcntl(d, F_SETFD, FD_CLOEXEC)
            _ = fcntl(d, F_SETFL, fcntl(d, F_GETFL) | O_NONBLOCK)
        }
        wakeRead = KernelFD(owning: p[0])
        wakeWrite = KernelFD(owning: p[1])
        listener = Mutex(owned)
    }

    /// Starts the loop on its own thread.
    func start(name: String) {
        state.lock()
        started = true
        state.unlock()
        NamedThread.start(name) { [self] in self.serve() }
    }

    /// Stops serving, waits for the loop to close every descriptor, and
    /// removes a UNIX socket file. Idempotent.
    func stop() {
        state.lock()
        let wasStarted = started
        let first = !isStopped
        isStopped = true
        state.unlock()
        guard first else { return }
        if wasStarted {
            var b: UInt8 = 1
            _ = write(wakeWrite.raw, &b, 1)
            finished.wait()
        }
        // Never started: the listener is still ours to close. Started: the
        // serving thread took it and closed it as its loop ended.
        listener.withLock { $0 = nil }
        if case .unix(let path, _) = endpoint { unlink(path) }
    }

    deinit { stop() }

    private struct Client {
        /// Closed when the client leaves the table.
        let socket: KernelFD
        var fd: Int32 { socket.raw }
        var deadline: UInt64
        var request: [UInt8] = []
        var reply: [UInt8] = []
        var sent = 0
        var replying = false
    }

    private func serve() {
        defer { finished.signal() }
        // This thread owns the listener from here: it closes when the loop
        // ends, after the last poll and accept on it.
        guard let listening = listener.withLock({ $0.take() }) else { return }
        let fd = listening.raw
        var clients: [Client] = []
        var pfds: [pollfd] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        outer: while true {
            pfds.removeAll(keepingCapacity: true)
            pfds.append(pollfd(fd: wakeRead.raw, events: Int16(POLLIN), revents: 0))
            pfds.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            for c in clients { pfds.append(pollfd(fd: c.fd, events: Int16(c.replying ? POLLOUT : POLLIN), revents: 0)) }
            let now = Self.monotonicNs()
            let next = clients.map(\.deadline).min().map { $0 > now ? Int32(clamping: ($0 - now) / 1_000_000 + 1) : 0 } ?? -1
            let rc = poll(&pfds, nfds_t(pfds.count), next)
            if rc < 0 && errno != EINTR { break }
            if pfds[0].revents != 0 { break }
            // Clients first (their indexes match pfds[2...]), then accept.
            let t = Self.monotonicNs()
            var i = 0
            var keep: [Client] = []
            keep.reserveCapacity(clients.count + 1)
            while i < clients.count {
                var c = clients[i]
                let ev = pfds[i + 2].revents
                i += 1
                if t >= c.deadline { continue }  // dropped: closed
                if !c.replying && ev & Int16(POLLIN | POLLHUP | POLLERR) != 0 {
                    let n = buf.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
                    if n < 0 && (errno == EAGAIN || errno == EINTR) { keep.append(c); continue }
                    if n > 0 { c.request.append(contentsOf: buf[0..<n]) }
                    // A request ends at its terminator; a client that hangs
                    // up or sends too much gets what the handler makes of
                    // what came (it answers garbage with an error).
                    if n <= 0 || complete(c.request) || c.request.count >= Self.maxRequest {
                        if n <= 0 && c.request.isEmpty { continue }
                        c.reply = handler(c.request)
                        c.replying = true
                    }
                }
                if c.replying {
                    while c.sent < c.reply.count {
                        let n = c.reply.withUnsafeBytes {
                            send(c.fd, $0.baseAddress! + c.sent, $0.count - c.sent, Int32(MSG_NOSIGNAL | MSG_DONTWAIT))
                        }
                        if n > 0 { c.sent += n; continue }
                        if n < 0 && (errno == EAGAIN || errno == EINTR) { break }
                        c.sent = c.reply.count  // the client went away: nothing more to do
                    }
                    if c.sent >= c.reply.count { continue }
                }
                keep.append(c)
            }
            clients = keep
            if pfds[1].revents & Int16(POLLIN) != 0 {
                while true {
                    let client = accept(fd, nil, nil)
                    if client < 0 {
                        if errno == EINTR { continue }
                        if errno == EAGAIN || errno == ECONNABORTED { break }
                        if errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM { break }
                        break outer
                    }
                    _ = fcntl(client, F_SETFD, FD_CLOEXEC)
                    _ = fcntl(client, F_SETFL, fcntl(client, F_GETFL) | O_NONBLOCK)
                    if clients.count >= Self.maxClients {
                        // Full: the oldest connection has had the longest
                        // to say what it wants; it makes room, so stalled
                        // clients can never lock out a new one.
                        clients.removeFirst()
                    }
                    clients.append(Client(socket: KernelFD(owning: client), deadline: Self.monotonicNs() + Self.deadlineNs))
                }
            }
        }
        clients.removeAll()
        withExtendedLifetime(listening) {}
    }

    private func complete(_ request: [UInt8]) -> Bool {
        if terminator.count == 1 { return request.contains(terminator[0]) }
        guard request.count >= terminator.count else { return false }
        // Look only near the end: headers arrive in order.
        let from = max(0, request.count - 4096)
        return request[from...].firstRange(of: terminator) != nil
    }

    private static func monotonicNs() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }
}

/// An error of the daemon's own making: one line for the operator, and
/// its kind, from which `xigmp run` derives its exit status.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    /// What the error is rooted in.
    public enum Kind: Sendable, Equatable {
        /// The config file: the message starts with FILE[:LINE] (a required
        /// interface missing, a forwarding mode this kernel cannot do).
        case config
        /// The datapath, by the kind of its error.
        case datapath(DatapathError.Kind)
        /// Anything else (a socket, a file, a pipe of the daemon's own).
        case system
    }

    public let kind: Kind
    public let description: String

    /// An error of `kind` (default: the daemon's own system call failed).
    public init(_ d: String, kind: Kind = .system) {
        description = d
        self.kind = kind
    }

    /// A config-rooted error; `d` starts with FILE[:LINE].
    public static func config(_ d: String) -> DaemonError { DaemonError(d, kind: .config) }

    /// A datapath error, with `context` before its message.
    public init(_ error: DatapathError, context: String? = nil) {
        self.init(context.map { "\($0): \(error.description)" } ?? error.description, kind: .datapath(error.kind))
    }

    /// The exit status `xigmp run` ends with: 2 when the config is at fault
    /// (nothing was attached; fix the file), 1 otherwise.
    public var exitStatus: Int32 { kind == .config ? 2 : 1 }
}
