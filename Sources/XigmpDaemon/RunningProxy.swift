import Foundation
import IGMPProxy
import IGMPWire
import Logging
import Prometheus
import Synchronization
import XigmpConfig

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
    public init(config: LoadedConfig, logger: Logger, controlSocket: Bool = true) throws(DaemonError) {
        self.logger = logger
        let registry = PrometheusCollectorRegistryBox()
        let runtime = try ProxyRuntime(config: config, logger: logger, metrics: ProxyMetricsFactory(registry: registry))
        self.runtime = runtime
        client = ProxyClient(runtime: runtime)
        let c = config.config
        if controlSocket {
            control = try SocketServer(.unix(path: c.controlSocket, mode: 0o600), terminator: [0x0a]) { request in
                ControlProtocol.handle(request, runtime: runtime)
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
        let done = loopDone
        let t = Thread {
            runtime.run()
            done.signal()
        }
        t.name = "xigmp-loop"
        t.start()
        if controlSocket {
            let state = DaemonRunState(pid: getpid(), controlSocket: c.controlSocket,
                                       namespace: DaemonRunState.currentNamespace(), interfaces: runtime.interfaceNames)
            do throws(DaemonError) {
                try state.write()
                runState = state
            } catch {
                logger.warning("\(error.description): `xigmp unload` will not know this daemon runs here")
                runState = nil
            }
        } else {
            runState = nil
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

/// The control socket's protocol: one JSON object per line each way.
/// Requests: `{"cmd":"ping"}`, `{"cmd":"status"}`, `{"cmd":"outside","value":"primary"|"alt"}`,
/// `{"cmd":"groups"}`, `{"cmd":"routes"}`.
enum ControlProtocol {
    static func handle(_ request: [UInt8], runtime: ProxyRuntime) -> [UInt8] {
        guard let obj = try? JSONSerialization.jsonObject(with: Data(request)) as? [String: Any],
              let cmd = obj["cmd"] as? String else {
            return reply(["ok": false, "error": "expected one JSON object with a \"cmd\" key per line"])
        }
        let result: ProxyRuntime.Reply
        switch cmd {
        case "ping":
            return reply(["ok": true])
        case "status":
            result = runtime.performSync(.status)
        case "outside":
            guard let v = obj["value"] as? String, let sel = OutsideSelection(name: v) else {
                return reply(["ok": false, "error": "outside takes \"primary\" or \"alt\""])
            }
            result = runtime.performSync(.setOutside(sel))
        case "groups":
            result = runtime.performSync(.groups)
        case "routes":
            result = runtime.performSync(.routes)
        default:
            return reply(["ok": false, "error": "unknown command '\(cmd)' (ping, status, outside, groups, routes)"])
        }
        switch result {
        case .ok(let fields):
            var out: [String: Any] = ["ok": true]
            for (k, v) in fields { out[k] = v }
            return reply(out)
        case .membership(let report):
            return reply(membershipObject(report))
        case .routes(let report):
            let rows: [[String: Any]] = report.rows.map { r in
                var o: [String: Any] = [
                    "source": r.source?.description ?? "*", "group": r.group.description, "in": r.incoming,
                    "out": r.outgoing, "path": r.path, "packets": r.packets, "bytes": r.bytes,
                    "rate_pps": (r.packetsPerSecond * 10).rounded() / 10, "age_s": (r.ageSeconds * 10).rounded() / 10,
                ]
                if let f = r.firstPacketMs { o["first_packet_ms"] = (f * 1000).rounded() / 1000 }
                return o
            }
            return reply(["ok": true, "mode": report.mode, "routes": rows])
        case .failed(let why):
            return reply(["ok": false, "error": why])
        }
    }

    /// The `groups` reply: timers in seconds, rounded to milliseconds.
    static func membershipObject(_ report: ProxyRuntime.MembershipReport) -> [String: Any] {
        func seconds(_ s: Double) -> Double { (s * 1000).rounded() / 1000 }
        let interfaces: [[String: Any]] = report.interfaces.map { name, m in
            var querier: [String: Any]
            switch m.querier {
            case .querier: querier = ["role": "querier"]
            case .passive: querier = ["role": "passive"]
            case .nonQuerier(let other, _): querier = ["role": "non-querier", "querier": other.description]
            }
            let groups: [[String: Any]] = m.table.groups.map { g in
                var o: [String: Any] = [
                    "group": g.group.description, "filter_mode": g.filterMode.rawValue,
                    "compatibility": g.compatibilityMode, "last_reporter": g.lastReporter.description,
                    "sources": g.sources.map { ["address": $0.address.description, "timer_s": seconds($0.timerSeconds),
                                                "forwarding": $0.forwarding] as [String: Any] },
                ]
                if let t = g.groupTimerSeconds { o["group_timer_s"] = seconds(t) }
                return o
            }
            return ["interface": name, "role": "\(m.role)", "querier": querier, "groups": groups]
        }
        let upstream: [[String: Any]] = report.upstream.map {
            ["group": $0.group.description, "filter_mode": $0.state.mode.rawValue,
             "sources": $0.state.sources.map(\.description)]
        }
        return ["ok": true, "membership": report.tracking.rawValue, "interfaces": interfaces,
                "upstream": ["interface": report.upstreamInterface, "version": "\(report.upstreamVersion)",
                             "groups": upstream] as [String: Any],
                "counters": report.counters]
    }

    static func reply(_ obj: [String: Any]) -> [UInt8] {
        var data = (try? JSONSerialization.data(withJSONObject: obj, options: [.sortedKeys])) ?? Data("{}".utf8)
        data.append(0x0a)
        return Array(data)
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
