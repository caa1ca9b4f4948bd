import CXigmp
import Glibc

/// A network interface in the current network namespace.
public struct NetworkInterface: Sendable, Equatable, Hashable {
    /// Interface name (`ip link` shows it).
    public let name: String
    /// Kernel ifindex, unique within the namespace.
    public let index: UInt32

    /// Resolves `name` (`if_nametoindex`); the error says how to list names.
    public init(named name: String) throws(DatapathError) {
        let index = if_nametoindex(name)
        guard index != 0 else {
            throw DatapathError(
                .noSuchInterface,
                "no interface named '\(name)' in this network namespace: check the name with `ip link` (or pass --netns NAME)")
        }
        self.name = name
        self.index = index
    }

    /// An interface known by both (no lookup): for callers that already
    /// resolved it, and tests.
    public init(name: String, index: UInt32) {
        self.name = name
        self.index = index
    }

    /// An interface by index, or nil when it does not exist.
    public init?(index: UInt32) {
        var buf = [CChar](repeating: 0, count: Int(IF_NAMESIZE) + 1)
        guard let p = if_indextoname(index, &buf) else { return nil }
        name = String(cString: p)
        self.index = index
    }

    /// Every interface of the current namespace (`if_nameindex`).
    public static func all() -> [NetworkInterface] {
        guard let list = if_nameindex() else { return [] }
        defer { if_freenameindex(list) }
        var result: [NetworkInterface] = []
        var p = list
        while p.pointee.if_index != 0 {
            if let n = p.pointee.if_name {
                result.append(NetworkInterface(name: String(cString: n), index: p.pointee.if_index))
            }
            p += 1
        }
        return result.sorted { $0.index < $1.index }
    }

    /// The driver behind the interface (ETHTOOL_GDRVINFO), e.g. "veth";
    /// nil when the driver does not say.
    public var driver: String? {
        var buf = [CChar](repeating: 0, count: 64)
        guard cxigmp_driver_name(name, &buf, buf.count) == 0 else { return nil }
        return String(decoding: buf.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
    }
}
