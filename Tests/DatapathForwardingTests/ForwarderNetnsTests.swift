import CXigmp
@testable import DatapathBPF
@testable import DatapathForwarding
@testable import DatapathKernel
@testable import DatapathPrograms
import Foundation
import Glibc
import IGMPWire
import Testing
import XigmpTestSupport

/// struct SockaddrLL (<linux/if_packet.h>), which Glibc does not export.
struct SockaddrLL {
    var family: UInt16 = UInt16(AF_PACKET)
    var protocolBE: UInt16 = 0
    var ifindex: Int32 = 0
    var hatype: UInt16 = 0
    var pkttype: UInt8 = 0
    var halen: UInt8 = 0
    var addr: (UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8, UInt8) = (0, 0, 0, 0, 0, 0, 0, 0)
}

/// An AF_PACKET socket on one interface, opened in the caller's namespace:
/// what arrived on it (outgoing frames left out).
final class ForwarderCapture {
    let fd: Int32
    let name: String

    init(interface: String) throws {
        name = interface
        let proto = UInt16(0x0003).bigEndian  // ETH_P_ALL
        fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_NONBLOCK.rawValue) | Int32(SOCK_CLOEXEC.rawValue), Int32(proto))
        guard fd >= 0 else { throw FixtureError("AF_PACKET socket: \(String(cString: strerror(errno)))") }
        let ifindex = if_nametoindex(interface)
        guard ifindex != 0 else { throw FixtureError("no interface \(interface)") }
        var sll = SockaddrLL()
        sll.protocolBE = proto
        sll.ifindex = Int32(ifindex)
        let rc = withUnsafePointer(to: &sll) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<SockaddrLL>.size)) }
        }
        guard rc == 0 else { throw FixtureError("bind AF_PACKET to \(interface): \(String(cString: strerror(errno)))") }
    }

    deinit { close(fd) }

    /// Frames received so far (not sent by this host), oldest first.
    func drain() -> [[UInt8]] {
        var frames: [[UInt8]] = []
        var buf = [UInt8](repeating: 0, count: 65_536)
        while true {
            var sll = SockaddrLL()
            var len = socklen_t(MemoryLayout<SockaddrLL>.size)
            let n = withUnsafeMutablePointer(to: &sll) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { recvfrom(fd, &buf, buf.count, 0, $0, &len) }
            }
            if n <= 0 { break }
            if sll.pkttype == 4 /* PACKET_OUTGOING */ { continue }
            frames.append(Array(buf[0..<n]))
        }
        return frames
    }
}

/// A captured IPv4 frame's fields the forwarding tests judge.
struct CapturedIPv4 {
    let dstMAC: [UInt8], srcMAC: [UInt8]
    let ttl: UInt8
    let checksumOK: Bool
    let source: IPv4Address, group: IPv4Address

    init?(_ f: [UInt8]) {
        guard f.count >= 34, f[12] == 0x08, f[13] == 0x00 else { return nil }
        let ip = Array(f[14..<34])
        dstMAC = Array(f[0..<6])
        srcMAC = Array(f[6..<12])
        ttl = ip[8]
        checksumOK = TestFrames.checksum(ip) == 0
        source = IPv4Address(ip[12], ip[13], ip[14], ip[15])
        group = IPv4Address(ip[16], ip[17], ip[18], ip[19])
    }
}

/// Real traffic through the XDP forwarder: an upstream namespace sends UDP
/// to 239.1.1.1 and 239.2.2.2; the router namespace runs the classifier
/// with forwarding on its upstream veth; receivers capture on the inside
/// veths.
///
/// ```
///  U: vup 10.1.0.2── rup 10.1.0.1 :R: rin1 ── ra :A
///                                     rin2 ── rb :B
///                                     rin3 ── rc :C
/// ```
/// rup, rin1..3 are all egress ports (rup so that a copy back out of the
/// ingress would be possible). Every far end (vup, ra, rb, rc) runs a native
/// XDP_PASS program: a veth takes XDP-redirected frames only while its peer
/// runs NAPI (an XDP program there, or GRO on).
@Suite("Multicast forwarder in namespaces", .serialized)
struct ForwarderNetnsTests {
    static let count = 25
    let g1 = IPv4Address(239, 1, 1, 1), g2 = IPv4Address(239, 2, 2, 2)

