import CXigmp
import DatapathBPF
import DatapathKernel
import DatapathPrograms
import Glibc
import IGMPWire

/// The AF_XDP datapath on one Ethernet interface: the classifier redirects
/// IGMP to one AF_XDP socket per RX queue, all on one UMEM; frames to send
/// are built whole in UMEM and put on queue 0's TX ring.
///
/// Steady state allocates nothing: ring entries, TX frames and poll
/// descriptors are all set up at open. One thread at a time.
public final class XDPPort: IGMPPort {
    /// Options for opening the port.
    public struct Options: Sendable {
        /// XDP mode when the port attaches the classifier itself.
        public var mode: ClassifierControl.ModeRequest = .auto
        /// Replace a foreign XDP program (or a fresh copy of ours).
        public var force = false
        /// Ring and UMEM sizes.
        public var geometry = XSKGeometry()
        /// Hold ALLMULTI on the interface while open, so NICs that filter
        /// multicast MACs deliver every group's reports.
        public var allMulticast = true
        /// Receive IGMP (attach or reuse the classifier, one socket per RX
        /// queue). False opens a transmit-only socket on queue 0 and leaves
        /// the interface's XDP state and the kernel's IGMP alone.
        public var receive = true
        /// Creates default options.
        public init() {}
    }

    public let interface: NetworkInterface
    public let kind = DatapathKind.xdp
    public private(set) var statistics = PortStatistics()
    /// Number of RX queues served.
    public var queueCount: Int { sockets.count }
    /// Mode the classifier runs in (nil for a transmit-only port).
    public var mode: XDPMode? { lease?.mode }

    /// Limits IGMP from each source address to `perSecond` frames per second
    /// (bursts of `burst`) in the classifier, before the ring; 0 turns it off.
    /// The classifier is per interface, so is the limit.
    public func setRateLimit(perSecond: UInt32, burst: UInt32) throws(DatapathError) {
        guard let limits = lease?.limits else {
            throw DatapathError(.abiMismatch, "\(interface.name): the classifier has no rate limiter (an older `xigmp load`?): reload it with `xigmp load --force --iface \(interface.name)`")
        }
        try Classifier.setRateLimit(perSecond: perSecond, burst: burst, in: limits)
    }

    /// Where this interface's classifier reaches the shared provisional
    /// forwarding table, and its allow table (nil without a classifier, or
    /// an attached one from before provisional forwarding).
    public var provisionalSlots: ProvisionalSlots? { lease?.provisional }

    /// The classifier's counters on this interface (nil without one).
    public func classifierCounters() throws(DatapathError) -> ClassifierCounters? {
        guard let counters = lease?.counters else { return nil }
        return ClassifierCounters(values: try counters.perCPUSums(slots: ClassifierCounters.slotCount))
    }
    /// Notes for the operator (fallbacks, reuse of a loaded classifier).
    public let notes: [String]

    public var pollDescriptors: [Int32] { lease == nil ? [] : sockets.map(\.fd) }

    private let info: InterfaceInfo
    private let mac: MACAddress
    private let lease: ClassifierLease?
    private let umem: XSKUmem
    private var sockets: [XSKQueueSocket] = []
    private var txFree: FrameStack
    private var txPending: UInt32 = 0
    private let pollFDs: UnsafeMutablePointer<pollfd>
    private let unicast: RawIPSender
    /// Holds ALLMULTI on the interface while open (PACKET_MR_ALLMULTI).
    private let allMulti: KernelFD?
    private var nextQueue = 0

