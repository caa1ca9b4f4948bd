import CXigmp
import DatapathKernel
import Glibc

/// A BPF map this process holds a descriptor to, with typed element access
/// (`bpf_map_lookup_elem`, `bpf_map_update_elem`, `bpf_map_delete_elem`).
public struct BPFMap: Sendable {
    /// The owned descriptor.
    public let fd: KernelFD
    /// Map name as the kernel keeps it.
    public let name: String
    /// Kernel map id.
    public let id: UInt32
    /// BPF_MAP_TYPE_* value.
    public let type: UInt32
    /// Key and value sizes in bytes, and capacity.
    public let keySize: Int, valueSize: Int, maxEntries: Int

    /// Wraps a descriptor and reads the map's info.
    public init(fd: KernelFD) throws(DatapathError) {
        var info = cxigmp_map_info()
        try libbpfCheck(cxigmp_map_info(fd.raw, &info), "reading map info")
        self.fd = fd
        id = info.id
        type = info.type
        keySize = Int(info.key_size)
        valueSize = Int(info.value_size)
        maxEntries = Int(info.max_entries)
        name = withUnsafeBytes(of: info.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
    }

    /// Opens a map by kernel id (`bpf_map_get_fd_by_id`).
    public init(id: UInt32) throws(DatapathError) {
        let raw = bpf_map_get_fd_by_id(id)
        guard raw >= 0 else { throw DatapathError.system("opening map id \(id)", errno: -raw) }
        try self.init(fd: KernelFD(owning: raw))
    }

    /// Opens a pinned map (`bpf_obj_get`).
    public init(pinned path: String) throws(DatapathError) {
        let raw = bpf_obj_get(path)
        guard raw >= 0 else { throw DatapathError.system("opening pinned map \(path)", errno: -raw) }
        try self.init(fd: KernelFD(owning: raw))
    }

    private func checkSizes<K, V>(_: K.Type, _: V.Type) throws(DatapathError) {
        guard MemoryLayout<K>.size == keySize, MemoryLayout<V>.size == valueSize else {
            throw DatapathError(.invalidArgument, "map \(name): key/value are \(keySize)/\(valueSize) bytes, caller passed \(MemoryLayout<K>.size)/\(MemoryLayout<V>.size)")
        }
    }

    /// Inserts or replaces an element.
    public func update<K: BitwiseCopyable, V: BitwiseCopyable>(_ key: K, _ value: V) throws(DatapathError) {
        try checkSizes(K.self, V.self)
        var k = key, v = value
        let rc = bpf_map_update_elem(fd.raw, &k, &v, UInt64(BPF_ANY))
        try libbpfCheck(rc, "updating map \(name)")
    }

    /// The element for `key`, or nil when absent.
    public func lookup<K: BitwiseCopyable, V: BitwiseCopyable>(_ key: K, as _: V.Type) throws(DatapathError) -> V? {
        try checkSizes(K.self, V.self)
        var k = key
        return try withUnsafeTemporaryAllocation(of: V.self, capacity: 1) { buf throws(DatapathError) -> V? in
            let rc = bpf_map_lookup_elem(fd.raw, &k, buf.baseAddress)
            if rc == -ENOENT { return nil }
            try libbpfCheck(rc, "reading map \(name)")
            return buf[0]
        }
    }

    /// Removes an element; absent is not an error.
    public func delete<K: BitwiseCopyable>(_ key: K) throws(DatapathError) {
        var k = key
        let rc = bpf_map_delete_elem(fd.raw, &k)
        if rc == -ENOENT { return }
        try libbpfCheck(rc, "deleting from map \(name)")
    }

    /// Pins the map at `path` (`bpf_obj_pin`).
    public func pin(at path: String) throws(DatapathError) {
        try libbpfCheck(bpf_obj_pin(fd.raw, path), "pinning map \(name) at \(path)")
    }

    /// Sums a per-CPU array of `UInt64` counters: one value per slot, summed
    /// over every possible CPU.
    public func perCPUSums(slots: Int) throws(DatapathError) -> [UInt64] {
        guard valueSize == 8 else {
            throw DatapathError(.invalidArgument, "map \(name): per-CPU counters must be 8 bytes, map has \(valueSize)")
        }
        let cpus = Int(libbpf_num_possible_cpus())
        guard cpus > 0 else { throw DatapathError.system("counting possible CPUs", errno: -Int32(cpus)) }
        var values = [UInt64](repeating: 0, count: cpus)
        var sums = [UInt64](repeating: 0, count: slots)
        for slot in 0..<min(slots, maxEntries) {
            var key = UInt32(slot)
            let rc = values.withUnsafeMutableBytes { bpf_map_lookup_elem(fd.raw, &key, $0.baseAddress) }
            try libbpfCheck(rc, "reading counters from map \(name)")
            sums[slot] = values.reduce(0, &+)
        }
        return sums
    }
}
