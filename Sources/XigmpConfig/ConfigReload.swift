extension DaemonConfig {
    /// The top-level keys a running daemon applies when SIGHUP re-reads the
    /// file. Every other setting is read at start only; ``logLevel`` too,
    /// since the log handlers take their level when logging is bootstrapped.
    public static let reloadableKeys = ["modes", "activeOutside", "unicastFallback"]

    /// The settings that differ between `self` (the running configuration)
    /// and `next` (the file SIGHUP re-read) and that only a restart
    /// applies, by key, in the reference's order; empty when the reload can
    /// apply every change. The daemon logs them and applies the rest.
    public func changesNeedingRestart(to next: DaemonConfig) -> [String] {
        let changed: [(key: String, differs: Bool)] = [
            ("interfaces", interfaces != next.interfaces),
            ("failbackHoldDown", failbackHoldDown != next.failbackHoldDown),
            ("datapath", datapath != next.datapath),
            ("xdpMode", xdpMode != next.xdpMode),
            ("metrics", metricsListen != next.metricsListen),
            ("control.socket", controlSocket != next.controlSocket),
            ("logLevel", logLevel != next.logLevel),
            ("membership", membership != next.membership),
            ("querier", queriers != next.queriers || isolatedHosts != next.isolatedHosts),
            ("upstream", upstream != next.upstream),
            ("limits", limits != next.limits || reportRateLimit != next.reportRateLimit),
            ("egressFilter", egressAllow != next.egressAllow),
            ("forwarding", forwarding != next.forwarding),
            ("routes", routes != next.routes),
        ]
        return changed.filter(\.differs).map(\.key)
    }
}
