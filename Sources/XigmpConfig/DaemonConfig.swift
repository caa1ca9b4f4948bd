import IGMPMembership
import IGMPProxy
import IGMPWire

/// The daemon's configuration (`xigmp run --config FILE`), as read from YAML.
///
/// Built by ``DaemonConfig/parse(text:fileName:)``, which checks everything
/// that can be checked without the system (interface existence and
/// capabilities are the daemon's business) and reports every problem with
/// its file, line and key. ``DaemonConfig/reference`` documents each key.
///
/// Defaults, for keys left out of the file:
/// - `interfaces.alt`: none (only the primary outside interface);
/// - `activeOutside`: ``OutsideInterface/primary``;
/// - `datapath`: ``Datapath/auto``;
/// - `modes.*`: every mode `false` (at least one must be `true`, unless
///   `membership` is `track`);
/// - `unicastFallback`: none;
/// - `metrics`: none, so no Prometheus endpoint; `metrics.listen` with only a
///   port listens on 127.0.0.1;
/// - `control.socket`: ``defaultControlSocket`` (`/run/xigmp.sock`);
/// - `logLevel`: ``LogLevel/info``.
///
/// Equality compares settings only, never where they were written, so a
/// reload (SIGHUP) can tell whether anything changed.
public struct DaemonConfig: Sendable, Equatable {
    /// The interfaces xigmp manages, by role (YAML `interfaces`).
    public var interfaces: Interfaces
    /// Which outside interface is active at start (YAML `activeOutside`).
    public var activeOutside: OutsideInterface
    /// With `activeOutside: auto`, how long the primary must stay back before
    /// the proxy returns to it (YAML `failbackHoldDown`).
    public var failbackHoldDown: Duration = .seconds(10)
    /// How IGMP is read and sent (YAML `datapath`).
    public var datapath: Datapath
    /// The XDP attach mode on XDP interfaces (YAML `xdpMode`).
    public var xdpMode: XDPMode
    /// The proxy modes, each on or off (YAML `modes`).
    public var modes: Modes
    /// Where reports go under `unicastMembershipResponse` while no querier
    /// has been heard (YAML `unicastFallback`); nil when not configured.
    public var unicastFallback: IPv4Address?
    /// The Prometheus endpoint's address (YAML `metrics.listen`); nil keeps
    /// the endpoint off.
    public var metricsListen: ListenAddress?
    /// Path of the UNIX control socket (YAML `control.socket`).
    public var controlSocket: String
    /// Lowest level logged (YAML `logLevel`).
    public var logLevel: LogLevel
    /// How upstream membership is kept (YAML `membership`: `passthrough` or `track`).
    public var membership: MembershipTracking
    /// xigmp's own queriers by interface (YAML `querier`); under `track` the
    /// inside always has one, with RFC 3376 defaults unless given.
    public var queriers: [QuerierInterface: MembershipConfiguration]
    /// Whether hosts on a querier's interfaces hear each other's reports
    /// (YAML `querier.<role>.isolatedHosts`), which decides fast leave for
    /// IGMPv2 groups; absent: ``IsolatedHosts/auto``.
    public var isolatedHosts: [QuerierInterface: IsolatedHosts] = [:]
    /// The upstream host side under `track` (YAML `upstream`).
    public var upstream: UpstreamConfiguration
    /// Caps against abuse (YAML `limits`), applied to every querier's table.
    public var limits: MembershipLimits
    /// The XDP per-source report rate (YAML `limits.reportsPerSecondPerHost`);
    /// nil: unlimited.
    public var reportRateLimit: ReportRateLimit?
    /// Multicast data forwarding (YAML `forwarding`).
    public var forwarding: Forwarding
    /// Static routes (YAML `routes`).
    public var routes: [StaticRoute]
    /// Groups the host's own kernel may report on the outside interfaces
    /// (YAML `egressFilter.allow`); nil: no egress filter.
    public var egressAllow: [Prefix]?

    /// The control socket used when `control.socket` is not given.
    public static let defaultControlSocket = "/run/xigmp.sock"

    /// Creates a configuration; every argument but the interfaces and modes
    /// has the default the YAML file would get by leaving the key out.
    public init(interfaces: Interfaces, activeOutside: OutsideInterface = .primary,
                datapath: Datapath = .auto, xdpMode: XDPMode = .auto, modes: Modes,
                unicastFallback: IPv4Address? = nil,
                metricsListen: ListenAddress? = nil,
                controlSocket: String = DaemonConfig.defaultControlSocket,
                logLevel: LogLevel = .info, membership: MembershipTracking = .passthrough,
                queriers: [QuerierInterface: MembershipConfiguration] = [:],
                upstream: UpstreamConfiguration = UpstreamConfiguration(),
                limits: MembershipLimits = MembershipLimits(), reportRateLimit: ReportRateLimit? = nil,
                egressAllow: [Prefix]? = nil, forwarding: Forwarding = Forwarding(), routes: [StaticRoute] = []) {
        self.interfaces = interfaces
        self.activeOutside = activeOutside
        self.datapath = datapath
        self.xdpMode = xdpMode
        self.modes = modes
        self.unicastFallback = unicastFallback
        self.metricsListen = metricsListen
        self.controlSocket = controlSocket
        self.logLevel = logLevel
        self.membership = membership
        self.queriers = queriers
        self.upstream = upstream
        self.limits = limits
        self.reportRateLimit = reportRateLimit
        self.egressAllow = egressAllow
        self.forwarding = forwarding
        self.routes = routes
    }

