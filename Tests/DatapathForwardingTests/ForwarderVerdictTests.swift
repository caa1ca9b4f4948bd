import CXigmp
@testable import DatapathBPF
@testable import DatapathForwarding
@testable import DatapathKernel
@testable import DatapathPrograms
import Glibc
import IGMPWire
import Testing
import XigmpTestSupport

/// Frames for the forwarding tests, built byte by byte (TestFrames' IPv4
/// header has TTL 1, which the forwarder drops).
enum ForwarderFrames {
    static let payload = [UInt8](repeating: 0x55, count: 64)

    /// Ethernet (multicast MAC of `dst` unless given) + IPv4 + UDP.
    static func udp(src: [UInt8] = [10, 1, 0, 2], dst: [UInt8], ttl: UInt8 = 8,
                    vlans: [UInt16] = [], dstMAC: [UInt8]? = nil) -> [UInt8] {
        let mac = dstMAC ?? [0x01, 0x00, 0x5e, dst[1] & 0x7f, dst[2], dst[3]]
        let udp: [UInt8] = TestFrames.be16(5000) + TestFrames.be16(5001) + TestFrames.be16(UInt16(8 + payload.count)) + [0, 0] + payload
        var ip: [UInt8] = [0x45, 0] + TestFrames.be16(UInt16(20 + udp.count)) + [0x12, 0x34, 0x40, 0] + [ttl, 17, 0, 0] + src + dst
        let c = TestFrames.checksum(ip)
        ip[10] = UInt8(c >> 8); ip[11] = UInt8(c & 0xff)
        return TestFrames.ethernet(dst: mac, vlans: vlans) + ip + udp
    }

    /// IPv4 length of `udp(...)` frames.
    static let ipLength = UInt64(20 + 8 + payload.count)
}

/// The classifier's multicast forwarding stage through BPF_PROG_TEST_RUN:
/// route hits redirect, TTL 1 drops, link-local and unicast pass, unmatched
/// follows the ingress setting, IGMP is classified as before, and with
/// forwarding off nothing changes. Runs in a namespace with real veths
/// (a devmap needs real devices, and BPF_PROG_TEST_RUN resolves the
/// ingress ifindex in the caller's namespace).
@Suite("Multicast forwarder verdicts (BPF_PROG_TEST_RUN)", .serialized)
struct ForwarderVerdictTests {
    let g1 = IPv4Address(239, 1, 1, 1), g2 = IPv4Address(239, 2, 2, 2)
    let s1 = IPv4Address(10, 1, 0, 2), s2 = IPv4Address(10, 1, 0, 3)

    struct Setup {
        let classifier: Classifier
        let forwarder: MulticastForwarder
        let up: NetworkInterface, in1: NetworkInterface, in2: NetworkInterface
    }

    /// One namespace with three veth pairs (up0/up1, in0/in1, in2/in3);
    /// up0 is the ingress, in0 and in2 the egress ports; runs `body` in it.
    func withSetup(_ body: (Setup) throws -> Void) throws {
        try #require(geteuid() == 0, "the forwarder tests load BPF programs and create namespaces: run `sudo make test`")
        LibBPFLog.capture()
        try NetnsFixture.withTopology { net in
            let ns = try net.addNamespace()
            for (a, b) in [("up0", "up1"), ("in0", "in1"), ("in2", "in3")] {
                try net.addVethPair(ns, a, nil, ns, b, nil)
            }
            try NetnsFixture.inNamespace(ns) {
                let c = try Classifier()
                try c.setAction(.pass)
                let f = MulticastForwarder(classifier: c)
                let s = Setup(classifier: c, forwarder: f, up: try NetworkInterface(named: "up0"),
                              in1: try NetworkInterface(named: "in0"), in2: try NetworkInterface(named: "in2"))
                try f.addEgress(s.in1)
                try f.addEgress(s.in2)
                try body(s)
            }
        }
    }

