import CXigmp
@testable import DatapathKernel
@testable import DatapathNetlink
import Foundation
import Glibc
import IGMPWire
import Testing
import XigmpTestSupport

/// LinkMonitor: the parser and the state machine on hand-made netlink
/// messages (no kernel, no root), then the real thing in namespaces of its
/// own, checked against what `ip -j addr` says.
@Suite("LinkMonitor (rtnetlink link and address watcher)")
struct LinkMonitorTests {

    // MARK: - offline: parser

    @Suite("parsing rtnetlink messages")
    struct Parsing {
        @Test("a link and an address message parse into the fields LinkState keeps")
        func parsesLinkAndAddress() {
            let link = NL.link(index: 7, name: "va", flags: 0x1 | 0x10000, mtu: 1400, master: 9, operState: 6,
                               kind: "veth", mac: [2, 0, 0, 0, 0, 7], hardwareType: 1)
            let addr = NL.address(index: 7, prefixLength: 24, local: [10, 0, 0, 1], peer: [10, 0, 0, 2])
            let (messages, unparsable) = NL.parse(link + addr)
            #expect(unparsable == 0)
            #expect(messages.map(\.payload) == [
                .newLink(LinkState(index: 7, name: "va", up: true, lowerUp: true, operState: .up, mtu: 1400, master: 9,
                                   kind: "veth", mac: MACAddress(2, 0, 0, 0, 0, 7), hardwareType: 1)),
                // IFA_LOCAL, not the point-to-point peer in IFA_ADDRESS.
                .newAddress(index: 7, LinkAddress(address: IPv4Address(10, 0, 0, 1), prefixLength: 24)),
            ])
        }

        @Test("messages that are not about a link's state are ignored, not misread")
        func ignoresOtherFamilies() {
            // A bridge port leaving its bridge: RTM_DELLINK with AF_BRIDGE.
            let bridgePort = NL.link(type: 17, family: UInt8(AF_BRIDGE), index: 5, name: "va")
            // A wireless event: RTM_NEWLINK with the name and IFLA_WIRELESS only.
            let wireless = NL.message(type: 16, body: NL.ifinfo(index: 5) + NL.attr(3, Array("wl0".utf8) + [0]) + NL.attr(11, [1, 2, 3, 4]))
            let v6 = NL.address(family: UInt8(AF_INET6), index: 5, prefixLength: 64, local: [0xfe, 0x80, 0, 0])
            let (messages, unparsable) = NL.parse(bridgePort + wireless + v6)
            #expect(unparsable == 0)
            #expect(messages.map(\.payload) == [.ignored, .ignored, .ignored])
        }

        @Test("malformed bodies are reported as such and the walk goes on")
        func malformedBodies() {
            let good = NL.link(index: 3, name: "ok")
            let cases: [(String, [UInt8])] = [
                ("ifindex 0", NL.link(index: 0, name: "x")),
                ("no MTU", NL.message(type: 16, body: NL.ifinfo(index: 4) + NL.attr(3, Array("x".utf8) + [0]))),
                ("empty name", NL.link(index: 4, name: "")),
                ("attribute longer than the message",
                 NL.message(type: 16, body: NL.ifinfo(index: 4) + [200, 0, 3, 0, 0x41, 0, 0, 0])),
                ("attribute length below its header",
                 NL.message(type: 16, body: NL.ifinfo(index: 4) + [2, 0, 3, 0])),
                ("IFLA_LINKINFO with a broken nested attribute",
                 NL.message(type: 16, body: NL.ifinfo(index: 4) + NL.attr(3, [0x78, 0]) + NL.attr(4, NL.u32(1500))
                            + NL.attr(18, [9, 0, 1, 0, 0x76, 0, 0, 0]))),
                ("MTU of two bytes", NL.message(type: 16, body: NL.ifinfo(index: 4) + NL.attr(3, [0x78, 0]) + NL.attr(4, [0, 5]))),
                ("body shorter than ifinfomsg", NL.message(type: 16, body: [0, 0, 1, 0])),
                ("prefix length 33", NL.address(index: 4, prefixLength: 33, local: [10, 0, 0, 1])),
                ("address without IFA_LOCAL or IFA_ADDRESS", NL.message(type: 20, body: NL.ifaddr(index: 4, prefixLength: 8))),
                ("IFA_LOCAL of three bytes", NL.message(type: 20, body: NL.ifaddr(index: 4, prefixLength: 8) + NL.attr(2, [10, 0, 0]))),
                ("NLMSG_ERROR without its errno", NL.message(type: 2, body: [])),
            ]
            for (what, bytes) in cases {
                let (messages, unparsable) = NL.parse(bytes + good)
                #expect(unparsable == 0, "\(what)")
                #expect(messages.map(\.payload) == [.malformed, .newLink(LinkState(index: 3, name: "ok"))], "\(what)")
            }
        }

        @Test("a header that does not fit ends the datagram, counted once")
        func brokenHeaders() {
            let good = NL.link(index: 3, name: "ok")
            var tooLong = good
            tooLong.replaceSubrange(0..<4, with: NL.u32(UInt32(good.count + 4)))
            var tooShort = good
            tooShort.replaceSubrange(0..<4, with: NL.u32(8))
            var huge = good
            huge.replaceSubrange(0..<4, with: NL.u32(UInt32.max))
            for (what, bytes) in [("past the end", tooLong), ("below a header", tooShort), ("UInt32.max", huge)] {
                let (messages, unparsable) = NL.parse(good + bytes)
                #expect(messages.count == 1 && unparsable == 1, "\(what)")
            }
            // DONE's status INT_MIN has no positive errno: EPROTO, no trap.
            let done = NL.message(type: 3, flags: 2, body: NL.u32(UInt32(bitPattern: Int32.min)))
            #expect(NL.parse(done).messages.map(\.payload) == [.done(errno: EPROTO)])
        }

        @Test("every truncation, every cut with a consistent length, and 20 000 random mutations parse without trapping")
        func fuzz() {
            let sample = NL.link(index: 7, name: "veth-long-name", flags: 0x10001, mtu: 9000, master: 3, operState: 6,
                                 kind: "veth", mac: [2, 1, 2, 3, 4, 5])
                + NL.address(index: 7, prefixLength: 24, local: [192, 0, 2, 1])
                + NL.message(type: 17, body: NL.ifinfo(index: 7))
                + NL.message(type: 3, flags: 2, seq: 5, port: 77, body: NL.u32(0))
                + NL.message(type: 2, seq: 5, port: 77, body: NL.u32(UInt32(bitPattern: -EBUSY)) + [UInt8](repeating: 0, count: 16))
            var full = 0
            for cut in 0...sample.count {
                let (messages, _) = NL.parse(Array(sample[0..<cut]))
                full = max(full, messages.count)
            }
            #expect(full == 5)
            // Each message cut short with its own length rewritten to match,
            // so the header is consistent and the attributes inside lie
            // about what follows, up to the end of the datagram.
            var parts: [[UInt8]] = []
            var rest = sample[...]
            while rest.count >= 16 {
                let length = Int(rest[rest.startIndex]) | Int(rest[rest.startIndex + 1]) << 8
                parts.append(Array(rest.prefix(length)))
                rest = rest.dropFirst((length + 3) / 4 * 4)
            }
            #expect(parts.count == 5)
            var consistentCuts = 0
            for part in parts {
                for cut in 16...part.count {
                    var bytes = Array(part[0..<cut])
                    bytes.replaceSubrange(0..<4, with: NL.u32(UInt32(cut)))
                    let (messages, unparsable) = NL.parse(bytes)
                    #expect(messages.count == 1 && unparsable == 0)
                    consistentCuts += 1
                }
            }
            #expect(consistentCuts > 150)
            var rng = SplitMix(seed: 0x1ce)
            var malformedSeen = 0
            for round in 0..<20_000 {
                var bytes = round % 4 == 0
                    ? (0..<Int(rng.next() % 96)).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
                    : sample
                if round % 4 != 0 {
                    for _ in 0..<(1 + Int(rng.next() % 6)) {
                        let at = Int(rng.next() % UInt64(bytes.count))
                        bytes[at] = UInt8(truncatingIfNeeded: rng.next())
                    }
                    bytes = Array(bytes.prefix(Int(rng.next() % UInt64(bytes.count + 1))))
                }
                let (messages, unparsable) = NL.parse(bytes)
                malformedSeen += unparsable + messages.filter { $0.payload == .malformed }.count
                // And the tracker, which counts what it skips, takes it too.
                var tracker = LinkTracker(portID: 77)
                tracker.resync()
                _ = tracker.quiet()
                bytes.withUnsafeBytes { tracker.receive($0, from: 0) { _ in } }
            }
            #expect(malformedSeen > 1000, "mutations should hit the checks, not slip through")
        }
    }

    // MARK: - offline: state machine

    @Suite("the view and resynchronisation, on hand-made messages")
    struct Tracking {
        static let port: UInt32 = 4242

        /// A tracker that took `links` as its initial dump.
        static func synced(_ links: [LinkState]) -> LinkTracker {
            var t = LinkTracker(portID: port)
            t.resync()
            feedDump(&t, links)
            return t
        }

        /// Answers the tracker's next two requests (links, then addresses)
        /// with `links`; returns the events.
        @discardableResult
        static func feedDump(_ t: inout LinkTracker, _ links: [LinkState], interruptLinks: Bool = false) -> [LinkEvent] {
            var events: [LinkEvent] = []
            guard let (linkRequest, _) = t.quiet() else { return events }
            #expect(linkRequest.type == UInt16(CXIGMP_RTM_GETLINK))
            var datagram: [UInt8] = []
            for l in links {
                datagram += NL.link(seq: linkRequest.seq, port: port, flags: interruptLinks ? 2 | 16 : 2, state: l)
            }
            datagram += NL.done(seq: linkRequest.seq, port: port)
            NL.feed(&t, datagram) { events.append($0) }
            guard t.sync?.phase == .addresses, let (addressRequest, _) = t.quiet() else { return events }
            #expect(addressRequest.type == UInt16(CXIGMP_RTM_GETADDR))
            datagram = []
            for l in links {
                for a in l.addresses {
                    datagram += NL.address(seq: addressRequest.seq, port: port, flags: 2, index: l.index,
                                           prefixLength: UInt8(a.prefixLength), local: a.address)
                }
            }
            datagram += NL.done(seq: addressRequest.seq, port: port)
            NL.feed(&t, datagram) { events.append($0) }
            return events
        }

        static let lo = LinkState(index: 1, name: "lo", up: true, lowerUp: true, mtu: 65536, hardwareType: 772,
                                  addresses: [LinkAddress(address: IPv4Address(127, 0, 0, 1), prefixLength: 8)])
        static let va = LinkState(index: 2, name: "va", kind: "veth", mac: MACAddress(2, 0, 0, 0, 0, 2),
                                  addresses: [LinkAddress(address: IPv4Address(10, 0, 0, 1), prefixLength: 24)])
        static let vb = LinkState(index: 3, name: "vb", kind: "veth")

        @Test("the first dump becomes the view; notifications then change it, repeats change nothing")
        func liveChanges() {
            var t = Self.synced([Self.lo, Self.va])
            #expect(t.synced && t.sync == nil)
            #expect(t.view == [1: Self.lo, 2: Self.va])
            var events: [LinkEvent] = []
            var renamed = Self.va
            renamed.name = "outside"
            renamed.addresses = []
            NL.feed(&t, NL.link(state: Self.vb) + NL.link(state: Self.vb) + NL.link(state: renamed)
                    + NL.address(index: 3, prefixLength: 16, local: IPv4Address(10, 1, 0, 1))
                    + NL.address(index: 3, prefixLength: 16, local: IPv4Address(10, 1, 0, 1))
                    + NL.link(type: 17, family: UInt8(AF_BRIDGE), index: 3, name: "vb")
                    + NL.address(type: 21, index: 2, prefixLength: 24, local: IPv4Address(10, 0, 0, 1))
                    + NL.link(type: 17, index: 3, name: "vb")) { events.append($0) }
            var outside = Self.va
            outside.name = "outside"
            #expect(events == [
                .linkAdded(Self.vb),
                .linkChanged(old: Self.va, new: outside),  // addresses are kept: RTM_NEWLINK never carries them
                .addressAdded(index: 3, address: IPv4Address(10, 1, 0, 1), prefixLength: 16),
                .addressRemoved(index: 2, address: IPv4Address(10, 0, 0, 1), prefixLength: 24),
                .linkRemoved(LinkState(index: 3, name: "vb", kind: "veth",
                                       addresses: [LinkAddress(address: IPv4Address(10, 1, 0, 1), prefixLength: 16)])),
            ])
            #expect(t.suppressed == 1, "the repeated RTM_NEWLINK of vb")
            #expect(t.view[2]?.name == "outside" && t.view[2]?.addresses == [] && t.view[3] == nil)
        }

        @Test("after an overrun the difference between old view and dump comes out as ordinary events")
        func resyncReportsDifference() {
            var t = Self.synced([Self.lo, Self.va, Self.vb])
            t.overrun()
            #expect(t.overruns == 1 && t.sync != nil)
            var changedVa = Self.va
            changedVa.up = true
            changedVa.master = 9
            changedVa.addresses = [LinkAddress(address: IPv4Address(10, 0, 0, 9), prefixLength: 24)]
            let bridge = LinkState(index: 9, name: "br0", up: true, kind: "bridge",
                                   addresses: [LinkAddress(address: IPv4Address(172, 17, 0, 1), prefixLength: 16)])
            let events = Self.feedDump(&t, [Self.lo, changedVa, bridge])
            var vaFields = Self.va
            vaFields.up = true
            vaFields.master = 9
            var bridgeBare = bridge
            bridgeBare.addresses = []
            #expect(events == [
                .linkRemoved(Self.vb),
                .linkChanged(old: Self.va, new: vaFields),
                .addressRemoved(index: 2, address: IPv4Address(10, 0, 0, 1), prefixLength: 24),
                .addressAdded(index: 2, address: IPv4Address(10, 0, 0, 9), prefixLength: 24),
                .linkAdded(bridgeBare),
                .addressAdded(index: 9, address: IPv4Address(172, 17, 0, 1), prefixLength: 16),
            ])
            #expect(t.view == [1: Self.lo, 2: changedVa, 9: bridge])
            var model: [UInt32: LinkState] = [1: Self.lo, 2: Self.va, 3: Self.vb]
            LinkModel.apply(events, to: &model)
            #expect(LinkModel.normalized(model) == LinkModel.normalized(t.view))
        }

        @Test("notifications queued before the dump's first part are older than it and not applied")
        func earlyNotificationsIgnored() {
            var t = Self.synced([Self.lo])
            t.overrun()
            let ghost = LinkState(index: 8, name: "ghost")  // created, then deleted in the lost stretch
            NL.feed(&t, NL.link(state: ghost)) { _ in }
            guard let (request, _) = t.quiet() else { Issue.record("no request"); return }
            NL.feed(&t, NL.link(state: ghost)) { _ in }  // queued before the first part
            let late = LinkState(index: 10, name: "late")
            NL.feed(&t, NL.link(seq: request.seq, port: Self.port, flags: 2, state: Self.lo)
                    + NL.link(state: late)  // after it: counts
                    + NL.done(seq: request.seq, port: Self.port)) { _ in }
            guard let (addresses, _) = t.quiet() else { Issue.record("no address request"); return }
            NL.feed(&t, NL.done(seq: addresses.seq, port: Self.port)) { _ in }
            #expect(t.sync == nil)
            #expect(Set(t.view.keys) == [1, 10])
        }

        @Test("a dump flagged NLM_F_DUMP_INTR is redone before anything is reported")
        func interruptedDumpRedone() {
            var t = Self.synced([Self.lo])
            t.overrun()
            let first = Self.feedDump(&t, [Self.lo, Self.va], interruptLinks: true)
            #expect(first.isEmpty, "an interrupted dump must not be taken")
            #expect(t.dumpRestarts == 1 && t.sync != nil && t.view == [1: Self.lo])
            let second = Self.feedDump(&t, [Self.lo, Self.va])
            #expect(second.count == 2 && t.sync == nil && t.view == [1: Self.lo, 2: Self.va])
        }

        @Test("EBUSY and a lost reply make the dump be asked for again; replies to the old one are stale")
        func busyAndStalled() {
            var t = Self.synced([Self.lo])
            t.overrun()
            guard let (busy, stalled0) = t.quiet() else { Issue.record("no request"); return }
            #expect(!stalled0)
            NL.feed(&t, NL.error(seq: busy.seq, port: Self.port, errno: EBUSY)) { _ in }
            guard let (retry, stalled1) = t.quiet() else { Issue.record("no retry after EBUSY"); return }
            #expect(!stalled1 && retry.seq != busy.seq && retry.type == UInt16(CXIGMP_RTM_GETLINK))
            // The socket went quiet with the request unanswered: ask again.
            guard let (again, stalled2) = t.quiet() else { Issue.record("no retry after a stall"); return }
            #expect(stalled2 && again.seq != retry.seq)
            // Late parts of the abandoned dumps change nothing.
            NL.feed(&t, NL.link(seq: retry.seq, port: Self.port, flags: 2, state: Self.vb)
                    + NL.done(seq: retry.seq, port: Self.port)) { _ in }
            #expect(t.sync?.phase == .links)
            NL.feed(&t, NL.link(seq: again.seq, port: Self.port, flags: 2, state: Self.lo)
                    + NL.done(seq: again.seq, port: Self.port)) { _ in }
            guard let (addresses, _) = t.quiet() else { Issue.record("no address request"); return }
            NL.feed(&t, NL.done(seq: addresses.seq, port: Self.port)) { _ in }
            #expect(t.sync == nil && Set(t.view.keys) == [1] && t.dumpRestarts == 2)
        }

        @Test("ENOBUFS answering the request (full socket) asks again; the rest of that dump is stale")
        func enobufsAtStart() {
            var t = Self.synced([Self.lo])
            t.overrun()
            guard let (request, _) = t.quiet() else { Issue.record("no request"); return }
            NL.feed(&t, NL.error(seq: request.seq, port: Self.port, errno: ENOBUFS)
                    + NL.link(seq: request.seq, port: Self.port, flags: 2, state: Self.vb)
                    + NL.done(seq: request.seq, port: Self.port)) { _ in }
            #expect(t.dumpRestarts == 1 && t.sync?.phase == .links && t.sync?.seq == nil && t.dumpFailure == nil)
            Self.feedDump(&t, [Self.lo, Self.va])
            #expect(t.sync == nil && Set(t.view.keys) == [1, 2])
        }

        @Test("a refused dump keeps the old view and says why; datagrams not from the kernel are dropped")
        func refusedAndForeign() {
            var t = Self.synced([Self.lo])
            t.overrun()
            guard let (request, _) = t.quiet() else { Issue.record("no request"); return }
            NL.feed(&t, NL.error(seq: request.seq, port: Self.port, errno: EPERM)) { _ in }
            #expect(t.sync == nil && t.dumpFailure == EPERM && t.view == [1: Self.lo])
            NL.link(state: Self.vb).withUnsafeBytes { t.receive($0, from: 999) { _ in Issue.record("foreign event") } }
            #expect(t.foreign == 1 && t.view[3] == nil)
        }
    }

    // MARK: - the kernel, in namespaces

    @Suite("against the kernel, each test in its own namespaces")
    struct Kernel {
        @Test("the initial view has lo and a veth with its address, as ip -j addr shows them")
        func initialView() throws {
            try NetnsFixture.withTopology { net in
                let a = try net.addNamespace(), b = try net.addNamespace()
                try net.addVethPair(a, "va", "10.77.1.1/24", b, "vb", "10.77.1.2/24")
                let m = try LinkMonitor.opened(in: a)
                let lo = try #require(m.link(named: "lo"))
                #expect(lo.index == 1 && lo.up && lo.mtu == 65536 && lo.kind == nil && lo.hardwareType == 772)
                #expect(lo.addresses == [LinkAddress(address: IPv4Address(127, 0, 0, 1), prefixLength: 8)])
                let va = try #require(m.link(named: "va"))
                #expect(va.kind == "veth" && va.up && va.mtu == 1500 && va.master == nil && va.mac != nil)
                #expect(va.addresses == [LinkAddress(address: IPv4Address(10, 77, 1, 1), prefixLength: 24)])
                #expect(m.links.count == 2 && m.overruns == 0 && m.malformedMessages == 0)
                try IPView.expectMatches(m, net, a)
            }
        }

        @Test("a datagram cut by a small read buffer counts as an overrun; the buffer grows, the view is complete")
        func truncatedDatagrams() throws {
            try NetnsFixture.withTopology { net in
                let a = try net.addNamespace(), b = try net.addNamespace()
                try net.addVethPair(a, "va", "10.77.4.1/24", b, "vb", "10.77.4.2/24")
                try net.ip(a, "link", "add", "x1", "type", "veth", "peer", "name", "x2")
                let m = try NetnsFixture.inNamespace(a) { try LinkMonitor(receiveBuffer: nil, readBuffer: 256) }
                #expect(m.overruns >= 1, "a 256-byte buffer cannot hold a dump part")
                #expect(m.links.count == 4)
                try IPView.expectMatches(m, net, a)
                // Grown now: new events arrive whole.
                let before = m.overruns
                try net.ip(a, "addr", "add", "10.77.5.1/24", "dev", "x1")
                let events = m.collect { $0.contains { if case .addressAdded = $0 { return true } else { return false } } }
                #expect(events.count == 1 && m.overruns == before)
            }
        }

        @Test("adding a veth pair reports linkAdded for both ends, with the kernel's indices")
        func vethAdded() throws {
            try NetnsFixture.withTopology { net in
                let a = try net.addNamespace()
                let m = try LinkMonitor.opened(in: a)
                try net.ip(a, "link", "add", "x1", "type", "veth", "peer", "name", "x2")
                let events = m.collect { Set($0.compactMap(\.added?.name)) == ["x1", "x2"] }
                let added = Dictionary(uniqueKeysWithValues: events.compactMap(\.added).map { ($0.name, $0) })
                #expect(added["x1"]?.kind == "veth" && added["x1"]?.up == false)
                try IPView.expectMatches(m, net, a)
                #expect(IPView.links(net, a)["x1"]?.index == added["x1"]?.index)
            }
        }

        @Test("ip link set up reports linkChanged with up, then carrier once the peer is up")
        func linkUp() throws {
            try NetnsFixture.withTopology { net in
                let a = try net.addNamespace()
                try net.ip(a, "link", "add", "x1", "type", "veth", "peer", "name", "x2")
                let m = try LinkMonitor.opened(in: a)
                let x1 = try #require(m.link(named: "x1"))
                try net.ip(a, "link", "set", "x1", "up")
                let up = m.collect { $0.contains { $0.changed?.new.up == true } }
                let change = try #require(up.compactMap(\.changed).first { $0.new.up })
                #expect(change.old.up == false && change.old.index == x1.index && change.new.index == x1.index)
                #expect(change.new.lowerUp == false, "the peer is down: no carrier yet")
                try net.ip(a, "link", "set", "x2", "up")
                // Carrier goes through linkwatch, which runs a little later.
                _ = m.collect { _ in m.link(named: "x1")?.lowerUp == true && m.link(named: "x1")?.operState == .up }
                #expect(m.link(named: "x1")?.lowerUp == true && m.link(named: "x1")?.operState == .up)
                try IPView.expectMatches(m, net, a)
            }
        }

        @Test("a rename reports linkChanged with the same index and the new name")
        func rename() throws {
            try NetnsFixture.withTopology { net in
                let a = try net.addNamespace()
                try net.ip(a, "link", "add", "x1", "type", "veth", "peer", "name", "x2")
                let m = try LinkMonitor.opened(in: a)
                let before = try #require(m.link(named: "x1"))
                try net.ip(a, "link", "set", "x1", "name", "y1")
                let events = m.collect { $0.contains { $0.changed?.new.name == "y1" } }
                let change = try #require(events.compactMap(\.changed).first { $0.new.name == "y1" })
                #expect(change.old.name == "x1" && change.old.index == before.index && change.new.index == before.index)
                #expect(!events.contains { if case .linkRemoved = $0 { return true } else { return false } })
                #expect(!events.contains { $0.added != nil })
                #expect(m.link(named: "x1") == nil && m.link(named: "y1")?.index == before.index)
                try IPView.expectMatches(m, net, a)
            }
        }

        @Test("adding and deleting an address report addressAdded and addressRemoved")
        func addresses() throws {
            try NetnsFixture.withTopology { net in
                let a = try net.addNamespace()
                try net.ip(a, "link", "add", "x1", "type", "veth", "peer", "name", "x2")
                let m = try LinkMonitor.opened(in: a)
                let x1 = try #require(m.link(named: "x1"))
                let address = IPv4Address(10, 77, 2, 1)
                try net.ip(a, "addr", "add", "10.77.2.1/24", "dev", "x1")
                let added = m.collect { $0.contains(.addressAdded(index: x1.index, address: address, prefixLength: 24)) }
                #expect(added == [.addressAdded(index: x1.index, address: address, prefixLength: 24)])
                #expect(m.link(named: "x1")?.addresses == [LinkAddress(address: address, prefixLength: 24)])
                try IPView.expectMatches(m, net, a)
                try net.ip(a, "addr", "del", "10.77.2.1/24", "dev", "x1")
                let removed = m.collect { $0.contains(.addressRemoved(index: x1.index, address: address, prefixLength: 24)) }
                #expect(removed == [.addressRemoved(index: x1.index, address: address, prefixLength: 24)])
                #expect(m.link(named: "x1")?.addresses == [])
                try IPView.expectMatches(m, net, a)
            }
        }

        @Test("deleting a veth reports linkRemoved for both ends")
        func delete() throws {
            try NetnsFixture.withTopology { net in
                let a = try net.addNamespace()
                try net.ip(a, "link", "add", "x1", "type", "veth", "peer", "name", "x2")
                let m = try LinkMonitor.opened(in: a)
                let x1 = try #require(m.link(named: "x1")), x2 = try #require(m.link(named: "x2"))
                try net.ip(a, "link", "del", "x1")
                let events = m.collect { Set($0.compactMap(\.removed?.index)) == [x1.index, x2.index] }
                #expect(Set(events.compactMap(\.removed)) == [x1, x2])
                #expect(m.links[x1.index] == nil && m.links[x2.index] == nil && m.links.count == 1)
                try IPView.expectMatches(m, net, a)
            }
        }

        @Test("moving an interface to another namespace is linkRemoved here, linkAdded there")
        func movedAway() throws {
            try NetnsFixture.withTopology { net in
                let a = try net.addNamespace(), b = try net.addNamespace()
                try net.ip(a, "link", "add", "x1", "type", "veth", "peer", "name", "x2")
                try net.ip(a, "addr", "add", "10.77.3.1/24", "dev", "x1")
                let here = try LinkMonitor.opened(in: a), there = try LinkMonitor.opened(in: b)
                let x1 = try #require(here.link(named: "x1"))
                try net.ip(a, "link", "set", "x1", "netns", b)
                let events = here.collect { $0.contains { $0.removed?.index == x1.index } }
                #expect(events.compactMap(\.removed).map(\.index) == [x1.index])
                // The kernel flushes its addresses first, as for a deletion.
                #expect(events.first == .addressRemoved(index: x1.index, address: IPv4Address(10, 77, 3, 1), prefixLength: 24))
                #expect(here.link(named: "x1") == nil && here.link(named: "x2") != nil)
                let arrived = there.collect { $0.contains { $0.added?.name == "x1" } }
                #expect(arrived.contains { $0.added?.name == "x1" })
                #expect(there.link(named: "x1")?.addresses == [], "addresses do not move with the interface")
                try IPView.expectMatches(here, net, a)
                try IPView.expectMatches(there, net, b)
            }
        }

        @Test("enslaving to a bridge sets master; leaving clears it (the AF_BRIDGE RTM_DELLINK is no removal)")
        func bridgeMaster() throws {
            try NetnsFixture.withTopology { net in
                let a = try net.addNamespace()
                try net.ip(a, "link", "add", "x1", "type", "veth", "peer", "name", "x2")
                let m = try LinkMonitor.opened(in: a)
                try net.ip(a, "link", "add", "br0", "type", "bridge")
                let created = m.collect { $0.contains { $0.added?.name == "br0" } }
                let bridge = try #require(created.compactMap(\.added).first { $0.name == "br0" })
                #expect(bridge.kind == "bridge")
                try net.ip(a, "link", "set", "x1", "master", "br0")
                var events = m.collect { $0.contains { $0.changed?.new.master == bridge.index } }
                #expect(m.link(named: "x1")?.master == bridge.index)
                try IPView.expectMatches(m, net, a)
                try net.ip(a, "link", "set", "x1", "nomaster")
                events += m.collect { $0.contains { $0.changed?.new.name == "x1" && $0.changed?.new.master == nil } }
                #expect(m.link(named: "x1") != nil && m.link(named: "x1")?.master == nil)
                #expect(!events.contains { $0.removed != nil }, "\(events)")
                try IPView.expectMatches(m, net, a)
            }
        }

        @Test("a bridge's IGMP snooping setting is read as the bridge appears")
        func bridgeSnooping() throws {
            // (Changing it later sends no RTM_NEWLINK on 6.x kernels: the
            // setting is what the bridge had when it was taken in.)
            try NetnsFixture.withTopology { net in
                let a = try net.addNamespace()
                let m = try LinkMonitor.opened(in: a)
                try net.ip(a, "link", "add", "br0", "type", "bridge", "mcast_snooping", "1")
                try net.ip(a, "link", "add", "br1", "type", "bridge", "mcast_snooping", "0")
                let created = m.collect { events in ["br0", "br1"].allSatisfy { n in events.contains { $0.added?.name == n } } }
                #expect(created.compactMap(\.added).first { $0.name == "br0" }?.bridgeSnooping == true)
                #expect(created.compactMap(\.added).first { $0.name == "br1" }?.bridgeSnooping == false)
                #expect(m.link(named: "lo")?.bridgeSnooping == nil)
            }
        }

        @Test("RTM_NEWLINK that changes no field of LinkState is not reported")
        func noOpSuppressed() throws {
            try NetnsFixture.withTopology { net in
                let a = try net.addNamespace()
                let m = try LinkMonitor.opened(in: a)
                _ = m.collect(seconds: 0.3) { _ in false }  // let lo settle
                let before = m.suppressedNotifications
                // Each makes the kernel send an RTM_NEWLINK for lo.
                try net.ip(a, "link", "set", "lo", "promisc", "on")
                try net.ip(a, "link", "set", "lo", "txqueuelen", "2000")
                try net.ip(a, "link", "set", "lo", "promisc", "off")
                let events = m.collect(seconds: 0.5) { _ in false }
                #expect(m.suppressedNotifications >= before + 2, "the kernel's RTM_NEWLINKs should have been read")
                #expect(events.isEmpty, "\(events)")
            }
        }

        @Test("overrun: a tiny buffer and 200 interfaces churned undrained; the resync matches ip and the events")
        func overrun() throws {
            try NetnsFixture.withTopology { net in
                let a = try net.addNamespace()
                // Links in the initial view that the churn deletes, renames
                // and changes: the resync must report those as well.
                for i in 0..<3 {
                    try net.ip(a, "link", "add", "p\(i)a", "type", "veth", "peer", "name", "p\(i)b")
                    try net.ip(a, "addr", "add", "10.79.\(i).1/24", "dev", "p\(i)a")
                }
                let m = try LinkMonitor.opened(in: a, receiveBuffer: 4096)
                #expect(m.receiveBufferSize <= 16_384, "SO_RCVBUF 4096 should give about 8 KiB, got \(m.receiveBufferSize)")
                var model = m.links
                let p1a = try #require(m.link(named: "p1a")), p2a = try #require(m.link(named: "p2a"))
                var batch = "link del p0a\nlink set p1a name q1a\naddr del 10.79.2.1/24 dev p2a\nlink set p2a mtu 1400\n"
                // 100 veth pairs with an address each, then half deleted
                // (deleting one end takes the other): 200 created, 100 left.
                for i in 0..<100 {
                    batch += "link add o\(i)a type veth peer name o\(i)b\n"
                    batch += "addr add 10.78.\(i).1/24 dev o\(i)a\n"
                }
                for i in 0..<100 where i % 2 == 0 { batch += "link del o\(i)a\n" }
                for i in 0..<100 where i % 4 == 1 { batch += "link set o\(i)a up\n" }
                let path = NSTemporaryDirectory() + "xgut-linkmon-\(getpid())-\(NetnsFixture.nextSerial()).batch"
                try batch.write(toFile: path, atomically: true, encoding: .utf8)
                defer { unlink(path) }
                try net.ip(a, "-b", path)

                var events = m.collect(seconds: 2) { _ in false }
                #expect(m.overruns >= 1, "4 KiB cannot hold 200 links' notifications")
                #expect(m.links.count == 105, "lo, p1 and p2, and 50 new pairs")
                events += try IPView.expectMatches(m, net, a)
                #expect(Set(events.compactMap(\.removed?.name)).isSuperset(of: ["p0a", "p0b"]))
                #expect(events.contains { $0.changed?.old.name == "p1a" && $0.changed?.new.name == "q1a" && $0.changed?.new.index == p1a.index })
                #expect(events.contains(.addressRemoved(index: p2a.index, address: IPv4Address(10, 79, 2, 1), prefixLength: 24)))
                #expect(events.contains { $0.changed?.new.index == p2a.index && $0.changed?.new.mtu == 1400 })
                #expect(events.filter { $0.added?.name.hasPrefix("o") == true }.count == 100)
                LinkModel.apply(events, to: &model)
                #expect(LinkModel.normalized(model) == LinkModel.normalized(m.links),
                        "the events reported must add up to the final view")
            }
        }
    }
}