    /// Opens the port: attaches (or reuses) the classifier, creates the UMEM
    /// and one socket per RX queue, registers them in the XSKMAP.
    public init(interface: NetworkInterface, options: Options = Options()) throws(DatapathError) {
        try Privileges.requireBPF("the AF_XDP datapath")
        try Privileges.requireRawSockets("the AF_XDP datapath")
        self.interface = interface
        info = try InterfaceInfo(interface)
        guard info.hasEthernet, let mac = info.mac else {
            throw DatapathError(.featureAbsent, "\(interface.name) has no Ethernet header (tun/GRE): the XDP classifier cannot parse it; use --datapath kernel or auto")
        }
        self.mac = mac
        let queues = options.receive ? Int(cxigmp_rx_queue_count(interface.name)) : 1
        guard queues > 0 else {
            throw DatapathError.system("counting RX queues of \(interface.name)", errno: Int32(-queues))
        }
        guard queues <= Int(XIGMP_MAX_QUEUES) else {
            throw DatapathError(.limitReached, "\(interface.name) has \(queues) RX queues; the classifier's XSKMAP holds \(XIGMP_MAX_QUEUES): reduce them with `ethtool -L \(interface.name) combined \(XIGMP_MAX_QUEUES)`")
        }
        let geometry = options.geometry
        umem = try XSKUmem(geometry: geometry, queues: queues, ifname: interface.name)
        lease = options.receive ? try ClassifierLease(interface: interface, mode: options.mode, force: options.force) : nil
        unicast = try RawIPSender(interface: interface)
        txFree = FrameStack(capacity: geometry.txFrames)
        pollFDs = .allocate(capacity: queues)
        if options.allMulticast && options.receive {
            let fd = cxigmp_allmulti_socket(Int32(interface.index))
            guard fd >= 0 else {
                pollFDs.deallocate()
                throw DatapathError.system("setting ALLMULTI on \(interface.name)", errno: -fd)
            }
            allMulti = KernelFD(owning: fd)
        } else {
            allMulti = nil
        }
        notes = (lease?.notes ?? []) + unicast.warnings
        do throws(DatapathError) {
            for q in 0..<queues {
                let s = try XSKQueueSocket(umem: umem, ifname: interface.name, queue: UInt32(q),
                                           withRX: options.receive, withTX: q == 0,
                                           ringSize: geometry.rxFramesPerQueue, txSize: geometry.txFrames)
                sockets.append(s)
                pollFDs[q] = pollfd(fd: s.fd, events: Int16(POLLIN), revents: 0)
                guard let lease else { continue }
                // Give the kernel this queue's share of frames to receive into.
                var idx: UInt32 = 0
                let n = UInt32(geometry.rxFramesPerQueue)
                guard xsk_ring_prod__reserve(s.fill, n, &idx) == n else {
                    throw DatapathError(.limitReached, "fill ring of \(interface.name) queue \(q) is smaller than \(n)")
                }
                for i in 0..<Int(n) {
                    xsk_ring_prod__fill_addr(s.fill, idx &+ UInt32(i)).pointee = umem.frameAddress(q * geometry.rxFramesPerQueue + i)
                }
                xsk_ring_prod__submit(s.fill, n)
                try lease.register(queue: UInt32(q), socketFD: s.fd)
            }
        } catch {
            // Every stored property is set by now, so deinit runs and
            // releases sockets, ALLMULTI and poll descriptors.
            throw error
        }
        for i in 0..<geometry.txFrames {
            txFree.push(umem.frameAddress(queues * geometry.rxFramesPerQueue + i))
        }
    }

    deinit {
        // Each socket holds the UMEM it uses, so the order of release is
        // the types' business; only the poll array is raw memory.
        pollFDs.deallocate()
    }

    public func receive(maxBatch: Int, timeoutMs: Int32, _ body: (PortPacket) -> Void) throws(DatapathError) -> Int {
        guard lease != nil else {
            throw DatapathError(.invalidArgument, "this XDP port on \(interface.name) was opened transmit-only")
        }
        var total = drain(maxBatch: maxBatch, body)
        if total > 0 || timeoutMs == 0 { return total }
        let rc = poll(pollFDs, nfds_t(sockets.count), timeoutMs)
        if rc < 0 {
            if errno == EINTR { return 0 }
            throw DatapathError.system("poll on AF_XDP sockets of \(interface.name)", errno: errno)
        }
        if rc > 0 { total = drain(maxBatch: maxBatch, body) }
        return total
    }

