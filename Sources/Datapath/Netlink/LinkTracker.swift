import CXigmp
import DatapathKernel
import Glibc

/// The view of `LinkMonitor` and the rules that keep it right, without I/O:
/// datagrams in, events and dump requests out. Tests drive it with
/// hand-made messages to reach what a kernel rarely does (interrupted
/// dumps, EBUSY, lost acknowledgements).
///
/// One socket carries both the dump replies and the notifications, in the
/// order the kernel queued them, so their order is the order of the
/// changes. A dump reply is addressed to this socket's port with the
/// request's sequence number; everything else is a notification (which
/// carries the port and sequence of whoever caused it, so "seq 0" is not
/// the test).
///
/// Resynchronising (after an overrun, or the first time) builds a fresh
/// view in `staging` from a link dump, then an address dump, applying the
/// notifications that arrive meanwhile to it. What notifications built
/// before a dump's first message is dropped when that message arrives:
/// they are older than the dump, and one of them could resurrect a link
/// whose deletion was the lost event. When both dumps are done, the
/// difference between the old view and `staging` goes out as ordinary
/// events.
struct LinkTracker {
    /// A dump to ask the kernel for.
    struct DumpRequest: Sendable, Equatable {
        /// RTM_GETLINK or RTM_GETADDR.
        var type: UInt16
        /// AF_UNSPEC for links, AF_INET for addresses.
        var family: UInt8
        var seq: UInt32
    }

    enum Phase: Sendable, Equatable { case links, addresses }

    /// A resynchronisation under way.
    struct Sync {
        var phase: Phase = .links
        /// The outstanding request's sequence number, once it went out.
        var seq: UInt32?
        /// A message of the current dump arrived (and `staging` was reset
        /// for it).
        var started = false
        /// Events were lost or the kernel flagged the dump inconsistent
        /// (NLM_F_DUMP_INTR) since the link dump began: redo it all at DONE.
        var dirty = false
        var staging: [UInt32: LinkState] = [:]
    }

    /// The current view, by ifindex.
    private(set) var view: [UInt32: LinkState] = [:]
    /// The resynchronisation under way, if any.
    private(set) var sync: Sync?
    /// True once a full dump has been taken into `view`.
    private(set) var synced = false
    /// This socket's netlink port: dump replies are addressed to it.
    let portID: UInt32
    private var lastSeq: UInt32 = 0

    /// Overruns (ENOBUFS) and cut datagrams: each lost notifications.
    private(set) var overruns = 0
    /// Messages or datagrams that did not parse, skipped.
    private(set) var malformed = 0
    /// Dumps redone: interrupted (NLM_F_DUMP_INTR), overrun while running,
    /// refused with EBUSY/EINTR/EAGAIN, or stalled.
    private(set) var dumpRestarts = 0
    /// RTM_NEWLINK notifications that changed no field of `LinkState`.
    private(set) var suppressed = 0
    /// Datagrams from a port other than the kernel's, ignored.
    private(set) var foreign = 0
    /// The errno of the last dump the kernel refused for good; the view
    /// stays as it was until the next resynchronisation succeeds.
    private(set) var dumpFailure: Int32?

    init(portID: UInt32) {
        self.portID = portID
    }

    // MARK: - driving

    /// Begins a full resynchronisation; while one runs, makes it start over
    /// once its current dump ends (the kernel allows one dump at a time).
    mutating func resync() {
        if sync?.seq != nil {
            sync?.dirty = true
        } else {
            // Nothing asked yet (or between the link and the address
            // dump): a dump asked for from now on postdates the loss.
            if sync?.phase == .addresses { dumpRestarts += 1 }
            sync = Sync()
        }
    }

    /// The socket overran (ENOBUFS) or a datagram was cut: notifications
    /// are gone, so the view must be rebuilt.
    mutating func overrun() {
        overruns += 1
        resync()
    }

