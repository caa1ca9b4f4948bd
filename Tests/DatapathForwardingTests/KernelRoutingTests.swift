import CXigmp
@testable import DatapathBPF
@testable import DatapathForwarding
@testable import DatapathKernel
@testable import DatapathPorts
@testable import DatapathPrograms
import Foundation
import Glibc
import IGMPWire
import Testing
import XigmpTestSupport

/// Kernel multicast forwarding (ipmr) programmed by `KernelMulticastRouting`,
/// against real namespaces. Every test builds its own and needs root.
///
/// ```
///   U (sources)            R (router)                 H1, H2 (receivers)
///   u0 10.1.0.2, .3 ─── r0 10.1.0.1
///                          r1 10.2.0.1 ─────────────── h1 10.2.0.2
///                          r2 10.3.0.1 ─────────────── h2 10.3.0.2
/// ```
/// U sends UDP to 239.1.1.1 / 239.2.2.2 with TTL 8; H1/H2 (and R's r0, for
/// what goes back upstream) capture with AF_PACKET.
@Suite("KernelMulticastRouting (kernel MFC forwarding, namespaces)", .serialized,
       .enabled(if: KernelCapabilities.current.ipMroute, "kernel lacks CONFIG_IP_MROUTE"))
struct KernelRoutingTests {
    static let groupA = IPv4Address(239, 1, 1, 1)
    static let groupB = IPv4Address(239, 2, 2, 2)
    static let source1 = IPv4Address(10, 1, 0, 2)
    static let source2 = IPv4Address(10, 1, 0, 3)

