import CXigmp
import Glibc

/// Network and mount namespace facts the CLI needs: entering a named
/// namespace the way `ip -n` does, and naming the current one for pin paths.
public enum NetNamespace {
    /// Where iproute2 keeps named namespaces.
    public static let runDirectory = "/run/netns"

    /// Moves this thread (and every thread it starts later) into the named
    /// network namespace; the mount namespace stays, so /sys/fs/bpf pins
    /// made here outlive the command (unlike under `ip netns exec`).
    public static func enter(named name: String) throws(DatapathError) {
        // Validate the name before asking for the privilege, as before.
        if name.contains("/") || name.isEmpty { _ = try open(named: name) }
        try Privileges.requireNamespaces("--netns \(name)")
        let fd = try open(named: name)
        guard cxigmp_setns_net(fd.raw) == 0 else {
            throw DatapathError.system("entering network namespace '\(name)'", errno: errno)
        }
        entered = name
    }

    /// The namespace `enter(named:)` moved us into. Written once at start-up,
    /// before any other thread exists.
    nonisolated(unsafe) private static var entered: String?

    /// Runs `body` on this thread in the named network namespace, then
    /// returns the thread to where it was, whether `body` returns or throws.
    /// setns(2) moves only the calling thread: `body` must be synchronous,
    /// and a thread it starts stays where it was started. The one way into
    /// a namespace for the daemon, the benchmarks and the tests.
    public static func run<T>(named name: String, _ body: () throws -> T) throws -> T {
        let target = try open(named: name)
        let back = try enter(target.raw)
        defer { leave(back) }
        return try body()
    }

    /// Runs `body` on this thread in the network namespace open as `fd`,
    /// then returns the thread to where it was. The namespace is entered
    /// only when it is not the current one already.
    public static func run<T>(in fd: Int32, _ body: () throws(DatapathError) -> T) throws(DatapathError) -> T {
        let back = try enter(fd)
        defer { leave(back) }
        return try body()
    }

    /// Opens `/run/netns/NAME`.
    public static func open(named name: String) throws(DatapathError) -> KernelFD {
        guard !name.contains("/"), !name.isEmpty else {
            throw DatapathError(.invalidArgument, "invalid namespace name '\(name)': give a name from `ip netns list`")
        }
        let path = "\(runDirectory)/\(name)"
        let fd = Glibc.open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            let code = errno
            if code == ENOENT {
                throw DatapathError(.noSuchInterface, "no network namespace named '\(name)': see `ip netns list`")
            }
            throw DatapathError.system("opening \(path)", errno: code)
        }
        return KernelFD(owning: fd)
    }

    /// Moves this thread into the namespace open as `fd`; returns the way
    /// back, or nil when it is there already.
    private static func enter(_ fd: Int32) throws(DatapathError) -> KernelFD? {
        var target = stat(), here = stat()
        if fstat(fd, &target) == 0, stat("/proc/thread-self/ns/net", &here) == 0,
           target.st_ino == here.st_ino, target.st_dev == here.st_dev {
            return nil
        }
        let back = Glibc.open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard back >= 0 else {
            throw DatapathError.system("opening this thread's network namespace (/proc/thread-self/ns/net)", errno: errno)
        }
        let owned = KernelFD(owning: back)
        guard cxigmp_setns_net(fd) == 0 else {
            throw DatapathError.system("entering a network namespace (setns)", errno: errno)
        }
        return owned
    }

    /// Returns this thread to the namespace `enter` left.
    private static func leave(_ back: KernelFD?) {
        guard let back else { return }
        // A thread left in the other namespace would run unrelated work there.
        if cxigmp_setns_net(back.raw) != 0 {
            fatalError("cannot return to the original network namespace: \(errnoName(errno))")
        }
    }

    /// Inode of a namespace file, or nil when it cannot be read.
    package static func inode(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_ino)
    }

    /// The iproute2 name of the current network namespace, if it has one.
    public static func currentName() -> String? {
        if let entered { return entered }
        guard let mine = inode("/proc/self/ns/net") else { return nil }
        for name in BPFFS.list(runDirectory) where inode("\(runDirectory)/\(name)") == mine {
            return name
        }
        return nil
    }

    /// True when this process shares PID 1's network namespace. Where PID 1's
    /// namespaces cannot be read (some sandboxes), a namespace without an
    /// iproute2 name counts as the initial one.
    public static var isInitial: Bool {
        if currentName() != nil { return false }
        guard let mine = inode("/proc/self/ns/net"), let initial = inode("/proc/1/ns/net") else { return true }
        return mine == initial
    }

    /// True when this process has a mount namespace of its own, as under
    /// `ip netns exec`, where a bpffs mounted now vanishes on exit. Where
    /// PID 1 cannot be read, being in a named network namespace that we did
    /// not enter ourselves is the tell-tale of `ip netns exec`.
    public static var hasPrivateMounts: Bool {
        if let mine = inode("/proc/self/ns/mnt"), let initial = inode("/proc/1/ns/mnt") {
            return mine != initial
        }
        return entered == nil && currentName() != nil
    }

    /// A label for the current network namespace: nil in the initial one,
    /// else `@NAME` for an iproute2-named namespace, else `ns-INODE`.
    public static func currentLabel() -> String? {
        if let name = currentName() { return "@\(name)" }
        if isInitial { return nil }
        guard let mine = inode("/proc/self/ns/net") else { return nil }
        return "ns-\(mine)"
    }
}
