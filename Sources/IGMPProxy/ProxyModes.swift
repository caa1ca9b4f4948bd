/// One of goIGMP's eight modes, each a config switch (README.md, Daemon: the
/// modes table).
///
/// The raw values are the config keys, so logs, errors and metrics labels use the
/// operator's spelling.
public enum ProxyMode: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    /// Queries heard on the active outside are re-sent on inside.
    case proxyOutToIn
    /// Reports and leaves heard (multicast) on inside are re-sent on the active outside.
    case proxyInToOut
    /// IGMP sent unicast to the proxy's inside address is re-sent multicast on the
    /// active outside.
    case unicastProxyInToOut
    /// Client events for queries heard on the active outside.
    case queryNotify
    /// Client events for reports and leaves heard on inside and the active outside.
    case membershipReportFromNetwork
    /// The client may send reports through the proxy.
    case membershipReportToNetwork
    /// Client reports and leaves go unicast to the learned querier (or the fallback).
    case unicastMembershipResponse
    /// The client may send leaves through the proxy.
    case leaveToNetwork

    /// The config key, e.g. `"proxyOutToIn"`.
    public var description: String { rawValue }
}

/// Which of the eight modes are on. Each is independent: turning one on or off
/// changes only the behaviour the README's modes table (Daemon) gives it.
public struct ProxyModes: Sendable, Hashable {
    /// See ``ProxyMode/proxyOutToIn``.
    public var proxyOutToIn: Bool
    /// See ``ProxyMode/proxyInToOut``.
    public var proxyInToOut: Bool
    /// See ``ProxyMode/unicastProxyInToOut``.
    public var unicastProxyInToOut: Bool
    /// See ``ProxyMode/queryNotify``.
    public var queryNotify: Bool
    /// See ``ProxyMode/membershipReportFromNetwork``.
    public var membershipReportFromNetwork: Bool
    /// See ``ProxyMode/membershipReportToNetwork``.
    public var membershipReportToNetwork: Bool
    /// See ``ProxyMode/unicastMembershipResponse``.
    public var unicastMembershipResponse: Bool
    /// See ``ProxyMode/leaveToNetwork``.
    public var leaveToNetwork: Bool

    /// Creates a mode set; every mode is off unless given.
    public init(proxyOutToIn: Bool = false, proxyInToOut: Bool = false,
                unicastProxyInToOut: Bool = false, queryNotify: Bool = false,
                membershipReportFromNetwork: Bool = false, membershipReportToNetwork: Bool = false,
                unicastMembershipResponse: Bool = false, leaveToNetwork: Bool = false) {
        self.proxyOutToIn = proxyOutToIn
        self.proxyInToOut = proxyInToOut
        self.unicastProxyInToOut = unicastProxyInToOut
        self.queryNotify = queryNotify
        self.membershipReportFromNetwork = membershipReportFromNetwork
        self.membershipReportToNetwork = membershipReportToNetwork
        self.unicastMembershipResponse = unicastMembershipResponse
        self.leaveToNetwork = leaveToNetwork
    }

    /// Creates a mode set with exactly `modes` on.
    public init(_ modes: Set<ProxyMode>) {
        self.init()
        for mode in modes { self[mode] = true }
    }

    /// Whether `mode` is on.
    public subscript(mode: ProxyMode) -> Bool {
        get {
            switch mode {
            case .proxyOutToIn: proxyOutToIn
            case .proxyInToOut: proxyInToOut
            case .unicastProxyInToOut: unicastProxyInToOut
            case .queryNotify: queryNotify
            case .membershipReportFromNetwork: membershipReportFromNetwork
            case .membershipReportToNetwork: membershipReportToNetwork
            case .unicastMembershipResponse: unicastMembershipResponse
            case .leaveToNetwork: leaveToNetwork
            }
        }
        set {
            switch mode {
            case .proxyOutToIn: proxyOutToIn = newValue
            case .proxyInToOut: proxyInToOut = newValue
            case .unicastProxyInToOut: unicastProxyInToOut = newValue
            case .queryNotify: queryNotify = newValue
            case .membershipReportFromNetwork: membershipReportFromNetwork = newValue
            case .membershipReportToNetwork: membershipReportToNetwork = newValue
            case .unicastMembershipResponse: unicastMembershipResponse = newValue
            case .leaveToNetwork: leaveToNetwork = newValue
            }
        }
    }

    /// The modes that are on, in declaration order.
    public var enabled: [ProxyMode] { ProxyMode.allCases.filter { self[$0] } }

    /// Every mode off: the proxy only learns the querier and counts.
    public static let none = ProxyModes()

    /// Full proxy: queries out→in and reports/leaves in→out (both directions of
    /// multicast IGMP). Safe from loops because own frames are never reprocessed.
    public static let fullProxy = ProxyModes(proxyOutToIn: true, proxyInToOut: true)

    /// Unicast translation (goIGMP's main use): queries out→in, and reports and
    /// leaves that hosts inside send unicast to the proxy re-sent multicast upstream.
    public static let unicastTranslation = ProxyModes(proxyOutToIn: true, unicastProxyInToOut: true)

    /// Client mode: the client hears queries and reports and sends its own reports
    /// and leaves through the proxy.
    public static let client = ProxyModes(queryNotify: true, membershipReportFromNetwork: true,
                                          membershipReportToNetwork: true, leaveToNetwork: true)
}
