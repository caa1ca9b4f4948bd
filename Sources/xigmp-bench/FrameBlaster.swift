import DatapathKernel
import CXigmp
import Foundation
import Glibc
import Synchronization

/// The traffic generator: one thread sending one frame as fast as it can
/// through an AF_PACKET socket with sendmmsg(2) batches and
/// PACKET_QDISC_BYPASS (straight to the driver, as AF_XDP TX in copy mode
/// would), from inside the sending namespace.
///
/// On veth the receiving side's work (the peer's XDP program and the stack)
/// runs in the sender's softirq context, so this thread's rate is the
/// pipeline's: a cheaper receive path shows up directly as more frames.
final class FrameBlaster: Sendable {
    private let stopFlag = Atomic<Bool>(false)
    private let finished = Atomic<Bool>(false)
    private let sentCount = Atomic<Int>(0)
    private let cpuTime = Atomic<UInt64>(0)
    private let failedCount = Atomic<Int>(0)
    private let startError = Mutex<String?>(nil)
    private let ready = Atomic<Bool>(false)

    /// Frames handed to the kernel so far.
    var sent: Int { sentCount.load(ordering: .relaxed) }
    /// CPU time the sending thread has used (ns), as of its last batch. On
    /// veth this includes the receive softirq work done in its context.
    var cpuNanoseconds: UInt64 { cpuTime.load(ordering: .relaxed) }
    /// sendmmsg calls that failed (ENOBUFS and the like).
    var failed: Int { failedCount.load(ordering: .relaxed) }

    /// Starts sending `frame` out of `ifname` in namespace `ns`, batches of
    /// `batch`; returns once the socket is open (or throws why it is not).
    init(namespace ns: String, ifname: String, frame: [UInt8], batch: Int = 64) throws {
        let thread = Thread { [self] in
            do {
                try BenchNetwork.inNamespace(ns) {
                    try self.loop(ifname: ifname, frame: frame, batch: batch)
                }
            } catch {
                startError.withLock { $0 = "\(error)" }
            }
            finished.store(true, ordering: .releasing)
        }
        thread.name = "xigmp-bench-tx"
        thread.start()
        while !ready.load(ordering: .acquiring) && !finished.load(ordering: .acquiring) { usleep(1000) }
        if let message = startError.withLock({ $0 }) { throw BenchError("traffic generator: \(message)") }
    }

    /// Stops the thread and waits for it.
    func stop() {
        stopFlag.store(true, ordering: .relaxed)
        while !finished.load(ordering: .acquiring) { usleep(1000) }
    }

    private typealias SendMMsg = @convention(c) (Int32, UnsafeMutableRawPointer?, UInt32, Int32) -> Int32

    private func loop(ifname: String, frame: [UInt8], batch: Int) throws {
        // sendmmsg is hidden from Swift without _GNU_SOURCE; the symbol is
        // there all the same, and it is not variadic, so call it directly.
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "sendmmsg") else {
            throw BenchError("libc has no sendmmsg")
        }
        let sendmmsg = unsafeBitCast(symbol, to: SendMMsg.self)
        let ifindex = if_nametoindex(ifname)
        guard ifindex != 0 else { throw BenchError("no interface \(ifname) in the sending namespace") }
        // Protocol 0: the socket receives nothing, so it adds no work to the
        // namespace's receive path.
        guard let socket = KernelFD.socket(AF_PACKET, Int32(SOCK_RAW.rawValue)) else {
            throw BenchError("AF_PACKET socket: \(String(cString: strerror(errno)))")
        }
        let fd = socket.raw
        var one: Int32 = 1
        // PACKET_QDISC_BYPASS (20): skip the qdisc layer; pure sender cost.
        if setsockopt(fd, SOL_PACKET, 20, &one, socklen_t(MemoryLayout<Int32>.size)) != 0 {
            progress("PACKET_QDISC_BYPASS refused (\(String(cString: strerror(errno)))); sending through the qdisc")
        }

        let address = PacketAddress(family: UInt16(AF_PACKET), protocolBE: UInt16(0x0800).bigEndian,
                                    ifindex: Int32(ifindex))

        let bytes = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.count, alignment: 64)
        defer { bytes.deallocate() }
        bytes.copyBytes(from: frame)
        let iov = UnsafeMutablePointer<iovec>.allocate(capacity: 1)
        defer { iov.deallocate() }
        iov.initialize(to: iovec(iov_base: bytes.baseAddress, iov_len: frame.count))
        precondition(MemoryLayout<PacketAddress>.size == 20, "PacketAddress must match struct sockaddr_ll")
        let addr = UnsafeMutablePointer<PacketAddress>.allocate(capacity: 1)
        defer { addr.deallocate() }
        addr.initialize(to: address)
        let vec = UnsafeMutablePointer<cxigmp_mmsghdr>.allocate(capacity: batch)
        defer { vec.deallocate() }
        var i = 0
        while i < batch {
            var h = msghdr()
            h.msg_name = UnsafeMutableRawPointer(addr)
            h.msg_namelen = socklen_t(MemoryLayout<PacketAddress>.size)
            h.msg_iov = iov
            h.msg_iovlen = 1
            (vec + i).initialize(to: cxigmp_mmsghdr(msg_hdr: h, msg_len: 0))
            i += 1
        }
        // One frame first: a wrong address fails here, not silently later.
        guard sendmmsg(fd, vec, 1, 0) == 1 else {
            throw BenchError("sendmmsg on \(ifname): \(String(cString: strerror(errno)))")
        }
        ready.store(true, ordering: .releasing)

        // The hot loop: no allocation, counters published per batch.
        while !stopFlag.load(ordering: .relaxed) {
            let n = sendmmsg(fd, vec, UInt32(batch), 0)
            cpuTime.store(threadCPUNanoseconds(), ordering: .relaxed)
            if n > 0 {
                sentCount.add(Int(n), ordering: .relaxed)
            } else {
                failedCount.add(1, ordering: .relaxed)
                sched_yield()
            }
        }
    }
}

/// `struct sockaddr_ll` (linux/if_packet.h, which Glibc does not import),
/// field for field; 20 bytes, checked where it is used.
struct PacketAddress {
    var family: UInt16
    var protocolBE: UInt16
    var ifindex: Int32
    var hatype: UInt16 = 0
    var pkttype: UInt8 = 0
    var halen: UInt8 = 6
    var addr: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
}