    @Test("(*,G) installed before any traffic forwards the very first packet: only that group, TTL one lower, checksum valid; removal stops it")
    func starGFirstPacket() throws {
        try NetnsFixture.withTopology { net in
            let t = try RoutedTopology(net)
            let router = try t.inRouter { try KernelMulticastRouting() }
            try t.inRouter { try router.setRoute(source: nil, group: Self.groupA, incoming: t.r0, outgoing: [t.r1]) }
            let h1 = try t.capture(t.h1ns, "h1"), h2 = try t.capture(t.h2ns, "h2")
            let back = try t.capture(t.rns, "r0")

            try t.send(from: Self.source1, to: Self.groupA, count: 1)
            try t.send(from: Self.source1, to: Self.groupB, count: 1)
            let got = h1.collect(seconds: 1.5)
            let a = got.filter { $0.destination == Self.groupA }
            #expect(a.count == 1, "the first (and only) packet to \(Self.groupA) should be forwarded: \(got)")
            #expect(!got.contains { $0.destination == Self.groupB }, "no route for \(Self.groupB): \(got)")
            if let p = a.first {
                #expect(p.ttl == 7, "sent with TTL 8, forwarded once")
                #expect(p.checksumValid)
                #expect(p.source == Self.source1)
            }
            #expect(h2.collect(seconds: 0.2).isEmpty, "h2 is not an outgoing interface")
            #expect(!back.collect(seconds: 0.2).contains { $0.outgoing && $0.destination == Self.groupA },
                    "nothing goes back out of the incoming interface")
            let stats = router.routeStatistics()
            #expect(stats.count == 1)
            #expect(stats.first?.packets == 1 && stats.first?.source == nil && stats.first?.outgoing == [t.r1])

            #expect(try router.removeRoute(source: nil, group: Self.groupA, incoming: t.r0))
            try t.send(from: Self.source1, to: Self.groupA, count: 2)
            #expect(h1.collect(seconds: 1).isEmpty, "removing the route stops forwarding")
            #expect(router.routeStatistics().isEmpty)
        }
    }

    @Test("a route with two outgoing interfaces reaches both; listing the incoming one sends nothing back")
    func twoOutgoing() throws {
        try NetnsFixture.withTopology { net in
            let t = try RoutedTopology(net)
            let router = try t.inRouter { try KernelMulticastRouting() }
            try t.inRouter { try router.setRoute(source: nil, group: Self.groupA, incoming: t.r0, outgoing: [t.r1, t.r2, t.r0]) }
            let h1 = try t.capture(t.h1ns, "h1"), h2 = try t.capture(t.h2ns, "h2")
            let back = try t.capture(t.rns, "r0")
            try t.send(from: Self.source1, to: Self.groupA, count: 1)
            #expect(h1.collect(seconds: 1).filter { $0.destination == Self.groupA }.count == 1)
            #expect(h2.collect(seconds: 0.3).filter { $0.destination == Self.groupA }.count == 1)
            #expect(!back.collect(seconds: 0.2).contains { $0.outgoing && $0.destination == Self.groupA })
            #expect(router.routeStatistics().first?.outgoing == [t.r1, t.r2])
        }
    }

    @Test("(S,G) restricts to one source (INCLUDE); an (S,G) without outputs blocks one source under (*,G) (EXCLUDE)")
    func sourceSpecific() throws {
        try NetnsFixture.withTopology { net in
            let t = try RoutedTopology(net)
            let router = try t.inRouter { try KernelMulticastRouting() }
            let h1 = try t.capture(t.h1ns, "h1")
            let back = try t.capture(t.rns, "r0")
            try t.inRouter { try router.setRoute(source: Self.source1, group: Self.groupA, incoming: t.r0, outgoing: [t.r1, t.r0]) }
            try t.send(from: Self.source1, to: Self.groupA, count: 1)
            try t.send(from: Self.source2, to: Self.groupA, count: 1)
            var got = h1.collect(seconds: 1).filter { $0.destination == Self.groupA }
            #expect(got.map(\.source) == [Self.source1], "INCLUDE {\(Self.source1)}: \(got)")
            #expect(!back.collect(seconds: 0.2).contains { $0.outgoing }, "an (S,G) entry sends nothing back out of its incoming interface")

            // EXCLUDE {source1}: (*,G) to h1 plus (source1,G) to nowhere.
            try t.inRouter {
                try router.setRoute(source: nil, group: Self.groupA, incoming: t.r0, outgoing: [t.r1])
                try router.setRoute(source: Self.source1, group: Self.groupA, incoming: t.r0, outgoing: [])
            }
            try t.send(from: Self.source1, to: Self.groupA, count: 1)
            try t.send(from: Self.source2, to: Self.groupA, count: 1)
            got = h1.collect(seconds: 1).filter { $0.destination == Self.groupA }
            #expect(got.map(\.source) == [Self.source2], "EXCLUDE {\(Self.source1)}: \(got)")
            let stats = router.routeStatistics()
            #expect(stats.first { $0.source == Self.source1 }?.packets == 2)
            #expect(stats.first { $0.source == nil }?.packets == 1)
        }
    }

    // MARK: - what the kernel requires (the findings in KernelMulticastRouting's doc comment)

    @Test("kernel: a (*,G) entry without the incoming VIF in its TTLs is never found; one whose parent is another VIF drops as wrong_if")
    func kernelStarGRules() throws {
        try NetnsFixture.withTopology { net in
            let t = try RoutedTopology(net)
            let router = try t.inRouter { try KernelMulticastRouting() }
            let in0 = try t.inRouter { try router.addInterface(t.r0) }
            let out1 = try t.inRouter { try router.addInterface(t.r1) }
            let fd = try t.inRouter { try MulticastRouterSocket.shared().fd }
            let h1 = try t.capture(t.h1ns, "h1")
            func install(parent: Int, ttls: [Int: UInt8]) {
                var array = [UInt8](repeating: 0, count: Int(CXIGMP_MAXVIFS))
                for (vif, ttl) in ttls { array[vif] = ttl }
                let rc = cxigmp_mrt_add_mfc(fd, 0, Self.groupA.rawValue.bigEndian, UInt16(parent), array, array.count)
                #expect(rc == 0, "MRT_ADD_MFC: \(String(cString: strerror(errno)))")
            }
            func counters() -> cxigmp_sg_count {
                var c = cxigmp_sg_count()
                _ = cxigmp_mrt_sg_count(fd, 0, Self.groupA.rawValue.bigEndian, &c)
                return c
            }
            // Outgoing only: the lookup (mr_mfc_find_any) needs ttls[incoming] < 255.
            install(parent: in0, ttls: [out1: 1])
            try t.send(from: Self.source1, to: Self.groupA, count: 1)
            #expect(h1.collect(seconds: 1).isEmpty, "without the incoming VIF's TTL the (*,G) entry should not match")
            #expect(counters().packets == 0)
            // Wrong parent: found (r0 has a TTL), but the parent check fails.
            install(parent: out1, ttls: [in0: 1, out1: 1])
            try t.send(from: Self.source2, to: Self.groupA, count: 1)
            #expect(h1.collect(seconds: 1).isEmpty, "a (*,G) whose parent is not the incoming VIF should not forward")
            #expect(counters().wrong_if == 1)
            // As KernelMulticastRouting installs it.
            install(parent: in0, ttls: [in0: 1, out1: 1])
            try t.send(from: IPv4Address(10, 1, 0, 4), to: Self.groupA, count: 1)
            #expect(h1.collect(seconds: 1).count == 1)
            _ = cxigmp_mrt_del_mfc(fd, 0, Self.groupA.rawValue.bigEndian)
        }
    }

    // MARK: - coexistence

    @Test("KernelPort(captureAllGroups:) taps beside the router: reports to unjoined groups seen while the mroute socket is owned, in either order")
    func coexistence() throws {
        try NetnsFixture.withTopology { net in
            let t = try RoutedTopology(net)
            let h1 = try t.capture(t.h1ns, "h1")
            // Port first, then the router.
            var port: KernelPort? = try t.inRouter { try KernelPort(interface: t.r1, captureAllGroups: true) }
            #expect(port?.capturesAllGroups == true && port?.warnings.isEmpty == true, "\(port?.warnings ?? [])")
            var router: KernelMulticastRouting? = try t.inRouter { try KernelMulticastRouting() }
            try t.inRouter { try router?.setRoute(source: nil, group: Self.groupA, incoming: t.r0, outgoing: [t.r1]) }
            try t.send(from: Self.source1, to: Self.groupA, count: 1)
            #expect(h1.collect(seconds: 1).count == 1)
            // The port still sees reports to groups it never joined.
            try net.sysctl(t.h1ns, "net.ipv4.conf.h1.force_igmp_version", "2")
            try net.ip(t.h1ns, "addr", "add", "239.7.7.7/32", "dev", "h1", "autojoin")
            let report = try port?.first(seconds: 5) { $0.packet?.message == .v2Report(group: IPv4Address(239, 7, 7, 7)) }
            #expect(report != nil, "the port should capture a v2 report to an unjoined group")
            // The port goes: forwarding is untouched.
            port = nil
            try t.send(from: Self.source1, to: Self.groupA, count: 1)
            #expect(h1.collect(seconds: 1).count == 1, "forwarding survives the port")
            #expect(t.mcForwarding("r1") == 1 && t.mcForwarding("r0") == 1)
            // The router goes: its routes and VIFs go.
            router = nil
            #expect(t.mcForwarding("r0") == 0 && t.mcForwarding("r1") == 0)
            try t.send(from: Self.source1, to: Self.groupA, count: 1)
            #expect(h1.collect(seconds: 1).isEmpty)
            // Router first, then the port.
            let router2 = try t.inRouter { try KernelMulticastRouting() }
            let port2 = try t.inRouter { try KernelPort(interface: t.r1, captureAllGroups: true) }
            #expect(port2.capturesAllGroups && port2.warnings.isEmpty)
            try t.inRouter { try router2.setRoute(source: nil, group: Self.groupA, incoming: t.r0, outgoing: [t.r1]) }
            try t.send(from: Self.source1, to: Self.groupA, count: 1)
            #expect(h1.collect(seconds: 1).count == 1)
            try net.ip(t.h1ns, "addr", "add", "239.7.7.8/32", "dev", "h1", "autojoin")
            #expect(try port2.first(seconds: 5) { $0.packet?.message == .v2Report(group: IPv4Address(239, 7, 7, 8)) } != nil)
        }
    }

    @Test("mc_forwarding follows the VIFs; one router per namespace; another program's mroute socket is named")
    func ownershipAndSysctls() throws {
        try NetnsFixture.withTopology { net in
            let t = try RoutedTopology(net)
            #expect(t.mcForwarding("r0") == 0)
            do {
                let router = try t.inRouter { try KernelMulticastRouting() }
                try t.inRouter { _ = try router.addInterface(t.r0) }
                #expect(t.mcForwarding("r0") == 1)
                #expect(try t.inRouter { KernelMulticastRouting.sysctls(for: t.r0).mcForwarding } == 1)
                #expect(throws: DatapathError.self) { try t.inRouter { try KernelMulticastRouting() } }
            }
            #expect(t.mcForwarding("r0") == 0, "deinit closes the socket: VIFs go")
            // Another program (here: a socket outside the shared one) owns the table.
            let other = try t.inRouter { () throws -> Int32 in
                let fd = socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_IGMP))
                try #require(fd >= 0 && cxigmp_mrt_init(fd) == 0)
                return fd
            }
            defer { close(other) }
            do {
                _ = try t.inRouter { try KernelMulticastRouting() }
                Issue.record("MRT_INIT should fail while another socket owns the table")
            } catch let error as DatapathError {
                #expect(error.errno == EADDRINUSE)
                #expect(error.message.contains("another program (smcroute, igmpproxy, pimd"), "\(error.message)")
            }
            // rp_filter is exposed and settable.
            try t.inRouter { try KernelMulticastRouting.setReversePathFilter(2, on: t.r0) }
            #expect(try t.inRouter { KernelMulticastRouting.sysctls(for: t.r0).rpFilter } == 2)
        }
    }

    @Test("strict rp_filter drops sources not routed back via the incoming interface; loose/off forward them")
    func reversePathFilter() throws {
        try NetnsFixture.withTopology { net in
            let t = try RoutedTopology(net)
            // 192.0.2.9 on u0: R has no route back to it.
            try net.ip(t.uns, "addr", "add", "192.0.2.9/32", "dev", "u0")
            let router = try t.inRouter { try KernelMulticastRouting() }
            try t.inRouter { try router.setRoute(source: nil, group: Self.groupA, incoming: t.r0, outgoing: [t.r1]) }
            let h1 = try t.capture(t.h1ns, "h1")
            try net.sysctl(t.rns, "net.ipv4.conf.all.rp_filter", "0")
            try net.sysctl(t.rns, "net.ipv4.conf.r0.rp_filter", "1")
            #expect(try t.inRouter { KernelMulticastRouting.sysctls(for: t.r0).effectiveRpFilter } == 1)
            try t.send(from: IPv4Address(192, 0, 2, 9), to: Self.groupA, count: 1)
            try t.send(from: Self.source1, to: Self.groupA, count: 1)
            #expect(h1.collect(seconds: 1).map(\.source) == [Self.source1], "strict: the unrouted source is dropped")
            try net.sysctl(t.rns, "net.ipv4.conf.r0.rp_filter", "0")
            try t.send(from: IPv4Address(192, 0, 2, 9), to: Self.groupA, count: 1)
            #expect(h1.collect(seconds: 1).map(\.source) == [IPv4Address(192, 0, 2, 9)], "off: forwarded")
        }
    }
}

