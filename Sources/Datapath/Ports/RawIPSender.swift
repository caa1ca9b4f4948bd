import CXigmp
import DatapathBPF
import DatapathKernel
import DatapathPrograms
import Glibc
import IGMPWire

/// Sends whole IPv4 packets carrying IGMP out of one interface through a raw
/// `IP_HDRINCL` socket: the kernel path's transmitter, and the XDP port's
/// for unicast destinations (the kernel resolves the neighbour).
///
/// The socket is bound to the interface (`SO_BINDTODEVICE`), multicast
/// leaves through it (`IP_MULTICAST_IF`), and multicast loopback is off
/// (`IP_MULTICAST_LOOP` 0) so this host's own sockets — the receiving port
/// above all — never see what it sends.
///
/// What the kernel still does to a header we wrote (raw(7),
/// `raw_send_hdrinc`): it always rewrites Total Length and the header
/// checksum (to the same values), fills a zero Identification, and replaces
/// a source of 0.0.0.0 with the route's address — so a query "from 0.0.0.0"
/// cannot be sent this way. Because the socket is bound to the device, the
/// kernel treats every unicast destination as on-link: one outside the
/// interface's subnets is ARPed for, and dropped silently if no one answers.
///
/// Every packet carries `EgressFilter.ownMark` (`SO_MARK`), so an egress
/// filter on the interface lets xigmp's own reports through while it
/// judges the host kernel's.
///
/// One thread at a time; nothing is allocated per packet.
public final class RawIPSender {
    /// The interface packets leave through.
    public let interface: NetworkInterface
    /// The raw socket (owned; closed in `deinit`).
    private let sendSocket: KernelFD
    public var descriptor: Int32 { sendSocket.raw }
    /// Packets handed to the kernel.
    public private(set) var packetsSent: UInt64 = 0
    /// Sends that failed (the packet was not sent).
    public private(set) var sendErrors: UInt64 = 0
    /// What the sender could not set up and what that costs; empty when
    /// everything is in place. The socket works either way.
    public let warnings: [String]

    /// The largest IPv4 packet: the buffer every send encodes into.
    private static let bufferSize = 65_535
    private let buffer: UnsafeMutableRawBufferPointer

