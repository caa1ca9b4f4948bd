import Foundation
import IGMPProxy
import IGMPWire
import Logging
import Prometheus
import Synchronization
import XigmpConfig
import XigmpTools

/// A proxy started in this process: the runtime's loop on its own thread,
/// the control socket and, when configured, the metrics endpoint. The
/// daemon (`xigmp run`) and in-process clients (`membership-reporter`) both
/// start one of these.
public final class RunningProxy: @unchecked Sendable {
    /// The runtime.
    public let runtime: ProxyRuntime
    /// The API for clients in this process.
    public let client: ProxyClient
    private let control: SocketServer?
    private let metricsServer: SocketServer?
    private let loopDone = DispatchSemaphore(value: 0)
    private let stopped = Mutex(false)
    private let runState: DaemonRunState?
    let logger: Logger

    /// Opens everything; throws (with nothing left attached) when any part
    /// cannot start.
    public init(config: LoadedConfig, logger: Logger, controlSocket: Bool = true,
                watchdog: LoopWatchdog? = nil) throws(DaemonError) {
        self.logger = logger
        let registry = PrometheusCollectorRegistryBox()
        let runtime = try ProxyRuntime(config: config, logger: logger, metrics: ProxyMetricsFactory(registry: registry))
        self.runtime = runtime
        client = ProxyClient(runtime: runtime)
        let c = config.config
        if controlSocket {
            control = try SocketServer(.unix(path: c.controlSocket, mode: 0o600), terminator: [0x0a]) { request in
                ControlHandler.handle(request, runtime: runtime)
            }
        } else {
            control = nil
        }
        if let listen = c.metricsListen {
            let server = try SocketServer(.tcp(host: listen.host.description, port: listen.port),
                                          terminator: Array("\r\n\r\n".utf8)) { request in
                MetricsEndpoint.respond(to: request, registry: registry.registry)
            }
            metricsServer = server
        } else {
            metricsServer = nil
        }
        if controlSocket {
            let state = DaemonRunState(pid: getpid(), controlSocket: c.controlSocket,
                                       namespace: DaemonRunState.currentNamespace(), interfaces: runtime.interfaceNames)
            do throws(DaemonError) {
                try state.write()
                runState = state
                // Interfaces come and go: the file follows (loop thread).
                runtime.onInterfacesChanged = { names in
                    var next = state
                    next.interfaces = names
                    try? next.write()
                }
            } catch {
                logger.warning("\(error.description): `xigmp unload` will not know this daemon runs here")
                runState = nil
            }
        } else {
            runState = nil
        }
        let done = loopDone
        NamedThread.start("xigmp-loop") {
            runtime.run(watchdog: watchdog)
            done.signal()
        }
        control?.start(name: "xigmp-control")
        metricsServer?.start(name: "xigmp-metrics")
        if let control { logger.info("control socket \(control.endpoint)") }
        if let metricsServer { logger.info("metrics on http://\(metricsServer.endpoint)/metrics") }
    }

    /// Stops the loop and the servers and waits for the loop to end. Ports
    /// (and the links they hold) are released when the last reference to
    /// the runtime goes.
    public func shutdown() {
        let first = stopped.withLock { s -> Bool in
            defer { s = true }
            return !s
        }
        guard first else { return }
        control?.stop()
        metricsServer?.stop()
        runtime.stop()
        loopDone.wait()
        runState?.remove()
        runtime.events.finish()
    }

    deinit { shutdown() }
}

/// The daemon's end of the control protocol (`ControlProtocol.swift`): one
/// request line in, one reply line out.
enum ControlHandler {
    static func handle(_ request: [UInt8], runtime: ProxyRuntime) -> [UInt8] {
        reply(answer(request, runtime: runtime))
    }

