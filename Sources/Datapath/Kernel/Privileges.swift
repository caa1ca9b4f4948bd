import CXigmp
import Glibc

/// Up-front privilege checks, so an unprivileged run fails with what to do
/// instead of an EPERM from whichever syscall came first.
public enum Privileges {
    /// Linux capability numbers (linux/capability.h).
    public enum Capability: Int32, Sendable {
        case netAdmin = 12, netRaw = 13, sysAdmin = 21, perfmon = 38, bpf = 39
    }

    /// Whether this thread has `cap` in its effective set.
    public static func has(_ cap: Capability) -> Bool {
        cxigmp_has_capability(cap.rawValue) == 1
    }

    /// Throws unless BPF programs can be loaded and XDP attached: CAP_BPF
    /// and CAP_PERFMON (the verifier refuses the classifier's packet
    /// pointer arithmetic without it), or CAP_SYS_ADMIN which implies both,
    /// and CAP_NET_ADMIN.
    public static func requireBPF(_ what: String) throws(DatapathError) {
        let bpf = has(.bpf) || has(.sysAdmin)
        let perfmon = has(.perfmon) || has(.sysAdmin)
        guard bpf && perfmon && has(.netAdmin) else {
            var missing: [String] = []
            if !bpf { missing.append("CAP_BPF") }
            if !perfmon { missing.append("CAP_PERFMON") }
            if !has(.netAdmin) { missing.append("CAP_NET_ADMIN") }
            throw DatapathError(.missingPrivilege,
                                "\(what) needs root (missing \(missing.joined(separator: " and "))): run it with sudo")
        }
    }

    /// Throws unless raw IP sockets can be opened (CAP_NET_RAW).
    public static func requireRawSockets(_ what: String) throws(DatapathError) {
        guard has(.netRaw) else {
            throw DatapathError(.missingPrivilege, "\(what) needs root (missing CAP_NET_RAW for raw IGMP sockets): run it with sudo")
        }
    }

    /// Throws unless this process may enter other network namespaces.
    public static func requireNamespaces(_ what: String) throws(DatapathError) {
        guard has(.sysAdmin) else {
            throw DatapathError(.missingPrivilege, "\(what) needs root (missing CAP_SYS_ADMIN to enter a network namespace): run it with sudo")
        }
    }
}
