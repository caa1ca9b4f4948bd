import XigmpTools
import AllocationCounting
import Glibc
import IGMPProxy
import IGMPWire

/// Decode + policy + encode per message, in process, no I/O: what the
/// daemon's loop does per frame between the AF_XDP rings.
enum ControlPlaneBench {
    // The network of the proxy tests: an Ethernet outside, a docker-like inside.
    static let outside = InterfaceAddressing(address: IPv4Address(192, 0, 2, 2), prefixLength: 24,
                                             mac: MACAddress(0x02, 0, 0, 0, 0x01, 0x02))
    static let inside = InterfaceAddressing(address: IPv4Address(172, 17, 0, 1), prefixLength: 16,
                                            mac: MACAddress(0x02, 0, 0, 0, 0x01, 0x01))
    static let querier = IPv4Address(192, 0, 2, 1)
    static let querierMAC = MACAddress(0x02, 0, 0, 0, 0x09, 0x01)
    static let host = IPv4Address(172, 17, 0, 5)
    static let hostMAC = MACAddress(0x02, 0x42, 0xac, 0x11, 0, 0x05)

    /// One inbound frame and the interface it arrives on.
    struct Input {
        let name: String
        let frame: [UInt8]
        let role: InterfaceRole
        /// The frame's bytes in memory of their own (freed never: the
        /// process is short-lived), so the timed loop reads them without
        /// retaining an array per message, as a port reads UMEM.
        let bytes: UnsafeRawBufferPointer

        init(name: String, frame: [UInt8], role: InterfaceRole) {
            self.name = name
            self.frame = frame
            self.role = role
            let copy = UnsafeMutableRawBufferPointer.allocate(byteCount: frame.count, alignment: 64)
            copy.copyBytes(from: frame)
            bytes = UnsafeRawBufferPointer(copy)
        }
    }

    /// What the zero-copy loop reads per message: trivial values only.
    struct Lent {
        let bytes: UnsafeRawBufferPointer
        let role: InterfaceRole
    }

    /// A v2 report and a two-record v3 report from a host inside, and a v3
    /// general query from the querier outside: each makes one transmit
    /// under full proxy (reports out, the query in).
    static func inputs() throws -> [Input] {
        let v3Records = [
            GroupRecord(type: .toExclude, group: IPv4Address(239, 1, 1, 1)),
            GroupRecord(type: .allowNewSources, group: IPv4Address(232, 1, 1, 1),
                        sources: [IPv4Address(10, 0, 0, 1), IPv4Address(10, 0, 0, 2)]),
        ]
        return [
            Input(name: "v2_report", frame: try IGMPEncoder.ethernetFrame(
                .v2Report(group: IPv4Address(239, 1, 2, 3)), ethernet: EthernetEncodeOptions(source: hostMAC),
                source: host), role: .inside),
            Input(name: "v3_report_2_records", frame: try IGMPEncoder.ethernetFrame(
                .v3Report(v3Records), ethernet: EthernetEncodeOptions(source: hostMAC), source: host), role: .inside),
            Input(name: "v3_query", frame: try IGMPEncoder.ethernetFrame(
                .query(.v3(maxResponseTenths: 100)), ethernet: EthernetEncodeOptions(source: querierMAC),
                source: querier), role: .outside),
        ]
    }

    static func makePolicy() throws -> ProxyPolicy {
        try ProxyPolicy(configuration: ProxyConfiguration(modes: .fullProxy, outside: outside, inside: inside))
    }

    /// What a run did: transmits and bytes encoded (checked, and kept so
    /// the optimiser cannot drop the work).
    struct Tally {
        var transmits = 0
        var bytes = 0
    }

    /// The measured path: IGMPPacketView in place, policy, and each
    /// transmit encoded (Ethernet + IPv4 with Router Alert + payload) into a
    /// preallocated frame buffer as the AF_XDP port does in UMEM.
    static func runViews(_ policy: inout ProxyPolicy, _ inputs: [Input], count: Int,
                         into frame: UnsafeMutableRawBufferPointer, tally: inout Tally) {
        let lent = inputs.map { Lent(bytes: $0.bytes, role: $0.role) }
        let n = lent.count
        lent.withUnsafeBufferPointer { frames in
            var i = 0, k = 0
            while i < count {
                let input = frames[k]
                k = k + 1 == n ? 0 : k + 1
                guard let view = try? IGMPPacketView(ethernetFrame: input.bytes) else { i += 1; continue }
                policy.handle(view, on: input.role, at: ProxyTime(nanoseconds: UInt64(i) &* 1000)) { action in
                    guard case .transmit(let t) = action else { return }
                    let written = t.withPayloadBytes { payload in encodeFrame(t, payload, into: frame) } ?? 0
                    tally.transmits &+= 1
                    tally.bytes &+= written
                }
                i += 1
            }
        }
    }

    /// The baseline: the same work through owned values, as a decoder that
    /// builds message objects (goIGMP's style) would: IGMPDecoder copies the
    /// frame into an IGMPMessage, the policy's owned-message entry point
    /// re-encodes it, then the same transmit encoding.
    static func runOwned(_ policy: inout ProxyPolicy, _ inputs: [Input], count: Int,
                         into frame: UnsafeMutableRawBufferPointer, tally: inout Tally) {
        var i = 0
        let n = inputs.count
        while i < count {
            let input = inputs[i % n]
            if let decoded = try? IGMPDecoder.decode(ethernetFrame: input.frame), let ip = decoded.ip {
                let metadata = FrameMetadata(sourceMAC: decoded.ethernet?.source, source: ip.source,
                                             destination: ip.destination, ttl: ip.ttl, routerAlert: ip.routerAlert)
                policy.handle(decoded.message, metadata: metadata, on: input.role,
                              at: ProxyTime(nanoseconds: UInt64(i) &* 1000)) { action in
                    guard case .transmit(let t) = action else { return }
                    let written = t.withPayloadBytes { payload in encodeFrame(t, payload, into: frame) } ?? 0
                    tally.transmits &+= 1
                    tally.bytes &+= written
                }
            }
            i += 1
        }
    }

