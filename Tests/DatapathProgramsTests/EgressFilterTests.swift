import CXigmp
@testable import DatapathBPF
@testable import DatapathKernel
@testable import DatapathPorts
@testable import DatapathPrograms
import Foundation
import Glibc
import IGMPWire
import Testing
import XigmpTestSupport

/// The egress filter on a real veth against the kernel's own IGMP stack:
/// namespace A ("va", 10.9.0.1) is the host whose reports are filtered,
/// namespace B ("vb", 10.9.0.2) captures what actually left A.
@Suite("TC egress filter in namespaces", .serialized)
struct EgressFilterTests {
    static let hostAddress = IPv4Address(10, 9, 0, 1)
    static let allowed = IPv4Address(239, 1, 2, 3)
    static let denied = IPv4Address(239, 9, 9, 9)

    func topology(_ net: NetnsFixture) throws -> (a: String, b: String) {
        let a = try net.addNamespace(), b = try net.addNamespace()
        try net.addVethPair(a, "va", "10.9.0.1/24", b, "vb", "10.9.0.2/24")
        return (a, b)
    }

    /// The filter on "va" in `ns`, allowing 239.1.0.0/16.
    func attach(_ ns: String, allowing prefixes: [String] = ["239.1.0.0/16"],
                mechanism: TCAttachment.Mechanism? = nil) throws -> EgressFilter {
        let list = try prefixes.map { try #require(EgressFilter.Prefix($0)) }
        return try NetnsFixture.inNamespace(ns) {
            try EgressFilter(interface: NetworkInterface(named: "va"), allowed: list, mechanism: mechanism)
        }
    }


    /// Forces IGMP `version` on "va" in `ns`, with short unsolicited
    /// report intervals so retransmissions fall inside the test.
    func forceVersion(_ net: NetnsFixture, _ ns: String, _ version: Int) throws {
        try net.sysctl(ns, "net.ipv4.conf.va.force_igmp_version", "\(version)")
        try net.sysctl(ns, "net.ipv4.conf.va.igmpv2_unsolicited_report_interval", "100")
        try net.sysctl(ns, "net.ipv4.conf.va.igmpv3_unsolicited_report_interval", "50")
    }

    @Test("the host's IGMPv2 reports and leaves: allowed group on the wire, the other never")
    func kernelV2() throws {
        try NetnsFixture.withTopology { net in
            let (a, b) = try topology(net)
            try forceVersion(net, a, 2)
            let filter = try attach(a)
            let capture = try FrameCapture(namespace: b, interface: "vb")
            try net.python(a, "membership.py", ["va", "join:\(Self.allowed)", "join:\(Self.denied)", "sleep:1",
                                                 "leave:\(Self.denied)", "leave:\(Self.allowed)", "sleep:0.5"])
            let seen = capture.igmp(from: Self.hostAddress, seconds: 0.3)
            let counters = try filter.counters
            let reports = seen.filter { $0.message == .v2Report(group: Self.allowed) }
            #expect(!reports.isEmpty, "the kernel's v2 reports for \(Self.allowed) must reach the peer")
            #expect(reports.allSatisfy { $0.ip?.destination == Self.allowed }, "a v2 report goes to its group (RFC 2236 §9)")
            #expect(seen.contains { $0.message == .v2Leave(group: Self.allowed) }, "the leave for \(Self.allowed) too")
            #expect(seen.allSatisfy { !Self.groups(of: $0.message).contains(Self.denied) },
                    "nothing about \(Self.denied) may leave: saw \(seen.map(\.message))")
            #expect(counters.dropped >= 2, "report(s) and the leave for \(Self.denied): \(counters)")
            #expect(counters.allowed == UInt64(seen.count), "each packet passed arrived, nothing else did: \(counters)")
            #expect(counters.igmp == counters.allowed + counters.dropped, "\(counters)")
        }
    }

