#if canImport(Glibc)
import Glibc
#endif
import Synchronization

// Counts swift_allocObject calls through the Swift runtime's
// `_swift_allocObject` hook: needs no privilege but sees only Swift object
// allocations (array and string buffers, class instances, closure contexts,
// boxes). Calling a non-default hook latches the runtime's instruments-only
// swizzling flag, which routed later retains through an adapter that crashed
// here (Swift 6.3.1, x86_64 Linux): the hook clears it on every call, and
// each measurement must run in an exit test (a child process of its own,
// Swift Testing ST-0008) so no other test's thread runs while it is in place.
// The child reports by exit status: 0 none, 3 some, 4 no hook.

public typealias AllocObjectFunction = @convention(c) (UnsafeRawPointer?, Int, Int) -> UnsafeMutableRawPointer?

private let originalAllocObject = Atomic<UInt>(0)
private let swiftAllocationCount = Atomic<Int>(0)
private let swizzleFlag = Atomic<UInt>(0)

private let countingAllocObject: AllocObjectFunction = { metadata, size, alignMask in
    swiftAllocationCount.add(1, ordering: .relaxed)
    // Calling a non-default hook latches the runtime's instruments-only swizzling
    // flag, which crashed later retains here; keep it clear (as IGMPWireTests does).
    if let flag = UnsafeMutablePointer<UInt8>(bitPattern: swizzleFlag.load(ordering: .relaxed)) {
        flag.pointee = 0
    }
    return unsafeBitCast(originalAllocObject.load(ordering: .relaxed), to: AllocObjectFunction.self)(
        metadata, size, alignMask)
}

/// Counts swift_allocObject calls made while `body` runs. Only for use in an exit
/// test's child process; nil when the runtime has no hook.
public func countSwiftAllocations(_ body: () throws -> Void) rethrows -> Int? {
    guard let hook = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "_swift_allocObject") else { return nil }
    let slot = hook.assumingMemoryBound(to: AllocObjectFunction.self)
    let flag = dlsym(UnsafeMutableRawPointer(bitPattern: 0),
                     "_swift_enableSwizzlingOfAllocationAndRefCountingFunctions_forInstrumentsOnly")
    swizzleFlag.store(UInt(bitPattern: flag), ordering: .relaxed)
    let original = slot.pointee
    originalAllocObject.store(unsafeBitCast(original, to: UInt.self), ordering: .relaxed)
    swiftAllocationCount.store(0, ordering: .relaxed)
    slot.pointee = countingAllocObject
    defer { slot.pointee = original }
    try body()
    return swiftAllocationCount.load(ordering: .relaxed)
}

/// Exits an exit test's child with the verdict: 0 none, 3 some, 4 no hook.
public func exitWithVerdict(_ count: Int?) -> Never {
    guard let count else { _exit(4) }
    if count != 0 { print("swift allocations: \(count)") }
    _exit(count == 0 ? 0 : 3)
}