// MARK: - fixture

/// U ─ R ─ {H1, H2}, as drawn on `KernelRoutingTests`.
struct RoutedTopology {
    let net: NetnsFixture
    let uns: String, rns: String, h1ns: String, h2ns: String
    let r0: NetworkInterface, r1: NetworkInterface, r2: NetworkInterface

    init(_ net: NetnsFixture) throws {
        self.net = net
        uns = try net.addNamespace()
        rns = try net.addNamespace()
        h1ns = try net.addNamespace()
        h2ns = try net.addNamespace()
        try net.addVethPair(uns, "u0", "10.1.0.2/24", rns, "r0", "10.1.0.1/24")
        try net.ip(uns, "addr", "add", "10.1.0.3/24", "dev", "u0")
        try net.ip(uns, "addr", "add", "10.1.0.4/24", "dev", "u0")
        try net.addVethPair(rns, "r1", "10.2.0.1/24", h1ns, "h1", "10.2.0.2/24")
        try net.addVethPair(rns, "r2", "10.3.0.1/24", h2ns, "h2", "10.3.0.2/24")
        // Namespaces start with rp_filter 0 in `all`; make it explicit.
        try net.sysctl(rns, "net.ipv4.conf.all.rp_filter", "0")
        let rns = rns
        (r0, r1, r2) = try NetnsFixture.inNamespace(rns) {
            (try NetworkInterface(named: "r0"), try NetworkInterface(named: "r1"), try NetworkInterface(named: "r2"))
        }
    }

