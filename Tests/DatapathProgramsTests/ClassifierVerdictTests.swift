@testable import DatapathBPF
@testable import DatapathKernel
@testable import DatapathPrograms
import Glibc
import Testing
import XigmpTestSupport

/// Runs the real classifier through BPF_PROG_TEST_RUN: one test frame per
/// verdict, checking the verdict and exactly which counters moved.
///
/// Needs root (CAP_BPF + CAP_NET_ADMIN). Without it these tests fail with a
/// reason, never pass silently.
@Suite("XDP classifier verdicts (BPF_PROG_TEST_RUN)")
struct ClassifierVerdictTests {
    static let igmpTypes: [(UInt8, String)] = [
        (0x11, "query"), (0x12, "v1_report"), (0x16, "v2_report"), (0x17, "v2_leave"), (0x22, "v3_report"),
        (0x13, "other_igmp"), (0x1e, "other_igmp"),
    ]

    func loaded(_ action: ClassifierAction = .redirect) throws -> Classifier {
        try #require(geteuid() == 0, "the classifier tests load BPF programs and need root: run `sudo make test`")
        LibBPFLog.capture()
        let c = try Classifier()
        try c.setAction(action)
        return c
    }

    /// Runs `frame`, returns the verdict and the counters that moved.
    func run(_ c: Classifier, _ frame: [UInt8], ifindex: UInt32 = 0) throws -> (XDPVerdict, [String: UInt64]) {
        let before = try c.readCounters()
        let (verdict, _) = try c.testRun(frame, ingressIfindex: ifindex)
        let moved = try c.readCounters().delta(since: before).pairs.filter { $0.value != 0 }
        return (verdict, Dictionary(uniqueKeysWithValues: moved.map { ($0.key, $0.value) }))
    }

    @Test("each IGMP type, with Router Alert, redirect asked and no socket bound: passed", arguments: igmpTypes)
    func igmpWithRouterAlert(type: UInt8, key: String) throws {
        let c = try loaded()
        let (v, moved) = try run(c, TestFrames.igmpFrame(type: type))
        #expect(v == .pass)
        #expect(moved == [key: 1, "passed": 1, "no_socket": 1])
    }

    @Test("each IGMP type without Router Alert: accepted and counted", arguments: igmpTypes)
    func igmpWithoutRouterAlert(type: UInt8, key: String) throws {
        let c = try loaded(.pass)
        let (v, moved) = try run(c, TestFrames.padded(TestFrames.igmpFrame(type: type, routerAlert: false)))
        #expect(v == .pass)
        #expect(moved == [key: 1, "passed": 1, "no_router_alert": 1])
    }

    @Test("action drop drops every IGMP type", arguments: igmpTypes)
    func drop(type: UInt8, key: String) throws {
        let c = try loaded(.drop)
        let (v, moved) = try run(c, TestFrames.igmpFrame(type: type))
        #expect(v == .drop)
        #expect(moved == [key: 1, "dropped": 1])
    }

    @Test("a per-interface row overrides the wildcard row")
    func perInterfaceAction() throws {
        let c = try loaded(.pass)
        // ifindex 1 is lo in every namespace (BPF_PROG_TEST_RUN needs a real
        // device; without one it runs as if received on lo).
        let frame = TestFrames.igmpFrame(type: 0x16)
        try c.setAction(.drop, for: .v2Report, ifindex: 4242)
        #expect(try run(c, frame, ifindex: 1).0 == .pass, "another interface's row must not apply")
        try c.setAction(.drop, for: .v2Report, ifindex: 1)
        #expect(try run(c, frame, ifindex: 1).0 == .drop)
        #expect(try run(c, TestFrames.igmpFrame(type: 0x17), ifindex: 1).0 == .pass, "other classes keep the wildcard")
    }

    @Test("one and two VLAN tags", arguments: [[UInt16(10)], [UInt16(100), UInt16(10)]])
    func vlan(tags: [UInt16]) throws {
        let c = try loaded(.drop)
        let (v, moved) = try run(c, TestFrames.igmpFrame(type: 0x16, vlans: tags))
        #expect(v == .drop)
        #expect(moved == ["v2_report": 1, "dropped": 1, "vlan": 1])
    }

