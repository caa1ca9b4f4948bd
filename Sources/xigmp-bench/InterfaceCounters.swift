import DatapathKernel
import Glibc

/// An interface's kernel packet counters, read from the /proc/net/dev of
/// the namespace it lives in.
///
/// The file is opened once from a thread inside that namespace: a
/// /proc/net file stays bound to the namespace it was opened in, so later
/// reads from any thread see that namespace's devices (sysfs would show
/// the machine's own).
final class InterfaceCounters {
    /// One reading.
    struct Reading {
        var rxPackets: UInt64
        var rxDropped: UInt64
        var txPackets: UInt64
        var txDropped: UInt64
        var time: UInt64
    }

    let ifname: String
    private let file: KernelFD
    private var fd: Int32 { file.raw }
    private var buffer = [UInt8](repeating: 0, count: 16_384)

    init(namespace ns: String, ifname: String) throws {
        self.ifname = ifname
        file = try BenchNetwork.inNamespace(ns) { () throws -> KernelFD in
            guard let f = KernelFD.open("/proc/thread-self/net/dev", O_RDONLY) else {
                throw BenchError("opening /proc/thread-self/net/dev in \(ns): \(String(cString: strerror(errno)))")
            }
            return f
        }
        _ = try read()
    }


    /// Reads the counters now.
    func read() throws -> Reading {
        let n = buffer.withUnsafeMutableBytes { b in pread(fd, b.baseAddress, b.count, 0) }
        let time = monotonicNanoseconds()
        guard n > 0 else { throw BenchError("reading /proc/net/dev: \(String(cString: strerror(errno)))") }
        let text = String(decoding: buffer[0..<n], as: UTF8.self)
        // "  xbr0: rx_bytes rx_packets errs drop fifo frame compressed multicast tx_bytes tx_packets errs drop ..."
        for line in text.split(separator: "\n") {
            guard let colon = line.firstIndex(of: ":"),
                  line[..<colon].trimmingCharacters(in: " ") == ifname else { continue }
            let fields = line[line.index(after: colon)...].split(separator: " ").compactMap { UInt64($0) }
            guard fields.count >= 12 else { break }
            return Reading(rxPackets: fields[1], rxDropped: fields[3], txPackets: fields[9],
                           txDropped: fields[11], time: time)
        }
        throw BenchError("\(ifname) is not in /proc/net/dev of its namespace")
    }
}

extension Substring {
    func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}