    func inRouter<T>(_ body: () throws -> T) throws -> T { try NetnsFixture.inNamespace(rns, body) }

    /// U sends `count` UDP datagrams from `source` to `group`:5000 with TTL 8.
    func send(from source: IPv4Address, to group: IPv4Address, count: Int) throws {
        try net.python(uns, "send_udp.py", ["\(source)", "\(group)", "\(count)"])
    }

    /// An AF_PACKET capture on `ifname` in `ns`, open from now on.
    func capture(_ ns: String, _ ifname: String) throws -> KernelRoutingCapture {
        try NetnsFixture.inNamespace(ns) { try KernelRoutingCapture(ifname) }
    }

    /// net.ipv4.conf.IF.mc_forwarding in R (-1 when unreadable).
    func mcForwarding(_ ifname: String) -> Int {
        (try? inRouter { KernelMulticastRouting.readSysctl("net/ipv4/conf/\(ifname)/mc_forwarding") ?? -1 }) ?? -1
    }
}

/// struct sockaddr_ll (linux/if_packet.h), which Glibc does not import.
struct KernelRoutingSockaddrLL {
    var family: UInt16 = 0
    var proto: UInt16 = 0
    var ifindex: Int32 = 0
    var hatype: UInt16 = 0
    var pkttype: UInt8 = 0
    var halen: UInt8 = 0
    var addr: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
}