    struct Net {
        let u: String, r: String, a: String, b: String, c: String
        /// Links of the XDP_PASS programs on the far ends.
        let links: [KernelFD]
    }

    func topology(_ net: NetnsFixture, napiOnFarEnds: Bool = true) throws -> Net {
        let u = try net.addNamespace(), r = try net.addNamespace()
        let a = try net.addNamespace(), b = try net.addNamespace(), c = try net.addNamespace()
        try net.addVethPair(u, "vup", "10.1.0.2/24", r, "rup", "10.1.0.1/24")
        try net.addVethPair(r, "rin1", "10.2.0.1/24", a, "ra", "10.2.0.2/24")
        try net.addVethPair(r, "rin2", "10.3.0.1/24", b, "rb", "10.3.0.2/24")
        try net.addVethPair(r, "rin3", "10.4.0.1/24", c, "rc", "10.4.0.2/24")
        let pass = try XDPTestRun.loadPassProgram()
        var links: [KernelFD] = []
        for (ns, ifname) in [(u, "vup"), (a, "ra"), (b, "rb"), (c, "rc")] where napiOnFarEnds {
            links.append(try NetnsFixture.inNamespace(ns) {
                try XDP.attach(program: pass, to: try NetworkInterface(named: ifname), mode: .native)
            })
        }
        return Net(u: u, r: r, a: a, b: b, c: c, links: links)
    }

    /// R with the classifier on rup in `mode`, forwarding on there, and
    /// rup, rin1..3 as egress ports.
    struct Router {
        let classifier: Classifier, link: KernelFD, forwarder: MulticastForwarder
        let rup: NetworkInterface
        /// rin1..3's ifindexes.
        let rin: [UInt32]
    }

    func router(_ net: Net, mode: XDPMode) throws -> Router {
        try NetnsFixture.inNamespace(net.r) {
            let c = try Classifier()
            try c.setAction(.pass)
            let rup = try NetworkInterface(named: "rup")
            let link = try XDP.attach(program: c.program, to: rup, mode: mode)
            let f = MulticastForwarder(classifier: c)
            try f.enable(ingress: rup)
            for name in ["rup", "rin1", "rin2", "rin3"] { try f.addEgress(try NetworkInterface(named: name)) }
            return Router(classifier: c, link: link, forwarder: f, rup: rup,
                          rin: try ["rin1", "rin2", "rin3"].map { try NetworkInterface(named: $0).index })
        }
    }

    /// Runs `body` on the topology with the router set up (root only).
    func withRouter(mode: XDPMode, napiOnFarEnds: Bool = true, _ body: (NetnsFixture, Net, Router) throws -> Void) throws {
        try #require(geteuid() == 0, "namespace tests need root: run `sudo make test`")
        LibBPFLog.capture()
        try NetnsFixture.withTopology { fixture in
            let net = try topology(fixture, napiOnFarEnds: napiOnFarEnds)
            try body(fixture, net, try router(net, mode: mode))
        }
    }

