import CXigmp
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import Glibc
import IGMPWire

/// Where the generator's messages go and how they are addressed.
struct Addressing {
    var interface: NetworkInterface
    var source: IPv4Address
    var destination: IPv4Address
    var groupBase: UInt32
    var groups: UInt32
    var runID: UInt16
    var recordType: UInt8

    @inline(__always)
    func group(for sequence: UInt32) -> UInt32 { groupBase &+ sequence % groups }
}

/// A way of putting probes on the wire, in batches.
protocol Transmitter: AnyObject {
    /// Sends up to `count` probes numbered from `sequence`; returns how many
    /// were handed to the kernel (fewer when its queues are full).
    func send(count: Int, sequence: UInt32) -> Int
    /// Waits for whatever is still queued (the end of a run).
    func drain()
    /// Times the transmitter found the kernel's queue full.
    var backpressure: UInt64 { get }
    var errors: UInt64 { get }
    var method: String { get }
}

/// AF_XDP TX on the generator's interface (copy mode on veth): whole
/// Ethernet frames prebuilt in UMEM with the next hop's MAC, so only the
/// sequence, time, group and checksum change per message and one `sendto`
/// kick moves a batch.
final class XDPTransmitter: Transmitter {
    let method = "xdp"
    private(set) var backpressure: UInt64 = 0
    private(set) var errors: UInt64 = 0
    private let addressing: Addressing
    private let frameSize = 2048
    private let frames: Int
    private let area: UnsafeMutableRawPointer
    private let fill = UnsafeMutablePointer<xsk_ring_prod>.allocate(capacity: 1)
    private let comp = UnsafeMutablePointer<xsk_ring_cons>.allocate(capacity: 1)
    private let tx = UnsafeMutablePointer<xsk_ring_prod>.allocate(capacity: 1)
    private var umem: OpaquePointer?
    private var xsk: OpaquePointer?
    private let fd: Int32
    private var free: [UInt64]
    private var outstanding = 0

    init(addressing: Addressing, destinationMAC: MACAddress, ringSize: Int = 2048) throws {
        self.addressing = addressing
        frames = ringSize * 2
        let info = try InterfaceInfo(addressing.interface)
        guard let mac = info.mac else { throw GenError("\(addressing.interface.name) has no Ethernet address") }
        let size = frames * frameSize
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), p != MAP_FAILED else {
            throw GenError("mmap of \(size) bytes of UMEM failed: errno \(errno)")
        }
        area = p
        fill.initialize(to: xsk_ring_prod())
        comp.initialize(to: xsk_ring_cons())
        tx.initialize(to: xsk_ring_prod())
        var ucfg = xsk_umem_config(fill_size: UInt32(ringSize), comp_size: UInt32(ringSize),
                                   frame_size: UInt32(frameSize), frame_headroom: 0, flags: 0)
        var u: OpaquePointer?
        var rc = xsk_umem__create(&u, area, UInt64(size), fill, comp, &ucfg)
        guard rc == 0 else { throw GenError("xsk_umem__create: errno \(-rc) (ulimit -l?)") }
        umem = u
        var cfg = xsk_socket_config()
        cfg.rx_size = UInt32(ringSize)
        cfg.tx_size = UInt32(ringSize)
        cfg.libxdp_flags = UInt32(XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD)
        cfg.bind_flags = UInt16(XDP_USE_NEED_WAKEUP)
        var s: OpaquePointer?
        rc = xsk_socket__create(&s, addressing.interface.name, 0, umem, nil, tx, &cfg)
        var tries = 0
        while rc == -EBUSY && tries < 20 {
            usleep(50_000); tries += 1
            rc = xsk_socket__create(&s, addressing.interface.name, 0, umem, nil, tx, &cfg)
        }
        guard rc == 0, let s else { throw GenError("AF_XDP TX socket on \(addressing.interface.name): errno \(-rc)") }
        xsk = s
        fd = xsk_socket__fd(s)
        free = []
        free.reserveCapacity(frames)
        // Every frame gets the constant headers once.
        for i in 0..<frames {
            let addr = UInt64(i * frameSize)
            let f = (area + Int(addr)).assumingMemoryBound(to: UInt8.self)
            for (j, byte) in [destinationMAC, mac].flatMap(Self.bytes).enumerated() { f[j] = byte }
            f[12] = 0x08; f[13] = 0x00
            Probe.writeTemplate(UnsafeMutableRawPointer(f + Probe.ethernetLength), source: addressing.source,
                                destination: addressing.destination, runID: addressing.runID,
                                recordType: addressing.recordType)
            free.append(addr)
        }
    }

    static func bytes(_ m: MACAddress) -> [UInt8] { (0..<6).map { m.octet($0) } }

    deinit {
        if let xsk { xsk_socket__delete(xsk) }
        if let umem { xsk_umem__delete(umem) }
        munmap(area, frames * frameSize)
    }

    private func reclaim() {
        var idx: UInt32 = 0
        let n = xsk_ring_cons__peek(comp, UInt32(frames), &idx)
        guard n > 0 else { return }
        var i: UInt32 = 0
        while i < n {
            free.append(xsk_ring_cons__comp_addr(comp, idx &+ i)!.pointee)
            i &+= 1
        }
        xsk_ring_cons__release(comp, n)
        outstanding -= Int(n)
    }

    /// Copy mode transmits at most 32 frames per kick: kick until the ring
    /// is empty or the kernel pushes back.
    private func kick() {
        var rounds = 0
        while rounds < 64 {
            rounds += 1
            if sendto(fd, nil, 0, Int32(MSG_DONTWAIT), nil, 0) >= 0 { reclaim(); if outstanding == 0 { return }; continue }
            let e = errno
            if e == EAGAIN || e == EBUSY || e == ENOBUFS {
                reclaim()
                if outstanding == 0 { return }
                if e != EAGAIN { backpressure &+= 1; return }
                continue
            }
            errors &+= 1
            return
        }
    }

    func send(count: Int, sequence: UInt32) -> Int {
        reclaim()
        if free.isEmpty {
            kick()
            if free.isEmpty { backpressure &+= 1; return 0 }
        }
        let n = min(count, free.count)
        var idx: UInt32 = 0
        let got = Int(xsk_ring_prod__reserve(tx, UInt32(n), &idx))
        if got == 0 { backpressure &+= 1; kick(); return 0 }
        var i = 0
        while i < got {
            let addr = free.removeLast()
            let igmp = (area + Int(addr) + Probe.ethernetLength + Probe.ipLength).assumingMemoryBound(to: UInt8.self)
            let seq = sequence &+ UInt32(i)
            Probe.stamp(igmp, group: addressing.group(for: seq), sequence: seq, timeNs: realtimeNs())
            let d = xsk_ring_prod__tx_desc(tx, idx &+ UInt32(i))!
            d.pointee.addr = addr
            d.pointee.len = UInt32(Probe.frameLength)
            d.pointee.options = 0
            i += 1
        }
        xsk_ring_prod__submit(tx, UInt32(got))
        outstanding += got
        kick()
        return got
    }

    func drain() {
        let deadline = monotonicNs() + 1_000_000_000
        while outstanding > 0 && monotonicNs() < deadline {
            kick()
            if outstanding > 0 { usleep(100) }
        }
    }
}

