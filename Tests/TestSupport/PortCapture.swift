import CXigmp
import DatapathKernel
import DatapathPorts
import Foundation
import Glibc
import IGMPWire

/// A received packet, copied out of the port's buffer.
package struct Seen {
    package let ifindex: UInt32
    package let timestampNs: UInt64
    package let bytes: [UInt8]

    package var packet: DecodedIGMPPacket? { try? IGMPDecoder.decode(ipv4Packet: bytes) }

    package var records: [GroupRecord] {
        if case .v3Report(let records)? = packet?.message { return records }
        return []
    }

    /// True for a v1/v2 report, leave or v3 record about `group`.
    package func mentions(_ group: IPv4Address) -> Bool {
        guard let message = packet?.message else { return false }
        if case .query = message { return false }
        return message.group == group || records.contains { $0.group == group }
    }

    package static func sentinelGroup(_ n: UInt8) -> IPv4Address { IPv4Address(239, 255, 255, n) }
    package func isSentinel(_ n: UInt8) -> Bool { records.contains { $0.group == Self.sentinelGroup(n) } }

    package var summary: String {
        guard let p = packet else { return "undecodable \(bytes)" }
        return "\(p.ip?.source.description ?? "?")→\(p.ip?.destination.description ?? "?") if\(ifindex) \(p.message)"
    }
}

extension Array where Element == Seen {
    /// Whether sentinel `n` is among them.
    package func hasSentinel(_ n: UInt8) -> Bool { contains { $0.isSentinel(n) } }
    /// Those whose IP source is `source`.
    package func from(_ source: IPv4Address) -> [Seen] { filter { $0.packet?.ip?.source == source } }
}

extension KernelPort {
    /// Receives for up to `seconds`, until `stop` accepts a packet.
    package func collect(seconds: Double, until stop: (Seen) -> Bool = { _ in false }) throws -> [Seen] {
        var seen: [Seen] = []
        var done = false
        let deadline = realtimeNanoseconds() + UInt64(seconds * 1e9)
        while !done && realtimeNanoseconds() < deadline {
            _ = try receive(maxBatch: 64, timeoutMs: 20) { p in
                let s = Seen(ifindex: p.ifindex, timestampNs: p.timestampNs, bytes: Array(p.bytes))
                seen.append(s)
                if stop(s) { done = true }
            }
        }
        return seen
    }

    /// The first packet `match` accepts within `seconds`.
    package func first(seconds: Double, where match: (Seen) -> Bool) throws -> Seen? {
        try collect(seconds: seconds, until: match).first(where: match)
    }

    /// Receives until `count` packets came or 5 s passed, touching no heap.
    package func drain(expecting count: Int) throws -> Int {
        var got = 0
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        let deadline = ts.tv_sec + 5
        while got < count {
            clock_gettime(CLOCK_MONOTONIC, &ts)
            if ts.tv_sec > deadline { break }
            got += try receive(maxBatch: 64, timeoutMs: 50) { _ in }
        }
        return got
    }
}

/// A plain raw IGMP socket (no device binding, no filter): a bystander or
/// a listener in a peer namespace. Opened in the calling thread's namespace.
package final class RawIGMPSocket {
    package let fd: Int32

    package init(joining groups: [IPv4Address] = [], ifindex: UInt32 = 0) throws {
        fd = socket(AF_INET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue), Int32(IPPROTO_IGMP))
        guard fd >= 0 else { throw FixtureError("raw IGMP socket: \(String(cString: strerror(errno)))") }
        for group in groups {
            var m = ip_mreqn()
            m.imr_multiaddr.s_addr = group.rawValue.bigEndian
            m.imr_ifindex = Int32(ifindex)
            guard setsockopt(fd, Int32(IPPROTO_IP), IP_ADD_MEMBERSHIP, &m, socklen_t(MemoryLayout<ip_mreqn>.size)) == 0 else {
                throw FixtureError("joining \(group): \(String(cString: strerror(errno)))")
            }
        }
    }

    deinit { close(fd) }

    package func collect(seconds: Double, until stop: ([Seen]) -> Bool = { _ in false }) throws -> [Seen] {
        var seen: [Seen] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let deadline = realtimeNanoseconds() + UInt64(seconds * 1e9)
        while realtimeNanoseconds() < deadline && !stop(seen) {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 20) > 0 else { continue }
            let n = recv(fd, &buffer, buffer.count, 0)
            if n > 0 { seen.append(Seen(ifindex: 0, timestampNs: realtimeNanoseconds(), bytes: Array(buffer[0..<n]))) }
        }
        return seen
    }

    package func first(seconds: Double, where match: (Seen) -> Bool) throws -> Seen? {
        try collect(seconds: seconds) { $0.contains(where: match) }.first(where: match)
    }
}