    @Test("the host's IGMPv3 state-change reports: allowed group on the wire, the other never")
    func kernelV3() throws {
        try NetnsFixture.withTopology { net in
            let (a, b) = try topology(net)
            try forceVersion(net, a, 3)
            let filter = try attach(a)
            let capture = try FrameCapture(namespace: b, interface: "vb")
            // Apart in time, so each state-change report (and its
            // retransmission) carries one group.
            try net.python(a, "membership.py", ["va", "join:\(Self.allowed)", "sleep:0.5", "join:\(Self.denied)", "sleep:0.5",
                                                 "leave:\(Self.denied)", "sleep:0.5", "leave:\(Self.allowed)", "sleep:0.5"])
            let seen = capture.igmp(from: Self.hostAddress, seconds: 0.3)
            let counters = try filter.counters
            let records = seen.flatMap { packet -> [GroupRecord] in
                if case .v3Report(let r) = packet.message { return r }
                return []
            }
            #expect(seen.allSatisfy { $0.message.type == .v3Report && $0.ip?.destination == .igmpv3Routers })
            #expect(records.contains { $0.group == Self.allowed && $0.type == .toExclude }, "the join of \(Self.allowed)")
            #expect(records.contains { $0.group == Self.allowed && $0.type == .toInclude }, "the leave of \(Self.allowed)")
            #expect(records.allSatisfy { $0.group == Self.allowed }, "nothing about \(Self.denied) may leave: \(records)")
            #expect(counters.dropped >= 2, "the join and the leave of \(Self.denied): \(counters)")
            #expect(counters.allowed == UInt64(seen.count), "\(counters)")
            #expect(counters.igmp == counters.allowed + counters.dropped, "\(counters)")
        }
    }