// MARK: - helpers

extension LinkMonitor {
    /// A monitor opened in namespace `ns` (setns is per thread: the
    /// socket is created there and stays there).
    static func opened(in ns: String, receiveBuffer: Int? = nil) throws -> LinkMonitor {
        try NetnsFixture.inNamespace(ns) { try LinkMonitor(receiveBuffer: receiveBuffer) }
    }

    /// Drains until `done` accepts the events so far, or `seconds` pass.
    func collect(seconds: Double = 5, until done: ([LinkEvent]) -> Bool) -> [LinkEvent] {
        var events: [LinkEvent] = []
        let deadline = Date().addingTimeInterval(seconds)
        drain { events.append($0) }
        while !done(events) && Date() < deadline {
            var pfd = pollfd(fd: fileDescriptor, events: Int16(POLLIN), revents: 0)
            _ = poll(&pfd, 1, 20)
            drain { events.append($0) }
        }
        return events
    }
}

extension LinkEvent {
    var added: LinkState? { if case .linkAdded(let s) = self { return s } else { return nil } }
    var removed: LinkState? { if case .linkRemoved(let s) = self { return s } else { return nil } }
    var changed: (old: LinkState, new: LinkState)? {
        if case .linkChanged(let old, let new) = self { return (old, new) } else { return nil }
    }
}