    /// Runs `frame` received on `ifindex`: verdict, classifier counters and
    /// forwarder counters that moved.
    func run(_ s: Setup, _ frame: [UInt8], on ifindex: UInt32) throws
        -> (XDPVerdict, [String: UInt64], MulticastForwarder.Counters) {
        let before = try s.classifier.readCounters(), fBefore = try s.forwarder.counters
        let (verdict, _) = try s.classifier.testRun(frame, ingressIfindex: ifindex)
        let moved = try s.classifier.readCounters().delta(since: before).pairs.filter { $0.value != 0 }
        let after = try s.forwarder.counters
        var d = MulticastForwarder.Counters()
        d.forwarded = after.forwarded - fBefore.forwarded
        d.ttlExpired = after.ttlExpired - fBefore.ttlExpired
        d.unmatchedPassed = after.unmatchedPassed - fBefore.unmatchedPassed
        d.unmatchedDropped = after.unmatchedDropped - fBefore.unmatchedDropped
        d.blocked = after.blocked - fBefore.blocked
        d.noEgress = after.noEgress - fBefore.noEgress
        d.kernelPath = after.kernelPath - fBefore.kernelPath
        return (verdict, Dictionary(uniqueKeysWithValues: moved.map { ($0.key, $0.value) }), d)
    }

    func counters(_ build: (inout MulticastForwarder.Counters) -> Void) -> MulticastForwarder.Counters {
        var c = MulticastForwarder.Counters()
        build(&c)
        return c
    }

    @Test("a route with one egress redirects, counted per route and globally")
    func singleEgress() throws {
        try withSetup { s in
            try s.forwarder.enable(ingress: s.up)
            try s.forwarder.setRoute(ingress: s.up, source: nil, group: g1, egress: [s.in1.index])
            let (v, moved, fwd) = try run(s, ForwarderFrames.udp(dst: [239, 1, 1, 1]), on: s.up.index)
            #expect(v == .redirect)
            #expect(moved == ["non_igmp": 1], "the classifier's counters stay as before forwarding")
            #expect(fwd == counters { $0.forwarded = 1 })
            let routes = try s.forwarder.routes()
            #expect(routes.count == 1)
            #expect(routes.first?.key == .init(ingress: s.up.index, source: nil, group: g1))
            #expect(routes.first?.egress == [s.in1.index])
            #expect(routes.first?.counters == .init(packets: 1, bytes: ForwarderFrames.ipLength))
        }
    }

    @Test("a route with two egress ports redirects (broadcast)")
    func twoEgress() throws {
        try withSetup { s in
            try s.forwarder.enable(ingress: s.up)
            try s.forwarder.setRoute(ingress: s.up, source: nil, group: g1, egress: [s.in1.index, s.in2.index])
            #expect(try s.forwarder.routes().first?.egress == [s.in1.index, s.in2.index].sorted())
            let (v, _, fwd) = try run(s, ForwarderFrames.udp(dst: [239, 1, 1, 1]), on: s.up.index)
            #expect(v == .redirect)
            #expect(fwd == counters { $0.forwarded = 1 })
        }
    }

    @Test("TTL 1 and TTL 0 on a route: dropped and counted")
    func ttlExpired() throws {
        try withSetup { s in
            try s.forwarder.enable(ingress: s.up)
            try s.forwarder.setRoute(ingress: s.up, source: nil, group: g1, egress: [s.in1.index])
            for ttl: UInt8 in [1, 0] {
                let (v, _, fwd) = try run(s, ForwarderFrames.udp(dst: [239, 1, 1, 1], ttl: ttl), on: s.up.index)
                #expect(v == .drop, "ttl \(ttl)")
                #expect(fwd == counters { $0.ttlExpired = 1 }, "ttl \(ttl)")
            }
            #expect(try s.forwarder.counters(ingress: s.up, source: nil, group: g1) == .init(packets: 0, bytes: 0))
        }
    }

