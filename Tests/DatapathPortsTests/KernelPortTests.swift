import AllocationCounting
import CXigmp
@testable import DatapathBPF
@testable import DatapathKernel
@testable import DatapathPorts
@testable import DatapathPrograms
import Foundation
import Glibc
import IGMPWire
import Synchronization
import Testing
import XigmpTestSupport

/// The kernel path against real peers: the Linux IGMP host stack in another
/// namespace, scapy, a tun device, and raw sockets no one here wrote the
/// kernel side of. Every test builds its own namespaces and needs root.
///
/// Addresses: A 10.9.0.1/24 on `va` ↔ B 10.9.0.2/24 on `vb`.
@Suite("KernelPort (raw-socket datapath, namespaces)", .serialized)
struct KernelPortTests {
    static let addrA = IPv4Address(10, 9, 0, 1)
    static let addrB = IPv4Address(10, 9, 0, 2)

    // MARK: - kernel host reports

    @Test("a Linux host's v2 and v3 reports for an autojoined group reach the port")
    func kernelHostReports() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            let port = try t.port(captureAllGroups: true)
            let t0 = realtimeNanoseconds()

            try net.sysctl(t.b, "net.ipv4.conf.vb.force_igmp_version", "2")
            try net.ip(t.b, "addr", "add", "239.1.2.3/32", "dev", "vb", "autojoin")
            let v2 = try #require(try port.first(seconds: 5) { $0.packet?.message == .v2Report(group: IPv4Address(239, 1, 2, 3)) },
                                  "no v2 report for 239.1.2.3 from B's kernel")
            let ip2 = try #require(v2.packet?.ip)
            #expect(ip2.destination == IPv4Address(239, 1, 2, 3), "RFC 2236 §9: a v2 report goes to the group itself")
            #expect(ip2.source == Self.addrB)
            #expect(ip2.ttl == 1 && ip2.routerAlert)
            #expect(v2.ifindex == t.va.index)
            let now = realtimeNanoseconds()
            #expect(v2.timestampNs >= t0 && v2.timestampNs <= now, "SO_TIMESTAMPNS should fall between the join and now")

            try net.sysctl(t.b, "net.ipv4.conf.vb.force_igmp_version", "3")
            try net.ip(t.b, "addr", "add", "239.1.2.4/32", "dev", "vb", "autojoin")
            let v3 = try #require(try port.first(seconds: 5) { $0.records.contains { $0.group == IPv4Address(239, 1, 2, 4) && $0.isJoin } },
                                  "no v3 report joining 239.1.2.4 from B's kernel")
            #expect(v3.packet?.ip?.destination == .igmpv3Routers)
            #expect(v3.ifindex == t.va.index)
            #expect(v3.timestampNs >= v2.timestampNs && v3.timestampNs <= realtimeNanoseconds())
        }
    }

    @Test("a Linux host's v2 leave (ip addr del of an autojoined group) reaches the port")
    func kernelHostLeave() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            let port = try t.port(captureAllGroups: false)  // leaves go to 224.0.0.2, which the port joins
            try net.sysctl(t.b, "net.ipv4.conf.vb.force_igmp_version", "2")
            try net.ip(t.b, "addr", "add", "239.1.2.5/32", "dev", "vb", "autojoin")
            // Without captureAllGroups the report itself is not seen; give
            // B's kernel time to send it so it counts as the last reporter.
            usleep(200_000)
            try net.ip(t.b, "addr", "del", "239.1.2.5/32", "dev", "vb")
            let leave = try #require(try port.first(seconds: 5) { $0.packet?.message == .v2Leave(group: IPv4Address(239, 1, 2, 5)) },
                                     "no v2 leave for 239.1.2.5 from B's kernel")
            #expect(leave.packet?.ip?.destination == .allRouters, "RFC 2236 §9: leaves go to 224.0.0.2")
            #expect(leave.ifindex == t.va.index)
        }
    }

    // MARK: - sending

    @Test("a general query sent by the port is well-formed on the wire (scapy in B) and B's kernel answers it")
    func queryAnswered() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            let port = try t.port(captureAllGroups: true)
            let group = IPv4Address(239, 1, 2, 6)
            // One unsolicited report per join (RFC 3376 robustness 1), so
            // any later report for the group is an answer to the query.
            try net.sysctl(t.b, "net.ipv4.igmp_qrv", "1")
            try net.ip(t.b, "addr", "add", "\(group)/32", "dev", "vb", "autojoin")
            _ = try #require(try port.first(seconds: 5) { $0.mentions(group) }, "B's unsolicited report never came")
            _ = try port.collect(seconds: 0.3)

            let sniffer = try net.start(t.b, [NetnsFixture.python, NetnsFixture.script("sniff_one_igmp.py"), "vb", "\(Self.addrA)"])
            try sniffer.waitForLine(containing: "ready", seconds: 30)
            let sentAt = realtimeNanoseconds()
            try port.send(.query(.v3(maxResponseTenths: 10)), source: Self.addrA)
            let answer = try #require(try port.first(seconds: 5) { $0.mentions(group) && $0.timestampNs > sentAt },
                                      "B's kernel did not answer the general query")
            #expect(answer.packet?.ip?.source == Self.addrB)
            #expect(port.statistics.txPackets == 1)

            let result = sniffer.finish(seconds: 20)
            let line = try #require(result.stdout.split(separator: "\n").last { $0.hasPrefix("{") },
                                    "scapy saw no IGMP from A: \(result.stdout) \(result.stderr)")
            let fields = try #require(try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any])
            #expect(fields["ttl"] as? Int == 1)
            #expect(fields["tos"] as? Int == 0xc0)
            #expect(fields["ihl"] as? Int == 6)
            #expect(fields["options"] as? String == "94040000", "Router Alert, RFC 2113")
            #expect(fields["scapy_option"] as? String == "IPOption_Router_Alert")
            #expect(fields["total_length"] as? Int == 36, "24-byte header + 12-byte v3 query, no padding")
            #expect(fields["ip_checksum_ok"] as? Bool == true)
            #expect(fields["igmp_checksum_ok"] as? Bool == true)
            #expect(fields["dst"] as? String == "224.0.0.1")
            #expect(fields["igmp_type"] as? Int == 0x11)
        }
    }

    @Test("what the port sends never comes back to it, nor to any other socket on the host")
    func ownSendsStayOut() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            let port = try t.port(captureAllGroups: true)
            let looped = IPv4Address(239, 1, 1, 1)
            // A bystander in A without the port's loopback filter: sees what
            // multicast loopback would deliver (IP_MULTICAST_LOOP on).
            let bystander = try NetnsFixture.inNamespace(t.a) { try RawIGMPSocket(joining: [looped], ifindex: t.va.index) }
            let inB = try NetnsFixture.inNamespace(t.b) {
                try RawIGMPSocket(joining: [looped, .igmpv3Routers], ifindex: t.vb.index)
            }
            _ = try bystander.collect(seconds: 0.3)  // A's kernel's own report for the join

            try port.send(.query(.v2(maxResponseTenths: 10)), source: Self.addrA)
            try port.send(.v2Report(group: looped), source: Self.addrA)
            try port.send(.v3Report([GroupRecord(type: .toExclude, group: looped)]), source: Self.addrA)
            #expect(port.statistics.txPackets == 3 && port.statistics.wakeups == 3)

            let atB = try inB.collect(seconds: 3) { $0.from(Self.addrA).count >= 3 }
            #expect(atB.from(Self.addrA).count >= 3, "B should receive all three")

            try t.sendSentinel(1)
            let back = try port.collect(seconds: 3) { $0.isSentinel(1) }
            #expect(back.hasSentinel(1))
            #expect(back.from(Self.addrA).isEmpty, "own packets came back: \(back.map(\.summary))")
            let leaked = try bystander.collect(seconds: 0.5).filter {
                $0.packet?.message == .v2Report(group: looped) || $0.packet?.message.type == .query
            }
            #expect(leaked.isEmpty, "multicast loopback is on: another socket on A saw the port's sends: \(leaked.map(\.summary))")
        }
    }

    @Test("this host's own kernel reports (looped back by the kernel) are not input")
    func ownKernelReportsFiltered() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            let port = try t.port(captureAllGroups: true)
            let inB = try NetnsFixture.inNamespace(t.b) { try RawIGMPSocket(joining: [.igmpv3Routers], ifindex: t.vb.index) }
            let group = IPv4Address(239, 3, 3, 3)
            try net.ip(t.a, "addr", "add", "\(group)/32", "dev", "va", "autojoin")
            // Proof A's kernel did send one, so the check below means something.
            _ = try #require(try inB.first(seconds: 3) { $0.mentions(group) }, "A's kernel sent no report for \(group)")
            try t.sendSentinel(2)
            let seen = try port.collect(seconds: 3) { $0.isSentinel(2) }
            #expect(seen.hasSentinel(2))
            #expect(seen.from(Self.addrA).isEmpty, "A's own reports came in: \(seen.map(\.summary))")
        }
    }

    @Test("a unicast report is delivered to B's address (kernel ARP)")
    func unicastReport() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            let port = try t.port(captureAllGroups: false)
            let inB = try NetnsFixture.inNamespace(t.b) { try RawIGMPSocket() }
            let group = IPv4Address(239, 1, 2, 7)
            try port.send(.v2Report(group: group), source: Self.addrA, destination: Self.addrB)
            let got = try #require(try inB.first(seconds: 3) { $0.packet?.message == .v2Report(group: group) },
                                   "B received no unicast report")
            #expect(got.packet?.ip?.destination == Self.addrB)
            #expect(got.packet?.ip?.source == Self.addrA)
            #expect(got.packet?.igmpChecksumOK == true && got.packet?.ip?.checksumOK == true)
        }
    }

    @Test("send errors name the cause and the fix")
    func sendErrors() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            let port = try t.port(captureAllGroups: false)
            // Larger than va's 1500-byte MTU: raw IP_HDRINCL sends are never fragmented.
            let big = IGMPMessage.v3Report((0..<200).map { GroupRecord(type: .isExclude, group: IPv4Address(239, 4, 0, UInt8($0))) })
            let tooBig = try #require(throws: DatapathError.self) { try port.send(big, source: Self.addrA) }
            #expect(tooBig.errno == EMSGSIZE && tooBig.message.contains("MTU of va"), "\(tooBig.message)")
            try net.ip(t.a, "link", "set", "va", "down")
            let down = try #require(throws: DatapathError.self) { try port.send(.v2Report(group: IPv4Address(239, 1, 2, 8)), source: Self.addrA) }
            #expect(down.message.contains("va is down"), "\(down.message)")
            #expect(port.statistics.txErrors == 2 && port.statistics.txPackets == 0)
        }
    }

    // MARK: - tun

    @Test("on a tun device (no Ethernet): packets written to the tun are received, sends are readable from it")
    func tun() throws {
        try NetnsFixture.withTopology { net in
            let ns = try net.addNamespace()
            let tunFD = try net.addTun(ns, "xgt0", "10.77.0.1/24")
            let (port, tunIf) = try NetnsFixture.inNamespace(ns) { () throws -> (KernelPort, NetworkInterface) in
                let i = try NetworkInterface(named: "xgt0")
                return (try KernelPort(interface: i, captureAllGroups: true), i)
            }
            let peer = IPv4Address(10, 77, 0, 2)
            let query = try IGMPEncoder.ipv4Packet(.query(.v2(maxResponseTenths: 10)), source: peer)
            let report = try IGMPEncoder.ipv4Packet(.v2Report(group: IPv4Address(239, 7, 7, 1)), source: peer)
            for packet in [query, report] {
                #expect(write(tunFD, packet, packet.count) == packet.count)
            }
            var fromPeerCount = 0
            let seen = try port.collect(seconds: 3) { s in
                if s.packet?.ip?.source == peer { fromPeerCount += 1 }
                return fromPeerCount == 2
            }
            let fromPeer = seen.from(peer)
            #expect(fromPeer.map(\.bytes) == [query, report], "\(seen.map(\.summary))")
            #expect(fromPeer.allSatisfy { $0.ifindex == tunIf.index })

            let group = IPv4Address(239, 7, 7, 2)
            try port.send(.v2Report(group: group), source: IPv4Address(10, 77, 0, 1))
            let out = try #require(try readTun(tunFD, seconds: 3) { (try? IGMPDecoder.decode(ipv4Packet: $0))?.message == .v2Report(group: group) },
                                   "the report never came out of the tun")
            let view = try out.withUnsafeBytes { raw in DecodedIGMPPacket(try IGMPPacketView(ipv4Packet: raw)) }
            #expect(view.ip?.checksumOK == true && view.igmpChecksumOK)
            #expect(TestFrames.checksum(Array(out[0..<24])) == 0 && TestFrames.checksum(Array(out[24...])) == 0,
                    "independent checksum over header and message")
            let expected = try IGMPEncoder.ipv4Packet(.v2Report(group: group), source: IPv4Address(10, 77, 0, 1))
            // The kernel fills a zero IP ID (raw(7)) and so redoes the header checksum.
            #expect(maskingIDAndChecksum(out) == maskingIDAndChecksum(expected), "\(out) vs \(expected)")
            #expect(out[1] == 0xc0 && out[8] == 1 && Array(out[20..<24]) == [0x94, 0x04, 0x00, 0x00])
        }
    }

    // MARK: - what the port is allowed to see

    @Test("captureAllGroups is what makes a v2 report to an unjoined group visible")
    func captureAllGroupsMatters() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            let group = IPv4Address(239, 9, 9, 9)
            let sender = try t.senderInB()
            do {
                let off = try t.port(captureAllGroups: false)
                #expect(!off.capturesAllGroups)
                try sendIGMP(sender, .v2Report(group: group), from: Self.addrB)
                try t.sendSentinel(3, via: sender)
                let seen = try off.collect(seconds: 3) { $0.isSentinel(3) }
                #expect(seen.hasSentinel(3))
                #expect(!seen.contains { $0.packet?.message == .v2Report(group: group) },
                        "without the mroute socket the kernel should not deliver a report for an unjoined group")
            }
            let on = try t.port(captureAllGroups: true)
            #expect(on.capturesAllGroups && on.warnings.isEmpty)
            try sendIGMP(sender, .v2Report(group: group), from: Self.addrB)
            try t.sendSentinel(4, via: sender)
            let seen = try on.collect(seconds: 3) { $0.isSentinel(4) }
            #expect(seen.contains { $0.packet?.message == .v2Report(group: group) }, "\(seen.map(\.summary))")
            // A report without Router Alert takes the other kernel path (ip_mr_input → raw_rcv).
            try sendIGMP(sender, .v2Report(group: group), from: Self.addrB, options: IPv4EncodeOptions(routerAlert: false))
            let plain = try on.first(seconds: 3) { $0.packet?.message == .v2Report(group: group) }
            #expect(plain?.packet?.ip?.routerAlert == false)
            // A group-specific query goes to the group too (RFC 2236 §9).
            let specific = IGMPMessage.query(.v2(group: group, maxResponseTenths: 10))
            try sendIGMP(sender, specific, from: Self.addrB)
            let query = try on.first(seconds: 3) { $0.packet?.message == specific }
            #expect(query?.packet?.ip?.destination == group)
        }
    }

    @Test("two tapping ports on one interface both see reports to unjoined groups, and the mroute socket stays free")
    func twoTaps() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            let first = try t.port(captureAllGroups: true)
            let second = try t.port(captureAllGroups: true)
            #expect(first.capturesAllGroups && second.capturesAllGroups)
            #expect(first.warnings.isEmpty && second.warnings.isEmpty, "\(first.warnings) \(second.warnings)")
            let group = IPv4Address(239, 9, 9, 8)
            let sender = try t.senderInB()
            try sendIGMP(sender, .v2Report(group: group), from: Self.addrB)
            #expect(try first.first(seconds: 3) { $0.packet?.message == .v2Report(group: group) } != nil)
            #expect(try second.first(seconds: 3) { $0.packet?.message == .v2Report(group: group) } != nil)
            // Neither took the namespace's multicast routing (igmpproxy or
            // smcroute may run beside xigmp); only asked where the kernel has it.
            if KernelCapabilities.current.ipMroute {
                let free = try NetnsFixture.inNamespace(t.a) { KernelCapabilities.probeMulticastRouting() }
                #expect(free.present && !free.detail.contains("another program"), "\(free.detail)")
            }
        }
    }

    @Test("multicast data is not handed over as IGMP; Ethernet padding is cut to the IP total length")
    func onlyIGMPExactLength() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            let port = try t.port(captureAllGroups: true)
            try NetnsFixture.inNamespace(t.b) {
                try sendUDP(to: IPv4Address(239, 5, 5, 5), port: 5555, ifindex: t.vb.index, count: 3)
            }
            // A v2 report is 32 bytes of IP (Router Alert included): the
            // Ethernet frame pads it to 46, which must not reach the decoder.
            let group = IPv4Address(239, 5, 5, 6)
            let sender = try t.senderInB()
            try sendIGMP(sender, .v2Report(group: group), from: Self.addrB)
            try t.sendSentinel(6)
            let seen = try port.collect(seconds: 3) { $0.isSentinel(6) }
            let summaries = seen.map(\.summary)
            #expect(seen.hasSentinel(6))
            let allIGMP = seen.allSatisfy { $0.bytes.count >= 20 && $0.bytes[9] == 2 }
            #expect(allIGMP, "\(summaries)")
            let reportLength = seen.first { $0.packet?.message == .v2Report(group: group) }?.bytes.count
            #expect(reportLength == 32, "\(summaries)")
            let malformed = port.drops.malformed
            #expect(malformed == 0)
        }
    }

    @Test("packets from another interface are dropped by the IP_PKTINFO check even without SO_BINDTODEVICE")
    func foreignInterfaceFiltered() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            try net.addVethPair(t.a, "va2", "10.10.0.1/24", t.b, "vb2", "10.10.0.2/24")
            let unbound = try NetnsFixture.inNamespace(t.a) {
                try KernelPort(interface: t.va, captureAllGroups: false, batchSize: 16, receiveBufferBytes: 1 << 20,
                               bindToDevice: false, filterInterface: true)
            }
            let bound = try t.port(captureAllGroups: false)
            let other = try NetnsFixture.inNamespace(t.b) { try RawIPSender(interface: NetworkInterface(named: "vb2")) }
            try sendIGMP(other, .query(.v2(maxResponseTenths: 10)), from: IPv4Address(10, 10, 0, 2))
            try t.sendSentinel(7)
            let seen = try unbound.collect(seconds: 3) { $0.isSentinel(7) }
            #expect(seen.hasSentinel(7))
            #expect(seen.allSatisfy { $0.ifindex == t.va.index }, "\(seen.map(\.summary))")
            #expect(unbound.drops.foreignInterface >= 1)
            _ = try bound.collect(seconds: 0.5)
            #expect(bound.drops.foreignInterface == 0, "SO_BINDTODEVICE should keep them out of the bound socket")
        }
    }

    // MARK: - datapath selection

    @Test("--datapath: veth → xdp, tun → kernel, explicit xdp on tun → error")
    func datapathChoice() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            _ = try net.addTun(t.a, "xgt1", "10.78.0.1/24")
            let (veth, tun) = try NetnsFixture.inNamespace(t.a) {
                (try InterfaceInfo(NetworkInterface(named: "va")), try InterfaceInfo(NetworkInterface(named: "xgt1")))
            }
            #expect(try DatapathChoice.auto.resolve(for: veth) == .xdp)
            #expect(try DatapathChoice.auto.resolve(for: tun) == .kernel)
            #expect(try DatapathChoice.kernel.resolve(for: veth) == .kernel)
            #expect(try DatapathChoice.xdp.resolve(for: veth) == .xdp)
            let error = try #require(throws: DatapathError.self) { try DatapathChoice.xdp.resolve(for: tun) }
            #expect(error.message == "xgt1 has no Ethernet header (tun/GRE): the XDP classifier cannot parse it; use --datapath kernel or auto")
            #expect(DatapathChoice.allCases.map(\.rawValue) == ["auto", "xdp", "kernel"])
        }
    }

    // MARK: - allocation and throughput

    /// Steady-state receive must not allocate: every call this thread makes
    /// to malloc, calloc, realloc and the aligned allocators while it
    /// receives 2000 packets is counted by uprobes (exact, per thread, so
    /// suites running in parallel cannot disturb it, and it also sees a
    /// malloc freed again within the loop, which `mallinfo2().uordblks`
    /// would not). Swift's own allocations (swift_slowAlloc, class
    /// instances, array buffers, boxes) all end in these calls. The bound
    /// is zero: after the warm-up nothing on this path has a reason to
    /// allocate.
    @Test("receiving 2000 packets allocates nothing per packet")
    func noAllocationPerPacket() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            let port = try t.port(captureAllGroups: true, receiveBufferBytes: 16 << 20)
            let sender = try t.senderInB()
            let n = 2000
            let group = IPv4Address(239, 2, 0, 1)
            let payload = try IGMPEncoder.encode(.v2Report(group: group))
            func burst() throws {
                try payload.withUnsafeBytes { raw in
                    for _ in 0..<n { try sender.send(igmp: raw, source: Self.addrB, destination: group) }
                }
            }
            // Warm-up: first calls resolve metadata, lazy globals and the like.
            try burst()
            #expect(try port.drain(expecting: n) == n)

            try burst()
            let counter = try MallocCallCounter()
            let (received, calls) = try counter.counting { try port.drain(expecting: n) }
            #expect(received == n, "received \(received) of \(n) (socket buffer too small?)")
            #expect(calls == 0, "\(calls) allocation calls while receiving \(received) packets")
        }
    }

    @Test("throughput figures (printed, not judged): B sends v2 reports as fast as it can for 1 s")
    func throughput() throws {
        try NetnsFixture.withTopology { net in
            let t = try TwoHosts(net)
            let port = try t.port(captureAllGroups: true, receiveBufferBytes: 16 << 20)
            let s = try measureThroughput(port: port, senderNamespace: t.b) {
                let sender = try RawIPSender(interface: NetworkInterface(named: "vb"))
                let payload = try IGMPEncoder.encode(.v2Report(group: IPv4Address(239, 2, 0, 2)))
                return {
                    try payload.withUnsafeBytes { raw in
                        try sender.send(igmp: raw, source: IPv4Address(10, 9, 0, 2), destination: IPv4Address(239, 2, 0, 2))
                    }
                }
            }
            print("kernel path, 1 sender thread + 1 receiver on \(ProcessInfo.processInfo.activeProcessorCount) cores:",
                  "tx \(s.txRate) msg/s (\(s.failed) EAGAIN), rx \(s.rxRate) msg/s, \(port.statistics.rxBatches) batches")
            let received = s.received
            #expect(received > 0)

            // Receive alone: queue a burst first, then time the drain.
            let burst = 20_000
            let queued = try t.port(captureAllGroups: false, receiveBufferBytes: 64 << 20)
            let sender = try t.senderInB()
            let payload = try IGMPEncoder.encode(.v3Report([GroupRecord(type: .isExclude, group: IPv4Address(239, 2, 0, 3))]))
            let txStart = realtimeNanoseconds()
            try payload.withUnsafeBytes { raw in
                for _ in 0..<burst { try sender.send(igmp: raw, source: KernelPortTests.addrB, destination: .igmpv3Routers) }
            }
            let txSeconds = Double(realtimeNanoseconds() - txStart) / 1e9
            let rxStart = realtimeNanoseconds()
            let drained = try queued.drain(expecting: burst)
            let rxSeconds = Double(realtimeNanoseconds() - rxStart) / 1e9
            print("kernel path, burst of \(burst): tx \(Int(Double(burst) / txSeconds)) msg/s (sender alone),",
                  "rx drain \(Int(Double(drained) / rxSeconds)) msg/s (\(drained) received, receiver alone)")
        }
    }
}