/// A UDP multicast packet seen by `KernelRoutingCapture`.
struct KernelRoutingPacket: CustomStringConvertible {
    let bytes: [UInt8]
    /// PACKET_OUTGOING: sent by this host.
    let outgoing: Bool
    var source: IPv4Address { IPv4Address(bytes[12], bytes[13], bytes[14], bytes[15]) }
    var destination: IPv4Address { IPv4Address(bytes[16], bytes[17], bytes[18], bytes[19]) }
    var ttl: UInt8 { bytes[8] }
    var checksumValid: Bool {
        let ihl = Int(bytes[0] & 0xF) * 4
        var sum: UInt32 = 0
        for i in stride(from: 0, to: ihl, by: 2) { sum += UInt32(bytes[i]) << 8 | UInt32(bytes[i + 1]) }
        while sum >> 16 != 0 { sum = (sum & 0xFFFF) + (sum >> 16) }
        return sum == 0xFFFF
    }
    var description: String { "\(source)→\(destination) ttl \(ttl)\(outgoing ? " out" : "")" }
}

/// AF_PACKET/SOCK_DGRAM (IP packets, no link header) on one interface;
/// keeps UDP to 224.0.0.0/4 outside 224.0.0.0/24.
final class KernelRoutingCapture {
    private let fd: Int32

    init(_ ifname: String) throws {
        let proto = UInt16(0x0800).bigEndian  // ETH_P_IP
        fd = socket(AF_PACKET, Int32(SOCK_DGRAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), Int32(proto))
        guard fd >= 0 else { throw FixtureError("AF_PACKET socket: \(String(cString: strerror(errno)))") }
        var sll = KernelRoutingSockaddrLL()
        sll.family = UInt16(AF_PACKET)
        sll.proto = proto
        sll.ifindex = Int32(if_nametoindex(ifname))
        let rc = withUnsafePointer(to: &sll) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<KernelRoutingSockaddrLL>.size)) }
        }
        guard rc == 0 else { close(fd); throw FixtureError("binding AF_PACKET to \(ifname): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// Everything matching that arrives within `seconds`.
    func collect(seconds: Double) -> [KernelRoutingPacket] {
        var out: [KernelRoutingPacket] = []
        var buffer = [UInt8](repeating: 0, count: 2048)
        let deadline = realtimeNanoseconds() + UInt64(seconds * 1e9)
        while realtimeNanoseconds() < deadline {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 20) > 0 else { continue }
            while true {
                var from = KernelRoutingSockaddrLL()
                var len = socklen_t(MemoryLayout<KernelRoutingSockaddrLL>.size)
                let n = withUnsafeMutablePointer(to: &from) {
                    $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buffer, buffer.count, 0, $0, &len) }
                }
                guard n > 0 else { break }
                guard n >= 20, buffer[0] >> 4 == 4, buffer[9] == 17, buffer[16] >> 4 == 0xE,
                      !(buffer[16] == 224 && buffer[17] == 0 && buffer[18] == 0) else { continue }
                out.append(KernelRoutingPacket(bytes: Array(buffer[0..<n]), outgoing: from.pkttype == 4 /* PACKET_OUTGOING */))
            }
        }
        return out
    }
}
