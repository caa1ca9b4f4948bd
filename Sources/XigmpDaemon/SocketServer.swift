import Foundation
import Glibc

/// A tiny blocking server on its own thread: accepts a connection, reads one
/// request (a line for the control socket, a header block for HTTP), writes
/// the handler's reply and closes. Requests are rare (operators, scrapers),
/// so one thread and one connection at a time is the right size; a slow
/// client is cut off by a receive timeout.
final class SocketServer: @unchecked Sendable {
    /// What the server listens on.
    enum Endpoint: Sendable, CustomStringConvertible {
        case unix(path: String, mode: mode_t)
        case tcp(host: String, port: UInt16)

        var description: String {
            switch self {
            case .unix(let path, _): return path
            case .tcp(let host, let port): return "\(host):\(port)"
            }
        }
    }

    private let fd: Int32
    let endpoint: Endpoint
    private let handler: @Sendable ([UInt8]) -> [UInt8]
    private let terminator: [UInt8]
    private var thread: Thread?
    private let stopped = NSLock()
    private var isStopped = false

    /// Binds and listens; `terminator` ends a request ("\n" or "\r\n\r\n").
    init(_ endpoint: Endpoint, terminator: [UInt8], handler: @escaping @Sendable ([UInt8]) -> [UInt8]) throws(DaemonError) {
        self.endpoint = endpoint
        self.terminator = terminator
        self.handler = handler
        switch endpoint {
        case .unix(let path, let mode):
            fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw DaemonError("cannot create the control socket: \(String(cString: strerror(errno)))") }
            // A socket file left by a crashed daemon: remove it, unless a
            // live daemon still answers there.
            if access(path, F_OK) == 0 {
                if ControlClient.isAlive(path) {
                    close(fd)
                    throw DaemonError("another xigmp daemon is running (its control socket \(path) answers): stop it first, or set control.socket")
                }
                unlink(path)
            }
            let dir = (path as NSString).deletingLastPathComponent
            if !dir.isEmpty { mkdir(dir, 0o755) }
            var addr = sockaddr_un()
            addr.sun_family = sa_family_t(AF_UNIX)
            let bytes = Array(path.utf8)
            guard bytes.count < MemoryLayout.size(ofValue: addr.sun_path) else {
                close(fd)
                throw DaemonError("control socket path \(path) is too long (at most 107 bytes)")
            }
            withUnsafeMutableBytes(of: &addr.sun_path) { buf in
                for (i, b) in bytes.enumerated() { buf[i] = b }
            }
            // Create it private: umask first, chmod after, so no moment
            // exists where another user could connect.
            let old = umask(0o177)
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
            }
            umask(old)
            guard rc == 0 else {
                let e = errno
                close(fd)
                throw DaemonError("cannot bind the control socket \(path): \(String(cString: strerror(e)))")
            }
            chmod(path, mode)
        case .tcp(let host, let port):
            fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_CLOEXEC.rawValue), 0)
            guard fd >= 0 else { throw DaemonError("cannot create the metrics socket: \(String(cString: strerror(errno)))") }
            var one: Int32 = 1
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, socklen_t(MemoryLayout<Int32>.size))
            var addr = sockaddr_in()
            addr.sin_family = sa_family_t(AF_INET)
            addr.sin_port = port.bigEndian
            guard inet_pton(AF_INET, host, &addr.sin_addr) == 1 else {
                close(fd)
                throw DaemonError("metrics.listen: '\(host)' is not an IPv4 address")
            }
            let rc = withUnsafePointer(to: &addr) {
                $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
            }
            guard rc == 0 else {
                let e = errno
                close(fd)
                throw DaemonError("cannot listen on \(host):\(port) for metrics: \(String(cString: strerror(e)))")
            }
        }
        guard listen(fd, 16) == 0 else {
            let e = errno
            close(fd)
            throw DaemonError("listen on \(endpoint): \(String(cString: strerror(e)))")
        }
    }

    /// Starts the accept loop on its own thread.
    func start(name: String) {
        let t = Thread { [self] in self.serve() }
        t.name = name
        thread = t
        t.start()
    }

    /// Stops accepting and removes a UNIX socket file.
    func stop() {
        stopped.lock()
        defer { stopped.unlock() }
        guard !isStopped else { return }
        isStopped = true
        shutdown(fd, Int32(SHUT_RDWR))
        close(fd)
        if case .unix(let path, _) = endpoint { unlink(path) }
    }

    deinit { stop() }

    private func serve() {
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 {
                if errno == EINTR { continue }
                return  // closed by stop()
            }
            _ = fcntl(client, F_SETFD, FD_CLOEXEC)
            var tv = timeval(tv_sec: 2, tv_usec: 0)
            setsockopt(client, SOL_SOCKET, SO_RCVTIMEO, &tv, socklen_t(MemoryLayout<timeval>.size))
            let request = readRequest(client)
            let reply = handler(request)
            var off = 0
            while off < reply.count {
                let n = reply.withUnsafeBytes { write(client, $0.baseAddress! + off, $0.count - off) }
                if n <= 0 { break }
                off += n
            }
            close(client)
        }
    }

    /// Reads until the terminator, 64 KiB, EOF or the timeout.
    private func readRequest(_ client: Int32) -> [UInt8] {
        var data: [UInt8] = []
        var buf = [UInt8](repeating: 0, count: 4096)
        while data.count < 65536 {
            let n = buf.withUnsafeMutableBytes { read(client, $0.baseAddress, $0.count) }
            if n <= 0 { break }
            data.append(contentsOf: buf[0..<n])
            if data.count >= terminator.count && Array(data.suffix(terminator.count)) == terminator { break }
            if terminator.count == 1, data.contains(terminator[0]) { break }
        }
        return data
    }
}

/// An error of the daemon's own making: one line for the operator.
public struct DaemonError: Error, CustomStringConvertible, Sendable {
    public let description: String
    public init(_ d: String) { description = d }
}
