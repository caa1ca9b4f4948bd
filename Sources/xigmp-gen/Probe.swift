import Glibc
import XigmpTools
import IGMPWire

/// The benchmark's message: a valid IGMPv3 Membership Report with one group
/// record (MODE_IS_EXCLUDE, no sources: a join) whose auxiliary data
/// (RFC 3376 §4.2.6, 4 words) carries what the receiver needs:
///
/// ```
/// IGMP  0: 0x22 | 0 | checksum        | 0 0 | records = 1
///       8: type 2 | aux 4 | sources 0 | group
///      16: 'X' 'G' | run id (u16)     | sequence (u32)
///      24: send time, CLOCK_REALTIME ns (u64, big endian)
/// ```
///
/// Forwarders pass the IGMP bytes on unchanged (xigmp re-sends the inbound
/// message), so the probe survives the hop and its checksum stays valid.
enum Probe {
    /// IGMP bytes of one probe.
    static let igmpLength = 32
    /// IPv4 header with Router Alert.
    static let ipLength = 24
    static let ethernetLength = 14
    static let packetLength = ipLength + igmpLength
    static let frameLength = ethernetLength + packetLength
    static let magic: (UInt8, UInt8) = (0x58, 0x47)  // "XG"

    /// Writes the IPv4 header (TTL 1, TOS 0xc0, Router Alert, checksum) and the
    /// constant part of the IGMP message at `p`.
    static func writeTemplate(_ p: UnsafeMutableRawPointer, source: IPv4Address, destination: IPv4Address,
                              runID: UInt16, recordType: UInt8) {
        let b = p.assumingMemoryBound(to: UInt8.self)
        for i in 0..<packetLength { b[i] = 0 }
        b[0] = 0x46; b[1] = 0xC0
        put16(b + 2, UInt16(packetLength))
        b[8] = 1; b[9] = 2
        put32(b + 12, source.rawValue); put32(b + 16, destination.rawValue)
        b[20] = 0x94; b[21] = 0x04
        put16(b + 10, checksum(UnsafeRawPointer(b), ipLength))
        let g = b + ipLength
        g[0] = 0x22; g[7] = 1
        g[8] = recordType; g[9] = 4
        g[16] = magic.0; g[17] = magic.1
        put16(g + 18, runID)
    }

    /// Fills the per-message fields of the IGMP message at `igmp` and its checksum.
    @inline(__always)
    static func stamp(_ igmp: UnsafeMutablePointer<UInt8>, group: UInt32, sequence: UInt32, timeNs: UInt64) {
        put32(igmp + 12, group)
        put32(igmp + 20, sequence)
        put32(igmp + 24, UInt32(truncatingIfNeeded: timeNs >> 32))
        put32(igmp + 28, UInt32(truncatingIfNeeded: timeNs))
        igmp[2] = 0; igmp[3] = 0
        put16(igmp + 2, checksum(UnsafeRawPointer(igmp), igmpLength))
    }

    /// What a received IGMP message says, when it is one of ours.
    struct Parsed {
        var runID: UInt16
        var sequence: UInt32
        var timeNs: UInt64
        var group: UInt32
    }

    /// Parses the IGMP message at `igmp` (`length` bytes available).
    @inline(__always)
    static func parse(_ igmp: UnsafePointer<UInt8>, length: Int) -> Parsed? {
        guard length >= igmpLength, igmp[0] == 0x22, igmp[9] == 4, igmp[16] == magic.0, igmp[17] == magic.1 else {
            return nil
        }
        let t = UInt64(get32(igmp + 24)) << 32 | UInt64(get32(igmp + 28))
        return Parsed(runID: UInt16(igmp[18]) << 8 | UInt16(igmp[19]), sequence: get32(igmp + 20), timeNs: t,
                      group: get32(igmp + 12))
    }

    @inline(__always)
    static func put16(_ p: UnsafeMutablePointer<UInt8>, _ v: UInt16) {
        p[0] = UInt8(truncatingIfNeeded: v >> 8); p[1] = UInt8(truncatingIfNeeded: v)
    }

    @inline(__always)
    static func put32(_ p: UnsafeMutablePointer<UInt8>, _ v: UInt32) {
        p[0] = UInt8(truncatingIfNeeded: v >> 24); p[1] = UInt8(truncatingIfNeeded: v >> 16)
        p[2] = UInt8(truncatingIfNeeded: v >> 8); p[3] = UInt8(truncatingIfNeeded: v)
    }

    @inline(__always)
    static func get32(_ p: UnsafePointer<UInt8>) -> UInt32 {
        UInt32(p[0]) << 24 | UInt32(p[1]) << 16 | UInt32(p[2]) << 8 | UInt32(p[3])
    }

    /// RFC 1071 over `count` (even) bytes.
    @inline(__always)
    static func checksum(_ p: UnsafeRawPointer, _ count: Int) -> UInt16 {
        let b = p.assumingMemoryBound(to: UInt8.self)
        var sum: UInt32 = 0
        var i = 0
        while i < count {
            sum &+= UInt32(b[i]) << 8 | UInt32(b[i + 1])
            i += 2
        }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) &+ (sum >> 16) }
        return ~UInt16(truncatingIfNeeded: sum)
    }
}

/// CLOCK_REALTIME ns: the clock SO_TIMESTAMPNS uses, shared by every
/// namespace of the machine.
@inline(__always)
func realtimeNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

@inline(__always)
func monotonicNs() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Sleeps until CLOCK_MONOTONIC reaches `ns`.
func sleepUntil(monotonic ns: UInt64) {
    var ts = timespec(tv_sec: Int(ns / 1_000_000_000), tv_nsec: Int(ns % 1_000_000_000))
    while clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, nil) == EINTR {}
}

/// Writes one JSON object line to stdout (doubles to 3 decimals).
func printJSON(_ fields: [(String, JSON)]) {
    writeAll(1, JSON.object(fields).rendered + "\n")
}


/// Prints to stderr.
func note(_ s: String) {
    writeAll(2, "xigmp-gen: \(s)\n")
}

/// write(2) of a whole string (stdio's streams are shared mutable state to Swift 6).
func writeAll(_ fd: Int32, _ s: String) {
    var bytes = Array(s.utf8)
    var off = 0
    while off < bytes.count {
        let n = bytes.withUnsafeMutableBytes { write(fd, $0.baseAddress! + off, $0.count - off) }
        if n <= 0 { return }
        off += n
    }
}