    /// Ethernet header (group MAC, interface MAC) + IPv4 + payload, as
    /// XDPPort.send builds it; returns the frame length (0 on failure).
    @inline(__always)
    static func encodeFrame(_ t: ProxyTransmit, _ payload: UnsafeRawBufferPointer,
                            into frame: UnsafeMutableRawBufferPointer) -> Int {
        let dst = MACAddress.multicast(for: t.destination).rawValue
        let src = (t.role == .inside ? inside.mac : outside.mac)?.rawValue ?? 0
        var k = 0
        while k < 6 {
            frame[k] = UInt8(truncatingIfNeeded: dst >> (40 - 8 * UInt64(k)))
            frame[6 + k] = UInt8(truncatingIfNeeded: src >> (40 - 8 * UInt64(k)))
            k += 1
        }
        frame[12] = 0x08
        frame[13] = 0x00
        guard let ipLength = try? IGMPEncoder.encodeIPv4(
            payload: payload, source: t.source, destination: t.destination, options: t.ipOptions,
            into: UnsafeMutableRawBufferPointer(rebasing: frame[14...])) else { return 0 }
        return 14 + ipLength
    }

    typealias Runner = (inout ProxyPolicy, [Input], Int, UnsafeMutableRawBufferPointer, inout Tally) -> Void

    /// Times `rounds` runs of `count` messages of each path, alternating,
    /// then counts allocations over one more (untimed: a uprobe hit costs
    /// microseconds, which would distort an allocating path's time).
    static func run(count: Int, rounds: Int, allocationSample: Int) throws -> JSON {
        let inputs = try inputs()
        let frame = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 64)
        defer { frame.deallocate() }
        let paths: [(String, Runner)] = [
            ("views", { runViews(&$0, $1, count: $2, into: $3, tally: &$4) }),
            ("owned", { runOwned(&$0, $1, count: $2, into: $3, tally: &$4) }),
        ]
        var policies = try paths.map { _ in try makePolicy() }
        // Warm-up: type metadata, lazily built caches, the learned querier.
        for p in paths.indices {
            var tally = Tally()
            paths[p].1(&policies[p], inputs, 3000, frame, &tally)
            guard tally.transmits == 3000 else {
                throw BenchError("\(paths[p].0): 3000 messages made \(tally.transmits) transmits, expected one each")
            }
        }
        var wall = [[Double]](repeating: [], count: paths.count)
        var cpu = [[Double]](repeating: [], count: paths.count)
        for round in 0..<rounds {
            for step in paths.indices {
                let p = round % 2 == 0 ? step : paths.count - 1 - step
                var tally = Tally()
                let w0 = monotonicNanoseconds(), c0 = threadCPUNanoseconds()
                paths[p].1(&policies[p], inputs, count, frame, &tally)
                let c1 = threadCPUNanoseconds(), w1 = monotonicNanoseconds()
                guard tally.transmits == count else {
                    throw BenchError("\(paths[p].0): \(count) messages made \(tally.transmits) transmits")
                }
                wall[p].append(Double(w1 - w0) / Double(count))
                cpu[p].append(Double(c1 - c0) / Double(count))
            }
            progress("control-plane: round \(round + 1)/\(rounds): views \(String(format: "%.1f", wall[0].last!)) ns/msg, owned \(String(format: "%.1f", wall[1].last!)) ns/msg")
        }

        let counter = try MallocCallCounter()
        var allocs: [Double] = []
        for p in paths.indices {
            var tally = Tally()
            let calls: UInt64 = try counter.counting {
                paths[p].1(&policies[p], inputs, allocationSample, frame, &tally)
            }
            allocs.append(Double(calls) / Double(allocationSample))
        }

        let ns = Stats.median(wall[0]), baseNs = Stats.median(wall[1])
        return .object([
            ("ns_per_msg", .rounded(ns, 1)),
            ("allocs_per_msg", .rounded(allocs[0], 4)),
            ("cpu_ns_per_msg", .rounded(Stats.median(cpu[0]), 1)),
            ("msgs_per_s", .rounded(1e9 / ns, 0)),
            ("baseline_owned_ns_per_msg", .rounded(baseNs, 1)),
            ("baseline_owned_allocs_per_msg", .rounded(allocs[1], 4)),
            ("owned_over_views", .rounded(Stats.ratio(baseNs, ns))),
            ("ns_per_msg_range", Stats.range(wall[0])),
            ("baseline_owned_ns_per_msg_range", Stats.range(wall[1])),
            ("messages_per_round", .integer(count)),
            ("rounds", .integer(rounds)),
            ("allocation_sample", .integer(allocationSample)),
            ("allocation_counter", .string("uprobes on malloc/calloc/realloc/posix_memalign/aligned_alloc/memalign/valloc; one known malloc verified as 1")),
            ("mix", .array(inputs.map { .string($0.name) })),
            ("modes", .string("proxyOutToIn+proxyInToOut (full proxy)")),
        ])
    }
}
