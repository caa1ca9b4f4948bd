import IGMPWire

/// The querier of one interface (RFC 3376 §6.1, §6.6.2, §8): startup queries,
/// general queries every Query Interval, and election — the lowest address
/// queries, the others stay quiet while its queries keep coming.
///
/// Pure like ``MembershipTable``: time is passed in, actions go to a closure.
/// A router starts as the querier (§6.6.2) and sends Startup Query Count general
/// queries Startup Query Interval apart (§8.6–8.7), then one every Query Interval.
/// A multicast query from a lower address makes it a non-querier until the Other
/// Querier Present Interval passes without one (§8.5); then it sends a general
/// query at once and every Query Interval after. A unicast query, or one from
/// 0.0.0.0, never takes part in the election (§9.1, FRR issue 1692). Passive mode
/// never queries.
public struct Querier: Sendable {
    /// The configuration in force.
    public let configuration: MembershipConfiguration
    /// This router's address on the interface: its ballot in the election.
    public let address: IPv4Address
    /// The current role.
    public private(set) var status: QuerierStatus
    /// Robustness Variable in force: configured, or the querier's QRV while adopted.
    public private(set) var robustness: Int
    /// Query Interval in force: configured, or the querier's QQI while adopted.
    public private(set) var queryInterval: Duration
    /// When the next general query is due (querier only).
    var nextQuery: UInt64
    /// General queries sent since becoming querier at startup.
    var startupSent = 0

    /// Creates a querier that starts at `now`: its first general query is due at
    /// once (call ``tick(at:_:)``). Throws when the configuration is invalid.
    public init(configuration: MembershipConfiguration, address: IPv4Address,
                startingAt now: MembershipTime) throws(MembershipConfigurationError) {
        try configuration.validate()
        self.configuration = configuration
        self.address = address
        self.status = configuration.passive ? .passive : .querier
        self.robustness = configuration.robustness
        self.queryInterval = configuration.queryInterval
        self.nextQuery = now.nanoseconds
    }

    /// Whether this router sends queries now.
    public var isQuerier: Bool { status == .querier }

    /// When ``tick(at:_:)`` must next be called: the next general query, or the
    /// other querier's expiry; nil in passive mode.
    public var nextDeadline: MembershipTime? {
        switch status {
        case .querier: MembershipTime(nanoseconds: nextQuery)
        case .nonQuerier(_, let until): until
        case .passive: nil
        }
    }

    /// The general query this querier sends, in the configured version: v1 with
    /// Max Resp 0 (RFC 1112), v2 with the Query Response Interval in tenths
    /// (RFC 2236 §2.2), v3 with it as a Max Resp Code and QRV/QQIC (RFC 3376
    /// §4.1.1, §4.1.6, §4.1.7; QRV 0 when the Robustness Variable exceeds 7).
    public var generalQuery: IGMPQuery {
        let tenths = configuration.queryResponseInterval.tenths
        switch configuration.queryVersion {
        case .v1: return .v1()
        case .v2: return .v2(maxResponseTenths: UInt8(clamping: max(tenths, 1)))
        case .v3:
            return .v3(maxResponseTenths: tenths, qrv: robustness <= 7 ? UInt8(robustness) : 0,
                       queryIntervalSeconds: queryInterval.wholeSeconds)
        }
    }

    /// Sends the general query when due and resumes querying when the other
    /// querier has been silent for the Other Querier Present Interval.
    public mutating func tick(at now: MembershipTime, _ emit: (MembershipAction) -> Void) {
        let time = now.nanoseconds
        if case .nonQuerier(_, let until) = status, until.nanoseconds <= time {
            robustness = configuration.robustness
            queryInterval = configuration.queryInterval
            guard !configuration.passive else {
                status = .passive
                emit(.querierChanged(.passive))
                return
            }
            status = .querier
            robustness = configuration.robustness
            queryInterval = configuration.queryInterval
            startupSent = configuration.effectiveStartupQueryCount  // no second startup burst
            nextQuery = time
            emit(.count(.querierResumed))
            emit(.querierChanged(.querier))
        }
        guard status == .querier, nextQuery <= time else { return }
        emit(.sendQuery(generalQuery, destination: .allSystems))
        emit(.count(.sentGeneralQuery))
        let interval: Duration
        if startupSent < configuration.effectiveStartupQueryCount {
            startupSent += 1
        }
        if startupSent < configuration.effectiveStartupQueryCount {
            interval = configuration.effectiveStartupQueryInterval
        } else {
            interval = queryInterval
        }
        nextQuery = saturatingSum(time, interval.clampedNanoseconds)
    }

