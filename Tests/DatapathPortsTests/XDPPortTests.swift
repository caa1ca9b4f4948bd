import AllocationCounting
@testable import DatapathBPF
@testable import DatapathKernel
@testable import DatapathPorts
@testable import DatapathPrograms
import Foundation
import Glibc
import IGMPWire
import Testing
import XigmpTestSupport

/// The AF_XDP port on real veth pairs in namespaces: IGMP from every RX
/// queue, frames built in UMEM judged by scapy on the other side, no
/// allocation per packet, nothing read back from our own transmissions,
/// and a classifier loaded by `xigmp load` reused and restored.
@Suite("AF_XDP port", .serialized)
struct XDPPortTests {
    /// Two namespaces joined by a veth with `queues` RX/TX queues; the
    /// port's side is "va" (10.9.0.1), the peer's "vb" (10.9.0.2).
    func topology(_ net: NetnsFixture, queues: Int = 1) throws -> (a: String, b: String) {
        let a = try net.addNamespace(), b = try net.addNamespace()
        try NetnsFixture.run(["/usr/sbin/ip", "link", "add", "va", "netns", a, "numtxqueues", "\(queues)", "numrxqueues", "\(queues)",
                              "type", "veth", "peer", "name", "vb", "netns", b, "numtxqueues", "\(queues)", "numrxqueues", "\(queues)"])
        try net.ip(a, "addr", "add", "10.9.0.1/24", "dev", "va")
        try net.ip(b, "addr", "add", "10.9.0.2/24", "dev", "vb")
        try net.ip(a, "link", "set", "va", "up")
        try net.ip(b, "link", "set", "vb", "up")
        return (a, b)
    }

    func open(_ ns: String, _ options: XDPPort.Options = XDPPort.Options()) throws -> XDPPort {
        try NetnsFixture.inNamespace(ns) { try XDPPort(interface: NetworkInterface(named: "va"), options: options) }
    }


    /// Receives until `count` packets arrived or `seconds` passed; `body`
    /// sees each. Uses no Foundation and allocates nothing itself.
    @discardableResult
    func receive(_ port: XDPPort, count: Int, seconds: Int, _ body: (PortPacket) -> Void) throws -> Int {
        var got = 0
        var start = timespec()
        clock_gettime(CLOCK_MONOTONIC, &start)
        while got < count {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            if now.tv_sec - start.tv_sec > seconds { break }
            got += try port.receive(maxBatch: 64, timeoutMs: 100) { p in body(p) }
        }
        return got
    }

    @Test("IGMP arriving on each of 4 RX queues is received and decodes")
    func fourQueues() throws {
        try NetnsFixture.withTopology { net in
            let (a, b) = try topology(net, queues: 4)
            var options = XDPPort.Options()
            options.mode = .native
            let port = try open(a, options)
            #expect(port.queueCount == 4)
            #expect(port.mode == .native)
            let sender = try net.start(b, [NetnsFixture.python, NetnsFixture.script("send_reports.py"), "128"])
            var queues = Set<UInt32>()
            var reports = 0
            try receive(port, count: 128, seconds: 15) { p in
                queues.insert(p.queue)
                if let view = try? IGMPPacketView(ethernetFrame: p.bytes), view.igmp.type == .v2Report,
                   view.igmp.group == IPv4Address(239, 7, 7, 7) { reports += 1 }
            }
            sender.finish(seconds: 10)
            #expect(reports == 128)
            #expect(queues == [0, 1, 2, 3], "flow hashing over 128 sources must reach every queue")
        }
    }

    @Test("no allocation per packet on receive (2000 packets)")
    func receiveAllocatesNothing() throws {
        try NetnsFixture.withTopology { net in
            let (a, b) = try topology(net)
            let port = try open(a)
            let counter = try MallocCallCounter()
            // Warm up: first calls may allocate lazily (metadata, caches).
            let warm = try net.start(b, [NetnsFixture.python, NetnsFixture.script("send_reports.py"), "50"])
            try receive(port, count: 50, seconds: 10) { _ in }
            warm.finish(seconds: 10)
            let sender = try net.start(b, [NetnsFixture.python, NetnsFixture.script("send_reports.py"), "2000"])
            var valid = 0
            let (got, allocations) = try counter.counting { () throws -> Int in
                var n = 0
                var spins = 0
                while n < 2000 && spins < 3000 {
                    n += try port.receive(maxBatch: 64, timeoutMs: 10) { p in
                        if let view = try? IGMPPacketView(ethernetFrame: p.bytes), view.igmp.type == .v2Report {
                            valid += 1
                        }
                    }
                    spins += 1
                }
                return n
            }
            sender.finish(seconds: 10)
            #expect(got == 2000)
            #expect(valid == 2000)
            // Per batch, not per packet, would already be a bug: the loop's
            // only allowed allocations are none.
            #expect(allocations == 0, "\(allocations) allocation calls while receiving \(got) packets in \(port.statistics.rxBatches) batches")
        }
    }