    /// Takes up to `maxBatch` descriptors across the queues (round robin, so
    /// a busy queue cannot starve the others), lends each frame to `body`,
    /// and gives the frames straight back to that queue's fill ring.
    ///
    /// Loops are `while` loops on purpose: an unspecialised `for … in` over a
    /// range allocates per element in debug builds, and this path must not
    /// allocate in any build.
    private func drain(maxBatch: Int, _ body: (PortPacket) -> Void) -> Int {
        var handed = 0
        let now = realtimeNanoseconds()
        let frameMask = ~UInt64(umem.geometry.frameSize - 1)
        let count = sockets.count
        var step = 0
        while step < count && handed < maxBatch {
            let s = sockets[(nextQueue + step) % count]
            step += 1
            returnFrames(s)
            var rxIdx: UInt32 = 0
            let n = xsk_ring_cons__peek(s.rx, UInt32(maxBatch - handed), &rxIdx)
            if n == 0 {
                if xsk_ring_prod__needs_wakeup(s.fill) != 0 {
                    recvfrom(s.fd, nil, 0, Int32(MSG_DONTWAIT), nil, nil)
                    statistics.wakeups &+= 1
                }
                continue
            }
            var i: UInt32 = 0
            while i < n {
                let desc = xsk_ring_cons__rx_desc(s.rx, rxIdx &+ i)!.pointee
                let bytes = UnsafeRawBufferPointer(start: umem.data(desc.addr), count: Int(desc.len))
                body(PortPacket(ifindex: interface.index, queue: s.queue, linkLayer: .ethernet,
                                bytes: bytes, timestampNs: now))
                s.pendingFill.push(desc.addr & frameMask)
                i &+= 1
            }
            xsk_ring_cons__release(s.rx, n)
            returnFrames(s)
            handed += Int(n)
            statistics.rxPackets &+= UInt64(n)
            statistics.rxBatches &+= 1
        }
        nextQueue = (nextQueue + 1) % max(count, 1)
        return handed
    }

    public func send(igmp payload: UnsafeRawBufferPointer, source: IPv4Address, destination: IPv4Address,
                     options: IPv4EncodeOptions) throws(DatapathError) {
        guard destination.isMulticast else {
            // Unicast needs a neighbour's MAC: the kernel resolves it (ARP)
            // for the raw socket.
            do throws(DatapathError) {
                try unicast.send(igmp: payload, source: source, destination: destination, options: options)
                statistics.txPackets &+= 1
            } catch {
                statistics.txErrors &+= 1
                throw error
            }
            return
        }
        let s = sockets[0]
        guard let tx = s.tx else { return }
        reclaimCompletions()
        var addr = txFree.pop()
        if addr == nil {
            try kick()
            reclaimCompletions()
            addr = txFree.pop()
        }
        guard let frame = addr else {
            statistics.txErrors &+= 1
            throw DatapathError(.busy, "TX ring of \(interface.name) is full (\(umem.geometry.txFrames) frames in flight): the kernel is not completing transmissions")
        }
        let buffer = UnsafeMutableRawBufferPointer(start: umem.data(frame), count: umem.geometry.frameSize)
        let length: Int
        do {
            length = try EthernetHeader.write(into: buffer, destination: .multicast(for: destination), source: mac)
                + IGMPEncoder.encodeIPv4(payload: payload, source: source, destination: destination, options: options,
                                         into: UnsafeMutableRawBufferPointer(rebasing: buffer[EthernetHeader.length...]))
        } catch {
            txFree.push(frame)
            statistics.txErrors &+= 1
            throw DatapathError(.invalidArgument, "cannot build a frame for \(interface.name): \(error)")
        }
        var idx: UInt32 = 0
        guard xsk_ring_prod__reserve(tx, 1, &idx) == 1 else {
            txFree.push(frame)
            statistics.txErrors &+= 1
            throw DatapathError(.busy, "TX ring of \(interface.name) is full")
        }
        let desc = xsk_ring_prod__tx_desc(tx, idx)!
        desc.pointee.addr = frame
        desc.pointee.len = UInt32(length)
        desc.pointee.options = 0
        xsk_ring_prod__submit(tx, 1)
        txPending &+= 1
        statistics.txPackets &+= 1
    }