    /// Opens `socket(AF_INET, SOCK_RAW, IPPROTO_RAW)` (which implies
    /// `IP_HDRINCL`) bound to `interface`. Needs CAP_NET_RAW.
    public init(interface: NetworkInterface) throws(DatapathError) {
        self.interface = interface
        let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(IPPROTO_RAW))
        guard fd >= 0 else {
            throw DatapathError.system("opening a raw IP socket to send IGMP on \(interface.name)", errno: errno)
        }
        let owned = KernelFD(owning: fd)  // closes it if anything below throws
        do {
            let name = "sender on \(interface.name)"
            try SocketOption.set(fd, Int32(IPPROTO_IP), IP_HDRINCL, Int32(1), "IP_HDRINCL", name)
            try SocketOption.bindToDevice(fd, interface, name)
            var mreq = ip_mreqn()
            mreq.imr_ifindex = Int32(bitPattern: interface.index)
            try SocketOption.set(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, mreq, "IP_MULTICAST_IF", name)
            try SocketOption.set(fd, Int32(IPPROTO_IP), IP_MULTICAST_LOOP, Int32(0), "IP_MULTICAST_LOOP", name)
            try SocketOption.set(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, Int32(1), "IP_MULTICAST_TTL", name)
        }
        warnings = Self.markOwn(fd, interface)
        sendSocket = owned
        buffer = .allocate(byteCount: Self.bufferSize, alignment: 8)
        buffer.initializeMemory(as: UInt8.self, repeating: 0)
    }

    deinit {
        buffer.deallocate()
    }

    /// Builds the IPv4 packet around `payload` (an encoded IGMP message,
    /// checksum included) per `options` — TTL 1, TOS 0xc0, Router Alert by
    /// default — and sends it to `destination` without blocking.
    ///
    /// A full socket buffer is an error (`EAGAIN`), not a wait: the caller's
    /// event loop decides whether to retry.
    public func send(igmp payload: UnsafeRawBufferPointer, source: IPv4Address, destination: IPv4Address,
                     options: IPv4EncodeOptions = IPv4EncodeOptions()) throws(DatapathError) {
        let length: Int
        do {
            length = try IGMPEncoder.encodeIPv4(payload: payload, source: source, destination: destination,
                                                options: options, into: buffer)
        } catch {
            sendErrors &+= 1
            throw DatapathError(.invalidArgument, "cannot build the IPv4 packet for \(destination) on \(interface.name): \(error)")
        }
        try send(packet: UnsafeRawBufferPointer(rebasing: buffer[0..<length]), to: destination)
    }

    /// Sends an already-built IPv4 packet (header included) to `destination`.
    public func send(packet: UnsafeRawBufferPointer, to destination: IPv4Address) throws(DatapathError) {
        var to = sockaddr_in()
        to.sin_family = sa_family_t(AF_INET)
        to.sin_addr.s_addr = destination.rawValue.bigEndian
        let sent = withUnsafePointer(to: &to) { p in
            p.withMemoryRebound(to: sockaddr.self, capacity: 1) { sa in
                sendto(descriptor, packet.baseAddress, packet.count, Int32(MSG_DONTWAIT), sa,
                       socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard sent == packet.count else {
            sendErrors &+= 1
            throw sendError(sent < 0 ? errno : EMSGSIZE, destination: destination, length: packet.count)
        }
        packetsSent &+= 1
    }

    /// Sets `SO_MARK` to `EgressFilter.ownMark`; returns a warning when
    /// the kernel refuses (it needs CAP_NET_ADMIN), since sending still
    /// works: only an egress filter on the interface would then treat our
    /// reports like the kernel's own.
    private static func markOwn(_ fd: Int32, _ interface: NetworkInterface) -> [String] {
        var mark = EgressFilter.ownMark
        guard setsockopt(fd, SOL_SOCKET, SO_MARK, &mark, socklen_t(MemoryLayout<UInt32>.size)) != 0 else { return [] }
        let code = errno
        let why = code == EPERM ? "SO_MARK needs CAP_NET_ADMIN" : "SO_MARK failed"
        return ["cannot mark IGMP sent on \(interface.name) as xigmp's own (\(why): \(errnoName(code))): "
                + "an xigmp egress filter on \(interface.name) would drop its reports for groups the filter does not allow; "
                + "run with CAP_NET_ADMIN (or as root) when using one"]
    }

    /// One line per errno: what happened and what to do.
    private func sendError(_ code: Int32, destination: IPv4Address, length: Int) -> DatapathError {
        let what = "sending IGMP to \(destination) on \(interface.name)"
        switch code {
        case EPERM:
            // The socket is already open, so privilege is not the cause:
            // raw sends get EPERM when a netfilter OUTPUT rule rejects them.
            return DatapathError(
                .io(Errno(code)),
                "\(what): rejected by the firewall (EPERM from a netfilter OUTPUT rule): allow IP protocol 2 out of \(interface.name) (iptables/nft)",
                errno: code)
        case EACCES:
            return DatapathError.system(what, errno: code)
        case EAGAIN:
            return DatapathError(.busy, "\(what): the socket send buffer is full (EAGAIN): retry after the queue drains, or send less at once", errno: code)
        case ENOBUFS:
            return DatapathError(.busy, "\(what): the interface queue is full (ENOBUFS): retry later; check `ip -s link show \(interface.name)` for drops", errno: code)
        case EMSGSIZE:
            return DatapathError(.invalidArgument, "\(what): \(length) bytes exceed the MTU of \(interface.name) (EMSGSIZE): split the report into several", errno: code)
        case ENETUNREACH, ENETDOWN, ENXIO, ENODEV:
            // With the socket bound to the device, the kernel assumes any
            // destination is on-link; ENETUNREACH then means the device is down.
            return DatapathError(.io(Errno(code)), "\(what): \(interface.name) is down or has no IPv4 (\(errnoName(code))): bring it up with `ip link set \(interface.name) up`", errno: code)
        case EHOSTUNREACH:
            return DatapathError(.io(Errno(code)), "\(what): no route to host (EHOSTUNREACH): check `ip route get \(destination) oif \(interface.name)` and the neighbour with `ip neigh show dev \(interface.name)`", errno: code)
        case EINVAL:
            return DatapathError(.invalidArgument, "\(what): the kernel refused the packet (EINVAL): is \(destination) a valid destination for \(interface.name)?", errno: code)
        default:
            return DatapathError.system(what, errno: code)
        }
    }
}

/// setsockopt wrappers that turn failures into operator-facing errors.
enum SocketOption {
    /// setsockopt(fd, level, name, &value) with the option's name in the error.
    static func set<T: BitwiseCopyable>(_ fd: Int32, _ level: Int32, _ option: Int32, _ value: T, _ optionName: String,
                       _ owner: String) throws(DatapathError) {
        var v = value
        let rc = setsockopt(fd, level, option, &v, socklen_t(MemoryLayout<T>.size))
        guard rc == 0 else {
            throw DatapathError.system("setting \(optionName) on the \(owner)", errno: errno)
        }
    }

    /// SO_BINDTODEVICE to `interface` (needs CAP_NET_RAW).
    static func bindToDevice(_ fd: Int32, _ interface: NetworkInterface, _ owner: String) throws(DatapathError) {
        let name = Array(interface.name.utf8)
        let rc = name.withUnsafeBytes { raw in
            setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, raw.baseAddress, socklen_t(raw.count))
        }
        guard rc == 0 else {
            let code = errno
            if code == ENODEV {
                throw DatapathError(.noSuchInterface, "binding the \(owner) to \(interface.name): no such device (ENODEV): it vanished; check `ip link`", errno: code)
            }
            throw DatapathError.system("binding the \(owner) to \(interface.name) (SO_BINDTODEVICE)", errno: code)
        }
    }
}