/// A consumer's copy of the view, kept only from events.
enum LinkModel {
    static func apply(_ events: [LinkEvent], to model: inout [UInt32: LinkState]) {
        for event in events {
            switch event {
            case .linkAdded(let s):
                #expect(model[s.index] == nil, "linkAdded for a known index: \(s)")
                model[s.index] = s
            case .linkChanged(let old, let new):
                #expect(model[old.index].map(normalized) == normalized(old), "linkChanged's old state is not what was reported before")
                model[new.index] = new
            case .linkRemoved(let s):
                #expect(model[s.index] != nil, "linkRemoved for an unknown index: \(s)")
                model[s.index] = nil
            case .addressAdded(let i, let address, let length):
                model[i]?.addresses.append(LinkAddress(address: address, prefixLength: length))
            case .addressRemoved(let i, let address, let length):
                model[i]?.addresses.removeAll { $0 == LinkAddress(address: address, prefixLength: length) }
            }
        }
    }

    static func normalized(_ s: LinkState) -> LinkState {
        var s = s
        s.addresses.sort { ($0.address, $0.prefixLength) < ($1.address, $1.prefixLength) }
        return s
    }

    static func normalized(_ view: [UInt32: LinkState]) -> [UInt32: LinkState] {
        view.mapValues(normalized)
    }
}

