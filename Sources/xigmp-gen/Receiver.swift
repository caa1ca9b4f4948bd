import CXigmp
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import Glibc

/// Set by SIGINT/SIGTERM: the receiver finishes and reports.
nonisolated(unsafe) var stopRequested: sig_atomic_t = 0

/// An AF_PACKET (SOCK_DGRAM: data starts at the IP header) socket on one interface (kernel receive timestamps,
/// SO_TIMESTAMPNS, CLOCK_REALTIME), read with recvmmsg in batches, that
/// counts the probes of one run and keeps their one-way latencies.
final class ProbeReceiver {
    struct Result {
        var received = 0
        var unique = 0
        var duplicates = 0
        var foreign = 0
        var firstNs: UInt64 = 0
        var lastNs: UInt64 = 0
        var maxSequence: UInt32 = 0
        var latencies: [Int64] = []
        var socketDrops: UInt64 = 0
    }

    private let socket: KernelFD
    private var fd: Int32 { socket.raw }
    private let runID: UInt16?
    private let batch = ReceiveBatch(capacity: 64, bufferSize: 2048)
    private var seen: [UInt64] = []
    var result = Result()

    init(interface: NetworkInterface, runID: UInt16?, expected: Int) throws {
        self.runID = runID
        let proto = UInt16(0x0800).bigEndian  // ETH_P_IP
        guard let socket = KernelFD.socket(AF_PACKET, Int32(SOCK_DGRAM.rawValue), Int32(proto)) else {
            throw GenError("AF_PACKET socket: errno \(errno)")
        }
        self.socket = socket
        let fd = socket.raw
        var one: Int32 = 1
        _ = setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, 4)
        _ = setsockopt(fd, SOL_PACKET, 23 /* PACKET_IGNORE_OUTGOING */, &one, 4)
        var big: Int32 = 64 << 20
        _ = setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &big, 4)
        // struct sockaddr_ll (linux/if_packet.h): family, protocol, ifindex, then
        // hatype/pkttype/halen/addr, zero for bind. 20 bytes.
        var ll = [UInt8](repeating: 0, count: 20)
        ll.withUnsafeMutableBytes { b in
            b.storeBytes(of: UInt16(AF_PACKET), toByteOffset: 0, as: UInt16.self)
            b.storeBytes(of: proto, toByteOffset: 2, as: UInt16.self)
            b.storeBytes(of: Int32(bitPattern: interface.index), toByteOffset: 4, as: Int32.self)
        }
        let rc = ll.withUnsafeBytes {
            bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t(20))
        }
        guard rc == 0 else { throw GenError("binding AF_PACKET to \(interface.name): errno \(errno)") }
        // Drop whatever queued before the bind took effect, and reset the stats.
        while recv(fd, nil, 0, Int32(MSG_DONTWAIT | MSG_TRUNC)) >= 0 {}
        _ = Self.readDrops(fd)
        result.latencies.reserveCapacity(max(expected, 1 << 16))
        seen = [UInt64](repeating: 0, count: max(expected, 1 << 16) / 64 + 1)
    }


    /// Sequence numbers below `limit` that never arrived: how many, in how
    /// many gaps, and the first few.
    func missing(below limit: Int) -> (count: Int, gaps: Int, first: [Int]) {
        var count = 0, gaps = 0
        var first: [Int] = []
        var inGap = false
        for seq in 0..<limit {
            let word = seq >> 6
            let present = word < seen.count && seen[word] & (UInt64(1) << UInt64(seq & 63)) != 0
            if present { inGap = false; continue }
            count += 1
            if !inGap { gaps += 1; inGap = true }
            if first.count < 16 { first.append(seq) }
        }
        return (count, gaps, first)
    }

    /// PACKET_STATISTICS: drops since the last read (reading resets them).
    static func readDrops(_ fd: Int32) -> UInt64 {
        var stats = (UInt32(0), UInt32(0))
        var len = socklen_t(8)
        guard getsockopt(fd, SOL_PACKET, 6 /* PACKET_STATISTICS */, &stats, &len) == 0 else { return 0 }
        return UInt64(stats.1)
    }

    /// Receives until `stop` says so (checked at least every 20 ms).
    func run(stop: (Result, UInt64) -> Bool) {
        var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        while stopRequested == 0 {
            let n = batch.receive(from: fd, count: batch.capacity)
            if n > 0 {
                for i in 0..<n { take(i) }
                if n == batch.capacity { continue }
            }
            if stop(result, monotonicNs()) { break }
            _ = poll(&pfd, 1, 20)
        }
        result.socketDrops &+= Self.readDrops(fd)
    }

    @inline(__always)
    private func take(_ i: Int) {
        let header = batch.header(i)
        defer { batch.reset(i) }
        let length = batch.length(i)
        let b = batch.bytes(i).baseAddress!.assumingMemoryBound(to: UInt8.self)
        guard length >= 20 + Probe.igmpLength, b[0] >> 4 == 4, b[9] == 2 else { return }
        let ihl = Int(b[0] & 0x0F) * 4
        guard let probe = Probe.parse(b + ihl, length: length - ihl) else { return }
        guard runID == nil || probe.runID == runID! else { result.foreign += 1; return }
        var meta = cxigmp_rx_meta()
        cxigmp_rx_meta(header, &meta)
        let now = meta.timestamp_ns != 0 ? meta.timestamp_ns : realtimeNs()
        result.received += 1
        let word = Int(probe.sequence >> 6)
        if word >= seen.count { seen += [UInt64](repeating: 0, count: word - seen.count + 1 + seen.count) }
        let bit = UInt64(1) << UInt64(probe.sequence & 63)
        if seen[word] & bit != 0 { result.duplicates += 1; return }
        seen[word] |= bit
        result.unique += 1
        if result.firstNs == 0 { result.firstNs = now }
        result.lastNs = now
        if probe.sequence > result.maxSequence { result.maxSequence = probe.sequence }
        result.latencies.append(Int64(bitPattern: now &- probe.timeNs))
    }
}

/// Percentile (nearest rank) of sorted values.
func percentile(_ sorted: [Int64], _ p: Double) -> Int64? {
    guard !sorted.isEmpty else { return nil }
    let rank = Int((p / 100 * Double(sorted.count)).rounded(.up))
    return sorted[min(max(rank, 1), sorted.count) - 1]
}
