import CXigmp
import DatapathKernel
import Glibc

/// Watches the network namespace's links and IPv4 addresses through
/// rtnetlink, for a loop thread that polls: no thread, no timer, and
/// `drain` never blocks.
///
/// ```swift
/// let monitor = try LinkMonitor()          // the calling thread's namespace
/// var pfd = pollfd(fd: monitor.fileDescriptor, events: Int16(POLLIN), revents: 0)
/// // … in the loop, when poll sets any bit of pfd.revents:
/// monitor.drain { event in … }
/// ```
///
/// The socket joins RTNLGRP_LINK and RTNLGRP_IPV4_IFADDR before `init`
/// dumps links and addresses, so no change falls between the dump and the
/// subscription; `init` returns with `links` complete. `drain` reports
/// changes as `LinkEvent`s and keeps `links` in step; an RTM_NEWLINK that
/// changes no field of `LinkState` (the kernel sends many) is not reported.
///
/// When the socket overruns (ENOBUFS: the kernel dropped notifications) the
/// monitor dumps again on the same socket and reports the difference
/// between its view and the kernel's as the same events, so a consumer
/// needs no special path; `overruns` counts it. The kernel signals an
/// overrun with POLLERR, so drain on any `revents`, not only POLLIN.
///
/// Parsing is Swift over bounds-checked reads (`RtnlParser`): a malformed
/// or truncated message is skipped and counted, never trusted. The socket
/// stays in the namespace it was opened in. Used from one thread at a time
/// (not Sendable).
public final class LinkMonitor {
    /// The receive buffer asked for by default: a burst of a few hundred
    /// links (containers starting) fits, so overruns stay exceptional.
    public static let defaultReceiveBuffer = 1 << 20
    /// Bytes of the first read buffer. The kernel sizes dump parts to
    /// the reader's buffer up to 32 KiB; twice that leaves room for one
    /// large notification. A cut datagram doubles it (up to 1 MiB).
    static let initialReadBuffer = 64 << 10
    static let maximumReadBuffer = 1 << 20
    /// Dump requests one `drain` sends before it returns (a clean
    /// resynchronisation takes two).
    static let requestsPerDrain = 8
    /// How long `init` waits for the first complete dump.
    static let initialDumpTimeoutMs = 5_000

    private let socket: KernelFD
    private var fd: Int32 { socket.raw }
    private var tracker: LinkTracker
    private var buffer: UnsafeMutableRawBufferPointer

    /// The descriptor to poll(2) for POLLIN (and POLLERR).
    public var fileDescriptor: Int32 { fd }

    /// The current view: every link of the namespace by ifindex, with its
    /// IPv4 addresses.
    public var links: [UInt32: LinkState] { tracker.view }

    /// Times the socket overran (or a datagram was cut) and the view was
    /// rebuilt from a fresh dump.
    public var overruns: Int { tracker.overruns }

    /// Messages that did not parse and were skipped.
    public var malformedMessages: Int { tracker.malformed }

    /// Dumps redone because the kernel flagged them interrupted
    /// (NLM_F_DUMP_INTR), refused them as busy, or events were lost during
    /// them.
    public var dumpRestarts: Int { tracker.dumpRestarts }

    /// Reads and dump requests that failed other than with "nothing
    /// pending" or an overrun.
    public private(set) var socketErrors = 0

    /// The receive buffer the kernel granted, in bytes (twice what was
    /// asked, as SO_RCVBUF always is).
    public let receiveBufferSize: Int

    /// The errno of the last dump the kernel refused (not for being busy);
    /// the view is then as before the overrun until the next one succeeds.
    public var dumpFailure: Int32? { tracker.dumpFailure }

    /// RTM_NEWLINK notifications that changed nothing and were not reported.
    var suppressedNotifications: Int { tracker.suppressed }

    /// Opens the socket in the calling thread's network namespace, joins the
    /// link and IPv4 address groups, and reads the initial view.
    /// `receiveBuffer` is the SO_RCVBUF to ask for (default 1 MiB, through
    /// SO_RCVBUFFORCE where permitted); a small one makes overruns easy to
    /// provoke in tests.
    public convenience init(receiveBuffer: Int? = nil) throws(DatapathError) {
        try self.init(receiveBuffer: receiveBuffer, readBuffer: Self.initialReadBuffer)
    }