    /// What to send now that the socket has nothing more to read; nil when
    /// nothing. Requests wait for this point so the first part of the dump
    /// is not queued behind (or dropped by) a full socket. `stalled` is
    /// true when a request was out but the kernel had nothing more: no dump
    /// runs any more (the kernel queues the next part on each read while
    /// one does), so it is asked again.
    mutating func quiet() -> (request: DumpRequest, stalled: Bool)? {
        guard var s = sync else { return nil }
        var stalled = false
        if s.seq != nil {
            stalled = true
            dumpRestarts += 1
            s = Sync()
        }
        lastSeq = lastSeq == UInt32.max ? 1 : lastSeq + 1
        s.seq = lastSeq
        sync = s
        return (request(for: s.phase, seq: lastSeq), stalled)
    }

    /// The request from `quiet()` could not be sent: ask again next time.
    mutating func sendFailed() {
        sync?.seq = nil
        sync?.started = false
    }

    private func request(for phase: Phase, seq: UInt32) -> DumpRequest {
        switch phase {
        case .links: return DumpRequest(type: UInt16(CXIGMP_RTM_GETLINK), family: UInt8(AF_UNSPEC), seq: seq)
        case .addresses: return DumpRequest(type: UInt16(CXIGMP_RTM_GETADDR), family: UInt8(AF_INET), seq: seq)
        }
    }

    /// Takes one datagram from port `sender`.
    mutating func receive(_ datagram: UnsafeRawBufferPointer, from sender: UInt32, emit: (LinkEvent) -> Void) {
        // Only the kernel speaks for the kernel; another process could
        // send to this port.
        guard sender == 0 else { foreign += 1; return }
        let (messages, unparsable) = RtnlParser.messages(in: datagram)
        malformed += unparsable
        for message in messages {
            if message.header.port == portID && portID != 0 {
                reply(message, emit: emit)
            } else {
                notification(message.payload, emit: emit)
            }
        }
    }

    // MARK: - dump replies

    private mutating func reply(_ message: RtnlMessage, emit: (LinkEvent) -> Void) {
        // Replies to an abandoned request are stale.
        guard var s = sync, let seq = s.seq, message.header.seq == seq else {
            if message.payload == .malformed { malformed += 1 }
            return
        }
        switch message.payload {
        case .newLink, .newAddress, .done:
            if !s.started {
                // The dump's first part: what notifications built so far
                // is older than what the dump says.
                s.started = true
                switch s.phase {
                case .links: s.staging = [:]
                case .addresses:
                    for index in s.staging.keys { s.staging[index]?.addresses = [] }
                }
            }
            if message.header.interrupted { s.dirty = true }
        default:
            break
        }
        switch message.payload {
        case .newLink(let link) where s.phase == .links:
            Self.setLink(link, in: &s.staging)
        case .newAddress(let index, let address) where s.phase == .addresses:
            Self.add(address, to: index, in: &s.staging)
        case .done(let code):
            sync = s
            if code == 0 { finishPhase(emit: emit) } else { failed(code) }
            return
        case .error(let code) where code != 0:
            sync = s
            failed(code)
            return
        case .malformed:
            // Counted, not redone: a message that never parses would make
            // every attempt fail the same way.
            malformed += 1
        default:
            break  // acknowledgements, other types
        }
        sync = s
    }

    /// The kernel refused the request (NLMSG_ERROR) or ended the dump
    /// with an error (NLMSG_DONE with a status).
    private mutating func failed(_ code: Int32) {
        switch code {
        case ENOBUFS, EBUSY, EINTR, EAGAIN:
            // The socket was full when the dump began, another dump was
            // running, or the kernel asks to retry: ask again. A dump the
            // kernel still runs (after ENOBUFS it does) ends before the
            // socket goes quiet, which is when the new request goes out;
            // its parts are stale by their sequence number.
            dumpRestarts += 1
            sync = Sync()
        default:
            dumpFailure = code
            sync = nil
        }
    }

    private mutating func finishPhase(emit: (LinkEvent) -> Void) {
        guard var s = sync else { return }
        if s.dirty {
            dumpRestarts += 1
            sync = Sync()
            return
        }
        switch s.phase {
        case .links:
            s.phase = .addresses
            s.seq = nil
            s.started = false
            sync = s
        case .addresses:
            sync = nil
            commit(s.staging, emit: emit)
            synced = true
            dumpFailure = nil
        }
    }

    // MARK: - notifications

