#if canImport(Glibc)
import Glibc
#endif
import Synchronization

// Counts calls to malloc and its siblings made by the calling thread, with
// uprobes: perf_event_open of the "uprobe" PMU at each function's file
// offset. It sees every heap allocation, Swift's or C's, so "allocates
// nothing per packet" can be checked, and checks itself with one known
// malloc so a broken counter cannot pass vacuously. perf_event_attr is laid
// out by hand and the variadic syscall(2) is reached through dlsym, since
// Swift imports neither. Needs root (or CAP_PERFMON with a permissive
// perf_event_paranoid), like the namespace tests and the benchmarks.

/// Where the counter's known malloc escapes to.
private let escapedPointer = Atomic<UInt>(0)

/// Counts calls to the C allocator's entry points made by the calling thread.
public final class MallocCallCounter {
    /// Why the counter cannot run (no uprobe PMU, no permission).
    public struct Failure: Error, CustomStringConvertible {
        public var description: String
    }

    private var descriptors: [Int32] = []

    /// Opens one uprobe per allocator entry point (needs root).
    public init() throws {
        let type = try Self.uprobePMUType()
        var seen: [UInt] = []
        for name in ["malloc", "calloc", "realloc", "posix_memalign", "aligned_alloc", "memalign", "valloc"] {
            guard let function = dlsym(UnsafeMutableRawPointer(bitPattern: 0), name) else { continue }
            let address = UInt(bitPattern: function)
            if seen.contains(address) { continue }
            seen.append(address)
            let (path, offset) = try Self.mappedFileOffset(address)
            let fd = try Self.openUprobe(type: type, path: path, offset: offset)
            descriptors.append(fd)
        }
    }

    deinit {
        var index = 0
        while index < descriptors.count {
            close(descriptors[index])
            index += 1
        }
    }

    /// Calls counted so far. An index loop: at -Onone `for x in array` may
    /// allocate, which would count itself.
    public var total: UInt64 {
        var sum: UInt64 = 0
        var index = 0
        while index < descriptors.count {
            var value: UInt64 = 0
            if read(descriptors[index], &value, 8) == 8 { sum &+= value }
            index += 1
        }
        return sum
    }

    /// Runs `body` and returns the allocator calls it made; then checks that one
    /// known malloc counts as exactly one, so a broken counter cannot pass vacuously.
    public func counting(_ body: () throws -> Void) throws -> UInt64 {
        let before = total
        try body()
        let during = total &- before
        let mark = total
        // The pointer escapes through an atomic, so an optimiser cannot drop the
        // malloc/free pair (LLVM removes a bare `free(malloc(24))` in release).
        let known = malloc(24)
        escapedPointer.store(UInt(bitPattern: known), ordering: .relaxed)
        free(known)
        let probe = total &- mark
        guard probe == 1 else { throw Failure(description: "one malloc counted as \(probe): the counter is broken") }
        return during
    }

    private static func uprobePMUType() throws -> UInt32 {
        let text = try readFile("/sys/bus/event_source/devices/uprobe/type")
        guard let type = UInt32(text.split(separator: "\n").first ?? "") else {
            throw Failure(description: "no uprobe PMU type")
        }
        return type
    }

    /// The file and file offset `address` is mapped from, per /proc/self/maps.
    private static func mappedFileOffset(_ address: UInt) throws -> (String, UInt64) {
        for line in try readFile("/proc/self/maps").split(separator: "\n") {
            let fields = line.split(separator: " ", omittingEmptySubsequences: true)
            guard fields.count >= 6 else { continue }
            let range = fields[0].split(separator: "-")
            guard range.count == 2, let low = UInt(range[0], radix: 16), let high = UInt(range[1], radix: 16),
                  let offset = UInt64(fields[2], radix: 16), address >= low, address < high else { continue }
            let path = fields[5...].joined(separator: " ")
            guard path.hasPrefix("/") else { break }
            return (path, UInt64(address - low) + offset)
        }
        throw Failure(description: "address \(address) is not in a mapped file")
    }

    /// perf_event_open(2) of a uprobe at `path`+`offset`, user space only, this
    /// thread (pid 0, cpu -1), close-on-exec.
    private static func openUprobe(type: UInt32, path: String, offset: UInt64) throws -> Int32 {
        #if arch(x86_64)
        let perfEventOpen = 298
        #elseif arch(arm64)
        let perfEventOpen = 241
        #else
        throw Failure(description: "perf_event_open syscall number unknown on this architecture")
        #endif
        typealias Syscall = @convention(c) (Int, UnsafeRawPointer, Int, Int, Int, UInt) -> Int
        guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "syscall") else {
            throw Failure(description: "no syscall symbol")
        }
        let syscall = unsafeBitCast(symbol, to: Syscall.self)
        // struct perf_event_attr, PERF_ATTR_SIZE_VER1 (72 bytes): type @0, size @4,
        // flags @40 (exclude_kernel is bit 5), config1 = uprobe_path @56,
        // config2 = probe_offset @64.
        var attr = [UInt8](repeating: 0, count: 72)
        let fd: Int = path.withCString { cPath in
            attr.withUnsafeMutableBytes { raw in
                raw.storeBytes(of: type, toByteOffset: 0, as: UInt32.self)
                raw.storeBytes(of: 72, toByteOffset: 4, as: UInt32.self)
                raw.storeBytes(of: 1 << 5, toByteOffset: 40, as: UInt64.self)
                raw.storeBytes(of: UInt64(UInt(bitPattern: cPath)), toByteOffset: 56, as: UInt64.self)
                raw.storeBytes(of: offset, toByteOffset: 64, as: UInt64.self)
                return syscall(perfEventOpen, UnsafeRawPointer(raw.baseAddress!), 0, -1, -1, 8 /* PERF_FLAG_FD_CLOEXEC */)
            }
        }
        guard fd >= 0 else {
            throw Failure(description: "perf_event_open uprobe on \(path)+\(offset): \(String(cString: strerror(errno)))")
        }
        return Int32(fd)
    }

    private static func readFile(_ path: String) throws -> String {
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else { throw Failure(description: "cannot open \(path): \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let got = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if got <= 0 { break }
            bytes += chunk[0..<got]
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}

extension MallocCallCounter {
    /// Runs `body` and returns its result with the allocator calls it made.
    public func counting<T>(_ body: () throws -> T) throws -> (T, UInt64) {
        var result: T?
        let calls = try counting { result = try body() }
        return (result!, calls)
    }
}