    static func answer(_ request: [UInt8], runtime: ProxyRuntime) -> ControlReply {
        let req: ControlRequest
        switch decode(request) {
        case .success(let r): req = r
        case .failure(let f): return ControlReply(ok: false, error: f)
        }
        let result: ProxyRuntime.Reply
        switch req.cmd {
        case .ping:
            return ControlReply()
        case .status:
            result = runtime.performSync(.status)
        case .outside:
            guard let v = req.value, let sel = OutsideSelection(name: v) else {
                return .failure(.badRequest, "outside takes \"value\": \"primary\" or \"alt\"")
            }
            result = runtime.performSync(.setOutside(sel))
        case .groups:
            result = runtime.performSync(.groups)
        case .routes:
            result = runtime.performSync(.routes)
        }
        switch result {
        case .status(let s): return ControlReply(status: s)
        case .membership(let m): return ControlReply(membership: m)
        case .routes(let r): return ControlReply(routes: r)
        case .done: return ControlReply()
        case .failed(let why): return .failure(.refused, why)
        }
    }

    /// The request, or why it is not one: not JSON, no known `cmd`, or a
    /// client of another major version (named with ours).
    static func decode(_ bytes: [UInt8]) -> Result<ControlRequest, ControlFailure> {
        let commands = ControlCommand.allCases.map(\.rawValue).joined(separator: ", ")
        struct Envelope: Decodable {
            var `protocol`: String?
            var cmd: String?
        }
        guard let envelope = try? JSONCoding.decoder().decode(Envelope.self, from: Data(bytes)) else {
            return .failure(ControlFailure(.badRequest, "expected one JSON object per line with a \"cmd\" key (\(commands))"))
        }
        if let text = envelope.protocol {
            guard let v = ProtocolVersion(text) else {
                return .failure(ControlFailure(.badRequest, "\"protocol\" takes a version such as \"\(ProtocolVersion.current)\""))
            }
            guard v.major == ProtocolVersion.current.major else {
                return .failure(ControlFailure(.version, "the client speaks control protocol \(v), this daemon \(ProtocolVersion.current): use the xigmp that came with the daemon"))
            }
        }
        guard let cmd = envelope.cmd else {
            return .failure(ControlFailure(.badRequest, "no \"cmd\" key (\(commands))"))
        }
        guard ControlCommand(rawValue: cmd) != nil else {
            return .failure(ControlFailure(.badRequest, "unknown command '\(cmd.prefix(64))' (\(commands))"))
        }
        do {
            return .success(try JSONCoding.decoder().decode(ControlRequest.self, from: Data(bytes)))
        } catch {
            return .failure(ControlFailure(.badRequest, "a malformed \(cmd) request (\"value\" must be a string)"))
        }
    }

    static func reply(_ r: ControlReply) -> [UInt8] {
        Array((JSONCoding.line(r) + "\n").utf8)
    }
}

extension OutsideSelection {
    init?(name: String) {
        switch name {
        case "primary": self = .primary
        case "alt": self = .alt
        default: return nil
        }
    }
}

/// `GET /metrics` in the Prometheus text format; anything else is 404.
enum MetricsEndpoint {
    static func respond(to request: [UInt8], registry: PrometheusCollectorRegistry) -> [UInt8] {
        let line = String(decoding: request.prefix { $0 != 0x0d && $0 != 0x0a }, as: UTF8.self)
        let parts = line.split(separator: " ")
        guard parts.count >= 2, parts[0] == "GET" else {
            return http(405, "text/plain", Array("only GET /metrics\n".utf8))
        }
        guard parts[1] == "/metrics" || parts[1].hasPrefix("/metrics?") else {
            return http(404, "text/plain", Array("xigmp serves /metrics\n".utf8))
        }
        return http(200, "text/plain; version=0.0.4", registry.emitToBuffer())
    }

    static func http(_ status: Int, _ type: String, _ body: [UInt8]) -> [UInt8] {
        let reason = [200: "OK", 404: "Not Found", 405: "Method Not Allowed"][status] ?? "Error"
        let head = "HTTP/1.1 \(status) \(reason)\r\nContent-Type: \(type)\r\nContent-Length: \(body.count)\r\nConnection: close\r\n\r\n"
        return Array(head.utf8) + body
    }
}
