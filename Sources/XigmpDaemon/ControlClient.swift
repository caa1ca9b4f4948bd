import DatapathKernel
import Foundation
import Glibc
import XigmpTools

/// The client side of the daemon's control socket (`ControlProtocol.swift`):
/// one request line, one reply line. Used by `xigmp status`, `outside`,
/// `groups` and `routes`.
public enum ControlClient {
    /// The default control socket path.
    public static let defaultPath = "/run/xigmp.sock"

    /// Why no reply came.
    public struct Failure: Error, Sendable, CustomStringConvertible {
        public enum Kind: Sendable, Equatable {
            /// Nothing listens on the path (no daemon there).
            case notRunning
            /// It did not answer in time, answered garbage, or speaks another
            /// major version.
            case noAnswer
            /// Local trouble (permission, path too long, socket limits).
            case local
        }

        public let kind: Kind
        public let description: String
    }

    /// How long a reply may take.
    public static let timeoutSeconds = 5

    /// Sends `request` and returns the daemon's reply (which may be a
    /// refusal: check `ok`). Throws when no readable reply of our major
    /// version came.
    public static func send(_ request: ControlRequest, to path: String) throws(Failure) -> ControlReply {
        guard let socket = KernelFD.socket(AF_UNIX, Int32(SOCK_STREAM.rawValue)) else {
            throw Failure(kind: .local, description: "cannot create a socket: \(String(cString: strerror(errno)))")
        }
        let fd = socket.raw
        var addr = sockaddr_un()
        addr.sun_family = sa_family_t(AF_UNIX)
        let bytes = Array(path.utf8)
        guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
            throw Failure(kind: .local, description: "control socket path too long: \(path)")
        }
        withUnsafeMutableBytes(of: &addr.sun_path) { buf in for (i, b) in bytes.enumerated() { buf[i] = b } }
        let rc = withUnsafePointer(to: &addr) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        guard rc == 0 else {
            let e = errno
            if e == ENOENT || e == ECONNREFUSED {
                throw Failure(kind: .notRunning, description: "no xigmp daemon is running (nothing answers on \(path)): start one with `xigmp run --config FILE`, or pass --socket PATH")
            }
            if e == EACCES {
                throw Failure(kind: .local, description: "permission denied on \(path) (the control socket is root-only): run with sudo")
            }
            throw Failure(kind: .local, description: "cannot reach the daemon at \(path): \(String(cString: strerror(e)))")
        }
        var tv = timeval(tv_sec: timeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
        let line = Array((JSONCoding.line(request) + "\n").utf8)
        var sent = 0
        while sent < line.count {
            let n = line[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw Failure(kind: .noAnswer, description: "the daemon at \(path) did not take the request: \(String(cString: strerror(errno)))")
            }
            sent += n
        }
        var reply: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while reply.last != 0x0a {
            let n = buf.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
            if n < 0 && errno == EINTR { continue }
            if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
                throw Failure(kind: .noAnswer, description: "the daemon at \(path) did not answer within \(timeoutSeconds) s (busy or stuck: see its log)")
            }
            if n <= 0 { break }
            reply.append(contentsOf: buf[0..<n])
        }
        return try decodeReply(reply, from: path)
    }

    /// A reply line, checked for our major version.
    static func decodeReply(_ bytes: [UInt8], from path: String) throws(Failure) -> ControlReply {
        struct Envelope: Decodable { var `protocol`: String? }
        guard let envelope = try? JSONCoding.decoder().decode(Envelope.self, from: Data(bytes)) else {
            throw Failure(kind: .noAnswer, description: bytes.isEmpty
                ? "the daemon at \(path) closed the connection without a reply (see its log)"
                : "the daemon at \(path) sent an unreadable reply (\(bytes.count) bytes)")
        }
        let mine = ProtocolVersion.current
        guard let text = envelope.protocol, let theirs = ProtocolVersion(text) else {
            throw Failure(kind: .noAnswer, description: "the daemon at \(path) speaks an older control protocol (no version; this xigmp speaks \(mine)): use the xigmp that came with the daemon")
        }
        guard theirs.major == mine.major else {
            throw Failure(kind: .noAnswer, description: "the daemon at \(path) speaks control protocol \(theirs), this xigmp \(mine): use the xigmp that came with the daemon")
        }
        do {
            return try JSONCoding.decoder().decode(ControlReply.self, from: Data(bytes))
        } catch {
            throw Failure(kind: .noAnswer, description: "the daemon at \(path) sent a reply this xigmp cannot read (\(error))")
        }
    }

    /// Whether a daemon answers on `path`.
    static func isAlive(_ path: String) -> Bool {
        do {
            _ = try send(ControlRequest(.ping), to: path)
            return true
        } catch {
            return error.kind != .notRunning
        }
    }
}
