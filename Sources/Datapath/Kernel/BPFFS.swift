import CXigmp
import Glibc

/// The BPF filesystem where xigmp pins links and maps so an attachment can
/// outlive the command that made it.
public enum BPFFS {
    /// Mount point of bpffs.
    public static let mountPoint = "/sys/fs/bpf"
    /// xigmp's own directory under it.
    public static let root = "\(mountPoint)/xigmp"
    private static let magic: UInt = 0xCAFE_4A11  // BPF_FS_MAGIC

    /// True when `path` is on a bpffs.
    public static func isBPFFS(_ path: String = mountPoint) -> Bool {
        var st = statfs()
        guard statfs(path, &st) == 0 else { return false }
        return UInt(truncatingIfNeeded: st.f_type) == magic
    }

    /// Mounts bpffs at /sys/fs/bpf when nothing is there yet.
    ///
    /// Refuses inside a private mount namespace (`ip netns exec`): a bpffs
    /// mounted there is a new, empty instance that disappears with the
    /// command, taking the pinned link, and so the program, with it.
    public static func ensureMounted() throws(DatapathError) {
        if isBPFFS() { return }
        if NetNamespace.hasPrivateMounts {
            throw DatapathError(
                .bpffs,
                "\(mountPoint) is not mounted in this mount namespace (are you under `ip netns exec`?); pins made here would vanish when xigmp exits: run `xigmp --netns NAME ...` instead")
        }
        mkdir(mountPoint, 0o700)
        guard mount("bpf", mountPoint, "bpf", 0, "mode=0700") == 0 else {
            let code = errno
            if code == EPERM {
                throw DatapathError.system("mounting bpffs at \(mountPoint)", errno: code)
            }
            throw DatapathError(.bpffs, "cannot mount bpffs at \(mountPoint): \(errnoName(code)); mount it with `mount -t bpf bpf \(mountPoint)`", errno: code)
        }
    }

    /// Pin directory for an interface in the current network namespace:
    /// `/sys/fs/bpf/xigmp/IFNAME`, or `/sys/fs/bpf/xigmp/@NETNS/IFNAME` in a
    /// named namespace (interface names repeat across namespaces).
    public static func pinDirectory(ifname: String) -> String {
        if let label = NetNamespace.currentLabel() { return "\(root)/\(label)/\(ifname)" }
        return "\(root)/\(ifname)"
    }

    /// The directory holding this namespace's interface pin directories.
    public static func namespaceDirectory() -> String {
        if let label = NetNamespace.currentLabel() { return "\(root)/\(label)" }
        return root
    }

    /// Creates a directory and its parents (mode 0700).
    package static func makeDirectories(_ path: String) throws(DatapathError) {
        var current = ""
        for part in path.split(separator: "/") {
            current += "/" + part
            if mkdir(current, 0o700) != 0 && errno != EEXIST {
                throw DatapathError.system("creating \(current)", errno: errno)
            }
        }
    }

    /// Names in a directory (empty when absent).
    package static func list(_ path: String) -> [String] {
        guard let dir = opendir(path) else { return [] }
        defer { closedir(dir) }
        var names: [String] = []
        while let entry = readdir(dir) {
            let name = withUnsafeBytes(of: entry.pointee.d_name) {
                String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self)
            }
            if name != "." && name != ".." { names.append(name) }
        }
        return names.sorted()
    }

    /// Whether a path exists.
    package static func exists(_ path: String) -> Bool {
        access(path, F_OK) == 0
    }
}
