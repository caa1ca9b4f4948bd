import Foundation
import Glibc

/// The client side of the daemon's control socket: one JSON request line,
/// one JSON reply line. Used by `xigmp outside` and `xigmp status`.
public enum ControlClient {
    /// The default control socket path.
    public static let defaultPath = "/run/xigmp.sock"

    /// Sends `request` (one JSON object) and returns the reply object.
    public static func send(_ request: [String: Any], to path: String) throws(DaemonError) -> [String: Any] {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
        guard fd >= 0 else { throw DaemonError("cannot create a socket: \(String(cString: strerror(errno)))") }
        defer { close(fd) }
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else { throw DaemonError("control socket path too long: \(path)") }
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in for (i, b) in bytes.enumerated() { buf[i] = b } }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            if e == ENOENT || e == ECONNREFUSED {
                throw DaemonError("no xigmp daemon is running (nothing answers on \(path)): start one with `xigmp run --config FILE`, or pass --socket PATH")
            }
            if e == EACCES {
                throw DaemonError("permission denied on \(path) (the control socket is root-only): run with sudo")
            }
            throw DaemonError("cannot reach the daemon at \(path): \(String(cString: strerror(e)))")
        }
        var tv = timeval(tv_sec: 5, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        guard var line = try? JSONSerialization.data(withJSONObject: request) else { throw DaemonError("cannot encode the request") }
        line.append(0x0a)
        _ = line.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
        var reply: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            reply.append(contentsOf: buf[0..<n])
        }
        guard let obj = try? JSONSerialization.jsonObject(with: Data(reply)) as? [String: Any] else {
            throw DaemonError("the daemon sent an unreadable reply (\(reply.count) bytes)")
        }
        return obj
    }

    /// Whether a daemon answers on `path`.
    static func isAlive(_ path: String) -> Bool {
        (try? send(["cmd": "ping"], to: path)) != nil
    }
}