    /// Takes a query heard on the interface into the election (RFC 3376 §6.6.2).
    /// Returns true when it came from a router with a lower address, i.e. from the
    /// querier this router now defers to.
    ///
    /// - A query of an older version than ``MembershipConfiguration/queryVersion``
    ///   is counted (§7.3.1 wants the lowest version on the link, set by hand).
    /// - `destination`: a query not sent to a multicast address is unicast and
    ///   never elects (§9.1, FRR issue 1692); nor does one from 0.0.0.0 (a snooping
    ///   switch's proxy query) or from our own address.
    /// - From a lower address: (re)start the Other Querier Present timer (§8.5:
    ///   RV × QI + QRI/2, with the adopted RV/QI and our own QRI — a group-specific
    ///   query's Max Resp is the querier's LMQI, not its QRI) and stop querying;
    ///   adopt QRV/QQIC when configured to (§4.1.6–4.1.7; 0 means keep).
    @discardableResult
    public mutating func receiveQuery(_ query: IGMPQuery, from source: IPv4Address, to destination: IPv4Address,
                                      at now: MembershipTime, _ emit: (MembershipAction) -> Void) -> Bool {
        receiveQuery(version: query.version, qrv: query.qrv, qqicCode: query.qqicCode,
                     from: source, to: destination, at: now, emit)
    }

    /// The in-place form of ``receiveQuery(_:from:to:at:_:)``: the query's raw fields.
    @discardableResult
    public mutating func receiveQuery(version: IGMPVersion, qrv: UInt8, qqicCode: UInt8,
                                      from source: IPv4Address, to destination: IPv4Address,
                                      at now: MembershipTime, _ emit: (MembershipAction) -> Void) -> Bool {
        tick(at: now, emit)
        // §7.3.1: the querier must run the lowest version on the link; that is the
        // administrator's to set, so an older query is only counted.
        if version < configuration.queryVersion { emit(.count(.olderVersionQuery)) }
        guard destination.isMulticast else {
            emit(.count(.unicastQueryNotElected))
            return false
        }
        guard !source.isUnspecified else {
            emit(.count(.unspecifiedQueryNotElected))
            return false
        }
        guard source < address else {
            if source != address { emit(.count(.queryFromHigherAddress)) }
            return false
        }
        if version == .v3 && configuration.adoptQuerierParameters {
            let adoptedInterval = IGMPTimerCode.decode(qqicCode)
            if qrv != 0 { robustness = Int(qrv) }
            if adoptedInterval != 0 { queryInterval = .seconds(Int64(adoptedInterval)) }
            if qrv != 0 || adoptedInterval != 0 { emit(.count(.adoptedQuerierParameters)) }
        }
        let present = saturatingSum(saturatingProduct(queryInterval.clampedNanoseconds, UInt64(robustness)),
                                    configuration.queryResponseInterval.clampedNanoseconds / 2)
        let until = MembershipTime(nanoseconds: saturatingSum(now.nanoseconds, present))
        let previous = status
        status = .nonQuerier(otherQuerier: source, until: until)
        if previous == .querier { emit(.count(.querierLost)) }
        if case .nonQuerier(let other, _) = previous, other == source {
            return true  // the same querier again: timer refreshed, nothing new to tell
        }
        emit(.querierChanged(status))
        return true
    }
}