    @Test("224.0.0.x is never forwarded, even with unmatched drop")
    func linkLocal() throws {
        try withSetup { s in
            try s.forwarder.enable(ingress: s.up, unmatched: .drop)
            for dst: [UInt8] in [[224, 0, 0, 251], [224, 0, 0, 1], [224, 0, 0, 255]] {
                let (v, moved, fwd) = try run(s, ForwarderFrames.udp(dst: dst), on: s.up.index)
                #expect(v == .pass, "\(dst)")
                #expect(moved == ["non_igmp": 1])
                #expect(fwd == counters { _ in })
            }
            #expect(throws: DatapathError.self, "a link-local route is refused") {
                try s.forwarder.setRoute(ingress: s.up, source: nil, group: IPv4Address(224, 0, 0, 251), egress: [s.in1.index])
            }
        }
    }

    @Test("IGMP to a routed group is still classified, not forwarded")
    func igmpUnchanged() throws {
        try withSetup { s in
            try s.forwarder.enable(ingress: s.up, unmatched: .drop)
            try s.forwarder.setRoute(ingress: s.up, source: nil, group: g1, egress: [s.in1.index])
            try s.classifier.setAction(.drop, for: .v2Report)
            let msg = TestFrames.igmp(type: 0x16, group: [239, 1, 1, 1])
            let frame = TestFrames.ethernet(dst: [0x01, 0x00, 0x5e, 1, 1, 1])
                + TestFrames.ipv4(payloadLength: msg.count, dst: [239, 1, 1, 1]) + msg
            let (v, moved, fwd) = try run(s, frame, on: s.up.index)
            #expect(v == .drop)
            #expect(moved == ["v2_report": 1, "dropped": 1])
            #expect(fwd == counters { _ in })
            let (v2, moved2, _) = try run(s, TestFrames.igmpFrame(type: 0x11), on: s.up.index)
            #expect(v2 == .pass)
            #expect(moved2 == ["query": 1, "passed": 1])
        }
    }

    @Test("unmatched multicast data: passed or dropped by the ingress setting")
    func unmatched() throws {
        try withSetup { s in
            try s.forwarder.setRoute(ingress: s.up, source: nil, group: g1, egress: [s.in1.index])
            let frame = ForwarderFrames.udp(dst: [239, 2, 2, 2])
            try s.forwarder.enable(ingress: s.up)
            var r = try run(s, frame, on: s.up.index)
            #expect(r.0 == .pass)
            #expect(r.2 == counters { $0.unmatchedPassed = 1 })
            try s.forwarder.enable(ingress: s.up, unmatched: .drop)
            r = try run(s, frame, on: s.up.index)
            #expect(r.0 == .drop)
            #expect(r.1 == ["non_igmp": 1])
            #expect(r.2 == counters { $0.unmatchedDropped = 1 })
            // A route of another ingress does not match here.
            r = try run(s, ForwarderFrames.udp(dst: [239, 1, 1, 1]), on: s.in2.index)
            #expect(r.0 == .pass, "forwarding is off on in2")
            #expect(r.2 == counters { _ in })
        }
    }

    @Test("forwarding off: multicast data passes exactly as without forwarding")
    func disabled() throws {
        try withSetup { s in
            try s.forwarder.setRoute(ingress: s.up, source: nil, group: g1, egress: [s.in1.index])
            let frame = ForwarderFrames.udp(dst: [239, 1, 1, 1])
            var r = try run(s, frame, on: s.up.index)
            #expect(r.0 == .pass)
            #expect(r.1 == ["non_igmp": 1])
            #expect(r.2 == counters { _ in })
            try s.forwarder.enable(ingress: s.up)
            #expect(try run(s, frame, on: s.up.index).0 == .redirect)
            try s.forwarder.disable(ingress: s.up)
            r = try run(s, frame, on: s.up.index)
            #expect(r.0 == .pass)
            #expect(r.2 == counters { _ in })
        }
    }

    @Test("unicast, broadcast, tagged and truncated multicast pass untouched")
    func notForwarded() throws {
        try withSetup { s in
            try s.forwarder.enable(ingress: s.up, unmatched: .drop)
            try s.forwarder.setRoute(ingress: s.up, source: nil, group: g1, egress: [s.in1.index])
            let frames: [(String, [UInt8])] = [
                ("unicast", ForwarderFrames.udp(dst: [10, 1, 0, 1], dstMAC: [2, 0, 0, 0, 0, 1])),
                ("broadcast", ForwarderFrames.udp(dst: [255, 255, 255, 255], dstMAC: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff])),
                ("class E", ForwarderFrames.udp(dst: [240, 1, 1, 1], dstMAC: [2, 0, 0, 0, 0, 1])),
                ("tagged 239.1.1.1", ForwarderFrames.udp(dst: [239, 1, 1, 1], vlans: [10])),
                ("239.1.1.1 cut short", Array(ForwarderFrames.udp(dst: [239, 1, 1, 1]).dropLast(10))),
            ]
            for (name, f) in frames {
                let (v, moved, fwd) = try run(s, f, on: s.up.index)
                #expect(v == .pass, "\(name)")
                #expect(moved == ["non_igmp": 1], "\(name)")
                #expect(fwd == counters { _ in }, "\(name)")
            }
        }
    }

    @Test("(S,G) rows win over (*,G); a blocking row drops one source")
    func sourceSpecific() throws {
        try withSetup { s in
            try s.forwarder.enable(ingress: s.up, unmatched: .drop)
            try s.forwarder.setRoute(ingress: s.up, source: nil, group: g1, egress: [s.in1.index])
            try s.forwarder.setRoute(ingress: s.up, source: s1, group: g1, egress: [s.in1.index, s.in2.index])
            try s.forwarder.blockSource(ingress: s.up, source: s2, group: g1)
            #expect(try run(s, ForwarderFrames.udp(src: [10, 1, 0, 2], dst: [239, 1, 1, 1]), on: s.up.index).0 == .redirect)
            let blocked = try run(s, ForwarderFrames.udp(src: [10, 1, 0, 3], dst: [239, 1, 1, 1]), on: s.up.index)
            #expect(blocked.0 == .drop)
            #expect(blocked.2 == counters { $0.blocked = 1 })
            #expect(try run(s, ForwarderFrames.udp(src: [10, 1, 0, 9], dst: [239, 1, 1, 1]), on: s.up.index).0 == .redirect)
            #expect(try s.forwarder.counters(ingress: s.up, source: s1, group: g1)?.packets == 1)
            #expect(try s.forwarder.counters(ingress: s.up, source: nil, group: g1)?.packets == 1, "the (*,G) row counts its own hits")
            #expect(try s.forwarder.routes().map(\.key.source) == [nil, s1, s2])
            try s.forwarder.removeRoute(ingress: s.up, source: s1, group: g1)
            try s.forwarder.setRoute(ingress: s.up, source: s2, group: g1, egress: [])
            #expect(try s.forwarder.routes().map(\.key.source) == [nil])
        }
    }

    @Test("a kernel-path row passes its traffic to the kernel even with unmatched drop")
    func kernelPathRow() throws {
        try withSetup { s in
            try s.forwarder.enable(ingress: s.up, unmatched: .drop)
            try s.forwarder.passToKernel(ingress: s.up, source: nil, group: g1)
            let (v, _, fwd) = try run(s, ForwarderFrames.udp(dst: [239, 1, 1, 1]), on: s.up.index)
            #expect(v == .pass)
            #expect(fwd == counters { $0.kernelPath = 1 })
            // Other groups are still dropped as unmatched; a blocking (S,G) row still wins.
            #expect(try run(s, ForwarderFrames.udp(dst: [239, 2, 2, 2]), on: s.up.index).0 == .drop)
            try s.forwarder.blockSource(ingress: s.up, source: s2, group: g1)
            #expect(try run(s, ForwarderFrames.udp(src: [10, 1, 0, 3], dst: [239, 1, 1, 1]), on: s.up.index).0 == .drop)
            let routes = try s.forwarder.routes()
            #expect(routes.map(\.passesToKernel) == [true, false])
            #expect(routes.first?.egress == [])
        }
    }

    @Test("removing an egress port takes it out of every route")
    func removeEgress() throws {
        try withSetup { s in
            try s.forwarder.enable(ingress: s.up, unmatched: .drop)
            try s.forwarder.setRoute(ingress: s.up, source: nil, group: g1, egress: [s.in1.index, s.in2.index])
            try s.forwarder.setRoute(ingress: s.up, source: nil, group: g2, egress: [s.in2.index])
            try s.forwarder.removeEgress(s.in2)
            let routes = try s.forwarder.routes()
            #expect(routes.map(\.key.group) == [g1], "a route left without ports is removed")
            #expect(routes.first?.egress == [s.in1.index])
            #expect(try run(s, ForwarderFrames.udp(dst: [239, 2, 2, 2]), on: s.up.index).0 == .drop)
            #expect(try run(s, ForwarderFrames.udp(dst: [239, 1, 1, 1]), on: s.up.index).0 == .redirect)
            // The freed slot goes to the next port without inheriting routes.
            try s.forwarder.addEgress(s.in2)
            #expect(try s.forwarder.routes().first?.egress == [s.in1.index])
        }
    }

    @Test("operator errors: unknown egress, ingress as egress")
    func errors() throws {
        try withSetup { s in
            let notAdded = try NetworkInterface(named: "in1")
            #expect { try s.forwarder.setRoute(ingress: s.up, source: nil, group: g1, egress: [notAdded.index]) } throws: {
                ($0 as? DatapathError)?.message.contains("in1 is not an egress port: add it with addEgress first") == true
            }
            try s.forwarder.addEgress(s.up)
            #expect { try s.forwarder.setRoute(ingress: s.up, source: nil, group: g1, egress: [s.up.index]) } throws: {
                ($0 as? DatapathError)?.message.contains("is the ingress") == true
            }
        }
    }

    @Test("a Linux bridge is refused as an egress port, naming the fix")
    func bridgeRefused() throws {
        try #require(geteuid() == 0, "needs root: run `sudo make test`")
        try NetnsFixture.withTopology { net in
            let ns = try net.addNamespace()
            try net.ip(ns, "link", "add", "br0", "type", "bridge")
            try NetnsFixture.inNamespace(ns) {
                let f = MulticastForwarder(classifier: try Classifier())
                #expect { try f.addEgress(try NetworkInterface(named: "br0")) } throws: {
                    let m = ($0 as? DatapathError)?.message ?? ""
                    return m.contains("br0 is a Linux bridge") && m.contains("member ports")
                }
            }
        }
    }

    @Test("the kernel takes only a BPF_XDP_DEVMAP program into a devmap value")
    func devmapNeedsDevmapProgram() throws {
        try withSetup { s in
            // The classifier itself (plain SEC("xdp"), expected_attach_type 0)
            // is refused; the forwarder's xigmp_fwd_out (SEC("xdp/devmap")) is
            // what addEgress put there.
            var key = s.in1.index
            var wrong: (UInt32, Int32) = (s.in1.index, s.classifier.program.raw)
            #expect(bpf_map_update_elem(s.forwarder.portsMap.fd.raw, &key, &wrong, UInt64(BPF_ANY)) == -EINVAL)
            var right: (UInt32, Int32) = (s.in1.index, s.forwarder.egressProgram.raw)
            #expect(bpf_map_update_elem(s.forwarder.portsMap.fd.raw, &key, &right, UInt64(BPF_ANY)) == 0)
        }
    }
}
