import ArgumentParser
import CXigmp
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import Dispatch
import Glibc
import Logging
import ServiceLifecycle
import UnixSignals
import XigmpConfig
import XigmpDaemon

/// `xigmp run --config FILE`: the daemon.
struct Run: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Run the IGMP proxy daemon.",
        discussion: """
            Attaches the classifier with unpinned links (a crash hands IGMP back to the kernel), \
            runs the ports and the policy. SIGTERM/SIGINT detach everything and restore interface \
            flags. SIGHUP re-reads the config: modes, activeOutside and unicastFallback apply \
            live, any other key (logLevel too) takes a restart; an invalid file is reported \
            and the running config stays.

            Exit status: 0 after a clean shutdown, 2 for a bad config (nothing attached), 1 otherwise.
            """)

    @OptionGroup var global: GlobalOptions
    @Option(name: .long, help: ArgumentHelp("The YAML config (see README: Config).", valueName: "FILE"))
    var config: String = ""
    @Flag(name: .long, help: "Check the config (syntax, keys, interfaces) and exit.")
    var check = false
    @Flag(name: .customLong("config-reference"), help: "Print every config key with its type, default and meaning, and exit.")
    var configReference = false

    func validate() throws {
        if !configReference && config.isEmpty { throw ValidationError("missing --config FILE (or --config-reference)") }
    }

    func run() async throws {
        if configReference {
            print(DaemonConfig.reference)
            return
        }
        // From here until the service group's own signal handling runs, a
        // SIGTERM, SIGINT or SIGHUP is only recorded: acted on once
        // everything set up can also be undone (a signal's default action
        // would end the process with the egress filter or the control
        // socket left behind).
        cxigmp_startup_signals_install()  // again, for callers of Run other than main
        // systemd (Type=notify): made before --netns is entered, since an
        // abstract NOTIFY_SOCKET is looked up in the sending socket's netns.
        let notifier = check ? nil : SystemdNotifier { Logger(label: "xigmp").warning("\($0)") }
        try global.apply()
        let loaded: LoadedConfig
        do {
            loaded = try DaemonConfig.load(path: config)
        } catch {
            writeStderr(error.description + "\n")
            for w in error.warnings.prefix(ConfigError.shownIssues) { writeStderr("warning: \(w.description)\n") }
            if error.warnings.count > ConfigError.shownIssues {
                writeStderr("warning: … and \(error.warnings.count - ConfigError.shownIssues) more\n")
            }
            throw ExitCode(2)
        }
        for w in loaded.warnings.prefix(ConfigError.shownIssues) { writeStderr("xigmp: warning: \(w.description)\n") }
        if loaded.warnings.count > ConfigError.shownIssues {
            writeStderr("xigmp: warning: … and \(loaded.warnings.count - ConfigError.shownIssues) more\n")
        }
        let level = Logger.Level(rawValue: loaded.config.logLevel.rawValue) ?? .info
        LoggingSystem.bootstrap { label in
            var h = StreamLogHandler.standardError(label: label)
            h.logLevel = level
            return h
        }
        var logger = Logger(label: "xigmp")
        logger.logLevel = level
        do {
            try Privileges.requireBPF("xigmp run")
            try Privileges.requireRawSockets("xigmp run")
        } catch {
            printError(error.description)
            throw ExitCode(1)
        }
        let caps = KernelCapabilities.current
        let missing = caps.features.filter { !$0.present }
        logger.info("kernel \(caps.kernel): \(caps.features.filter(\.present).map(\.key).joined(separator: " "))")
        for f in missing { logger.notice("kernel lacks \(f.key) (\(f.detail)): \(f.without)") }
        if check {
            try checkInterfaces(loaded)
            print("\(config): OK")
            return
        }
        let proxy: RunningProxy
        do {
            proxy = try RunningProxy(config: loaded, logger: logger, watchdog: notifier?.loopWatchdog)
        } catch {
            printError(error.description)
            // The status comes from the error's kind: 2 when the config is
            // at fault (a required interface missing), 1 otherwise.
            throw ExitCode(error.exitStatus)
        }
        let reloader = ReloadService(path: config, running: loaded, proxy: proxy, logger: logger, notifier: notifier)
        let group = ServiceGroup(configuration: .init(
            services: [.init(service: ProxyService(proxy: proxy, notifier: notifier)), .init(service: reloader)],
            gracefulShutdownSignals: [.sigterm, .sigint],
            logger: logger))
        // A stop asked for while starting is carried out now that the group
        // runs (its trapping of the signals is in place within a moment).
        let early = Task {
            try? await Task.sleep(for: .milliseconds(200))
            guard !Task.isCancelled else { return }  // the group already ended
            notifier?.ready(status: Self.readyStatus(loaded.config))
            let early = cxigmp_startup_signal()
            if early == SIGTERM || early == SIGINT {
                logger.notice("signal \(early) arrived while starting: shutting down")
                await group.triggerGracefulShutdown()
            } else if early == SIGHUP {
                // The reload service traps SIGHUP by now: ask it again.
                logger.notice("SIGHUP arrived while starting: reloading now")
                kill(getpid(), SIGHUP)
            }
        }
        var failure: String?
        do { try await group.run() } catch { failure = "\(error)" }
        early.cancel()
        proxy.shutdown()
        if let failure {
            printError(failure)
            throw ExitCode(1)
        }
        logger.info("stopped: links detached, interface flags restored")
    }

    /// systemd's STATUS= once the proxy runs.
    static func readyStatus(_ c: DaemonConfig) -> String {
        let alt = c.interfaces.alt.map { ", alt \($0)" } ?? ""
        return "proxy running: outside \(c.interfaces.outside)\(alt), inside \(c.interfaces.insides.joined(separator: ", "))"
    }

    /// `--check`: the interfaces in `interfaces.required` exist and have
    /// addresses; the others named (not globs) are noted when missing: the
    /// daemon would wait for them.
    func checkInterfaces(_ loaded: LoadedConfig) throws {
        let c = loaded.config
        var problems: [String] = []
        var named = [("interfaces.outside", c.interfaces.outside)]
        named += c.interfaces.insides.map { ("interfaces.inside", $0) }
        if let alt = c.interfaces.alt { named.append(("interfaces.alt", alt)) }
        named += c.interfaces.required.map { ("interfaces.required", $0) }
        for (key, name) in named where !InterfacePattern(name).isGlob {
            let line = loaded.line(of: key).map { ":\($0)" } ?? ""
            let required = c.interfaces.required.contains(name)
            var problem: String?
            if let iface = try? NetworkInterface(named: name) {
                if (try? InterfaceInfo(iface))?.primaryIPv4 == nil { problem = "\(name) has no IPv4 address to send from" }
            } else {
                problem = "no interface named '\(name)' in this network namespace (see `ip link`)"
            }
            guard let problem else { continue }
            if required {
                problems.append("\(config)\(line): \(key): \(problem)")
            } else if key != "interfaces.required" {
                printNote("\(config)\(line): \(key): \(problem): the daemon will wait for it (list it in interfaces.required to fail instead)")
            }
        }
        if c.forwarding.mode == .kernel && !KernelCapabilities.current.ipMroute {
            let line = loaded.line(of: "forwarding.mode").map { ":\($0)" } ?? ""
            problems.append("\(config)\(line): forwarding.mode: kernel needs the kernel's IPv4 multicast routing, which this kernel lacks (CONFIG_IP_MROUTE); use forwarding.mode: xdp, which forwards without it")
        }
        if !problems.isEmpty {
            writeStderr(problems.joined(separator: "\n") + "\n")
            throw ExitCode(2)
        }
    }
}

