import AllocationCounting
import XigmpTestSupport
#if canImport(Glibc)
import Glibc
#endif
import IGMPProxy
import IGMPWire
import Testing

/// The per-packet forwarding path allocates nothing: a group-and-source-specific
/// v3 query through proxyOutToIn and a v3 report with two records (one with two
/// sources) through proxyInToOut, each
/// parsed in place from a frame, decided, and its payload handed to a send.
enum ForwardingWorkload {
    /// The frames and the roles they arrive on.
    static func frames() throws -> [(frame: [UInt8], role: InterfaceRole)] {
        let query = try IGMPEncoder.ethernetFrame(
            .query(.v3(group: ssmGroup, sources: [ip("10.0.0.1"), ip("10.0.0.2")], maxResponseTenths: 300)),
            ethernet: EthernetEncodeOptions(source: primaryQuerierMAC), source: primaryQuerier)
        let report = try IGMPEncoder.ethernetFrame(
            v3Report2Records, ethernet: EthernetEncodeOptions(source: insideHostMAC), source: insideHost)
        return [(query, .outside), (report, .inside)]
    }

    /// Runs `rounds` packets; returns the payload bytes "sent" (so nothing is
    /// optimised away) — 20 per query and 32 per report.
    static func run(_ proxy: inout ProxyPolicy, _ frames: [(frame: [UInt8], role: InterfaceRole)],
                    rounds: Int) -> Int {
        var sentBytes = 0
        var index = 0
        while index < rounds {
            let entry = frames[index % frames.count]
            entry.frame.withUnsafeBytes { buffer in
                guard let view = try? IGMPPacketView(ethernetFrame: buffer) else { return }
                proxy.handle(view, on: entry.role, at: ProxyTime(nanoseconds: UInt64(index) &* 1000)) { action in
                    if case .transmit(let transmit) = action {
                        sentBytes &+= transmit.withPayloadBytes { $0.count } ?? 0
                    }
                }
            }
            index += 1
        }
        return sentBytes
    }

    static let rounds = 2000
    static let expectedBytes = rounds / 2 * (20 + 32)
}

@Suite struct AllocationTests {
    @Test("no malloc calls per packet on the forwarding path (uprobe count, 2000 packets)")
    func noMallocPerPacket() throws {
        try #require(geteuid() == 0, "counting malloc calls with uprobes needs root: run `sudo make test`")
        var proxy = policy(.fullProxy)
        let frames = try ForwardingWorkload.frames()
        // Warm up: first calls may allocate lazily (type metadata, caches).
        _ = ForwardingWorkload.run(&proxy, frames, rounds: 4)
        let counter = try MallocCallCounter()
        var sent = 0
        let calls = try counter.counting {
            sent = ForwardingWorkload.run(&proxy, frames, rounds: ForwardingWorkload.rounds)
        }
        #expect(sent == ForwardingWorkload.expectedBytes)
        #expect(calls == 0, "\(calls) allocator calls for \(ForwardingWorkload.rounds) packets")
    }

    @Test("the malloc counter sees allocations (control)")
    func counterSeesAllocations() throws {
        try #require(geteuid() == 0, "counting malloc calls with uprobes needs root: run `sudo make test`")
        let counter = try MallocCallCounter()
        var proxy = policy(.client)
        let frames = try ForwardingWorkload.frames()
        _ = ForwardingWorkload.run(&proxy, frames, rounds: 4)
        // Client mode emits events, whose source lists are owned arrays.
        let calls = try counter.counting { _ = ForwardingWorkload.run(&proxy, frames, rounds: 100) }
        #expect(calls >= 50)
    }

    @Test("no Swift object allocations per packet on the forwarding path (runtime hook, exit test)")
    func noSwiftAllocationPerPacket() async {
        await #expect(processExitsWith: .success, "the forwarding path allocated") {
            guard var proxy = try? ProxyPolicy(configuration: configuration(.fullProxy)),
                  let frames = try? ForwardingWorkload.frames() else { _exit(5) }
            _ = ForwardingWorkload.run(&proxy, frames, rounds: 4)
            var sent = 0
            let count = countSwiftAllocations {
                sent = ForwardingWorkload.run(&proxy, frames, rounds: ForwardingWorkload.rounds)
            }
            exitWithVerdict(sent == ForwardingWorkload.expectedBytes ? count : nil)
        }
    }

    @Test("the runtime hook sees allocations (control)")
    func hookSeesAllocations() async {
        await #expect(processExitsWith: .exitCode(3)) {
            guard var proxy = try? ProxyPolicy(configuration: configuration(.client)),
                  let frames = try? ForwardingWorkload.frames() else { _exit(5) }
            _ = ForwardingWorkload.run(&proxy, frames, rounds: 4)
            exitWithVerdict(countSwiftAllocations { _ = ForwardingWorkload.run(&proxy, frames, rounds: 100) })
        }
    }
}