/// What `ip -j addr show` says about a namespace, in LinkState terms.
enum IPView {
    struct Link: Equatable {
        var index: UInt32, name: String, up: Bool, lowerUp: Bool, operState: String, mtu: UInt32
        var master: String?, mac: String?, addresses: Set<LinkAddress>
    }

    static func links(_ net: NetnsFixture, _ ns: String) -> [String: Link] {
        guard let out = try? net.ip(ns, "-j", "addr", "show").stdout,
              let json = try? JSONSerialization.jsonObject(with: Data(out.utf8)) as? [[String: Any]] else { return [:] }
        var result: [String: Link] = [:]
        for entry in json {
            guard let index = entry["ifindex"] as? Int, let name = entry["ifname"] as? String else { continue }
            let flags = entry["flags"] as? [String] ?? []
            var addresses = Set<LinkAddress>()
            for info in entry["addr_info"] as? [[String: Any]] ?? [] where info["family"] as? String == "inet" {
                if let local = (info["local"] as? String).flatMap(IPv4Address.init), let length = info["prefixlen"] as? Int {
                    addresses.insert(LinkAddress(address: local, prefixLength: length))
                }
            }
            let ether = entry["link_type"] as? String == "ether"
            result[name] = Link(index: UInt32(index), name: name, up: flags.contains("UP"), lowerUp: flags.contains("LOWER_UP"),
                                operState: entry["operstate"] as? String ?? "", mtu: UInt32(entry["mtu"] as? Int ?? 0),
                                master: entry["master"] as? String, mac: ether ? entry["address"] as? String : nil,
                                addresses: addresses)
        }
        return result
    }

