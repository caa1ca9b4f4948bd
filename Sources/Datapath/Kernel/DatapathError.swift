import Glibc

/// An errno value with its name: "ENOENT (No such file or directory)".
public struct Errno: RawRepresentable, Hashable, Sendable, CustomStringConvertible {
    public let rawValue: Int32
    public init(rawValue: Int32) { self.rawValue = rawValue }
    public init(_ code: Int32) { rawValue = code }

    /// The symbolic name and the C library's text.
    public var description: String { errnoName(rawValue) }
}

/// An error an operator can meet while loading, attaching or inspecting the
/// BPF side, opening ports or forwarding, phrased as what happened, where,
/// and what to do. Its `kind` says what went wrong, for callers that act on
/// it (retry another mode, an exit status), so none has to read the text.
public struct DatapathError: Error, CustomStringConvertible, Sendable {
    /// What went wrong.
    public enum Kind: Sendable, Equatable {
        /// A value handed in cannot be used (a namespace name, a buffer
        /// size, a route that names its ingress as egress, a key size).
        case invalidArgument
        /// The named interface or namespace does not exist (any more).
        case noSuchInterface
        /// Root, a capability or a resource limit (memlock) is missing.
        case missingPrivilege
        /// The kernel or the interface's driver lacks what this needs
        /// (tcx, native XDP, an Ethernet header, CONFIG_IP_MROUTE).
        case featureAbsent
        /// Something else holds the resource (another program in the slot,
        /// another AF_XDP socket on the queue, a full queue right now).
        case busy
        /// A fixed-size table is full (routes, egress slots, VIFs).
        case limitReached
        /// The attached classifier is from another xigmp build (its maps
        /// or BPF ABI version differ from this one's).
        case abiMismatch
        /// Another tool's XDP program is attached.
        case foreignProgram
        /// xigmp's classifier is attached already.
        case alreadyLoaded
        /// No xigmp classifier is attached (or the object is not loaded).
        case notLoaded
        /// The BPF verifier refused the program.
        case verifierRejected
        /// The BPF object is missing or unreadable.
        case objectMissing
        /// bpffs is not mounted or not writable.
        case bpffs
        /// Any other failed call, with its errno.
        case io(Errno)
    }

    /// The category.
    public let kind: Kind
    /// One line: the cause and the fix.
    public let message: String
    /// Extra lines shown after the message (the verifier's last lines).
    public let detail: String?
    /// The errno behind it, when there was one.
    public let errno: Int32?

    /// Creates an error.
    public init(_ kind: Kind, _ message: String, detail: String? = nil, errno: Int32? = nil) {
        self.kind = kind
        self.message = message
        self.detail = detail
        self.errno = errno
    }

    public var description: String {
        if let detail, !detail.isEmpty { return message + "\n" + detail }
        return message
    }

    /// The kind a failed call's errno means where nothing more specific is
    /// known: EPERM/EACCES a missing privilege, ENODEV/ENXIO a vanished
    /// interface, EBUSY/EEXIST/EADDRINUSE a holder, EOPNOTSUPP/ENOPROTOOPT/
    /// ENOSYS an absent feature, anything else I/O.
    public static func kind(forErrno code: Int32) -> Kind {
        switch code {
        case EPERM, EACCES: .missingPrivilege
        case ENODEV, ENXIO: .noSuchInterface
        case EBUSY, EEXIST, EADDRINUSE: .busy
        case EOPNOTSUPP, ENOPROTOOPT, ENOSYS: .featureAbsent
        default: .io(Errno(code))
        }
    }

    /// Builds an error from a failed syscall/libbpf call, turning EPERM into
    /// the privilege message every BPF operation shares.
    package static func system(_ what: String, errno code: Int32) -> DatapathError {
        if code == EPERM || code == EACCES {
            return DatapathError(
                .missingPrivilege,
                "\(what): permission denied (\(errnoName(code))); BPF and XDP need root or CAP_BPF+CAP_NET_ADMIN: run with sudo",
                errno: code)
        }
        return DatapathError(kind(forErrno: code), "\(what): \(errnoName(code))", errno: code)
    }

    /// An error for a failed call whose message the caller phrases: its
    /// kind comes from the errno.
    package static func failed(_ message: String, detail: String? = nil, errno code: Int32) -> DatapathError {
        DatapathError(kind(forErrno: code), message, detail: detail, errno: code)
    }
}

/// "ENOENT (No such file or directory)" for an errno value.
public func errnoName(_ code: Int32) -> String {
    let text = String(cString: strerror(code))
    let names: [Int32: String] = [
        EPERM: "EPERM", ENOENT: "ENOENT", EEXIST: "EEXIST", EINVAL: "EINVAL",
        EBUSY: "EBUSY", EOPNOTSUPP: "EOPNOTSUPP", ENODEV: "ENODEV", EACCES: "EACCES",
        E2BIG: "E2BIG", ENOMEM: "ENOMEM",
        // No ENOTSUP: on Linux it equals EOPNOTSUPP, and a duplicate key traps.
    ]
    if let name = names[code] { return "\(name) (\(text))" }
    return "errno \(code) (\(text))"
}

/// libbpf 1.x returns -errno from int calls; NULL-returning calls set errno.
@inline(__always)
package func libbpfCheck(_ rc: Int32, _ what: @autoclosure () -> String) throws(DatapathError) {
    if rc < 0 { throw DatapathError.system(what(), errno: -rc) }
}
