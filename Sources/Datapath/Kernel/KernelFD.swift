import CXigmp
import Glibc

/// A file descriptor this process owns (a socket, a BPF program, map or
/// link, a namespace file): closed exactly once, in `deinit`. The one way
/// the datapath and the daemon hold a descriptor: a type that keeps one
/// stores a `KernelFD` and never calls close(2) itself, so an early return
/// or a throw cannot leak it and nothing can close it twice.
public final class KernelFD: @unchecked Sendable {
    /// The raw descriptor; valid for the lifetime of this object.
    public let raw: Int32

    /// Takes ownership of `raw`.
    public init(owning raw: Int32) {
        self.raw = raw
    }

    deinit {
        close(raw)
    }

    /// open(2) with O_CLOEXEC added; nil (errno set) when it fails.
    public static func open(_ path: String, _ flags: Int32) -> KernelFD? {
        let fd = Glibc.open(path, flags | O_CLOEXEC)
        return fd >= 0 ? KernelFD(owning: fd) : nil
    }

    /// socket(2) with SOCK_CLOEXEC added; nil (errno set) when it fails.
    public static func socket(_ domain: Int32, _ type: Int32, _ proto: Int32 = 0) -> KernelFD? {
        let fd = Glibc.socket(domain, type | Int32(SOCK_CLOEXEC.rawValue), proto)
        return fd >= 0 ? KernelFD(owning: fd) : nil
    }
}
