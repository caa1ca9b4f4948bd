import DatapathKernel
import Glibc
import IGMPWire

/// A pcap file written as packets arrive (header first, then one record per
/// packet), so a long `dump --write` neither buffers nor loses what it saw.
final class PcapFileSink {
    private let file: KernelFD
    private var fd: Int32 { file.raw }
    let path: String
    private var scratch: [UInt8] = []

    init(path: String, linkType: PcapLinkType) throws(ToolError) {
        let raw = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard raw >= 0 else { throw ToolError("cannot create \(path): \(String(cString: strerror(errno)))") }
        file = KernelFD(owning: raw)
        self.path = path
        scratch.reserveCapacity(2048)
        try write(PcapWriter.fileHeader(linkType: linkType, nanosecondResolution: true))
    }


    /// Appends a packet with its arrival time.
    func append(_ packet: UnsafeRawBufferPointer, timeNs: UInt64) throws(ToolError) {
        scratch.removeAll(keepingCapacity: true)
        for v in [UInt32(timeNs / 1_000_000_000), UInt32(timeNs % 1_000_000_000), UInt32(packet.count), UInt32(packet.count)] {
            for shift in stride(from: 0, to: 32, by: 8) { scratch.append(UInt8(truncatingIfNeeded: v >> UInt32(shift))) }
        }
        scratch.append(contentsOf: packet)
        try write(scratch)
    }

    private func write(_ bytes: [UInt8]) throws(ToolError) {
        var off = 0
        while off < bytes.count {
            let n = bytes.withUnsafeBytes { Glibc.write(fd, $0.baseAddress! + off, $0.count - off) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ToolError("writing \(path): \(String(cString: strerror(errno)))")
            }
            off += n
        }
    }

    /// Reads a whole file.
    static func read(_ path: String) throws(ToolError) -> [UInt8] {
        guard let file = KernelFD.open(path, O_RDONLY) else {
            throw ToolError("cannot open \(path): \(String(cString: strerror(errno)))")
        }
        let fd = file.raw
        var out: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buf.withUnsafeMutableBytes { Glibc.read(fd, $0.baseAddress, $0.count) }
            if n < 0 {
                if errno == EINTR { continue }
                throw ToolError("reading \(path): \(String(cString: strerror(errno)))")
            }
            if n == 0 { break }
            out.append(contentsOf: buf[0..<n])
        }
        return out
    }
}

/// An error of a packet tool: one line for the operator.
struct ToolError: Error, CustomStringConvertible {
    let description: String
    init(_ d: String) { description = d }
}