/// Keeps the proxy running until graceful shutdown.
struct ProxyService: Service {
    let proxy: RunningProxy
    var notifier: SystemdNotifier? = nil
    func run() async throws {
        try? await gracefulShutdown()
        notifier?.stopping()
        proxy.shutdown()
    }
}

/// SIGHUP: re-read the config and apply what can change live.
struct ReloadService: Service {
    let path: String
    let running: LoadedConfig
    let proxy: RunningProxy
    let logger: Logger
    var notifier: SystemdNotifier? = nil

    func run() async throws {
        var current = running.config
        for await _ in await UnixSignalsSequence(trapping: .sighup).cancelOnGracefulShutdown() {
            logger.notice("SIGHUP: re-reading \(path)")
            // systemd: reloading until READY=1, sent whatever the outcome.
            notifier?.reloading()
            defer { notifier?.reloaded() }
            let next: LoadedConfig
            do {
                next = try DaemonConfig.load(path: path)
            } catch {
                logger.error("the new config is invalid; the running one stays:\n\(error.description)")
                continue
            }
            let n = next.config
            let restartOnly = current.changesNeedingRestart(to: n)
            if !restartOnly.isEmpty {
                logger.warning("changes to \(restartOnly.joined(separator: ", ")) need a restart; applying the rest")
            }
            let reply = await proxy.runtime.perform(.reconfigure(
                n.modes, unicastFallback: n.unicastFallback,
                activeOutside: n.activeOutside == .auto ? nil : n.activeOutside == .alt ? .alt : .primary))
            switch reply {
            case .status:
                current.modes = n.modes
                current.unicastFallback = n.unicastFallback
                current.activeOutside = n.activeOutside
                logger.notice("config reloaded: modes \(n.modes.enabledNames), active outside \(n.activeOutside.rawValue)")
            case .failed(let why):
                logger.error("the new config cannot be applied (\(why)); the running one stays")
            case .membership, .routes, .done:
                break
            }
        }
    }
}