    @Test("an IGMPv3 answer to a general query listing both groups arrives with only the allowed group recognisable")
    func kernelV3MixedAnswer() throws {
        try NetnsFixture.withTopology { net in
            let (a, b) = try topology(net)
            try forceVersion(net, a, 3)
            let filter = try attach(a)
            let member = try net.start(a, [NetnsFixture.python, NetnsFixture.script("membership.py"), "va", "join:\(Self.allowed)",
                                           "sleep:0.3", "join:\(Self.denied)", "sleep:4"])
            defer { member.finish(seconds: 1) }
            try member.waitForLine(containing: "join \(Self.denied)", seconds: 10)
            usleep(400_000)  // state-change reports done
            let before = try filter.counters
            let capture = try FrameCapture(namespace: b, interface: "vb")
            try NetnsFixture.inNamespace(b) {
                let querier = try RawIPSender(interface: NetworkInterface(named: "vb"))
                let query = try IGMPEncoder.encode(.query(.v3(maxResponseTenths: 5)))
                try query.withUnsafeBytes { try querier.send(igmp: $0, source: IPv4Address(10, 9, 0, 2), destination: .allSystems) }
            }
            let frames = capture.igmpFrames(from: Self.hostAddress, seconds: 1.5)
            let after = try filter.counters
            #expect(after.rewritten == before.rewritten + 1, "one answer, passed rewritten: \(before) → \(after)")
            #expect(after.recordsHidden == before.recordsHidden + 1, "its record for \(Self.denied) blanked")
            #expect(after.dropped == before.dropped && after.allowed == before.allowed, "\(before) → \(after)")
            try #require(frames.count == 1, "the answer arrives, once: \(frames.count) frames")
            let frame = frames[0]

            // Read by hand: IGMP checksum, and each record's type and group.
            let l4 = 14 + Int(frame[14] & 0x0f) * 4
            let end = 14 + (Int(frame[16]) << 8 | Int(frame[17]))
            var sum: UInt32 = 0
            for i in stride(from: l4, to: end, by: 2) {
                sum += UInt32(frame[i]) << 8 | (i + 1 < end ? UInt32(frame[i + 1]) : 0)
            }
            while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
            #expect(sum == 0xffff, "the IGMP checksum of the rewritten answer is valid")
            #expect(frame[l4] == 0x22)
            var records: [(type: UInt8, group: IPv4Address)] = []
            var off = l4 + 8
            for _ in 0..<(Int(frame[l4 + 6]) << 8 | Int(frame[l4 + 7])) {
                try #require(off + 8 <= end, "records within the message")
                records.append((frame[off], IPv4Address(frame[off + 4], frame[off + 5], frame[off + 6], frame[off + 7])))
                off += 8 + (Int(frame[off + 2]) << 8 | Int(frame[off + 3])) * 4 + Int(frame[off + 1]) * 4
            }
            #expect(off == end, "the records fill the message exactly")
            let recognised = records.filter { (1...6).contains($0.type) }
            #expect(recognised.map(\.group) == [Self.allowed], "only \(Self.allowed) is recognisable: \(records)")
            #expect(records.count == 2 && records.filter { $0.type == 0 && $0.group == IPv4Address(0, 0, 0, 0) }.count == 1,
                    "the other record is blanked: \(records)")
            let deniedBytes: [UInt8] = [239, 9, 9, 9]
            #expect(!(0...(frame.count - 4)).contains { Array(frame[$0..<$0 + 4]) == deniedBytes },
                    "\(Self.denied) appears nowhere in the frame")
            // xigmp's decoder skips the record type it does not know.
            do {
                let decoded = try IGMPDecoder.decode(ethernetFrame: frame)
                if case .v3Report(let r) = decoded.message {
                    #expect(r.map(\.group) == [Self.allowed], "\(r)")
                } else {
                    Issue.record("not decoded as a v3 report: \(decoded.message)")
                }
            } catch {
                Issue.record("IGMPDecoder refuses the answer: \(error)")
            }
            // And tshark, when installed: checksum good, records as above.
            if let verdict = try Self.tsharkFields(frame, ["igmp.checksum.status", "igmp.record_type", "igmp.maddr"], net: net, ns: b) {
                #expect(verdict.first == "1", "tshark: checksum good (1): \(verdict)")
                let pairs = verdict.count == 3
                    ? zip(verdict[1].split(separator: ","), verdict[2].split(separator: ",")).map { "\($0)/\($1)" } : []
                #expect(pairs == records.map { "\($0.type)/\($0.group)" }, "tshark reads the records as above: \(verdict)")
                #expect(Set(pairs) == ["2/\(Self.allowed)", "0/0.0.0.0"], "tshark: \(verdict)")
            }
        }
    }

    /// `frame` judged by tshark (if installed): the values of `fields` for
    /// the one packet, or nil without tshark.
    static func tsharkFields(_ frame: [UInt8], _ fields: [String], net: NetnsFixture, ns: String) throws -> [String]? {
        let tshark = "/usr/bin/tshark"
        guard access(tshark, X_OK) == 0 else { return nil }
        // A classic pcap file: global header (LINKTYPE_ETHERNET), one record.
        func le32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        func le16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v.littleEndian, Array.init) }
        var pcap = le32(0xa1b2_c3d4) + le16(2) + le16(4) + le32(0) + le32(0) + le32(65_535) + le32(1)
        pcap += le32(0) + le32(0) + le32(UInt32(frame.count)) + le32(UInt32(frame.count)) + frame
        let path = NSTemporaryDirectory() + "xigmp-egress-\(getpid()).pcap"
        try Data(pcap).write(to: URL(fileURLWithPath: path))
        defer { unlink(path) }
        let result = try net.exec(ns, [tshark, "-r", path, "-T", "fields"] + fields.flatMap { ["-e", $0] })
        return result.stdout.trimmingCharacters(in: .whitespacesAndNewlines)
            .split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
    }

    @Test("xigmp's RawIPSender sends carry the own mark: a disallowed report leaves; unmarked, it would not")
    func rawSenderMarked() throws {
        try NetnsFixture.withTopology { net in
            let (a, b) = try topology(net)
            let filter = try attach(a)
            let capture = try FrameCapture(namespace: b, interface: "vb")
            let (marked, unmarked) = try NetnsFixture.inNamespace(a) { () throws -> (RawIPSender, RawIPSender) in
                let va = try NetworkInterface(named: "va")
                return (try RawIPSender(interface: va), try RawIPSender(interface: va))
            }
            #expect(marked.warnings.isEmpty, "root may set SO_MARK: \(marked.warnings)")
            // The control: the same sender with its mark cleared.
            var zero: UInt32 = 0
            #expect(setsockopt(unmarked.descriptor, SOL_SOCKET, SO_MARK, &zero, 4) == 0)
            let report = try IGMPEncoder.encode(.v2Report(group: Self.denied))
            try report.withUnsafeBytes { raw throws in
                try marked.send(igmp: raw, source: Self.hostAddress, destination: Self.denied)
                try unmarked.send(igmp: raw, source: Self.hostAddress, destination: Self.denied)
            }
            let seen = capture.igmp(from: Self.hostAddress, seconds: 0.5)
            let counters = try filter.counters
            #expect(seen.map(\.message) == [.v2Report(group: Self.denied)], "exactly the marked one arrives")
            #expect(counters.own == 1, "\(counters)")
            #expect(counters.dropped == 1, "the unmarked one: \(counters)")
        }
    }

    @Test("AF_XDP transmissions (XDPPort) bypass the egress hook altogether")
    func xdpBypass() throws {
        try NetnsFixture.withTopology { net in
            let (a, b) = try topology(net)
            let filter = try attach(a)
            let capture = try FrameCapture(namespace: b, interface: "vb")
            var options = XDPPort.Options()
            options.receive = false
            let port = try NetnsFixture.inNamespace(a) { try XDPPort(interface: NetworkInterface(named: "va"), options: options) }
            try port.send(.v2Report(group: Self.denied), source: Self.hostAddress)
            try port.flush()
            let seen = capture.igmp(from: Self.hostAddress, seconds: 0.5)
            #expect(seen.map(\.message) == [.v2Report(group: Self.denied)])
            let counters = try filter.counters
            #expect(counters == EgressFilter.Counters(), "the filter never saw it (not even as own): \(counters)")
        }
    }

    @Test("passing hands the packet on: a filter behind it on the hook still sees the report")
    func passesOnToLaterFilters() throws {
        try NetnsFixture.withTopology { net in
            let (a, b) = try topology(net)
            let filter = try attach(a)
            // A second copy of the program at a later pref, allowing all,
            // stands in for another tool's filter and counts what it sees.
            let behind = try EgressProgram()
            try behind.setAllowed([.allMulticast])
            let ifindex = try NetnsFixture.inNamespace(a) { try NetworkInterface(named: "va").index }
            try NetnsFixture.inNamespace(a) {
                var id: UInt32 = 0
                // With tcx ours runs first and hands on to the classic tc
                // filters, which need the qdisc.
                if filter.mechanism == .tcx { _ = cxigmp_tc_hook_create(Int32(ifindex)) }
                let rc = cxigmp_tc_attach(Int32(ifindex), true, behind.program.raw, 1, 40000, false, &id)
                try #require(rc == 0, "attaching the second filter: \(rc)")
            }
            let capture = try FrameCapture(namespace: b, interface: "vb")
            try forceVersion(net, a, 2)
            try net.python(a, "membership.py", ["va", "join:\(Self.allowed)", "join:\(Self.denied)", "sleep:0.5"])
            let passed = try filter.counters.allowed
            #expect(passed >= 1)
            #expect(try behind.counters().igmp == passed, "it sees exactly what ours passed on, not the drops")
            #expect(!capture.igmp(from: Self.hostAddress, seconds: 0.2).isEmpty)
        }
    }

    @Test("clsact fallback: close removes only our filter; a clsact qdisc we added goes only when nothing else uses it")
    func detach() throws {
        try NetnsFixture.withTopology { net in
            let (a, _) = try topology(net)
            func filters(_ hook: String) throws -> String { try net.exec(a, ["/usr/sbin/tc", "filter", "show", "dev", "va", hook]).stdout }
            func hasClsact() throws -> Bool { try net.exec(a, ["/usr/sbin/tc", "qdisc", "show", "dev", "va"]).stdout.contains("clsact") }

            // 1. Nothing there before: we add clsact, and release it all
            // (from outside the namespace: close finds its way back).
            var f: EgressFilter? = try attach(a, mechanism: .clsact)
            #expect(f?.createdQdisc == true)
            #expect(try filters("egress").contains("xigmp_egress"))
            #expect(try hasClsact())
            f = nil
            #expect(try filters("egress").isEmpty)
            #expect(try !hasClsact(), "the qdisc we added and nobody else used is gone")

            // 2. We add clsact, someone adds an ingress filter meanwhile:
            // the qdisc stays, with their filter.
            let mine = try attach(a, mechanism: .clsact)
            try net.exec(a, ["/usr/sbin/tc", "filter", "add", "dev", "va", "ingress", "pref", "5", "protocol", "ip",
                             "u32", "match", "u32", "0", "0", "classid", "1:1"])
            try mine.close()
            try mine.close()  // idempotent
            #expect(!mine.isAttached)
            #expect(try filters("egress").isEmpty)
            #expect(try filters("ingress").contains("u32"))
            #expect(try hasClsact())

            // 3. A clsact someone else made, with their filters on both
            // hooks: ours comes and goes, theirs stay.
            try net.exec(a, ["/usr/sbin/tc", "filter", "add", "dev", "va", "egress", "pref", "40000", "protocol", "ip",
                             "u32", "match", "u32", "0", "0", "classid", "1:2"])
            let guest = try attach(a, mechanism: .clsact)
            #expect(!guest.createdQdisc)
            #expect(try filters("egress").contains("xigmp_egress"))
            try guest.close()
            let left = try filters("egress")
            #expect(!left.contains("xigmp_egress") && left.contains("u32"), "\(left)")
            #expect(try filters("ingress").contains("u32"))
            #expect(try hasClsact())

            // 4. Someone's clsact with no filters at all (yet): still theirs.
            try net.exec(a, ["/usr/sbin/tc", "filter", "del", "dev", "va", "ingress"])
            try net.exec(a, ["/usr/sbin/tc", "filter", "del", "dev", "va", "egress"])
            let visitor = try attach(a, mechanism: .clsact)
            #expect(!visitor.createdQdisc)
            try visitor.close()
            #expect(try filters("egress").isEmpty && filters("ingress").isEmpty)
            #expect(try hasClsact(), "a qdisc we did not add stays, even empty")
        }
    }

    @Test("clsact fallback: a second filter replaces the first in its slot; the first's close leaves the second alone")
    func replacement() throws {
        try NetnsFixture.withTopology { net in
            let (a, _) = try topology(net)
            let first = try attach(a, mechanism: .clsact)
            let second = try attach(a, allowing: ["239.2.0.0/16"], mechanism: .clsact)
            #expect(second.notes.contains { $0.contains("replaced the xigmp_egress filter") }, "\(second.notes)")
            try first.close()
            let ifindex = try NetnsFixture.inNamespace(a) { try NetworkInterface(named: "va").index }
            let current = try NetnsFixture.inNamespace(a) { () -> UInt32 in
                var slot = cxigmp_tc_hook_state()
                _ = cxigmp_tc_scan(Int32(ifindex), true, EgressFilter.tcHandle, EgressFilter.tcPriority, &slot)
                return slot.prog_id
            }
            #expect(current == second.programID)
            try second.close()
            #expect(try net.exec(a, ["/usr/sbin/tc", "filter", "show", "dev", "va", "egress"]).stdout.isEmpty)
        }
    }

    @Test("tcx: the filter is a bpf_link (no tc filter, no qdisc), and gone when its descriptor closes",
          .enabled(if: KernelCapabilities.current.tcx, "kernel lacks tcx (Linux 6.6+)"))
    func tcxLink() throws {
        try NetnsFixture.withTopology { net in
            let (a, _) = try topology(net)
            var f: EgressFilter? = try attach(a)
            #expect(f?.mechanism == .tcx)
            let id = f?.programID ?? 0
            #expect(Self.tcxLinks(program: id) == 1, "one tcx link runs the filter")
            let tc = try net.exec(a, ["/usr/sbin/tc", "qdisc", "show", "dev", "va"]).stdout
            #expect(!tc.contains("clsact"), "tcx needs no qdisc: \(tc)")
            f = nil
            // Other tests in this process walk the kernel's links
            // (XDPAttach.findLink) and hold each for an instant: the link
            // goes when the last reference does, so wait a bounded while.
            var left = Self.tcxLinks(program: id)
            for _ in 0..<200 where left != 0 {
                usleep(10_000)
                left = Self.tcxLinks(program: id)
            }
            #expect(left == 0, "closing the descriptor detached it")
        }
    }

    /// tcx links (BPF_LINK_TYPE_TCX, 11) running program `id`, from the
    /// kernel's link ids.
    static func tcxLinks(program id: UInt32) -> Int {
        var next: UInt32 = 0, count = 0
        while bpf_link_get_next_id(next, &next) == 0 {
            let fd = bpf_link_get_fd_by_id(next)
            guard fd >= 0 else { continue }
            defer { close(fd) }
            var info = bpf_link_info()
            var len = UInt32(MemoryLayout<bpf_link_info>.size)
            if bpf_obj_get_info_by_fd(fd, &info, &len) == 0, info.type == 11, info.prog_id == id { count += 1 }
        }
        return count
    }

    @Test("interfaces it cannot guard are refused with the reason")
    func refusals() throws {
        try NetnsFixture.withTopology { net in
            let a = try net.addNamespace()
            _ = try net.addTun(a, "xgtun0", "10.9.5.1/24")
            let error = try NetnsFixture.inNamespace(a) { () -> DatapathError? in
                do throws(DatapathError) {
                    _ = try EgressFilter(interface: NetworkInterface(named: "xgtun0"))
                    return nil
                } catch { return error }
            }
            #expect(error?.message.contains("no Ethernet header") == true, "\(String(describing: error))")
        }
    }

    /// The groups a message names.
    static func groups(of message: IGMPMessage) -> [IPv4Address] {
        switch message {
        case .v3Report(let records): return records.map(\.group)
        default: return message.group.map { [$0] } ?? []
        }
    }
}