    @Test("three VLAN tags are beyond the parser: not IGMP")
    func threeTags() throws {
        let c = try loaded(.drop)
        var f = TestFrames.ethernet(vlans: [1, 2], etherType: 0x8100) + TestFrames.be16(3) + TestFrames.be16(0x0800)
        let msg = TestFrames.igmp(type: 0x16, group: [239, 1, 2, 3])
        f += TestFrames.ipv4(payloadLength: msg.count) + msg
        let (v, moved) = try run(c, f)
        #expect(v == .pass)
        #expect(moved == ["non_igmp": 1])
    }

    @Test("non-IGMP traffic passes untouched, counted once")
    func nonIGMP() throws {
        let c = try loaded(.drop)
        let udp: [UInt8] = [0x13, 0x88, 0x13, 0x88, 0, 12, 0, 0, 1, 2, 3, 4]
        let udpFrame = TestFrames.ethernet(dst: [0x01, 0x00, 0x5e, 0x01, 0x01, 0x01])
            + TestFrames.ipv4(payloadLength: udp.count, proto: 17, options: [], dst: [239, 1, 1, 1]) + udp
        let arp = TestFrames.padded(TestFrames.ethernet(dst: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff], etherType: 0x0806)
            + [0, 1, 8, 0, 6, 4, 0, 1] + TestFrames.srcMAC + [10, 0, 0, 2] + [0, 0, 0, 0, 0, 0] + [10, 0, 0, 1])
        // IPv6 MLD-looking frame: next header hop-by-hop, must not be parsed as IPv4.
        let ipv6 = TestFrames.ethernet(dst: [0x33, 0x33, 0, 0, 0, 1], etherType: 0x86dd)
            + [0x60, 0, 0, 0, 0, 8, 0, 1] + Array(repeating: 0, count: 32) + [58, 0, 5, 2, 0, 0, 1, 0]
        let tcpVLAN = TestFrames.ethernet(vlans: [7]) + TestFrames.ipv4(payloadLength: 20, proto: 6, options: []) + Array(repeating: 0, count: 20)
        for (name, frame) in [("udp multicast", udpFrame), ("arp", arp), ("ipv6", ipv6), ("tcp over vlan", tcpVLAN)] {
            let (v, moved) = try run(c, frame)
            #expect(v == .pass, "\(name)")
            #expect(moved == ["non_igmp": 1], "\(name)")
        }
    }

    @Test("IHL 15: Router Alert found among 40 bytes of options")
    func ihl15() throws {
        let c = try loaded(.drop)
        let msg = TestFrames.igmp(type: 0x16, group: [239, 1, 2, 3])
        // Timestamp-like option (type 68, len 8), then NOPs, Router Alert, END padding: 40 bytes.
        let opts: [UInt8] = [68, 8, 5, 0, 0, 0, 0, 0] + [1, 1, 1, 1] + [0x94, 4, 0, 0] + Array(repeating: 0, count: 24)
        let f = TestFrames.ethernet() + TestFrames.ipv4(payloadLength: msg.count, options: opts) + msg
        #expect(f[14] == 0x4f)
        let (v, moved) = try run(c, f)
        #expect(v == .drop)
        #expect(moved == ["v2_report": 1, "dropped": 1])
    }

    @Test("IHL 15 without Router Alert")
    func ihl15NoRA() throws {
        let c = try loaded(.pass)
        let msg = TestFrames.igmp(type: 0x16, group: [239, 1, 2, 3])
        let f = TestFrames.ethernet() + TestFrames.ipv4(payloadLength: msg.count, options: Array(repeating: 1, count: 40)) + msg
        let (v, moved) = try run(c, f)
        #expect(v == .pass)
        #expect(moved == ["v2_report": 1, "passed": 1, "no_router_alert": 1])
    }

    @Test("malformed IGMP frames are passed to the kernel and counted", arguments: [
        "igmp truncated", "ihl below 5", "ihl past the frame", "total length past the frame",
        "total length shorter than header+8", "fragment", "ip version 6 in an IPv4 ethertype",
    ])
    func malformed(kind: String) throws {
        let c = try loaded(.drop)
        let msg = TestFrames.igmp(type: 0x16, group: [239, 1, 2, 3])
        let eth = TestFrames.ethernet()
        let f: [UInt8]
        switch kind {
        case "igmp truncated":
            f = eth + TestFrames.ipv4(payloadLength: 4) + Array(msg.prefix(4))
        case "ihl below 5":
            f = TestFrames.padded(eth + TestFrames.ipv4(payloadLength: 8, ihlOverride: 4) + msg)
        case "ihl past the frame":
            f = eth + TestFrames.ipv4(payloadLength: 8, options: [], ihlOverride: 15) + msg
        case "total length past the frame":
            f = eth + TestFrames.ipv4(payloadLength: 8, totalLengthOverride: 200) + msg
        case "total length shorter than header+8":
            f = eth + TestFrames.ipv4(payloadLength: 8, totalLengthOverride: 26) + msg
        case "fragment":
            f = eth + TestFrames.ipv4(payloadLength: 8, fragment: 0x2000) + msg
        default:
            f = eth + TestFrames.ipv4(payloadLength: 8, version: 6) + msg
        }
        let (v, moved) = try run(c, f)
        #expect(v == .pass)
        #expect(moved == ["malformed": 1])
    }

    @Test("frames cut inside the Ethernet, VLAN or IPv4 header are not IGMP")
    func truncatedHeaders() throws {
        let c = try loaded(.drop)
        let full = TestFrames.igmpFrame(type: 0x16, vlans: [5])
        // 14: Ethernet only; 16: inside the VLAN tag; 30: inside the IPv4 header.
        for cut in [14, 16, 30] {
            let (v, moved) = try run(c, Array(full.prefix(cut)))
            #expect(v == .pass, "cut at \(cut)")
            #expect(moved == ["non_igmp": 1], "cut at \(cut)")
        }
    }

    @Test("Ethernet padding after the IGMP message is fine")
    func ethernetPadding() throws {
        let c = try loaded(.drop)
        let f = TestFrames.padded(TestFrames.igmpFrame(type: 0x17, routerAlert: false))
        #expect(f.count == 60)
        let (v, moved) = try run(c, f)
        #expect(v == .drop)
        #expect(moved == ["v2_leave": 1, "dropped": 1, "no_router_alert": 1])
    }

    @Test("the XDP_PASS baseline program loads and passes")
    func passBaseline() throws {
        try #require(geteuid() == 0, "needs root: run `sudo make test`")
        let prog = try XDPTestRun.loadPassProgram()
        #expect(try XDPTestRun.run(program: prog, frame: TestFrames.igmpFrame(type: 0x16)).verdict == .pass)
    }

    @Test("per-source token bucket: a source over its burst is dropped and counted, others pass")
    func rateLimit() throws {
        let c = try loaded(.pass)
        try c.setRateLimit(perSecond: 1, burst: 3)
        let frame = TestFrames.igmpFrame(type: 0x16)
        var verdicts: [XDPVerdict] = []
        for _ in 0..<5 { verdicts.append(try run(c, frame).0) }
        #expect(verdicts == [.pass, .pass, .pass, .drop, .drop])
        let moved = try run(c, frame).1
        #expect(moved == ["v2_report": 1, "rate_limited": 1, "dropped": 1])
        // Another source has its own bucket.
        let msg = TestFrames.igmp(type: 0x16, group: [239, 1, 2, 3])
        let other = TestFrames.ethernet() + TestFrames.ipv4(payloadLength: msg.count, src: [10, 0, 0, 9]) + msg
        #expect(try run(c, other).0 == .pass)
        // Non-IGMP traffic never touches the buckets.
        let udp: [UInt8] = [0x13, 0x88, 0x13, 0x88, 0, 12, 0, 0, 1, 2, 3, 4]
        let udpFrame = TestFrames.ethernet() + TestFrames.ipv4(payloadLength: udp.count, proto: 17, options: []) + udp
        #expect(try run(c, udpFrame) == (.pass, ["non_igmp": 1]))
        // Off again: the source that was limited passes.
        try c.setRateLimit(perSecond: 0, burst: 0)
        #expect(try run(c, frame).0 == .pass)
    }
}