    public func flush() throws(DatapathError) {
        if txPending > 0 { try kick() }
        reclaimCompletions()
        // Frames held back for want of fill-ring room go back here too, so
        // a queue that received nothing since still gets them.
        if lease != nil {
            var q = 0
            while q < sockets.count {
                returnFrames(sockets[q])
                q += 1
            }
        }
    }

    /// Gives held-back received frames to the fill ring, as many as it has
    /// room for now.
    @inline(__always)
    private func returnFrames(_ s: XSKQueueSocket) {
        let waiting = UInt32(s.pendingFill.count)
        guard waiting > 0 else { return }
        let room = min(xsk_prod_nb_free(s.fill, waiting), waiting)
        guard room > 0 else {
            statistics.fillDeferred &+= 1
            return
        }
        var idx: UInt32 = 0
        guard xsk_ring_prod__reserve(s.fill, room, &idx) == room else { return }
        var i: UInt32 = 0
        while i < room {
            xsk_ring_prod__fill_addr(s.fill, idx &+ i).pointee = s.pendingFill.pop()!
            i &+= 1
        }
        xsk_ring_prod__submit(s.fill, room)
        if room < waiting { statistics.fillDeferred &+= 1 }
    }

    /// Tells the kernel to process the TX ring (copy mode always needs it;
    /// with need_wakeup, only when the flag is set). In copy mode one
    /// sendto(2) transmits at most a small batch (TX_BATCH_SIZE, 32 in
    /// net/xdp/xsk.c), so it is repeated until the kernel has taken every
    /// descriptor: one kick per receive batch of 64 left half of them
    /// waiting, the TX ring filled up and sends failed under load.
    private func kick() throws(DatapathError) {
        let s = sockets[0]
        guard let tx = s.tx else { return }
        txPending = 0
        var rounds = 0
        while rounds < 64 && outstanding(tx) > 0 {
            rounds += 1
            guard xsk_ring_prod__needs_wakeup(tx) != 0 else { return }
            statistics.wakeups &+= 1
            if sendto(s.fd, nil, 0, Int32(MSG_DONTWAIT), nil, 0) < 0 {
                let code = errno
                // Busy/again: the kernel is still working through the ring.
                if code == EAGAIN || code == EBUSY || code == ENOBUFS || code == ENETDOWN { return }
                throw DatapathError.system("kicking the AF_XDP TX ring of \(interface.name)", errno: code)
            }
        }
    }

    /// TX descriptors submitted that the kernel has not consumed yet.
    @inline(__always)
    private func outstanding(_ tx: UnsafeMutablePointer<xsk_ring_prod>) -> UInt32 {
        let consumer = cxigmp_load_acquire_u32(tx.pointee.consumer)
        return tx.pointee.cached_prod &- consumer
    }

    /// Returns completed TX frames to the free stack.
    private func reclaimCompletions() {
        let s = sockets[0]
        var idx: UInt32 = 0
        let n = xsk_ring_cons__peek(s.comp, UInt32(umem.geometry.txFrames), &idx)
        guard n > 0 else { return }
        var i: UInt32 = 0
        while i < n {
            txFree.push(xsk_ring_cons__comp_addr(s.comp, idx &+ i)!.pointee)
            i &+= 1
        }
        xsk_ring_cons__release(s.comp, n)
    }
}

/// Writes an untagged Ethernet II header for IPv4.
enum EthernetHeader {
    static let length = 14

    @inline(__always)
    static func write(into buffer: UnsafeMutableRawBufferPointer, destination: MACAddress, source: MACAddress) throws(DatapathError) -> Int {
        guard buffer.count >= length else { throw DatapathError(.invalidArgument, "frame buffer too small") }
        for i in 0..<6 {
            buffer[i] = UInt8(truncatingIfNeeded: destination.rawValue >> (40 - 8 * UInt64(i)))
            buffer[6 + i] = UInt8(truncatingIfNeeded: source.rawValue >> (40 - 8 * UInt64(i)))
        }
        buffer[12] = 0x08
        buffer[13] = 0x00
        return length
    }
}