/// An AF_PACKET socket on one interface of a namespace: what arrived there,
/// read after the fact.
final class FrameCapture {
    let fd: Int32

    init(namespace: String, interface: String) throws {
        fd = try NetnsFixture.inNamespace(namespace) { () throws -> Int32 in
            let ethPAll: UInt16 = 0x0003  // ETH_P_ALL; linux/if_packet.h does not import
            let fd = socket(AF_PACKET, Int32(SOCK_RAW.rawValue) | Int32(SOCK_CLOEXEC.rawValue) | Int32(SOCK_NONBLOCK.rawValue),
                            Int32(ethPAll.bigEndian))
            guard fd >= 0 else { throw FixtureError("AF_PACKET socket: \(String(cString: strerror(errno)))") }
            // struct sockaddr_ll: family, protocol (network order), ifindex, then zeros.
            var sll = [UInt8](repeating: 0, count: 20)
            withUnsafeBytes(of: UInt16(AF_PACKET)) { sll.replaceSubrange(0..<2, with: $0) }
            withUnsafeBytes(of: ethPAll.bigEndian) { sll.replaceSubrange(2..<4, with: $0) }
            withUnsafeBytes(of: Int32(if_nametoindex(interface))) { sll.replaceSubrange(4..<8, with: $0) }
            let rc = sll.withUnsafeBytes {
                bind(fd, $0.baseAddress!.assumingMemoryBound(to: sockaddr.self), socklen_t($0.count))
            }
            guard rc == 0 else { close(fd); throw FixtureError("binding AF_PACKET to \(interface): \(String(cString: strerror(errno)))") }
            return fd
        }
    }

