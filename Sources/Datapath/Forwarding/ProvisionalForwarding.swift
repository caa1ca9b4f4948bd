import CXigmp
import DatapathBPF
import DatapathKernel
import DatapathPrograms
import Glibc
import IGMPWire

/// Provisional forwarding entries: the classifier on an inside
/// interface writes a (*,G) entry itself when a report joins an allowed
/// group, so data flows before the control plane has written the route.
///
/// This is the one table every classifier instance shares (the inside's
/// writes it, the outside's forwarders read it): an LRU hash of
/// `XIGMP_PROV_MAX_ENTRIES` entries and a one-slot gate, created here and
/// put in slot 0 of each instance's `xigmp_fwd_prov` / `xigmp_prov_gate`
/// (ARRAY_OF_MAPS) with ``attach(to:)``. Bounded and LRU, a join flood never
/// fills the route map. The control plane ``flush(stampedBefore:)``es the
/// entries of every batch of reports once it has written the real routes;
/// the forwarders ignore entries older than `XIGMP_PROV_MAX_AGE_NS`.
///
/// Not thread-safe: the daemon's loop owns it.
public final class ProvisionalTable: @unchecked Sendable {
    /// The shared LRU hash: `xigmp_fwd_key` → `xigmp_prov_entry`.
    public let table: BPFMap
    /// One `UInt32`: non-zero while entries may exist.
    public let gate: BPFMap
    /// Flush buffers, allocated once (the loop's per-batch path allocates
    /// nothing).
    private let capacity = 256
    private let keys: UnsafeMutableBufferPointer<xigmp_fwd_key>
    private let values: UnsafeMutableBufferPointer<xigmp_prov_entry>
    private let old: UnsafeMutableBufferPointer<xigmp_fwd_key>

    /// Creates the shared maps.
    public init() throws(DatapathError) {
        table = try Self.create(BPF_MAP_TYPE_LRU_HASH, XIGMP_MAP_PROV_TABLE, key: MemoryLayout<xigmp_fwd_key>.size,
                                value: MemoryLayout<xigmp_prov_entry>.size, entries: Int(XIGMP_PROV_MAX_ENTRIES))
        gate = try Self.create(BPF_MAP_TYPE_ARRAY, XIGMP_MAP_PROV_FLAG, key: 4, value: 4, entries: 1)
        keys = .allocate(capacity: capacity)
        values = .allocate(capacity: capacity)
        old = .allocate(capacity: capacity)
    }

    deinit {
        keys.deallocate()
        values.deallocate()
        old.deallocate()
    }

    private static func create(_ type: bpf_map_type, _ name: String, key: Int, value: Int, entries: Int) throws(DatapathError) -> BPFMap {
        let fd = bpf_map_create(type, name, UInt32(key), UInt32(value), UInt32(entries), nil)
        guard fd >= 0 else { throw DatapathError.system("creating map \(name)", errno: -fd) }
        return try BPFMap(fd: KernelFD(owning: fd))
    }

    /// The maps of one classifier instance that reach the shared table.
    public typealias Slots = ProvisionalSlots

    /// Makes a classifier instance read and write this table.
    public func attach(to slots: Slots) throws(DatapathError) {
        try slots.table.update(UInt32(0), table.fd.raw)
        try slots.gate.update(UInt32(0), gate.fd.raw)
    }

    /// Detaches an instance (its forwarders stop reading provisional
    /// entries; its inside stops writing them).
    public static func detach(_ slots: Slots) {
        try? slots.table.delete(UInt32(0))
        try? slots.gate.delete(UInt32(0))
    }

    /// Deletes every entry stamped before `cutoff` (CLOCK_MONOTONIC ns, the
    /// classifier's bpf_ktime_get_ns clock): the reports that made them have
    /// been processed, so the real routes (or a refusal) now stand. Entries
    /// of reports still in the ring stay. Returns how many went. Two
    /// syscalls when the table holds fewer than 256 entries, one when the
    /// gate says it is empty.
    @discardableResult
    public func flush(stampedBefore cutoff: UInt64) throws(DatapathError) -> Int {
        let r = try flush(stampedBefore: cutoff) { _, _ in true }
        return r.confirmed + r.removed
    }

