import CXigmp
import DatapathBPF
import DatapathKernel
import DatapathPrograms
import Glibc

/// What `recvmmsg(2)` fills: one buffer, iovec, control area and header per
/// message, allocated once so receiving allocates nothing. Used by the
/// kernel-path port and by the benchmark's receiver.
public final class ReceiveBatch {
    /// Messages per call.
    public let capacity: Int
    /// Bytes per message buffer; longer messages come back truncated.
    public let bufferSize: Int
    private let controlSpace: Int
    private let packets: UnsafeMutableRawPointer
    private let controls: UnsafeMutableRawPointer
    private let iovecs: UnsafeMutablePointer<iovec>
    private let headers: UnsafeMutablePointer<cxigmp_mmsghdr>

    /// Buffers for `capacity` messages of up to `bufferSize` bytes, with
    /// control space for IP_PKTINFO and a timestamp.
    public init(capacity: Int, bufferSize: Int) {
        precondition(capacity > 0 && bufferSize > 0, "a receive batch needs room")
        self.capacity = capacity
        self.bufferSize = bufferSize
        controlSpace = (cxigmp_rx_control_space() + 7) & ~7
        packets = .allocate(byteCount: capacity * bufferSize, alignment: 64)
        controls = .allocate(byteCount: capacity * controlSpace, alignment: 8)
        controls.initializeMemory(as: UInt8.self, repeating: 0, count: capacity * controlSpace)
        iovecs = .allocate(capacity: capacity)
        headers = .allocate(capacity: capacity)
        var i = 0
        while i < capacity {
            iovecs[i] = iovec(iov_base: packets + i * bufferSize, iov_len: bufferSize)
            var h = cxigmp_mmsghdr()
            h.msg_hdr.msg_iov = iovecs + i
            h.msg_hdr.msg_iovlen = 1
            h.msg_hdr.msg_control = controls + i * controlSpace
            h.msg_hdr.msg_controllen = controlSpace
            headers[i] = h
            i += 1
        }
    }

    deinit {
        packets.deallocate()
        controls.deallocate()
        iovecs.deallocate()
        headers.deallocate()
    }

    /// Non-blocking `recvmmsg` of up to `count` messages (at most
    /// `capacity`): the number received, or -1 with errno set.
    @inline(__always)
    public func receive(from fd: Int32, count: Int) -> Int {
        Int(cxigmp_recvmmsg(fd, headers, UInt32(min(count, capacity)), Int32(MSG_DONTWAIT)))
    }

    /// Message `i`'s header, for its flags and control messages.
    @inline(__always)
    public func header(_ i: Int) -> UnsafeMutablePointer<msghdr> {
        UnsafeMutableRawPointer(headers + i).assumingMemoryBound(to: msghdr.self)
    }

    /// Message `i`'s length as received.
    @inline(__always)
    public func length(_ i: Int) -> Int { Int(headers[i].msg_len) }

    /// Message `i`'s bytes (its received length).
    @inline(__always)
    public func bytes(_ i: Int) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(start: packets + i * bufferSize, count: min(length(i), bufferSize))
    }

    /// Readies message `i` for the next call: recvmmsg wrote back the
    /// control length used and the flags.
    @inline(__always)
    public func reset(_ i: Int) {
        let h = header(i)
        h.pointee.msg_controllen = controlSpace
        h.pointee.msg_flags = 0
    }
}
