import Glibc

/// A file descriptor for a kernel object (program, map, link) that this
/// process owns; closed exactly once, in `deinit`.
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
}