// MARK: - helpers

/// Two namespaces joined by a veth pair: A (10.9.0.1, va) and B (10.9.0.2, vb).
struct TwoHosts {
    let net: NetnsFixture
    let a: String
    let b: String
    let va: NetworkInterface
    let vb: NetworkInterface
    private let sentinelSender: RawIPSender

    init(_ net: NetnsFixture) throws {
        self.net = net
        a = try net.addNamespace()
        b = try net.addNamespace()
        try net.addVethPair(a, "va", "10.9.0.1/24", b, "vb", "10.9.0.2/24")
        va = try NetnsFixture.inNamespace(a) { try NetworkInterface(named: "va") }
        vb = try NetnsFixture.inNamespace(b) { try NetworkInterface(named: "vb") }
        let b = b
        sentinelSender = try NetnsFixture.inNamespace(b) { try RawIPSender(interface: NetworkInterface(named: "vb")) }
    }

    /// A port on `va`, opened inside A.
    func port(captureAllGroups: Bool, receiveBufferBytes: Int = 1 << 20) throws -> KernelPort {
        try NetnsFixture.inNamespace(a) {
            try KernelPort(interface: va, captureAllGroups: captureAllGroups, receiveBufferBytes: receiveBufferBytes)
        }
    }

    /// A raw sender on `vb`, opened inside B.
    func senderInB() throws -> RawIPSender {
        try NetnsFixture.inNamespace(b) { try RawIPSender(interface: NetworkInterface(named: "vb")) }
    }

    /// B sends a marker every port sees and no host reacts to: a v3 report
    /// (to 224.0.0.22, which ports join) whose one record is for
    /// 239.255.255.`n`. Everything B sent before it arrived before it.
    func sendSentinel(_ n: UInt8, via sender: RawIPSender? = nil) throws {
        try sendIGMP(sender ?? sentinelSender, .v3Report([GroupRecord(type: .isExclude, group: Seen.sentinelGroup(n))]),
                 from: KernelPortTests.addrB)
    }
}

/// Encodes `message` and sends it through `sender` to its RFC destination.
func sendIGMP(_ sender: RawIPSender, _ message: IGMPMessage, from source: IPv4Address, to destination: IPv4Address? = nil,
          options: IPv4EncodeOptions = IPv4EncodeOptions()) throws {
    let bytes = try IGMPEncoder.encode(message)
    try bytes.withUnsafeBytes { raw in
        try sender.send(igmp: raw, source: source, destination: destination ?? message.defaultDestination, options: options)
    }
}