    /// `readBuffer`: bytes of the first read buffer (tests make it small
    /// to cut datagrams).
    init(receiveBuffer: Int?, readBuffer: Int) throws(DatapathError) {
        let asked = receiveBuffer ?? Self.defaultReceiveBuffer
        guard asked > 0, asked <= Int(Int32.max) / 2 else {
            throw DatapathError(.invalidArgument, "rtnetlink receive buffer of \(asked) bytes: give 1 ... \(Int(Int32.max) / 2)")
        }
        var port: UInt32 = 0
        var stage: Int32 = 0
        let fd = cxigmp_rtnl_open(Int32(asked), &port, &stage)
        guard fd >= 0 else {
            let code = errno
            let steps = ["creating the rtnetlink socket", "setting its receive buffer", "binding it",
                         "joining RTNLGRP_LINK", "joining RTNLGRP_IPV4_IFADDR", "reading its netlink port"]
            let step = Int(stage) < steps.count && stage >= 0 ? steps[Int(stage)] : "opening rtnetlink"
            // Not DatapathError.system: its EPERM text is about BPF, and
            // rtnetlink needs no privilege.
            throw DatapathError(DatapathError.kind(forErrno: code),
                                "watching links: \(step): \(errnoName(code))", errno: code)
        }
        socket = KernelFD(owning: fd)
        tracker = LinkTracker(portID: port)
        buffer = .allocate(byteCount: max(readBuffer, 64), alignment: 4)
        receiveBufferSize = Int(max(cxigmp_rtnl_rcvbuf(fd), 0))
        // From here on deinit runs if init throws; the socket closes with it.

        tracker.resync()
        let deadline = monotonicMs() + Self.initialDumpTimeoutMs
        while true {
            drain { _ in }
            if tracker.sync == nil {
                if tracker.synced { break }
                let code = tracker.dumpFailure ?? EPROTO
                throw DatapathError.failed("watching links: the kernel refused the link/address dump: \(errnoName(code))",
                                    errno: code)
            }
            let left = deadline - monotonicMs()
            guard left > 0 else {
                throw DatapathError(.io(Errno(ETIMEDOUT)), "watching links: no complete rtnetlink dump within \(Self.initialDumpTimeoutMs / 1000) s")
            }
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, Int32(left))
        }
    }

    deinit {
        buffer.deallocate()
    }

    /// The link named `name` now, if there is one.
    public func link(named name: String) -> LinkState? {
        tracker.view.values.first { $0.name == name }
    }

    /// Reads every pending message without blocking, updates `links` and
    /// hands each change to `handle` (in the order they happened). Also
    /// carries a resynchronisation forward: its dump requests go out when
    /// the socket is empty, and its replies are read in the same call.
    /// Dumps redone again and again (a storm of changes keeps interrupting
    /// them) end the call early with a request out, so the loop thread gets
    /// its turn; the answer makes the descriptor readable again.
    public func drain(_ handle: (LinkEvent) -> Void) {
        // A request whose dump never answers would make every EAGAIN a
        // retry; the kernel always answers, but a bound costs nothing.
        var stalls = 0
        // Dumps redone over and over (interrupted by a storm of changes)
        // must not hold the loop thread: after a few requests, return with
        // the last one out, whose answer makes the socket readable again.
        var requests = 0
        while true {
            var sender: UInt32 = 0
            let n = cxigmp_rtnl_recv(fd, buffer.baseAddress, buffer.count, &sender)
            if n < 0 {
                let code = errno
                if code == EAGAIN || code == EWOULDBLOCK {
                    guard let (request, stalled) = tracker.quiet() else { return }
                    if stalled {
                        stalls += 1
                        if stalls > 3 { tracker.sendFailed(); return }
                    }
                    if cxigmp_rtnl_request_dump(fd, request.type, request.family, request.seq) != 0 {
                        // Retried on the next drain.
                        socketErrors += 1
                        tracker.sendFailed()
                        return
                    }
                    requests += 1
                    if requests >= Self.requestsPerDrain { return }
                    continue
                }
                if code == ENOBUFS {
                    tracker.overrun()
                    continue
                }
                socketErrors += 1
                return
            }
            if n > buffer.count {
                // Cut: part of it is lost, so treat it as an overrun, and
                // read with a larger buffer from now on.
                tracker.overrun()
                grow()
                continue
            }
            tracker.receive(UnsafeRawBufferPointer(rebasing: buffer[0..<n]), from: sender, emit: handle)
        }
    }

    private func grow() {
        let size = min(buffer.count * 2, Self.maximumReadBuffer)
        guard size > buffer.count else { return }
        buffer.deallocate()
        buffer = .allocate(byteCount: size, alignment: 4)
    }
}

/// CLOCK_MONOTONIC in milliseconds.
private func monotonicMs() -> Int {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return ts.tv_sec * 1000 + ts.tv_nsec / 1_000_000
}
