import Foundation
import Glibc
import XigmpTools

/// What a running daemon tells the other xigmp commands about itself: its
/// pid, control socket and the interfaces it runs on, in
/// `/run/xigmp/daemon-PID.json` (tmpfs: gone at reboot). `xigmp unload` and
/// `xigmp load --force` read it to refuse taking a running daemon's
/// programs away, whatever `control.socket` is. Written at start, removed at
/// a clean stop; the file of a daemon that is gone (kill -9) is ignored and
/// removed by the next reader.
public struct DaemonRunState: Codable, Sendable, Equatable {
    public var pid: Int32
    public var controlSocket: String
    /// Inode of the daemon's network namespace (/proc/self/ns/net).
    public var namespace: UInt64
    public var interfaces: [String]

    public static let directory = "/run/xigmp"

    static func path(pid: Int32) -> String { "\(directory)/daemon-\(pid).json" }

    /// This process's network namespace inode.
    public static func currentNamespace() -> UInt64 {
        var st = stat()
        return stat("/proc/thread-self/ns/net", &st) == 0 ? UInt64(st.st_ino) : 0
    }

    /// Writes this daemon's file (best effort: a read-only /run only loses
    /// the protection, which is logged by the caller).
    public func write() throws(DaemonError) {
        mkdir(Self.directory, 0o755)
        guard let data = try? JSONCoding.encoder().encode(self) else { throw DaemonError("cannot encode the run state") }
        let path = Self.path(pid: pid)
        guard FileManager.default.createFile(atPath: path, contents: data, attributes: [.posixPermissions: 0o644]) else {
            throw DaemonError("cannot write \(path): \(String(cString: strerror(errno)))")
        }
    }

    /// Removes this daemon's file.
    public func remove() { unlink(Self.path(pid: pid)) }

    /// The live daemons of network namespace `namespace`.
    public static func daemons(inNamespace namespace: UInt64) -> [DaemonRunState] {
        guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return [] }
        var found: [DaemonRunState] = []
        for name in names where name.hasPrefix("daemon-") && name.hasSuffix(".json") {
            let path = "\(directory)/\(name)"
            guard let data = FileManager.default.contents(atPath: path),
                  let state = try? JSONCoding.decoder().decode(DaemonRunState.self, from: data) else { continue }
            // Gone (not EPERM: then it lives under another user): stale.
            if kill(state.pid, 0) != 0 && errno == ESRCH {
                unlink(path)
                continue
            }
            if state.namespace == namespace { found.append(state) }
        }
        return found
    }
}
