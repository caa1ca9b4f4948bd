import CXigmp
import Glibc
import IGMPWire

/// Link-level facts about an interface, read through the current network
/// namespace's sockets (not /sys, which `--netns` does not switch).
public struct InterfaceInfo: Sendable, Equatable {
    /// The interface.
    public let interface: NetworkInterface
    /// ARPHRD_* hardware type (1 Ethernet, 0xFFFE none/tun, 778 GRE).
    public let hardwareType: UInt16
    /// Hardware address, for Ethernet-like interfaces.
    public let mac: MACAddress?
    /// IPv4 addresses with prefix lengths, primary first.
    public let ipv4: [(address: IPv4Address, prefixLength: Int)]
    /// Interface flags (IFF_*).
    public let flags: UInt32

    /// True when frames on it start with an Ethernet header, so the XDP
    /// classifier (which parses Ethernet) can serve it.
    public var hasEthernet: Bool { hardwareType == 1 /* ARPHRD_ETHER */ }

    /// The primary IPv4 address, if any.
    public var primaryIPv4: IPv4Address? { ipv4.first?.address }

    /// Reads the facts for `interface`.
    public init(_ interface: NetworkInterface) throws(DatapathError) {
        self.interface = interface
        guard let socket = KernelFD.socket(AF_INET, Int32(SOCK_DGRAM.rawValue)) else {
            throw DatapathError.system("socket for interface ioctls", errno: errno)
        }
        let fd = socket.raw
        var req = ifreq()
        withUnsafeMutableBytes(of: &req.ifr_ifrn.ifrn_name) { buf in
            let name = Array(interface.name.utf8.prefix(Int(IF_NAMESIZE) - 1))
            for (i, b) in name.enumerated() { buf[i] = b }
        }
        guard ioctl(fd, UInt(SIOCGIFHWADDR), &req) == 0 else {
            throw DatapathError.system("reading hardware address of \(interface.name)", errno: errno)
        }
        hardwareType = req.ifr_ifru.ifru_hwaddr.sa_family
        if hardwareType == 1 {
            mac = withUnsafeBytes(of: req.ifr_ifru.ifru_hwaddr.sa_data) { raw in
                MACAddress(bytes: raw.prefix(6))
            }
        } else {
            mac = nil
        }
        guard ioctl(fd, UInt(SIOCGIFFLAGS), &req) == 0 else {
            throw DatapathError.system("reading flags of \(interface.name)", errno: errno)
        }
        flags = UInt32(UInt16(bitPattern: req.ifr_ifru.ifru_flags))
        ipv4 = Self.addresses(of: interface.name)
    }

    static func addresses(of name: String) -> [(address: IPv4Address, prefixLength: Int)] {
        var head: UnsafeMutablePointer<ifaddrs>?
        guard getifaddrs(&head) == 0, let first = head else { return [] }
        defer { freeifaddrs(head) }
        var result: [(IPv4Address, Int)] = []
        var p: UnsafeMutablePointer<ifaddrs>? = first
        while let ifa = p {
            defer { p = ifa.pointee.ifa_next }
            guard let sa = ifa.pointee.ifa_addr, sa.pointee.sa_family == UInt16(AF_INET),
                  String(cString: ifa.pointee.ifa_name) == name else { continue }
            let addr = sa.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
            var prefix = 32
            if let m = ifa.pointee.ifa_netmask {
                let mask = m.withMemoryRebound(to: sockaddr_in.self, capacity: 1) { UInt32(bigEndian: $0.pointee.sin_addr.s_addr) }
                prefix = mask.nonzeroBitCount
            }
            result.append((IPv4Address(rawValue: addr), prefix))
        }
        return result
    }

    public static func == (a: InterfaceInfo, b: InterfaceInfo) -> Bool {
        a.interface == b.interface && a.hardwareType == b.hardwareType && a.mac == b.mac && a.flags == b.flags
            && a.ipv4.map(\.address) == b.ipv4.map(\.address) && a.ipv4.map(\.prefixLength) == b.ipv4.map(\.prefixLength)
    }
}