    private mutating func notification(_ payload: RtnlPayload, emit: (LinkEvent) -> Void) {
        if payload == .malformed { malformed += 1; return }
        guard var s = sync else {
            apply(payload, emit: emit)
            return
        }
        // Addresses only matter once the links are known; both are reset
        // at their dump's first message (see `reply`).
        switch payload {
        case .newLink(let link):
            Self.setLink(link, in: &s.staging)
        case .delLink(let index):
            s.staging[index] = nil
        case .newAddress(let index, let address) where s.phase == .addresses:
            Self.add(address, to: index, in: &s.staging)
        case .delAddress(let index, let address) where s.phase == .addresses:
            s.staging[index]?.addresses.removeAll { $0 == address }
        default:
            break
        }
        sync = s
    }

    /// A notification applied to the live view, reported when it changed
    /// something.
    private mutating func apply(_ payload: RtnlPayload, emit: (LinkEvent) -> Void) {
        switch payload {
        case .newLink(let link):
            if !updateLink(link, emit: emit) { suppressed += 1 }
        case .delLink(let index):
            if let old = view.removeValue(forKey: index) { emit(.linkRemoved(old)) }
        case .newAddress(let index, let address):
            addAddress(address, to: index, emit: emit)
        case .delAddress(let index, let address):
            removeAddress(address, from: index, emit: emit)
        default:
            break
        }
    }

    // MARK: - the view

    /// Sets the link fields of `link` in `table`, keeping the addresses it has.
    private static func setLink(_ link: LinkState, in table: inout [UInt32: LinkState]) {
        var new = link
        new.addresses = table[link.index]?.addresses ?? []
        table[link.index] = new
    }

    private static func add(_ address: LinkAddress, to index: UInt32, in table: inout [UInt32: LinkState]) {
        guard let addresses = table[index]?.addresses, !addresses.contains(address) else { return }
        table[index]?.addresses.append(address)
    }

    /// Applies the link fields of `link`; false when nothing changed.
    @discardableResult
    private mutating func updateLink(_ link: LinkState, emit: (LinkEvent) -> Void) -> Bool {
        var new = link
        guard let old = view[link.index] else {
            new.addresses = []
            view[link.index] = new
            emit(.linkAdded(new))
            return true
        }
        new.addresses = old.addresses
        guard !old.sameLink(as: new) else { return false }
        view[link.index] = new
        emit(.linkChanged(old: old, new: new))
        return true
    }

    private mutating func addAddress(_ address: LinkAddress, to index: UInt32, emit: (LinkEvent) -> Void) {
        // The kernel repeats RTM_NEWADDR when an address's flags or
        // lifetimes change: only a new one is news.
        guard let addresses = view[index]?.addresses, !addresses.contains(address) else { return }
        view[index]?.addresses.append(address)
        emit(.addressAdded(index: index, address: address.address, prefixLength: address.prefixLength))
    }

    private mutating func removeAddress(_ address: LinkAddress, from index: UInt32, emit: (LinkEvent) -> Void) {
        guard let position = view[index]?.addresses.firstIndex(of: address) else { return }
        view[index]?.addresses.remove(at: position)
        emit(.addressRemoved(index: index, address: address.address, prefixLength: address.prefixLength))
    }

    /// Makes `view` equal to `target`, reporting each difference as the
    /// event the kernel would have sent: links that went away (their
    /// addresses first), then changed links (fields, then addresses), then
    /// new links (the link, then its addresses); ascending ifindex within
    /// each group.
    mutating func commit(_ target: [UInt32: LinkState], emit: (LinkEvent) -> Void) {
        for index in view.keys.sorted() where target[index] == nil {
            for address in view[index]?.addresses ?? [] {
                removeAddress(address, from: index, emit: emit)
            }
            if let old = view.removeValue(forKey: index) { emit(.linkRemoved(old)) }
        }
        for index in target.keys.sorted() {
            guard let wanted = target[index] else { continue }
            updateLink(wanted, emit: emit)
            for address in view[index]?.addresses ?? [] where !wanted.addresses.contains(address) {
                removeAddress(address, from: index, emit: emit)
            }
            for address in wanted.addresses {
                addAddress(address, to: index, emit: emit)
            }
            // Same set; take the kernel's order (primary first).
            view[index] = wanted
        }
    }
}