    /// ``flush(stampedBefore:)``, telling apart the entries a real route
    /// now covers (`isRouted(outside ifindex, group)`: confirmed) from the
    /// rest (a refused join, or one already left: removed).
    public func flush(stampedBefore cutoff: UInt64,
                      isRouted: (UInt32, IPv4Address) -> Bool) throws(DatapathError) -> (confirmed: Int, removed: Int) {
        var zero: UInt32 = 0, on: UInt32 = 0
        try libbpfCheck(bpf_map_lookup_elem(gate.fd.raw, &zero, &on), "reading map \(gate.name)")
        guard on != 0 else { return (0, 0) }
        // Closed before the walk: an install racing it opens it again, and
        // an entry the walk keeps opens it below.
        var off: UInt32 = 0
        try libbpfCheck(bpf_map_update_elem(gate.fd.raw, &zero, &off, UInt64(BPF_ANY)), "updating map \(gate.name)")
        var removed = 0, confirmed = 0, kept = 0
        var cursor: UInt32 = 0, first = true
        while true {
            var count = UInt32(capacity), next: UInt32 = 0
            let rc = withUnsafeMutablePointer(to: &cursor) { c in
                bpf_map_lookup_batch(table.fd.raw, first ? nil : UnsafeMutableRawPointer(c), &next, keys.baseAddress,
                                     values.baseAddress, &count, nil)
            }
            guard rc == 0 || rc == -ENOENT else {
                try libbpfCheck(rc, "reading map \(table.name)")
                return (confirmed, removed)
            }
            var n = 0
            for i in 0..<Int(count) {
                if values[i].stamp_ns < cutoff {
                    old[n] = keys[i]
                    n += 1
                } else {
                    kept += 1
                }
            }
            if n > 0 {
                var deleted = UInt32(n)
                _ = bpf_map_delete_batch(table.fd.raw, old.baseAddress, &deleted, nil)
                for i in 0..<min(n, Int(deleted)) {
                    if isRouted(old[i].ifindex, IPv4Address(rawValue: UInt32(bigEndian: old[i].group))) {
                        confirmed += 1
                    } else {
                        removed += 1
                    }
                }
            }
            if rc == -ENOENT { break }
            cursor = next
            first = false
        }
        if kept > 0 {
            var one: UInt32 = 1
            try libbpfCheck(bpf_map_update_elem(gate.fd.raw, &zero, &one, UInt64(BPF_ANY)), "updating map \(gate.name)")
        }
        return (confirmed, removed)
    }

    /// Every entry (for tests and `xigmp routes`-style views).
    public func entries() throws(DatapathError) -> [(key: MulticastForwarder.RouteKey, mask: UInt64, path: UInt32, stampNs: UInt64)] {
        var out: [(key: MulticastForwarder.RouteKey, mask: UInt64, path: UInt32, stampNs: UInt64)] = []
        var prev = xigmp_fwd_key(), next = xigmp_fwd_key(), first = true
        while withUnsafePointer(to: &prev, { p in
            bpf_map_get_next_key(table.fd.raw, first ? nil : UnsafeRawPointer(p), &next)
        }) == 0 {
            first = false
            prev = next
            if let v = try table.lookup(next, as: xigmp_prov_entry.self) {
                out.append((MulticastForwarder.RouteKey(next), v.route.out_mask, v.route.path, v.stamp_ns))
            }
            if out.count > Int(XIGMP_PROV_MAX_ENTRIES) { break }
        }
        return out
    }

    /// Whether the gate is open.
    public var gateOpen: Bool {
        get throws(DatapathError) { (try gate.lookup(UInt32(0), as: UInt32.self) ?? 0) != 0 }
    }

    // MARK: - the allow table

    /// One row of an inside's allow table: joins there for groups under
    /// `prefix` provision (`outside`, *, G) → the inside's `slot` on `path`.
    public struct Allow: Sendable, Equatable {
        public var prefix: IPv4Prefix
        public var outside: UInt32
        public var inside: UInt32
        public var slot: UInt8
        public var path: MulticastForwarder.Path

        public init(prefix: IPv4Prefix, outside: UInt32, inside: UInt32, slot: UInt8, path: MulticastForwarder.Path) {
            self.prefix = prefix
            self.outside = outside
            self.inside = inside
            self.slot = slot
            self.path = path
        }

        var key: xigmp_prov_acl_key {
            xigmp_prov_acl_key(prefixlen: UInt32(32 + prefix.length), ifindex: inside,
                               group: prefix.address.rawValue.bigEndian)
        }
    }

    /// Writes rows into an inside classifier's `xigmp_prov_acl`.
    public static func allow(_ rows: [Allow], in acl: BPFMap) throws(DatapathError) {
        for r in rows {
            try acl.update(r.key, xigmp_prov_acl(outside: r.outside, egress: r.inside, slot: UInt32(r.slot),
                                                 path: r.path.rawValue))
        }
    }

    /// Removes rows written by ``allow(_:in:)``; absent ones are no error.
    public static func disallow(_ rows: [Allow], in acl: BPFMap) {
        for r in rows { try? acl.delete(r.key) }
    }

    /// Removes every row of `acl`: what a run that crashed left in a
    /// classifier `xigmp load` pinned (its prefixes may not be this run's).
    public static func disallowAll(in acl: BPFMap) {
        var key = xigmp_prov_acl_key()
        var n = 0
        while bpf_map_get_next_key(acl.fd.raw, nil, &key) == 0 && n <= Int(XIGMP_PROV_MAX_ACL) {
            try? acl.delete(key)
            n += 1
        }
    }
}

extension MulticastForwarder {
    /// The egress slot of `ifindex`, nil when it is not an egress port.
    public func egressSlot(_ ifindex: UInt32) throws(DatapathError) -> UInt8? {
        guard let r = try interfacesMap.lookup(ifindex, as: xigmp_fwd_if.self), r.egress != 0 else { return nil }
        return r.slot
    }
}
