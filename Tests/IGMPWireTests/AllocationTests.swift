#if canImport(Glibc)
import Glibc
#endif
import IGMPWire
import Synchronization
import Testing

// Proving "no allocation" from Swift: glibc 2.34+ has no malloc hooks and mallinfo2()
// counts bytes in use, not calls (a malloc/free pair inside the loop nets out to 0),
// so neither can catch a per-packet temporary. Instead this counts calls to the Swift
// runtime's swift_allocObject through its instrumentation hook, the
// `_swift_allocObject` function pointer. Every implicit Swift allocation goes through
// it: array and string buffers, class instances, closure contexts, boxed captures and
// existential boxes. The only other way to allocate is an explicit
// `Unsafe…Pointer.allocate` / malloc, which IGMPWire never calls.
//
// Calling a non-default hook makes swift_allocObject latch
// `_swift_enableSwizzlingOfAllocationAndRefCountingFunctions_forInstrumentsOnly`, which
// routes every later swift_retain through an adapter that crashed here (Swift 6.3.1,
// x86_64 Linux). The hook therefore clears the flag again on every call, and each
// measurement runs in an exit test (a child process of its own, Swift Testing ST-0008)
// so no other test's thread is running while the hook is in place. The child reports
// by exit status: 0 = no allocation, 3 = allocations seen, 4 = hook missing.

typealias AllocObjectFunction = @convention(c) (UnsafeRawPointer?, Int, Int) -> UnsafeMutableRawPointer?

private let originalAllocObject = Atomic<UInt>(0)
private let allocationCount = Atomic<Int>(0)
private let swizzleFlag = Atomic<UInt>(0)

private let countingAllocObject: AllocObjectFunction = { metadata, size, alignMask in
    allocationCount.add(1, ordering: .relaxed)
    if let flag = UnsafeMutablePointer<UInt8>(bitPattern: swizzleFlag.load(ordering: .relaxed)) {
        flag.pointee = 0
    }
    return unsafeBitCast(originalAllocObject.load(ordering: .relaxed), to: AllocObjectFunction.self)(
        metadata, size, alignMask)
}

/// Counts swift_allocObject calls made while `body` runs. Only for use in a child
/// process (see above); returns nil when the runtime has no hook.
func countAllocations(_ body: () throws -> Void) rethrows -> Int? {
    guard let hook = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "_swift_allocObject") else { return nil }
    let slot = hook.assumingMemoryBound(to: AllocObjectFunction.self)
    let flag = dlsym(UnsafeMutableRawPointer(bitPattern: 0),
                     "_swift_enableSwizzlingOfAllocationAndRefCountingFunctions_forInstrumentsOnly")
    swizzleFlag.store(UInt(bitPattern: flag), ordering: .relaxed)
    let original = slot.pointee
    originalAllocObject.store(unsafeBitCast(original, to: UInt.self), ordering: .relaxed)
    allocationCount.store(0, ordering: .relaxed)
    slot.pointee = countingAllocObject
    defer { slot.pointee = original }
    try body()
    return allocationCount.load(ordering: .relaxed)
}

/// Exits the child process with the verdict for `count`.
func exitWithVerdict(_ count: Int?) -> Never {
    guard let count else { _exit(4) }
    if count != 0 { print("allocations: \(count)") }
    _exit(count == 0 ? 0 : 3)
}

@inline(never)
func makeArray(_ n: Int) -> [Int] { Array(repeating: n, count: n) }

/// 10 000 parses of every message kind with every field, record and source read.
func parseEverything() throws -> Int? {
    let frames = try samples.map { try frame($0.message, vlan: VLANTag(vid: 7)) }
    let packets = try samples.map { try IGMPEncoder.ipv4Packet($0.message, source: hostIP) }
    var checksum: UInt64 = 0
    let count = try countAllocations {
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
    let count = try countAllocations {
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
            let count = countAllocations {
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
