import XigmpTestSupport
#if canImport(Glibc)
import Glibc
#endif
import IGMPWire
import AllocationCounting
import Synchronization
import Testing

// Allocation counting comes from the AllocationCounting module (the Swift
// runtime hook, run in exit tests; see SwiftAllocationHook.swift there).

@inline(never)
func makeArray(_ n: Int) -> [Int] { Array(repeating: n, count: n) }

/// 10 000 parses of every message kind with every field, record and source read.
func parseEverything() throws -> Int? {
    let frames = try samples.map { try frame($0.message, vlan: VLANTag(vid: 7)) }
    let packets = try samples.map { try IGMPEncoder.ipv4Packet($0.message, source: hostIP) }
    var checksum: UInt64 = 0
    let count = try countSwiftAllocations {
        for round in 0..<10_000 {
            let index = round % frames.count
            try frames[index].withUnsafeBytes { buffer in
                let view = try IGMPPacketView(ethernetFrame: buffer)
                checksum &+= UInt64(view.igmp.group.rawValue) &+ UInt64(view.ip?.ttl ?? 0)
                checksum &+= UInt64(view.ethernet?.outerVLAN?.vid ?? 0)
                checksum &+= UInt64(view.igmp.maxRespCode) &+ UInt64(view.igmp.qqicCode)
                for source in view.igmp.sources { checksum &+= UInt64(source.rawValue) }
                for record in view.igmp.records {
                    checksum &+= UInt64(record.rawType) &+ UInt64(record.group.rawValue)
                    for source in record.sources { checksum &+= UInt64(source.rawValue) }
                    for byte in record.auxData { checksum &+= UInt64(byte) }
                    if record.isLeave { checksum &+= 1 }
                }
            }
            try packets[index].withUnsafeBytes { buffer in
                let view = try IGMPPacketView(ipv4Packet: buffer)
                checksum &+= UInt64(view.igmp.recordCount) &+ UInt64(view.igmp.sourceCount)
                if view.ip?.routerAlert == true { checksum &+= 1 }
            }
        }
    }
    return checksum == 0 ? -1 : count
}

/// 10 000 encodes of every kind into one buffer, at the Ethernet and IP layers.
func encodeEverything() throws -> Int? {
    let messages = samples.map(\.message)
    let ethernet = EthernetEncodeOptions(source: hostMAC, outerVLAN: VLANTag(vid: 7))
    var total = 0
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 2048, alignment: 8)
    defer { buffer.deallocate() }
    let count = try countSwiftAllocations {
        for round in 0..<10_000 {
            let message = messages[round % messages.count]
            total &+= try IGMPEncoder.encodeEthernet(message, ethernet: ethernet, source: hostIP, into: buffer)
            total &+= try IGMPEncoder.encodeIPv4(message, source: hostIP, into: buffer)
        }
    }
    return total == 0 ? -1 : count
}

@Suite struct AllocationTests {
    /// The method catches allocations (a control: otherwise a broken hook would pass).
    @Test func hookSeesAllocations() async {
        await #expect(processExitsWith: .exitCode(3)) {
            var total = 0
            let count = countSwiftAllocations {
                for n in 1...10 { total &+= makeArray(n).count }
            }
            exitWithVerdict(total == 55 ? count : nil)
        }
    }

    /// Parsing through the views allocates nothing.
    @Test func viewParsingDoesNotAllocate() async {
        await #expect(processExitsWith: .success, "view parsing allocated") {
            exitWithVerdict(try parseEverything())
        }
    }

    /// Encoding into caller memory allocates nothing either (the messages themselves
    /// are built before measuring).
    @Test func encodingIntoABufferDoesNotAllocate() async {
        await #expect(processExitsWith: .success, "encoding allocated") {
            exitWithVerdict(try encodeEverything())
        }
    }
}