    deinit { close(fd) }

    /// IGMP frames from `source` received so far and within `seconds` more.
    func igmp(from source: IPv4Address, seconds: Double) -> [DecodedIGMPPacket] {
        igmpFrames(from: source, seconds: seconds).compactMap { try? IGMPDecoder.decode(ethernetFrame: $0) }
    }

    /// The raw Ethernet frames of `igmp(from:seconds:)`, decodable or not:
    /// untagged IPv4 protocol 2 from `source`.
    func igmpFrames(from source: IPv4Address, seconds: Double) -> [[UInt8]] {
        var found: [[UInt8]] = []
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let deadline = Date().addingTimeInterval(seconds)
        repeat {
            var pfd = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            guard poll(&pfd, 1, 20) > 0 else { continue }
            while true {
                let n = recv(fd, &buffer, buffer.count, Int32(MSG_DONTWAIT))
                guard n > 0 else { break }
                let f = Array(buffer[0..<n])
                // Ethernet, IPv4 (0x0800), protocol 2, source address.
                if f.count >= 34, f[12] == 0x08, f[13] == 0x00, f[23] == 2,
                   IPv4Address(f[26], f[27], f[28], f[29]) == source {
                    found.append(f)
                }
            }
        } while Date() < deadline
        return found
    }
}