    /// The monitor's view in the same terms.
    static func links(of m: LinkMonitor) -> [String: Link] {
        let byIndex = m.links
        var mine: [String: Link] = [:]
        for s in byIndex.values {
            mine[s.name] = Link(index: s.index, name: s.name, up: s.up, lowerUp: s.lowerUp, operState: s.operState.description,
                                mtu: s.mtu, master: s.master.flatMap { byIndex[$0]?.name },
                                mac: s.hardwareType == 1 ? s.mac?.description : nil, addresses: Set(s.addresses))
        }
        return mine
    }

    /// The monitor's view, field by field, against `ip -j addr`. Carrier
    /// and operstate change a little after the command that causes them
    /// (linkwatch), so it reads ip first, then drains (everything ip saw
    /// is queued by then), and tries again for a second before failing.
    /// Returns the events it drained.
    @discardableResult
    static func expectMatches(_ m: LinkMonitor, _ net: NetnsFixture, _ ns: String,
                              sourceLocation: SourceLocation = #_sourceLocation) throws -> [LinkEvent] {
        var drained: [LinkEvent] = []
        var ip: [String: Link] = [:], mine: [String: Link] = [:]
        for _ in 0..<20 {
            ip = links(net, ns)
            m.drain { drained.append($0) }
            mine = links(of: m)
            if mine == ip { break }
            usleep(50_000)
        }
        try #require(!ip.isEmpty, "ip -j addr show gave nothing", sourceLocation: sourceLocation)
        #expect(mine.keys.sorted() == ip.keys.sorted(), "names", sourceLocation: sourceLocation)
        for (name, theirs) in ip {
            #expect(mine[name] == theirs, "\(name)", sourceLocation: sourceLocation)
        }
        return drained
    }
}

