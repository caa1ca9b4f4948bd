import Glibc

/// An error an operator can meet while loading, attaching or inspecting the
/// BPF side, phrased as what happened, where, and what to do.
public struct DatapathError: Error, CustomStringConvertible, Sendable {
    /// What went wrong, for scripts and tests.
    public enum Kind: Sendable, Equatable {
        case noSuchInterface
        case permissionDenied
        case foreignProgram
        case alreadyLoaded
        case notLoaded
        case verifierRejected
        case objectMissing
        case bpffs
        case kernel
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

    /// Builds an error from a failed syscall/libbpf call, turning EPERM into
    /// the privilege message every BPF operation shares.
    static func system(_ what: String, errno code: Int32) -> DatapathError {
        if code == EPERM || code == EACCES {
            return DatapathError(
                .permissionDenied,
                "\(what): permission denied (\(errnoName(code))); BPF and XDP need root or CAP_BPF+CAP_NET_ADMIN: run with sudo",
                errno: code)
        }
        return DatapathError(.kernel, "\(what): \(errnoName(code))", errno: code)
    }
}

/// "ENOENT (No such file or directory)" for an errno value.
func errnoName(_ code: Int32) -> String {
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
func libbpfCheck(_ rc: Int32, _ what: @autoclosure () -> String) throws(DatapathError) {
    if rc < 0 { throw DatapathError.system(what(), errno: -rc) }
}
