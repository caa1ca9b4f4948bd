import IGMPProxy
import IGMPWire

/// goIGMP's client mode, as a Swift API: streams of what the proxy hears,
/// and calls that send through it. Obtained from a ``RunningProxy``.
///
/// Streams deliver only while the matching mode is on (`queryNotify`,
/// `membershipReportFromNetwork`); sends need `membershipReportToNetwork` /
/// `leaveToNetwork`, and go unicast to the learned querier with
/// `unicastMembershipResponse`.
public final class ProxyClient: Sendable {
    private let runtime: ProxyRuntime

    init(runtime: ProxyRuntime) { self.runtime = runtime }

    /// Queries heard on the active outside interface (querier address,
    /// version, group, max response in seconds).
    public func queries() -> AsyncStream<QueryHeard> {
        let events = runtime.events.subscribe()
        return AsyncStream { continuation in
            let task = Task {
                for await e in events { if case .queryHeard(let q) = e { continuation.yield(q) } }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Membership heard (per group: join or leave, from the record types,
    /// with sources).
    public func memberships() -> AsyncStream<MembershipHeard> {
        let events = runtime.events.subscribe()
        return AsyncStream { continuation in
            let task = Task {
                for await e in events { if case .membershipHeard(let m) = e { continuation.yield(m) } }
                continuation.finish()
            }
            continuation.onTermination = { _ in task.cancel() }
        }
    }

    /// Every event, including querier changes.
    public func events() -> AsyncStream<ProxyEvent> { runtime.events.subscribe() }

    /// Sends membership reports for `groups` through the proxy.
    public func report(groups: [IPv4Address], version: IGMPVersion = .v3) async throws(ProxyClientError) {
        try check(await runtime.perform(.clientReport(groups: groups, version: version)))
    }

    /// Sends an IGMPv3 report with exactly these records (sources, record types).
    public func report(records: [GroupRecord]) async throws(ProxyClientError) {
        try check(await runtime.perform(.clientReportRecords(records)))
    }

    /// Sends leaves for `groups` through the proxy.
    public func leave(groups: [IPv4Address], version: IGMPVersion = .v3) async throws(ProxyClientError) {
        try check(await runtime.perform(.clientLeave(groups: groups, version: version)))
    }

    /// Makes `selection` the active outside interface.
    public func selectOutside(_ selection: OutsideSelection) async throws(ProxyClientError) {
        try check(await runtime.perform(.setOutside(selection)))
    }

    /// The proxy's status (as `xigmp status` shows it).
    public func status() async throws(ProxyClientError) -> DaemonStatus {
        switch await runtime.perform(.status) {
        case .status(let s): return s
        case .failed(let why): throw ProxyClientError(description: why)
        case .membership, .routes, .done: throw ProxyClientError(description: "unexpected reply")
        }
    }

    /// The membership tables, queriers and upstream state (`xigmp groups`).
    public func groups() async throws(ProxyClientError) -> MembershipReply {
        switch await runtime.perform(.groups) {
        case .membership(let report): return report
        case .failed(let why): throw ProxyClientError(description: why)
        case .status, .routes, .done: throw ProxyClientError(description: "unexpected reply")
        }
    }

    private func check(_ reply: ProxyRuntime.Reply) throws(ProxyClientError) {
        if case .failed(let why) = reply { throw ProxyClientError(description: why) }
    }
}

/// Why a client request was refused (mode off, no querier known, shutting down…).
public struct ProxyClientError: Error, Sendable, CustomStringConvertible {
    public let description: String
}
