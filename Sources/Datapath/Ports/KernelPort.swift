import CXigmp
import DatapathBPF
import DatapathKernel
import DatapathPrograms
import Glibc
import IGMPWire

/// Packets the kernel path read but did not hand to the consumer, by reason.
public struct KernelPortDrops: Sendable, Equatable {
    /// IP_PKTINFO named another interface (or none): the socket was not yet
    /// bound when they queued, or a path bypassed the device binding.
    public var foreignInterface: UInt64 = 0
    /// Fragments (IGMP is never fragmented; the tap sees packets before
    /// reassembly).
    public var fragments: UInt64 = 0
    /// Larger than a receive buffer (MSG_TRUNC).
    public var truncated: UInt64 = 0
    /// Too short for an IPv4 header, a header or total length that does
    /// not fit, or not IPv4 protocol 2.
    public var malformed: UInt64 = 0
    /// poll/recvmmsg failures.
    public var receiveErrors: UInt64 = 0
    /// Creates zeroed counters.
    public init() {}
}

/// The kernel path: an AF_PACKET tap (or a raw IGMP socket) in, a raw
/// IP_HDRINCL socket out. Serves any interface, including L3 devices
/// without Ethernet (tun, ppp), needs no kernel multicast routing, and is
/// the baseline the XDP path is benchmarked against.
///
/// Packets start at the IPv4 header (`LinkLayer.ipv4`). Two ways in:
/// - `captureAllGroups` (the daemon's): an AF_PACKET SOCK_DGRAM socket bound
///   to the interface for ETH_P_IP, with a classic BPF filter keeping
///   protocol 2 (`cxigmp_igmp_tap_open`). It sees every IGMP message on the
///   interface — v1/v2 reports and group-specific queries to groups this
///   host never joined included — on any kernel, without becoming the
///   namespace's multicast router, so igmpproxy or smcroute can still own
///   the mroute socket beside it. PACKET_MR_ALLMULTI keeps the NIC's
///   multicast filter open and is dropped by the kernel when the socket
///   closes, however the process ends. The tap sees frames before IP
///   reassembly and with Ethernet padding, so the IP header is checked
///   here and the bytes cut to its total length.
/// - otherwise a raw IGMP socket, which sees what the host's IP stack
///   accepts: general queries always; v2 leaves (224.0.0.2) and v3 reports
///   (224.0.0.22) because the port joins both; reports and group-specific
///   queries only for groups the host joined.
///
/// This host's own packets never come in: the tap ignores outgoing packets
/// (PACKET_IGNORE_OUTGOING) and both filters drop looped-back multicast.
///
/// Receive is batched with `recvmmsg` into buffers, iovecs, headers and
/// control buffers allocated once at init: nothing is allocated per packet.
/// Used from one thread at a time.
public final class KernelPort: IGMPPort {
    public let interface: NetworkInterface
    public let kind: DatapathKind = .kernel
    public let pollDescriptors: [Int32]
    public var statistics: PortStatistics {
        var s = counters
        s.txPackets = sender.packetsSent
        s.txErrors = sender.sendErrors
        return s
    }

    /// Packets read but not handed over, by reason.
    public private(set) var drops = KernelPortDrops()
    /// What the port cannot do here and what will be missed; empty when
    /// everything asked for is in place.
    public let warnings: [String]
    /// True when this port taps the interface (AF_PACKET) and so sees
    /// every IGMP message on it.
    public let capturesAllGroups: Bool
    /// Messages one `recvmmsg` call can take (the preallocated batch).
    public let batchSize: Int
    /// Bytes per receive buffer; longer packets are dropped as truncated.
    public let packetBufferSize: Int
    /// The transmitter (also usable directly for pre-built packets).
    public let sender: RawIPSender

    /// Groups every port joins so the kernel delivers what is sent to them.
    static let joinedGroups: [IPv4Address] = [.allRouters, .igmpv3Routers]

    /// The receive socket, closed after deinit has dropped the memberships.
    private let receiveSocket: KernelFD
    private var fd: Int32 { receiveSocket.raw }
    private let filterInterface: Bool
    private var counters = PortStatistics()
    private let batch: ReceiveBatch
    private var joined: [IPv4Address] = []

    /// Opens the port on `interface`.
    /// - Parameters:
    ///   - captureAllGroups: tap the interface (AF_PACKET) so v1/v2 reports
    ///     and group-specific queries to any group are seen.
    ///   - batchSize: messages per `recvmmsg`, preallocated.
    ///   - receiveBufferBytes: SO_RCVBUF(FORCE) of the receive socket: how
    ///     big a burst (e.g. every host answering a general query at once)
    ///     can queue between two `receive` calls.
    public convenience init(interface: NetworkInterface, captureAllGroups: Bool = false, batchSize: Int = 64,
                            receiveBufferBytes: Int = 1 << 20) throws(DatapathError) {
        try Privileges.requireRawSockets("the kernel datapath")
        try self.init(interface: interface, captureAllGroups: captureAllGroups, batchSize: batchSize,
                      receiveBufferBytes: receiveBufferBytes, bindToDevice: true, filterInterface: true)
    }

