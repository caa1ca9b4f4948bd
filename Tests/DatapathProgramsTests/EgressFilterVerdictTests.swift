import CXigmp
@testable import DatapathBPF
@testable import DatapathKernel
@testable import DatapathPrograms
import Glibc
import IGMPWire
import Testing
import XigmpTestSupport

/// Runs the real egress filter through BPF_PROG_TEST_RUN: one hand-built
/// frame per verdict, checking the TC verdict and exactly which counters
/// moved. The namespace tests (EgressFilterTests) check the same program
/// against the kernel's own reports.
///
/// Needs root (CAP_BPF + CAP_NET_ADMIN); fails with a reason without it.
@Suite("TC egress filter verdicts (BPF_PROG_TEST_RUN)")
struct EgressFilterVerdictTests {
    /// TC_ACT_UNSPEC: passed on to the next filter (TC_ACT_OK would end
    /// the chain and hide traffic from filters behind this one).
    static let ok: Int32 = -1
    static let shot: Int32 = 2  // TC_ACT_SHOT
    static let allowedGroup: [UInt8] = [239, 1, 2, 3]
    static let deniedGroup: [UInt8] = [239, 9, 9, 9]

    func loaded(_ allowed: [String] = ["239.1.0.0/16"]) throws -> EgressProgram {
        try #require(geteuid() == 0, "the egress filter tests load BPF programs and need root: run `sudo make test`")
        LibBPFLog.capture()
        let p = try EgressProgram()
        try p.setAllowed(allowed.map { try #require(EgressFilter.Prefix($0)) })
        return p
    }

    /// Runs `frame`; returns the verdict and the counters that moved, and
    /// checks that `igmp` equals the sum of the outcome counters.
    func run(_ p: EgressProgram, _ frame: [UInt8], mark: UInt32 = 0) throws -> (Int32, [String: UInt64]) {
        let before = try p.counters()
        let verdict = try p.testRun(frame, mark: mark)
        let after = try p.counters()
        let d = EgressCountersDelta(after, before)
        #expect(d.igmp == d.own + d.fragments + d.other + d.allowed + d.dropped + d.malformed + d.rewritten,
                "every IGMP packet lands in exactly one outcome")
        return (verdict, d.moved)
    }

    /// As `run`, also returning the frame as the program left it.
    func runWithOutput(_ p: EgressProgram, _ frame: [UInt8]) throws -> (Int32, [String: UInt64], [UInt8]) {
        let before = try p.counters()
        let (verdict, out) = try p.testRunWithOutput(frame)
        let d = EgressCountersDelta(try p.counters(), before)
        #expect(d.igmp == d.own + d.fragments + d.other + d.allowed + d.dropped + d.malformed + d.rewritten)
        return (verdict, d.moved, out)
    }

    /// True when the IGMP message in `frame` (IPv4 header at `l3`) has a
    /// valid checksum: its one's-complement sum, checksum field included,
    /// is 0xffff. Written out here, independent of TestFrames.
    static func igmpChecksumValid(_ frame: [UInt8], l3: Int = 14) -> Bool {
        let l4 = l3 + Int(frame[l3] & 0x0f) * 4
        let end = l3 + (Int(frame[l3 + 2]) << 8 | Int(frame[l3 + 3]))
        var sum: UInt32 = 0
        var i = l4
        while i < end {
            sum += UInt32(frame[i]) << 8 | (i + 1 < end ? UInt32(frame[i + 1]) : 0)
            i += 2
        }
        while sum > 0xffff { sum = (sum & 0xffff) + (sum >> 16) }
        return sum == 0xffff
    }

    /// Byte offsets (in the frame) of each record of the v3 report in
    /// `frame`, IGMP starting at `l4`.
    static func recordOffsets(_ frame: [UInt8], l4: Int) -> [Int] {
        let n = Int(frame[l4 + 6]) << 8 | Int(frame[l4 + 7])
        var offsets: [Int] = [], off = l4 + 8
        for _ in 0..<n {
            offsets.append(off)
            off += 8 + (Int(frame[off + 2]) << 8 | Int(frame[off + 3])) * 4 + Int(frame[off + 1]) * 4
        }
        return offsets
    }

    /// Checks that `out` is `input` (IPv4 header at `l3`) with exactly the
    /// records at `hidden` (indexes) blanked, Record Type and group zero, nothing else changed
    /// but the IGMP checksum, which must be valid.
    static func expectBlanked(_ out: [UInt8], from input: [UInt8], hidden: Set<Int>, l3: Int = 14,
                              sourceLocation: SourceLocation = #_sourceLocation) {
        #expect(out.count == input.count, "same length", sourceLocation: sourceLocation)
        guard out.count == input.count else { return }
        let l4 = l3 + Int(input[l3] & 0x0f) * 4
        var expected = input
        let offsets = recordOffsets(input, l4: l4)
        for i in hidden {
            expected[offsets[i]] = 0
            expected.replaceSubrange(offsets[i] + 4..<offsets[i] + 8, with: [0, 0, 0, 0])
        }
        // The checksum is judged on its own; every other byte must match.
        expected[l4 + 2] = out[l4 + 2]; expected[l4 + 3] = out[l4 + 3]
        let differing = (0..<out.count).filter { out[$0] != expected[$0] }
        #expect(differing.isEmpty, "bytes other than the blanked fields and the checksum changed, or a blanked field did not: offsets \(differing)",
                sourceLocation: sourceLocation)
        for (i, off) in offsets.enumerated() where !hidden.contains(i) {
            #expect(out[off..<off + 8] == input[off..<off + 8], "allowed record \(i) untouched", sourceLocation: sourceLocation)
        }
        for i in hidden {
            #expect(out[offsets[i]] == 0 && out[offsets[i] + 4..<offsets[i] + 8] == [0, 0, 0, 0],
                    "record \(i): type and group zero", sourceLocation: sourceLocation)
        }
        #expect(igmpChecksumValid(out, l3: l3), "the IGMP checksum of the rewritten report is valid", sourceLocation: sourceLocation)
    }

    /// An 8-byte IGMP message in a frame: Router Alert, optional VLAN tags.
    static func frame(type: UInt8, group: [UInt8], vlans: [UInt16] = [], routerAlert: Bool = true) -> [UInt8] {
        let m = TestFrames.igmp(type: type, group: group)
        return TestFrames.ethernet(vlans: vlans)
            + TestFrames.ipv4(payloadLength: m.count, options: routerAlert ? [0x94, 4, 0, 0] : [], dst: group) + m
    }

    /// A v3 report frame holding `records`, each (group, sources, aux words);
    /// `countOverride` replaces the record count in the header.
    /// Record types cycle through 1...6 (all valid), so blanking is seen
    /// to clear each of them.
    static func v3Frame(_ records: [(group: [UInt8], sources: Int, aux: Int)], countOverride: UInt16? = nil,
                        truncateBy: Int = 0, vlans: [UInt16] = []) -> [UInt8] {
        var m: [UInt8] = [0x22, 0, 0, 0, 0, 0] + TestFrames.be16(countOverride ?? UInt16(records.count))
        for (i, r) in records.enumerated() {
            m += [UInt8(1 + i % 6), UInt8(r.aux)] + TestFrames.be16(UInt16(r.sources)) + r.group
            for s in 0..<r.sources { m += [10, 0, 0, UInt8(s + 1)] }
            m += Array(repeating: 0xaa, count: r.aux * 4)
        }
        m = Array(m.dropLast(truncateBy))
        let c = TestFrames.checksum(m)
        m[2] = UInt8(c >> 8); m[3] = UInt8(c & 0xff)
        return TestFrames.ethernet(dst: [0x01, 0x00, 0x5e, 0, 0, 0x16], vlans: vlans)
            + TestFrames.ipv4(payloadLength: m.count, dst: [224, 0, 0, 22]) + m
    }

    @Test("v1 report, v2 report, v2 leave: allowed group passes, other groups are dropped",
          arguments: [UInt8(0x12), 0x16, 0x17])
    func eightByteMessages(type: UInt8) throws {
        let p = try loaded()
        let (pass, passMoved) = try run(p, Self.frame(type: type, group: Self.allowedGroup))
        #expect(pass == Self.ok)
        #expect(passMoved == ["igmp": 1, "allowed": 1])
        let (drop, dropMoved) = try run(p, Self.frame(type: type, group: Self.deniedGroup))
        #expect(drop == Self.shot)
        #expect(dropMoved == ["igmp": 1, "dropped": 1])
    }

    @Test("judged through one and two VLAN tags and without Router Alert (IHL 5)")
    func encapsulations() throws {
        let p = try loaded()
        for vlans in [[UInt16(7)], [10, 20]] {
            #expect(try run(p, Self.frame(type: 0x16, group: Self.deniedGroup, vlans: vlans)).0 == Self.shot)
            #expect(try run(p, Self.frame(type: 0x16, group: Self.allowedGroup, vlans: vlans)).0 == Self.ok)
        }
        #expect(try run(p, Self.frame(type: 0x16, group: Self.deniedGroup, routerAlert: false)).0 == Self.shot)
        #expect(try run(p, Self.frame(type: 0x16, group: Self.allowedGroup, routerAlert: false)).0 == Self.ok)
    }

    @Test("xigmp's own mark passes a disallowed report unexamined")
    func ownMark() throws {
        let p = try loaded()
        let (v, moved) = try run(p, Self.frame(type: 0x16, group: Self.deniedGroup), mark: EgressFilter.ownMark)
        #expect(v == Self.ok)
        #expect(moved == ["igmp": 1, "own": 1])
        #expect(EgressFilter.ownMark == 0x7869_6770, "'xigp', as in bpf/xigmp_abi.h")
        // Any other mark is not ours.
        #expect(try run(p, Self.frame(type: 0x16, group: Self.deniedGroup), mark: 1).0 == Self.shot)
    }

    @Test("not IGMP, queries, other types, fragments: passed untouched")
    func untouched() throws {
        let p = try loaded()
        let arp = TestFrames.ethernet(etherType: 0x0806) + Array(repeating: 0, count: 28)
        #expect(try run(p, arp) == (Self.ok, [:]))
        let udp = TestFrames.ethernet() + TestFrames.ipv4(payloadLength: 8, proto: 17, options: []) + [0, 1, 0, 2, 0, 8, 0, 0]
        #expect(try run(p, udp) == (Self.ok, [:]))
        #expect(try run(p, TestFrames.igmpFrame(type: 0x11)) == (Self.ok, ["igmp": 1, "other": 1]))
        #expect(try run(p, TestFrames.igmpFrame(type: 0x13)) == (Self.ok, ["igmp": 1, "other": 1]))
        let m = TestFrames.igmp(type: 0x16, group: Self.deniedGroup)
        let fragment = TestFrames.ethernet() + TestFrames.ipv4(payloadLength: m.count, fragment: 0x2000) + m
        #expect(try run(p, fragment) == (Self.ok, ["igmp": 1, "fragments": 1]))
    }

    @Test("IGMP that does not parse is dropped and counted as malformed")
    func malformed() throws {
        let p = try loaded()
        let m = TestFrames.igmp(type: 0x16, group: Self.allowedGroup)
        let cases: [(String, [UInt8])] = [
            ("IHL 4", TestFrames.ethernet() + TestFrames.ipv4(payloadLength: 8, ihlOverride: 4) + m),
            ("Total Length past the frame", TestFrames.ethernet() + TestFrames.ipv4(payloadLength: 8, totalLengthOverride: 200) + m),
            ("IGMP shorter than 8 bytes", TestFrames.ethernet() + TestFrames.ipv4(payloadLength: 4) + Array(m.prefix(4))),
            ("IP version 6 in an IPv4 frame", TestFrames.ethernet() + TestFrames.ipv4(payloadLength: 8, version: 6) + m),
        ]
        for (name, frame) in cases {
            let (v, moved) = try run(p, frame)
            #expect(v == Self.shot, "\(name)")
            #expect(moved == ["igmp": 1, "malformed": 1], "\(name)")
        }
    }

    @Test("v3 report: all allowed passes untouched, none allowed is dropped")
    func v3Records() throws {
        let p = try loaded(["239.1.0.0/16", "232.0.0.7"])
        let allAllowed = Self.v3Frame([([239, 1, 0, 1], 0, 0), ([239, 1, 200, 9], 3, 1), ([232, 0, 0, 7], 1, 0)])
        let (v, moved, out) = try runWithOutput(p, allAllowed)
        #expect((v, moved) == (Self.ok, ["igmp": 1, "allowed": 1]))
        #expect(out == allAllowed, "passed byte for byte")
        let noneAllowed = Self.v3Frame([([232, 0, 0, 8], 2, 0), ([239, 9, 0, 2], 0, 2), ([224, 0, 0, 251], 1, 0)])
        #expect(try run(p, noneAllowed) == (Self.shot, ["igmp": 1, "dropped": 1]))
        #expect(try run(p, Self.v3Frame([([232, 0, 0, 8], 0, 0)])) == (Self.shot, ["igmp": 1, "dropped": 1]))
        #expect(try run(p, Self.v3Frame([])) == (Self.ok, ["igmp": 1, "allowed": 1]), "no records: nothing announced")
    }

    @Test("v3 report naming allowed and disallowed groups: passed with the disallowed records blanked, checksum fixed",
          arguments: [Set([0]), [1], [2], [0, 2], [1, 3], [0, 1, 3]])
    func v3Mixed(hidden: Set<Int>) throws {
        let p = try loaded(["239.1.0.0/16", "232.0.0.7"])
        var records: [(group: [UInt8], sources: Int, aux: Int)] =
            [([239, 1, 0, 1], 2, 0), ([232, 0, 0, 7], 0, 2), ([239, 1, 0, 3], 1, 0), ([239, 1, 44, 4], 3, 1)]
        let denied: [[UInt8]] = [[232, 0, 0, 8], [239, 9, 9, 9], [224, 0, 0, 251], [255, 255, 255, 255]]
        for i in hidden { records[i].group = denied[i] }
        let frame = Self.v3Frame(records)
        let (v, moved, out) = try runWithOutput(p, frame)
        #expect(v == Self.ok, "passed on")
        #expect(moved == ["igmp": 1, "rewritten": 1, "recordsHidden": UInt64(hidden.count)])
        Self.expectBlanked(out, from: frame, hidden: hidden)
    }

    @Test("blanking fixes the checksum whatever it was (carries, 0x0000/0xffff edges), also behind VLAN tags")
    func v3MixedChecksums() throws {
        let p = try loaded()
        // Many groups, so the checksums before and after sweep the range.
        for a in 0..<64 {
            let allowedGroup: [UInt8] = [239, 1, UInt8(a), UInt8(255 - a)]
            let deniedGroup: [UInt8] = [UInt8(224 + a % 16), UInt8(a * 4), 0xff, UInt8(a)]
            guard deniedGroup[0] != 239 || deniedGroup[1] != 1 else { continue }
            let frame = Self.v3Frame([(allowedGroup, 0, 0), (deniedGroup, a % 3, 0)])
            let (v, moved, out) = try runWithOutput(p, frame)
            #expect(v == Self.ok && moved["rewritten"] == 1, "\(deniedGroup)")
            Self.expectBlanked(out, from: frame, hidden: [1])
        }
        // The allowed group's low word chosen so the checksum before, or
        // after, blanking is 0x0000: the sum then is 0xffff exactly.
        let denied: [UInt8] = [232, 7, 0x80, 0x01]
        let blankedSum = { (w: UInt16) -> UInt16 in
            ~TestFrames.checksum([0x22, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 239, 1, UInt8(w >> 8), UInt8(w & 0xff),
                                  0, 0, 0, 0, 0, 0, 0, 0])
        }
        let originalSum = { (w: UInt16) -> UInt16 in
            ~TestFrames.checksum([0x22, 0, 0, 0, 0, 0, 0, 2, 1, 0, 0, 0, 239, 1, UInt8(w >> 8), UInt8(w & 0xff),
                                  2, 0, 0, 0] + denied)
        }
        for (name, w) in [("after", ~blankedSum(0)), ("before", ~originalSum(0))] {
            let frame = Self.v3Frame([([239, 1, UInt8(w >> 8), UInt8(w & 0xff)], 0, 0), (denied, 0, 0)])
            if name == "before" { #expect(frame[40] == 0 && frame[41] == 0, "checksum 0x0000 before blanking") }
            let (v, moved, out) = try runWithOutput(p, frame)
            #expect(v == Self.ok && moved["rewritten"] == 1, "\(name)")
            Self.expectBlanked(out, from: frame, hidden: [1])
            if name == "after" { #expect([0x0000, 0xffff].contains(UInt16(out[40]) << 8 | UInt16(out[41])), "\(out[40...41])") }
        }
        for vlans in [[UInt16(7)], [10, 20]] {
            let frame = Self.v3Frame([(Self.deniedGroup, 1, 0), (Self.allowedGroup, 0, 0)], vlans: vlans)
            let (v, moved, out) = try runWithOutput(p, frame)
            #expect(v == Self.ok && moved == ["igmp": 1, "rewritten": 1, "recordsHidden": 1], "\(vlans)")
            Self.expectBlanked(out, from: frame, hidden: [0], l3: 14 + 4 * vlans.count)
        }
    }

    @Test("v3 report: the walk goes past 64 records (a host in many groups answers with one report)")
    func v3ManyRecords() throws {
        let p = try loaded()
        let groups = (0..<150).map { [UInt8(239), 1, UInt8($0 / 256), UInt8($0 % 256)] }
        #expect(try run(p, Self.v3Frame(groups.map { ($0, 0, 0) })) == (Self.ok, ["igmp": 1, "allowed": 1]))
        var last = groups.map { (group: $0, sources: 0, aux: 0) }
        last[149].group = Self.deniedGroup
        let frame = Self.v3Frame(last)
        let (v, moved, out) = try runWithOutput(p, frame)
        #expect((v, moved) == (Self.ok, ["igmp": 1, "rewritten": 1, "recordsHidden": 1]),
                "the 150th record's group is checked too")
        Self.expectBlanked(out, from: frame, hidden: [149])
        let none = groups.map { (group: [UInt8(232), 9, $0[2], $0[3]], sources: 0, aux: 0) }
        #expect(try run(p, Self.v3Frame(none)) == (Self.shot, ["igmp": 1, "dropped": 1]))
    }

    @Test("v3 report whose records run past its end is malformed")
    func v3Malformed() throws {
        let p = try loaded()
        let cases: [(String, [UInt8])] = [
            ("count larger than the records present", Self.v3Frame([([239, 1, 0, 1], 0, 0)], countOverride: 2)),
            ("sources cut short", Self.v3Frame([([239, 1, 0, 1], 0, 0), ([239, 1, 0, 2], 2, 0)], truncateBy: 4)),
            ("aux data cut short", Self.v3Frame([([239, 1, 0, 1], 0, 3)], truncateBy: 1)),
            ("count that cannot fit", Self.v3Frame([([239, 1, 0, 1], 0, 0)], countOverride: 0xffff)),
        ]
        for (name, frame) in cases {
            #expect(try run(p, frame) == (Self.shot, ["igmp": 1, "malformed": 1]), "\(name)")
        }
    }

    @Test("the allow list: longest-prefix match, empty denies all, 0.0.0.0/0 allows all, replaced at runtime")
    func allowList() throws {
        let p = try loaded([])
        let report = { (g: [UInt8]) in Self.frame(type: 0x16, group: g) }
        #expect(try run(p, report(Self.allowedGroup)).0 == Self.shot, "empty list: nothing allowed")
        try p.setAllowed([#require(EgressFilter.Prefix("0.0.0.0/0"))])
        #expect(try run(p, report(Self.deniedGroup)).0 == Self.ok)
        try p.setAllowed([#require(EgressFilter.Prefix("239.9.9.9")), #require(EgressFilter.Prefix("239.1.2.0/24"))])
        #expect(p.allowed.map(\.description) == ["239.1.2.0/24", "239.9.9.9/32"])
        #expect(try run(p, report(Self.deniedGroup)).0 == Self.ok)
        #expect(try run(p, report(Self.allowedGroup)).0 == Self.ok)
        #expect(try run(p, report([239, 1, 3, 3])).0 == Self.shot)
        #expect(try run(p, report([239, 9, 9, 8])).0 == Self.shot)
        try p.setAllowed([#require(EgressFilter.Prefix("239.1.0.0/16"))])
        #expect(try run(p, report(Self.deniedGroup)).0 == Self.shot, "removed prefixes stop passing")
        #expect(try run(p, report([239, 1, 3, 3])).0 == Self.ok)
    }

    @Test("prefixes: parsing, host bits cleared, bad input refused")
    func prefixes() throws {
        #expect(EgressFilter.Prefix("239.1.2.3/16")?.description == "239.1.0.0/16")
        #expect(EgressFilter.Prefix("239.1.2.3")?.length == 32)
        #expect(EgressFilter.Prefix("0.0.0.0/0")?.contains(IPv4Address(239, 1, 2, 3)) == true)
        #expect(EgressFilter.Prefix.allMulticast.contains(IPv4Address(224, 0, 0, 22)))
        #expect(!EgressFilter.Prefix.allMulticast.contains(IPv4Address(10, 0, 0, 1)))
        for bad in ["239.1.2.3/33", "239.1.2.3/", "239.1.2/8", "239.1.2.3/-1", "239.1.2.3/+8", "x/8"] {
            #expect(EgressFilter.Prefix(bad) == nil, "\(bad)")
        }
        #expect(EgressFilter.Prefix(IPv4Address(239, 1, 2, 3), length: 40) == nil)
    }
}

/// Counter differences by name, for the verdict tests.
struct EgressCountersDelta {
    let igmp, own, fragments, other, allowed, dropped, malformed, rewritten, recordsHidden: UInt64

    init(_ a: EgressFilter.Counters, _ b: EgressFilter.Counters) {
        igmp = a.igmp - b.igmp
        own = a.own - b.own
        fragments = a.fragments - b.fragments
        other = a.other - b.other
        allowed = a.allowed - b.allowed
        dropped = a.dropped - b.dropped
        malformed = a.malformed - b.malformed
        rewritten = a.rewritten - b.rewritten
        recordsHidden = a.recordsHidden - b.recordsHidden
    }

    /// The counters that moved, by name.
    var moved: [String: UInt64] {
        let all: [(String, UInt64)] = [("igmp", igmp), ("own", own), ("fragments", fragments), ("other", other),
                                       ("allowed", allowed), ("dropped", dropped), ("malformed", malformed),
                                       ("rewritten", rewritten), ("recordsHidden", recordsHidden)]
        return Dictionary(uniqueKeysWithValues: all.filter { $0.1 != 0 })
    }
}