    /// Sends `count` datagrams to each group from U, TTL 8, interleaved.
    func send(_ net: Net, groups: [IPv4Address]) throws {
        try NetnsFixture.inNamespace(net.u) {
            let fd = socket(AF_INET, Int32(SOCK_DGRAM.rawValue), 0)
            guard fd >= 0 else { throw FixtureError("udp socket: \(String(cString: strerror(errno)))") }
            defer { close(fd) }
            var m = ip_mreqn()
            m.imr_ifindex = Int32(if_nametoindex("vup"))
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_IF, &m, socklen_t(MemoryLayout<ip_mreqn>.size))
            var ttl: Int32 = 8
            setsockopt(fd, Int32(IPPROTO_IP), IP_MULTICAST_TTL, &ttl, socklen_t(MemoryLayout<Int32>.size))
            let payload = ForwarderFrames.payload
            for _ in 0..<Self.count {
                for g in groups {
                    var to = sockaddr_in()
                    to.sin_family = sa_family_t(AF_INET)
                    to.sin_port = UInt16(5000).bigEndian
                    to.sin_addr.s_addr = g.rawValue.bigEndian
                    let rc = withUnsafePointer(to: &to) { p in
                        p.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                            sendto(fd, payload, payload.count, 0, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
                        }
                    }
                    guard rc == payload.count else { throw FixtureError("udp sendto: \(String(cString: strerror(errno)))") }
                }
                usleep(1000)
            }
        }
        usleep(400_000)
    }

    func mac(_ ns: String, _ ifname: String) throws -> [UInt8] {
        try NetnsFixture.inNamespace(ns) {
            let m = try InterfaceInfo(try NetworkInterface(named: ifname)).mac!.rawValue
            return (0..<6).map { UInt8(truncatingIfNeeded: m >> UInt64(40 - 8 * $0)) }
        }
    }

    /// The IPv4 multicast data frames a capture saw, by group.
    func data(_ cap: ForwarderCapture) -> [IPv4Address: [CapturedIPv4]] {
        Dictionary(grouping: cap.drain().compactMap(CapturedIPv4.init).filter { $0.group.rawValue >> 28 == 0xE && $0.group.rawValue >> 8 != 0xE0_0000 },
                   by: \.group)
    }

    /// Checks what one inside receiver saw of g1: `count` frames, TTL 7,
    /// valid checksum, source MAC of the router's egress port, the group's MAC.
    func expectForwarded(_ seen: [IPv4Address: [CapturedIPv4]], egressMAC: [UInt8], _ who: String) {
        let frames = seen[g1] ?? []
        #expect(frames.count == Self.count, "\(who): 239.1.1.1 frames")
        #expect(frames.allSatisfy { $0.ttl == 7 }, "\(who): TTL one lower, saw \(Set(frames.map(\.ttl)))")
        #expect(frames.allSatisfy { $0.checksumOK }, "\(who): IPv4 header checksum")
        #expect(frames.allSatisfy { $0.srcMAC == egressMAC }, "\(who): source MAC = the egress port's")
        #expect(frames.allSatisfy { $0.dstMAC == [0x01, 0x00, 0x5e, 1, 1, 1] }, "\(who): destination MAC kept")
        #expect(frames.allSatisfy { $0.source == IPv4Address(10, 1, 0, 2) }, "\(who): source address kept")
        #expect(seen[g2] == nil, "\(who): 239.2.2.2 has no route and must not arrive")
    }

    @Test("one inside port: only the routed group arrives, TTL-1, checksum, MAC; counters; removal stops it",
          arguments: [XDPMode.generic, XDPMode.native])
    func oneEgress(mode: XDPMode) throws {
        try withRouter(mode: mode) { _, net, router in
            let rin1MAC = try mac(net.r, "rin1")
            let (forwarder, rup) = (router.forwarder, router.rup)
            try NetnsFixture.inNamespace(net.r) { try forwarder.setRoute(ingress: rup, source: nil, group: g1, egress: [router.rin[0]]) }
            let capA = try NetnsFixture.inNamespace(net.a) { try ForwarderCapture(interface: "ra") }
            let capB = try NetnsFixture.inNamespace(net.b) { try ForwarderCapture(interface: "rb") }
            let capU = try NetnsFixture.inNamespace(net.u) { try ForwarderCapture(interface: "vup") }

            try send(net, groups: [g1, g2])
            expectForwarded(data(capA), egressMAC: rin1MAC, "A (\(mode.rawValue))")
            #expect(data(capB).isEmpty, "B has no route")
            #expect(data(capU).isEmpty, "nothing goes back out of the ingress")
            let stats = try forwarder.counters(ingress: rup, source: nil, group: g1)
            #expect(stats == .init(packets: UInt64(Self.count), bytes: UInt64(Self.count) * ForwarderFrames.ipLength))
            let c = try forwarder.counters
            #expect(c.forwarded == UInt64(Self.count))
            #expect(c.unmatchedPassed == UInt64(Self.count))
            #expect(c.egressSent == UInt64(Self.count))
            #expect(c.egressFiltered == 0)
            #expect(c.ttlExpired == 0)

            try NetnsFixture.inNamespace(net.r) { try forwarder.removeRoute(ingress: rup, source: nil, group: g1) }
            try send(net, groups: [g1])
            #expect(data(capA).isEmpty, "removing the route stops forwarding")
            let after = try forwarder.counters
            #expect(after.forwarded == UInt64(Self.count))
            #expect(after.unmatchedPassed == UInt64(2 * Self.count))
        }
    }

    @Test("two inside ports of three, through a forwarder found on the attached classifier",
          arguments: [XDPMode.generic, XDPMode.native])
    func twoEgress(mode: XDPMode) throws {
        try #require(geteuid() == 0, "namespace tests need root: run `sudo make test`")
        LibBPFLog.capture()
        try NetnsFixture.withTopology { fixture in
            let net = try topology(fixture)
            let macs = (try mac(net.r, "rin1"), try mac(net.r, "rin2"))
            let (link, forwarder, rup) = try NetnsFixture.inNamespace(net.r) { () throws -> (KernelFD, MulticastForwarder, NetworkInterface) in
                let rup = try NetworkInterface(named: "rup")
                let link: KernelFD
                do {
                    // The Classifier instance goes away; the link keeps the program and its maps.
                    let c = try Classifier()
                    try c.setAction(.pass)
                    link = try XDP.attach(program: c.program, to: rup, mode: mode)
                }
                let f = try MulticastForwarder(attachedTo: rup)
                try f.enable(ingress: rup)
                for name in ["rup", "rin1", "rin2", "rin3"] { try f.addEgress(try NetworkInterface(named: name)) }
                try f.setRoute(ingress: rup, source: nil, group: g1,
                               egress: [try NetworkInterface(named: "rin1").index, try NetworkInterface(named: "rin2").index])
                return (link, f, rup)
            }
            _ = link
            let capA = try NetnsFixture.inNamespace(net.a) { try ForwarderCapture(interface: "ra") }
            let capB = try NetnsFixture.inNamespace(net.b) { try ForwarderCapture(interface: "rb") }
            let capC = try NetnsFixture.inNamespace(net.c) { try ForwarderCapture(interface: "rc") }
            let capU = try NetnsFixture.inNamespace(net.u) { try ForwarderCapture(interface: "vup") }

            try send(net, groups: [g1, g2])
            expectForwarded(data(capA), egressMAC: macs.0, "A (\(mode.rawValue))")
            expectForwarded(data(capB), egressMAC: macs.1, "B (\(mode.rawValue))")
            #expect(data(capC).isEmpty, "C's port is not in the route: its broadcast copy must be dropped")
            #expect(data(capU).isEmpty, "nothing goes back out of the ingress")
            let routes = try forwarder.routes()
            #expect(routes.count == 1)
            #expect(routes.first?.counters == .init(packets: UInt64(Self.count), bytes: UInt64(Self.count) * ForwarderFrames.ipLength))
            let c = try forwarder.counters
            #expect(c.forwarded == UInt64(Self.count))
            #expect(c.egressSent == UInt64(2 * Self.count), "one copy per routed port")
            #expect(c.egressFiltered == 0, "the route's member devmap holds rin1 and rin2 only: rin3 and the ingress get no copy to filter")
            let members = try NetnsFixture.inNamespace(net.r) {
                try forwarder.memberPorts(ingress: rup, source: nil, group: g1)
            }
            #expect(members == [try NetnsFixture.inNamespace(net.r) { try NetworkInterface(named: "rin1").index },
                                try NetnsFixture.inNamespace(net.r) { try NetworkInterface(named: "rin2").index }].sorted())

            try NetnsFixture.inNamespace(net.r) { try forwarder.removeRoute(ingress: rup, source: nil, group: g1) }
            try send(net, groups: [g1])
            #expect(data(capA).isEmpty && data(capB).isEmpty, "removing the route stops forwarding")
        }
    }


    @Test("a route's member devmap follows its ports: grows, shrinks, goes at one port, survives a second forwarder",
          arguments: [XDPMode.generic, XDPMode.native])
    func memberDevmap(mode: XDPMode) throws {
        try withRouter(mode: mode) { _, net, router in
            let (forwarder, rup, rin) = (router.forwarder, router.rup, router.rin)
            let caps = try [(net.a, "ra"), (net.b, "rb"), (net.c, "rc")].map { ns, ifname in
                try NetnsFixture.inNamespace(ns) { try ForwarderCapture(interface: ifname) }
            }
            // What each receiver got of g1, and what the devmap program had to filter.
            func round(_ f: MulticastForwarder) throws -> (got: [Int], filtered: UInt64) {
                let before = try f.counters.egressFiltered
                try send(net, groups: [g1])
                return (caps.map { data($0)[g1]?.count ?? 0 }, try f.counters.egressFiltered - before)
            }
            func inR<T>(_ body: () throws -> T) throws -> T { try NetnsFixture.inNamespace(net.r, body) }
            let n = Self.count

            try inR { try forwarder.setRoute(ingress: rup, source: nil, group: g1, egress: [rin[0], rin[1]]) }
            #expect(try inR { try forwarder.memberPorts(ingress: rup, source: nil, group: g1) } == [rin[0], rin[1]].sorted())
            var r = try round(forwarder)
            #expect(r.got == [n, n, 0] && r.filtered == 0, "two members: \(r)")

            try inR { try forwarder.setRoute(ingress: rup, source: nil, group: g1, egress: [rin[0], rin[1], rin[2]]) }
            #expect(try inR { try forwarder.memberPorts(ingress: rup, source: nil, group: g1) } == rin.sorted())
            r = try round(forwarder)
            #expect(r.got == [n, n, n] && r.filtered == 0, "grown to three: \(r)")

            try inR { try forwarder.setRoute(ingress: rup, source: nil, group: g1, egress: [rin[1], rin[2]]) }
            #expect(try inR { try forwarder.memberPorts(ingress: rup, source: nil, group: g1) } == [rin[1], rin[2]].sorted())
            r = try round(forwarder)
            #expect(r.got == [0, n, n] && r.filtered == 0, "shrunk to two: \(r)")

            // One port: redirected by ifindex, no member devmap.
            try inR { try forwarder.setRoute(ingress: rup, source: nil, group: g1, egress: [rin[2]]) }
            #expect(try inR { try forwarder.memberPorts(ingress: rup, source: nil, group: g1) } == nil)
            r = try round(forwarder)
            #expect(r.got == [0, 0, n] && r.filtered == 0, "one port: \(r)")

            // A second forwarder (another process, `xigmp` on the attached
            // classifier) picks up the member devmaps the first one made.
            try inR { try forwarder.setRoute(ingress: rup, source: nil, group: g1, egress: rin) }
            let second = try inR { try MulticastForwarder(attachedTo: rup) }
            try inR { try second.setRoute(ingress: rup, source: nil, group: g1, egress: [rin[0], rin[2]]) }
            #expect(try inR { try second.memberPorts(ingress: rup, source: nil, group: g1) } == [rin[0], rin[2]].sorted())
            r = try round(second)
            #expect(r.got == [n, 0, n] && r.filtered == 0, "changed by a second forwarder: \(r)")

            // A port removed takes itself out of the member devmap; the route
            // is left with one port and no devmap.
            try inR { try second.removeEgress(ifindex: rin[0]) }
            #expect(try inR { try second.memberPorts(ingress: rup, source: nil, group: g1) } == nil)
            r = try round(second)
            #expect(r.got == [0, 0, n] && r.filtered == 0, "after removeEgress: \(r)")

            try inR { try second.removeRoute(ingress: rup, source: nil, group: g1) }
            #expect(try inR { try second.memberPorts(ingress: rup, source: nil, group: g1) } == nil)
            r = try round(second)
            #expect(r.got == [0, 0, 0], "route removed: \(r)")
        }
    }

    @Test("past the 32 member devmaps a shared route broadcasts over every port and still reaches only its members; a freed one is lent again, empty")
    func memberDevmapsRunOut() throws {
        try withRouter(mode: .generic) { _, net, router in
            let pool = Int(XIGMP_FWD_MEMBER_MAPS)
            let groups = (0...pool).map { IPv4Address(239, 10, UInt8($0 >> 8), UInt8($0 & 0xff)) }
            let last = groups[pool]
            let (forwarder, rup, rin) = (router.forwarder, router.rup, router.rin)
            func inR<T>(_ body: () throws -> T) throws -> T { try NetnsFixture.inNamespace(net.r, body) }
            try inR { for g in groups { try forwarder.setRoute(ingress: rup, source: nil, group: g, egress: [rin[0], rin[1]]) } }
            #expect(try inR { try forwarder.memberPorts(ingress: rup, source: nil, group: groups[0]) } == [rin[0], rin[1]].sorted())
            #expect(try inR { try forwarder.memberPorts(ingress: rup, source: nil, group: last) } == nil,
                    "the 33rd shared route finds no member devmap free")
            let caps = try [(net.a, "ra"), (net.b, "rb"), (net.c, "rc")].map { ns, ifname in
                try NetnsFixture.inNamespace(ns) { try ForwarderCapture(interface: ifname) }
            }
            var before = try forwarder.counters.egressFiltered
            try send(net, groups: [last])
            #expect(caps.map { data($0)[last]?.count ?? 0 } == [Self.count, Self.count, 0], "the broadcast reaches the members only")
            #expect(try forwarder.counters.egressFiltered - before == UInt64(Self.count), "rin3's copy filtered per frame")

            // One shared route gone: its devmap is free, emptied, and goes
            // to the next route that changes (here the 33rd, now on rin2 and
            // rin3: rin1 must not linger from the route that had it).
            try inR { try forwarder.removeRoute(ingress: rup, source: nil, group: groups[0]) }
            try inR { try forwarder.setRoute(ingress: rup, source: nil, group: last, egress: [rin[1], rin[2]]) }
            #expect(try inR { try forwarder.memberPorts(ingress: rup, source: nil, group: last) } == [rin[1], rin[2]].sorted())
            before = try forwarder.counters.egressFiltered
            try send(net, groups: [last])
            #expect(caps.map { data($0)[last]?.count ?? 0 } == [0, Self.count, Self.count])
            #expect(try forwarder.counters.egressFiltered - before == 0)
        }
    }

    @Test("the veth trap: without NAPI on the peer, native redirects never arrive (GRO on the peer fixes it); generic ones do",
          arguments: [XDPMode.generic, XDPMode.native])
    func vethPeerWithoutNAPI(mode: XDPMode) throws {
        try withRouter(mode: mode, napiOnFarEnds: false) { fixture, net, router in
            let forwarder = router.forwarder
            try NetnsFixture.inNamespace(net.r) { try forwarder.setRoute(ingress: router.rup, source: nil, group: g1, egress: [router.rin[0]]) }
            let capA = try NetnsFixture.inNamespace(net.a) { try ForwarderCapture(interface: "ra") }
            try send(net, groups: [g1])
            let got = data(capA)[g1]?.count ?? 0
            #expect(try forwarder.counters.forwarded == UInt64(Self.count), "XDP redirected every frame either way")
            if mode == .native {
                // veth_xdp_xmit refuses frames while the peer has no NAPI
                // (no XDP program, GRO off): the fix is on the receiving side.
                #expect(got == 0, "native: ra runs no XDP program and no GRO, so rin1 cannot take redirected frames")
                // The other fix: GRO on the peer (`ethtool -K ra gro on`).
                let gro = try fixture.python(net.a, "enable_gro.py", ["ra"])
                #expect(gro.stdout.trimmingCharacters(in: .whitespacesAndNewlines) == "1", "GRO on ra: \(gro.stderr)")
                try send(net, groups: [g1])
                #expect(data(capA)[g1]?.count == Self.count, "with GRO on the peer, native redirects arrive")
            } else {
                // Generic XDP redirects an skb through the egress device's
                // ordinary transmit path, which needs no NAPI on the peer.
                #expect(got == Self.count)
            }
        }
    }
}