/// A raw IPv4 socket (IPPROTO_RAW: the header is ours) bound to the
/// interface; batches go out with one `sendmmsg`. The kernel routes and
/// resolves the neighbour, as any host's stack would.
final class RawTransmitter: Transmitter {
    let method: String
    private(set) var backpressure: UInt64 = 0
    private(set) var errors: UInt64 = 0
    private let addressing: Addressing
    private let socket: KernelFD
    private var fd: Int32 { socket.raw }
    private let batch: Int
    private let buffers: UnsafeMutableRawPointer
    private let iovecs: UnsafeMutablePointer<iovec>
    private let headers: UnsafeMutablePointer<cxigmp_mmsghdr>
    private let address: UnsafeMutablePointer<sockaddr_in>
    private let sendmmsgFn: SendMMsg?

    typealias SendMMsg = @convention(c) (Int32, UnsafeMutableRawPointer?, UInt32, Int32) -> Int32

    init(addressing: Addressing, batch: Int, useSendmmsg: Bool) throws {
        self.addressing = addressing
        self.batch = batch
        guard let socket = KernelFD.socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_RAW)) else {
            throw GenError("raw socket: errno \(errno)")
        }
        self.socket = socket
        let fd = socket.raw
        let name = Array(addressing.interface.name.utf8)
        _ = name.withUnsafeBytes { setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, $0.baseAddress, socklen_t($0.count)) }
        var big: Int32 = 8 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &big, 4)
        if useSendmmsg, let sym = dlsym(nil, "sendmmsg") {
            sendmmsgFn = unsafeBitCast(sym, to: SendMMsg.self)
            method = "raw-sendmmsg"
        } else {
            sendmmsgFn = nil
            method = "raw-sendto"
        }
        buffers = .allocate(byteCount: batch * 64, alignment: 64)
        iovecs = .allocate(capacity: batch)
        headers = .allocate(capacity: batch)
        address = .allocate(capacity: 1)
        address.initialize(to: sockaddr_in())
        address.pointee.sin_family = sa_family_t(AF_INET)
        address.pointee.sin_addr.s_addr = addressing.destination.rawValue.bigEndian
        for i in 0..<batch {
            let b = buffers + i * 64
            Probe.writeTemplate(b, source: addressing.source, destination: addressing.destination,
                                runID: addressing.runID, recordType: addressing.recordType)
            iovecs[i] = iovec(iov_base: b, iov_len: Probe.packetLength)
            var h = cxigmp_mmsghdr()
            h.msg_hdr.msg_name = UnsafeMutableRawPointer(address)
            h.msg_hdr.msg_namelen = socklen_t(MemoryLayout<sockaddr_in>.size)
            h.msg_hdr.msg_iov = iovecs + i
            h.msg_hdr.msg_iovlen = 1
            headers[i] = h
        }
    }


    func send(count: Int, sequence: UInt32) -> Int {
        let n = min(count, batch)
        var i = 0
        while i < n {
            let igmp = (buffers + i * 64 + Probe.ipLength).assumingMemoryBound(to: UInt8.self)
            let seq = sequence &+ UInt32(i)
            Probe.stamp(igmp, group: addressing.group(for: seq), sequence: seq, timeNs: realtimeNs())
            i += 1
        }
        if let sendmmsgFn {
            let rc = sendmmsgFn(fd, UnsafeMutableRawPointer(headers), UInt32(n), 0)
            if rc < 0 {
                if errno == ENOBUFS || errno == EAGAIN { backpressure &+= 1 } else { errors &+= 1 }
                return 0
            }
            return Int(rc)
        }
        var sent = 0
        while sent < n {
            let rc = sendto(fd, buffers + sent * 64, Probe.packetLength, 0,
                            UnsafeRawPointer(address).assumingMemoryBound(to: sockaddr.self),
                            socklen_t(MemoryLayout<sockaddr_in>.size))
            if rc < 0 {
                if errno == ENOBUFS || errno == EAGAIN { backpressure &+= 1 } else { errors &+= 1 }
                break
            }
            sent += 1
        }
        return sent
    }

    func drain() {}
}

struct GenError: Error, CustomStringConvertible {
    let description: String
    init(_ s: String) { description = s }
}
