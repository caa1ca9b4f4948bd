import CXigmp
import Glibc

/// An epoll(7) set: descriptors are registered once, each with a token, and
/// a wait returns the tokens of those ready (level-triggered, as poll(2)).
///
/// The packet loop waits here instead of in poll(2): poll adds the loop to
/// the wait queue of every descriptor and removes it again on each call,
/// which on a 2-core VM at 40k messages/s was a third of the loop's time
/// (`make bench`, translation); epoll keeps the registrations across waits.
/// The result buffer is allocated once, so a wait allocates nothing.
public final class EventPoll {
    private let fd: KernelFD
    private let events: UnsafeMutablePointer<epoll_event>
    /// The most events one wait returns.
    public let capacity: Int

    public init(capacity: Int = 64) throws(DatapathError) {
        let raw = epoll_create1(Int32(EPOLL_CLOEXEC))
        guard raw >= 0 else { throw DatapathError.system("epoll_create1", errno: errno) }
        fd = KernelFD(owning: raw)
        self.capacity = max(1, capacity)
        events = .allocate(capacity: self.capacity)
    }

    deinit { events.deallocate() }

    /// Watches `descriptor` for input; `token` comes back when it is ready.
    public func add(_ descriptor: Int32, token: Int) throws(DatapathError) {
        var ev = epoll_event()
        ev.events = EPOLLIN.rawValue
        ev.data.u64 = UInt64(bitPattern: Int64(token))
        guard epoll_ctl(fd.raw, EPOLL_CTL_ADD, descriptor, &ev) == 0 else {
            throw DatapathError.system("epoll_ctl(ADD, fd \(descriptor))", errno: errno)
        }
    }

    /// Waits up to `timeoutMs` (-1: no limit) and calls `ready` with the
    /// token of each ready descriptor. Returns how many were ready (0 on
    /// timeout or a signal).
    @inline(__always)
    public func wait(timeoutMs: Int32, _ ready: (Int) -> Void) -> Int {
        let n = epoll_wait(fd.raw, events, Int32(capacity), timeoutMs)
        guard n > 0 else { return 0 }
        var i = 0
        while i < Int(n) {
            ready(Int(Int64(bitPattern: events[i].data.u64)))
            i += 1
        }
        return Int(n)
    }
}