    /// `bindToDevice` and `filterInterface` exist so tests can prove each
    /// defence on its own; production always has both.
    init(interface: NetworkInterface, captureAllGroups: Bool, batchSize: Int, receiveBufferBytes: Int,
         bindToDevice: Bool, filterInterface: Bool) throws(DatapathError) {
        precondition(batchSize > 0, "batchSize must be positive")
        self.interface = interface
        self.batchSize = batchSize
        let name = "IGMP receive socket on \(interface.name)"
        let fd: Int32
        if captureAllGroups {
            var stage: Int32 = 0
            fd = cxigmp_igmp_tap_open(Int32(bitPattern: interface.index), &stage)
            guard fd >= 0 else {
                let steps = ["opening an AF_PACKET socket", "attaching the IGMP socket filter (SO_ATTACH_FILTER)",
                             "ignoring outgoing packets (PACKET_IGNORE_OUTGOING, Linux >= 4.20)",
                             "holding ALLMULTI (PACKET_ADD_MEMBERSHIP)", "binding the AF_PACKET socket"]
                throw DatapathError.system("\(steps[Int(stage)]) on \(interface.name) for the kernel datapath", errno: errno)
            }
        } else {
            fd = socket(AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue),
                        Int32(IPPROTO_IGMP))
            guard fd >= 0 else {
                throw DatapathError.system("opening a raw IGMP socket on \(interface.name)", errno: errno)
            }
        }
        let owned = KernelFD(owning: fd)  // closes it if anything below throws
        do {
            if !captureAllGroups {
                if bindToDevice { try SocketOption.bindToDevice(fd, interface, name) }
                try SocketOption.set(fd, Int32(IPPROTO_IP), IP_PKTINFO, Int32(1), "IP_PKTINFO", name)
                // The kernel loops this host's own IGMP (its reports for the
                // groups joined below, sent with mc_loop on) back to it.
                guard cxigmp_attach_drop_looped(fd) == 0 else {
                    throw DatapathError.system("attaching the own-packet filter to the \(name) (SO_ATTACH_FILTER)", errno: errno)
                }
            }
            try SocketOption.set(fd, SOL_SOCKET, SO_TIMESTAMPNS, Int32(1), "SO_TIMESTAMPNS", name)
            // Whatever queued before the binding and the filter were in
            // place may be foreign or looped: discard it (bounded, in case
            // of a flood).
            var discarded = 0
            while discarded < 4096, recv(fd, nil, 0, Int32(MSG_DONTWAIT | MSG_TRUNC)) >= 0 { discarded += 1 }
            Self.setReceiveBuffer(fd, bytes: receiveBufferBytes)
            sender = try RawIPSender(interface: interface)
        }
        receiveSocket = owned
        // The tap is bound to the interface: every packet is from it.
        self.filterInterface = filterInterface && !captureAllGroups
        capturesAllGroups = captureAllGroups
        pollDescriptors = [fd]
        packetBufferSize = Self.bufferSize(for: interface)
        batch = ReceiveBatch(capacity: batchSize, bufferSize: packetBufferSize)
        self.warnings = sender.warnings
        // Joins come last so a failure above leaves no membership behind
        // (deinit leaves them; close would too). The tap needs none.
        if !captureAllGroups {
            for group in Self.joinedGroups {
                try membership(IP_ADD_MEMBERSHIP, group)
                joined.append(group)
            }
        }
    }

    deinit {
        for group in joined { try? membership(IP_DROP_MEMBERSHIP, group) }
    }

    public func receive(maxBatch: Int, timeoutMs: Int32, _ body: (PortPacket) -> Void) throws(DatapathError) -> Int {
        guard maxBatch > 0 else { return 0 }
        if timeoutMs != 0 {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let rc = poll(&pfd, 1, timeoutMs)
            if rc == 0 { return 0 }
            if rc < 0 {
                let code = errno
                if code == EINTR { return 0 }
                drops.receiveErrors &+= 1
                throw DatapathError.system("waiting for IGMP on \(interface.name)", errno: code)
            }
        }
        var delivered = 0
        var remaining = maxBatch
        while remaining > 0 {
            let want = min(remaining, batchSize)
            let n = batch.receive(from: fd, count: want)
            if n < 0 {
                let code = errno
                if code == EAGAIN || code == EINTR { break }
                drops.receiveErrors &+= 1
                if delivered > 0 { break }  // the error comes back on the next call
                throw DatapathError.system("receiving IGMP on \(interface.name)", errno: code)
            }
            for i in 0..<n where accept(i, body) { delivered += 1 }
            remaining -= n
            if n < want { break }
        }
        if delivered > 0 {
            counters.rxBatches &+= 1
            counters.rxPackets &+= UInt64(delivered)
        }
        return delivered
    }

    /// Checks message `i` of the last `recvmmsg`, lends it to `body` if it
    /// is IGMP from this interface, and readies its header for reuse.
    @inline(__always)
    private func accept(_ i: Int, _ body: (PortPacket) -> Void) -> Bool {
        let header = batch.header(i)
        defer { batch.reset(i) }
        if header.pointee.msg_flags & Int32(MSG_TRUNC) != 0 {
            drops.truncated &+= 1
            return false
        }
        let received = batch.bytes(i)
        guard received.count >= 20, received[0] >> 4 == 4, received[9] == IPv4Header.protocolIGMP else {
            drops.malformed &+= 1
            return false
        }
        // The tap sees the frame as it came (Ethernet padding after the IP
        // packet, fragments before reassembly): trust only what the IP
        // header claims, and only when it fits.
        let headerLength = Int(received[0] & 0x0f) * 4
        let totalLength = Int(received[2]) << 8 | Int(received[3])
        guard headerLength >= 20, totalLength >= headerLength, totalLength <= received.count else {
            drops.malformed &+= 1
            return false
        }
        if (Int(received[6]) << 8 | Int(received[7])) & 0x3fff != 0 {  // MF or a fragment offset
            drops.fragments &+= 1
            return false
        }
        let bytes = UnsafeRawBufferPointer(rebasing: received[..<totalLength])
        var meta = cxigmp_rx_meta()
        cxigmp_rx_meta(header, &meta)
        if filterInterface && meta.ifindex != interface.index {
            drops.foreignInterface &+= 1
            return false
        }
        body(PortPacket(ifindex: capturesAllGroups ? interface.index : meta.ifindex, queue: 0, linkLayer: .ipv4, bytes: bytes,
                        timestampNs: meta.timestamp_ns != 0 ? meta.timestamp_ns : realtimeNanoseconds()))
        return true
    }

    /// Sends through the owned `RawIPSender`: one `sendto` per packet, so
    /// nothing queues and each send counts as a wakeup.
    public func send(igmp payload: UnsafeRawBufferPointer, source: IPv4Address, destination: IPv4Address,
                     options: IPv4EncodeOptions) throws(DatapathError) {
        counters.wakeups &+= 1
        try sender.send(igmp: payload, source: source, destination: destination, options: options)
    }

    /// A no-op: every `send` on this path is already its own syscall.
    public func flush() throws(DatapathError) {}

    // MARK: - set-up

    private func membership(_ option: Int32, _ group: IPv4Address) throws(DatapathError) {
        var mreq = ip_mreqn()
        mreq.imr_multiaddr.s_addr = group.rawValue.bigEndian
        mreq.imr_ifindex = Int32(bitPattern: interface.index)
        guard setsockopt(fd, Int32(IPPROTO_IP), option, &mreq, socklen_t(MemoryLayout<ip_mreqn>.size)) == 0 else {
            let code = errno
            let verb = option == IP_ADD_MEMBERSHIP ? "joining" : "leaving"
            if code == ENODEV || code == EADDRNOTAVAIL {
                throw DatapathError.failed("\(verb) \(group) on \(interface.name): \(errnoName(code)): is the interface up and multicast-capable? (`ip link set \(interface.name) up multicast on`)", errno: code)
            }
            throw DatapathError.system("\(verb) \(group) on \(interface.name)", errno: code)
        }
    }

    /// SO_RCVBUFFORCE (root may exceed net.core.rmem_max), else SO_RCVBUF
    /// (capped by rmem_max); a smaller buffer only loses bursts, so
    /// failure is not fatal.
    private static func setReceiveBuffer(_ fd: Int32, bytes: Int) {
        var v = Int32(clamping: bytes)
        let size = socklen_t(MemoryLayout<Int32>.size)
        if setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &v, size) != 0 {
            _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &v, size)
        }
    }

    /// MTU + slack, at least 2 KiB, at most 64 KiB: a raw socket hands over
    /// whole (reassembled) IP packets, and an IGMPv3 report fills at most
    /// the sender's MTU (RFC 3376 §4.2.16).
    private static func bufferSize(for interface: NetworkInterface) -> Int {
        guard let socket = KernelFD.socket(AF_INET, Int32(SOCK_DGRAM.rawValue)) else { return 2048 }
        let fd = socket.raw
        var req = ifreq()
        withUnsafeMutableBytes(of: &req.ifr_ifrn.ifrn_name) { buf in
            for (i, b) in interface.name.utf8.prefix(Int(IF_NAMESIZE) - 1).enumerated() { buf[i] = b }
        }
        guard ioctl(fd, UInt(SIOCGIFMTU), &req) == 0 else { return 2048 }
        let mtu = Int(req.ifr_ifru.ifru_mtu)
        return min(65_536, max(2048, (mtu + 64 + 63) & ~63))
    }
}