/// Builds netlink messages byte by byte, in host order like the kernel.
enum NL {
    static func u16(_ v: UInt16) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }
    static func u32(_ v: UInt32) -> [UInt8] { withUnsafeBytes(of: v) { Array($0) } }

    static func pad(_ b: [UInt8]) -> [UInt8] { b + [UInt8](repeating: 0, count: (4 - b.count % 4) % 4) }

    static func attr(_ type: UInt16, _ payload: [UInt8]) -> [UInt8] {
        pad(u16(UInt16(4 + payload.count)) + u16(type) + payload)
    }

    static func message(type: UInt16, flags: UInt16 = 0, seq: UInt32 = 0, port: UInt32 = 0, body: [UInt8]) -> [UInt8] {
        pad(u32(UInt32(16 + body.count)) + u16(type) + u16(flags) + u32(seq) + u32(port) + body)
    }

    static func ifinfo(family: UInt8 = 0, index: Int32, flags: UInt32 = 0, hardwareType: UInt16 = 1) -> [UInt8] {
        [family, 0] + u16(hardwareType) + u32(UInt32(bitPattern: index)) + u32(flags) + u32(0)
    }

    static func ifaddr(family: UInt8 = UInt8(AF_INET), index: UInt32, prefixLength: UInt8) -> [UInt8] {
        [family, prefixLength, 0, 0] + u32(index)
    }

    static func link(type: UInt16 = 16, seq: UInt32 = 0, port: UInt32 = 0, msgFlags: UInt16 = 0, family: UInt8 = 0,
                     index: Int32, name: String, flags: UInt32 = 0, mtu: UInt32 = 1500, master: UInt32? = nil,
                     operState: UInt8 = 0, kind: String? = nil, mac: [UInt8]? = nil, hardwareType: UInt16 = 1) -> [UInt8] {
        var body = ifinfo(family: family, index: index, flags: flags, hardwareType: hardwareType)
        body += attr(3, Array(name.utf8) + [0]) + attr(4, u32(mtu)) + attr(16, [operState])
        if let master { body += attr(10, u32(master)) }
        if let mac { body += attr(1, mac) }
        if let kind { body += attr(18 | 0x8000, attr(1, Array(kind.utf8) + [0])) }  // NLA_F_NESTED, as the kernel sets it
        return message(type: type, flags: msgFlags, seq: seq, port: port, body: body)
    }

    static func link(seq: UInt32 = 0, port: UInt32 = 0, flags: UInt16 = 0, state s: LinkState) -> [UInt8] {
        link(seq: seq, port: port, msgFlags: flags, index: Int32(s.index), name: s.name,
             flags: (s.up ? 1 : 0) | (s.lowerUp ? 0x10000 : 0), mtu: s.mtu, master: s.master,
             operState: s.operState.rawValue, kind: s.kind,
             mac: s.mac.map { m in (0..<6).map { m.octet($0) } }, hardwareType: s.hardwareType)
    }

    static func address(type: UInt16 = 20, seq: UInt32 = 0, port: UInt32 = 0, flags: UInt16 = 0, family: UInt8 = UInt8(AF_INET),
                        index: UInt32, prefixLength: UInt8, local: [UInt8], peer: [UInt8]? = nil) -> [UInt8] {
        var body = ifaddr(family: family, index: index, prefixLength: prefixLength)
        body += attr(1, peer ?? local) + attr(2, local)
        return message(type: type, flags: flags, seq: seq, port: port, body: body)
    }

    static func address(type: UInt16 = 20, seq: UInt32 = 0, port: UInt32 = 0, flags: UInt16 = 0,
                        index: UInt32, prefixLength: UInt8, local: IPv4Address) -> [UInt8] {
        let r = local.rawValue
        return address(type: type, seq: seq, port: port, flags: flags, index: index, prefixLength: prefixLength,
                       local: [UInt8(r >> 24), UInt8(r >> 16 & 0xff), UInt8(r >> 8 & 0xff), UInt8(r & 0xff)])
    }

    static func done(seq: UInt32, port: UInt32, flags: UInt16 = 2) -> [UInt8] {
        message(type: 3, flags: flags, seq: seq, port: port, body: u32(0))
    }

    static func error(seq: UInt32, port: UInt32, errno code: Int32) -> [UInt8] {
        message(type: 2, seq: seq, port: port, body: u32(UInt32(bitPattern: -code)) + [UInt8](repeating: 0, count: 16))
    }

    static func parse(_ bytes: [UInt8]) -> (messages: [RtnlMessage], unparsable: Int) {
        bytes.withUnsafeBytes { RtnlParser.messages(in: $0) }
    }

    static func feed(_ t: inout LinkTracker, _ bytes: [UInt8], emit: (LinkEvent) -> Void) {
        bytes.withUnsafeBytes { t.receive($0, from: 0, emit: emit) }
    }
}

/// SplitMix64: a seeded generator, so a fuzz failure replays.
struct SplitMix: RandomNumberGenerator {
    var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