    @Test("frames built in UMEM: scapy on the peer sees TTL 1, TOS 0xc0, Router Alert, good checksums")
    func transmitFrame() throws {
        try NetnsFixture.withTopology { net in
            let (a, b) = try topology(net)
            var options = XDPPort.Options()
            options.receive = false
            let port = try open(a, options)
            let sniffer = try net.start(b, [NetnsFixture.python, NetnsFixture.script("sniff_one_igmp.py"), "vb", "10.9.0.1"])
            try sniffer.waitForLine(containing: "ready", seconds: 15)
            usleep(300_000)
            try port.send(.v2Report(group: IPv4Address(239, 3, 3, 3)), source: IPv4Address(10, 9, 0, 1))
            let out = sniffer.finish(seconds: 15)
            let line = try #require(out.stdout.split(separator: "\n").last { $0.hasPrefix("{") }, "scapy saw nothing: \(out.stderr)")
            let seen = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any] ?? [:]
            #expect(seen["ttl"] as? Int == 1)
            #expect(seen["tos"] as? Int == 0xc0)
            #expect(seen["options"] as? String == "94040000")
            #expect(seen["ip_checksum_ok"] as? Bool == true)
            #expect(seen["igmp_checksum_ok"] as? Bool == true)
            #expect(seen["dst"] as? String == "239.3.3.3", "a v2 report goes to its group (RFC 2236 §9)")
            #expect(seen["igmp_type"] as? Int == 0x16)
            #expect(port.statistics.txPackets == 1)
        }
    }

    @Test("1000 sends in a row: completions are reclaimed, nothing lost, none read back")
    func transmitMany() throws {
        try NetnsFixture.withTopology { net in
            let (a, b) = try topology(net)
            let port = try open(a)
            func rxPackets() throws -> Int {
                let out = try net.exec(b, ["/usr/bin/cat", "/sys/class/net/vb/statistics/rx_packets"]).stdout
                return Int(out.trimmingCharacters(in: .whitespacesAndNewlines)) ?? -1
            }
            let before = try rxPackets()
            let payload = try IGMPEncoder.encode(.v2Report(group: IPv4Address(239, 4, 4, 4)))
            for i in 0..<1000 {
                try payload.withUnsafeBytes { raw in
                    try port.send(igmp: raw, source: IPv4Address(10, 9, 0, 1), destination: IPv4Address(239, 4, 4, 4),
                                  options: IPv4EncodeOptions())
                }
                if i % 32 == 31 { try port.flush() }
            }
            try port.flush()
            usleep(300_000)
            try port.flush()
            #expect(port.statistics.txPackets == 1000)
            #expect(port.statistics.txErrors == 0)
            #expect(try rxPackets() - before == 1000, "every frame reached the peer")
            var echoed = 0
            try receive(port, count: 1, seconds: 1) { _ in echoed += 1 }
            #expect(echoed == 0, "our own transmissions must never come back as input")
        }
    }

    @Test("a classifier from `xigmp load` is reused, and its actions restored on close")
    func reusesPinnedClassifier() throws {
        try NetnsFixture.withTopology { net in
            let (a, b) = try topology(net)
            try NetnsFixture.inNamespace(a) {
                _ = try ClassifierControl.load(ifname: "va", mode: .generic, force: false, action: .pass)
            }
            defer { _ = try? NetnsFixture.inNamespace(a) { try ClassifierControl.unload(ifname: "va") } }
            var port: XDPPort? = try open(a)
            #expect(port?.notes.contains { $0.contains("using the classifier already attached") } == true)
            #expect(port?.mode == .generic)
            let sender = try net.start(b, [NetnsFixture.python, NetnsFixture.script("send_reports.py"), "3"])
            var got = 0
            if let p = port { try receive(p, count: 3, seconds: 10) { _ in got += 1 } }
            sender.finish(seconds: 10)
            #expect(got == 3, "reports reach the port through the reused classifier")
            port = nil
            let (attachment, counters) = try NetnsFixture.inNamespace(a) { () throws -> (XDPAttachment?, ClassifierCounters?) in
                let att = try XDP.query(NetworkInterface(named: "va"))
                return (att, try att.map { try ClassifierControl.counters(of: $0) })
            }
            #expect(attachment?.isOurs == true, "closing the port leaves the pinned classifier attached")
            #expect(counters?["redirected"] == 3)
            // Rows restored to pass: the next report is passed, not redirected.
            try net.python(b, "send_reports.py", ["1"])
            usleep(200_000)
            let after = try NetnsFixture.inNamespace(a) { () throws -> ClassifierCounters in
                let att = try XDP.query(NetworkInterface(named: "va"))
                return try ClassifierControl.counters(of: #require(att))
            }
            #expect(after["passed"] == (counters?["passed"] ?? 0) + 1)
            #expect(after["no_socket"] == counters?["no_socket"])
        }
    }

    @Test("throughput figures (printed, not judged): AF_XDP sender in B, AF_XDP port in A, 1 s")
    func throughput() throws {
        try NetnsFixture.withTopology { net in
            let (a, b) = try topology(net)
            let port = try open(a)
            let t = try measureThroughput(port: port, senderNamespace: b) {
                var options = XDPPort.Options()
                options.receive = false
                let sender = try XDPPort(interface: NetworkInterface(named: "vb"), options: options)
                let payload = try IGMPEncoder.encode(.v2Report(group: IPv4Address(239, 2, 0, 2)))
                var n = 0
                return {
                    try payload.withUnsafeBytes { raw in
                        try sender.send(igmp: raw, source: IPv4Address(10, 9, 0, 2),
                                        destination: IPv4Address(239, 2, 0, 2), options: IPv4EncodeOptions())
                    }
                    n += 1
                    if n % 64 == 0 { try sender.flush() }
                }
            }
            print("AF_XDP path, 1 sender thread + 1 receiver on \(ProcessInfo.processInfo.activeProcessorCount) cores:",
                  "tx \(t.txRate) msg/s (\(t.failed) ring-full retries), rx \(t.rxRate) msg/s,",
                  "\(port.statistics.rxBatches) batches, \(port.mode.map(\.rawValue) ?? "-") XDP")
            let received = t.received
            #expect(received > 0)
        }
    }
}