    /// The name of the interface that is outside when `selection` is active;
    /// nil for ``OutsideInterface/alt`` when no alt interface is configured.
    public func outsideInterface(_ selection: OutsideInterface) -> String? {
        switch selection {
        case .primary, .auto: return interfaces.outside
        case .alt: return interfaces.alt
        }
    }
}

extension DaemonConfig {
    /// Interfaces by role (YAML `interfaces`): each a name or a glob
    /// (`br-*`, `veth?`, `eth[01]`), matched against the kernel's interfaces
    /// as they come and go.
    public struct Interfaces: Sendable, Equatable {
        /// The primary outside interface, toward the upstream querier
        /// (YAML `interfaces.outside`, required).
        public var outside: String
        /// The alternative outside interface, e.g. a GRE tunnel
        /// (YAML `interfaces.alt`, optional).
        public var alt: String?
        /// The inside interfaces, toward the hosts or containers served
        /// (YAML `interfaces.inside`, required: a name or glob, or a list).
        /// Never empty.
        public var insides: [String]
        /// Names and globs never taken, whatever matches them
        /// (YAML `interfaces.exclude`).
        public var exclude: [String]
        /// Names that must exist when the daemon starts; any other missing
        /// interface is waited for (YAML `interfaces.required`).
        public var required: [String]
        /// The first inside pattern.
        public var inside: String { insides[0] }

        /// Creates the interface set with one inside interface.
        public init(outside: String, alt: String? = nil, inside: String) {
            self.init(outside: outside, alt: alt, insides: [inside])
        }

        /// Creates the interface set; `insides` must not be empty.
        public init(outside: String, alt: String? = nil, insides: [String], exclude: [String] = [], required: [String] = []) {
            precondition(!insides.isEmpty, "at least one inside interface")
            self.outside = outside
            self.alt = alt
            self.insides = insides
            self.exclude = exclude
            self.required = required
        }
    }

    /// Which of the two outside interfaces is active (YAML `activeOutside`).
    ///
    /// Queries are accepted from the active one only, and everything sent
    /// outward leaves through it.
    public enum OutsideInterface: String, Sendable, CaseIterable {
        /// `interfaces.outside`.
        case primary
        /// `interfaces.alt`.
        case alt
        /// `primary` while it is there and its link is up; `alt` at once
        /// when it goes, `primary` again `failbackHoldDown` after it returns.
        case auto
    }

    /// The datapath choice (YAML `datapath`); the same words as the CLI's
    /// `--datapath`, so the daemon maps it with `DatapathChoice(rawValue:)`.
    public enum Datapath: String, Sendable, CaseIterable {
        /// XDP on interfaces with Ethernet framing, the kernel path elsewhere.
        case auto
        /// XDP classifier and AF_XDP sockets; refused on L3 devices (GRE, tun).
        case xdp
        /// Raw IGMP sockets; works on any interface.
        case kernel
    }

    /// How the XDP program is attached (YAML `xdpMode`); the words of
    /// `xigmp load --mode`.
    public enum XDPMode: String, Sendable, CaseIterable {
        /// Native where the driver is cheaper in native mode, generic on veth
        /// (measured cheaper there: `make bench`, throughput).
        case auto
        /// In the driver; refused where the driver has no XDP.
        case native
        /// In the core stack, on an skb; works on every interface.
        case generic
    }

    /// Log levels, spelled as swift-log's `Logger.Level` raw values
    /// (YAML `logLevel`).
    public enum LogLevel: String, Sendable, CaseIterable {
        /// Everything, including per-packet detail.
        case trace
        /// Diagnostic detail.
        case debug
        /// Normal operation.
        case info
        /// Significant but normal events.
        case notice
        /// Something went wrong but xigmp carries on.
        case warning
        /// An operation failed.
        case error
        /// xigmp cannot go on.
        case critical
    }
}

extension DaemonConfig {
    /// The eight proxy modes, each independently on or off (YAML `modes`):
    /// the policy engine's own ``ProxyModes``, so the file and the engine
    /// cannot disagree on what a mode is. Every mode defaults to `false`.
    public typealias Modes = ProxyModes
}

extension ProxyModes {
    /// The YAML names of the modes, in the order the documentation uses.
    public static var names: [String] { ProxyMode.allCases.map(\.rawValue) }

    /// Each mode's YAML name with its setting, in ``names`` order.
    public var settings: [(name: String, isOn: Bool)] {
        ProxyMode.allCases.map { ($0.rawValue, self[$0]) }
    }

    /// The YAML names of the modes that are on.
    public var enabledNames: [String] { enabled.map(\.rawValue) }
}
