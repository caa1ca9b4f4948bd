import IGMPMembership
import IGMPWire

/// Why a client's report or leave was not sent. Each is also counted
/// (``ProxyCounter/droppedClientRequest`` or ``ProxyCounter/droppedNoQuerier``).
public enum ClientRequestError: Error, Sendable, Equatable, CustomStringConvertible {
    /// The mode that allows this request is off.
    case modeOff(ProxyMode)
    /// ``ProxyMode/unicastMembershipResponse`` is on, no querier has been heard on
    /// the active outside, and no ``ProxyConfiguration/unicastFallback`` is set.
    case noQuerier(OutsideSelection)
    /// The active outside's interface is absent (not there yet, or gone).
    case outsideAbsent(OutsideSelection)
    /// No groups or records were given.
    case nothingToSend
    /// A group that is not a reportable multicast address: not class D, or in
    /// 224.0.0.0/24, which is never reported (RFC 2236 §6, RFC 3376 §5).
    case invalidGroup(IPv4Address)
    /// IGMPv1 has no leave message (RFC 1112); use v2 or v3.
    case noLeaveInV1
    /// A record lists more sources than ``ProxyLimits/maxSourcesPerRecord``.
    case tooManySources(group: IPv4Address, count: Int, limit: Int)
    /// A record that cannot be encoded (e.g. aux data not a multiple of 4 bytes).
    case unencodable(IPv4Address, IGMPEncodeError)

    /// One line for the client.
    public var description: String {
        switch self {
        case .modeOff(let mode): "mode \(mode) is off"
        case .noQuerier(let outside):
            "no querier heard on the \(outside) outside and no unicastFallback configured"
        case .outsideAbsent(let outside): "the \(outside) outside interface is not there now"
        case .nothingToSend: "no groups given"
        case .invalidGroup(let group): "\(group) is not a reportable multicast group"
        case .noLeaveInV1: "IGMPv1 has no leave message"
        case .tooManySources(let group, let count, let limit):
            "group \(group): \(count) sources, more than the limit of \(limit)"
        case .unencodable(let group, let error): "group \(group): \(error)"
        }
    }
}

/// Where a client request went.
public struct ClientDelivery: Sendable, Hashable {
    /// How the destination was chosen.
    public enum Route: Sendable, Hashable {
        /// Multicast, to where the RFCs send the message kind.
        case multicast
        /// Unicast to the querier learned on the active outside.
        case querier
        /// Unicast to the configured fallback (no querier heard).
        case fallback
    }

    /// The upstream it left through.
    public var outside: OutsideSelection
    /// How the destination was chosen.
    public var route: Route
    /// Messages sent.
    public var messageCount: Int

    /// Creates a delivery record.
    public init(outside: OutsideSelection, route: Route, messageCount: Int) {
        self.outside = outside
        self.route = route
        self.messageCount = messageCount
    }
}

extension ProxyPolicy {
    /// Largest IGMP message the proxy originates: a 1500-byte MTU less the 24-byte
    /// IP header with Router Alert. v3 records beyond it go in further reports
    /// (RFC 3376 §4.2.16), never in a fragmented one.
    public static let maxOriginatedMessageBytes = 1476

    /// Sends membership reports for `groups` through the active outside
    /// (``ProxyMode/membershipReportToNetwork``). v1/v2: one report per group, to
    /// the group (RFC 2236 §9). v3: one record per group, MODE_IS_EXCLUDE({})
    /// (any source: what a host answers a query with, RFC 3376 §5.2), to
    /// 224.0.0.22; use ``clientReport(records:at:_:)`` for state-change or
    /// source-specific records. With ``ProxyMode/unicastMembershipResponse`` on,
    /// they go unicast to the querier instead.
    ///
    /// Under ``MembershipTracking/track`` the request joins the union the
    /// upstream hears instead (RFC 4605 §4.1: the client is one more
    /// downstream): xigmp's host side reports the change, in the version the
    /// upstream querier allows, with retransmissions, and keeps answering
    /// queries for it until ``clientLeave(groups:version:at:_:)``; an inside
    /// member leaving does not take the group away from the client.
    @discardableResult
    public mutating func clientReport(groups: [IPv4Address], version: IGMPVersion, at now: ProxyTime,
                                      _ emit: (ProxyAction) -> Void) throws(ClientRequestError) -> ClientDelivery {
        expireQueriers(at: now, emit)
        try check(.membershipReportToNetwork, groups: groups, emit)
        if configuration.membership == .track {
            return trackClient(groups.map { GroupRecord(type: .toExclude, group: $0) }, at: now, emit)
        }
        switch version {
        case .v1: return try send(groups.map { IGMPMessage.v1Report(group: $0) }, as: .membershipReportToNetwork, at: now, emit)
        case .v2: return try send(groups.map { IGMPMessage.v2Report(group: $0) }, as: .membershipReportToNetwork, at: now, emit)
        case .v3:
            let records = groups.map { GroupRecord(type: .isExclude, group: $0) }
            return try send(try v3Reports(records, emit), as: .membershipReportToNetwork, at: now, emit)
        }
    }

    /// Sends IGMPv3 reports with exactly these records (split over several
    /// reports when they do not fit one) through the active outside
    /// (``ProxyMode/membershipReportToNetwork``); unicast to the querier with
    /// ``ProxyMode/unicastMembershipResponse``.
    @discardableResult
    public mutating func clientReport(records: [GroupRecord], at now: ProxyTime,
                                      _ emit: (ProxyAction) -> Void) throws(ClientRequestError) -> ClientDelivery {
        expireQueriers(at: now, emit)
        try check(.membershipReportToNetwork, groups: records.map(\.group), emit)
        let reports = try v3Reports(records, emit)
        if configuration.membership == .track { return trackClient(records, at: now, emit) }
        return try send(reports, as: .membershipReportToNetwork, at: now, emit)
    }

    /// Sends leaves for `groups` through the active outside (``ProxyMode/leaveToNetwork``):
    /// v2 → a Leave Group per group to 224.0.0.2 (RFC 2236 §9); v3 → CHANGE_TO_INCLUDE_MODE({})
    /// records, the v3 leave (RFC 3376 §5.1), to 224.0.0.22. With
    /// ``ProxyMode/unicastMembershipResponse`` on, leaves follow the same rule as
    /// reports and go unicast to the querier instead.
    @discardableResult
    public mutating func clientLeave(groups: [IPv4Address], version: IGMPVersion, at now: ProxyTime,
                                     _ emit: (ProxyAction) -> Void) throws(ClientRequestError) -> ClientDelivery {
        expireQueriers(at: now, emit)
        // Under track a leave undoes the client's own join (host-side state),
        // so the mode that let the join in lets the leave in too: a join must
        // never be impossible to take back.
        let tracked = configuration.membership == .track && configuration.modes.membershipReportToNetwork
        try check(tracked && !configuration.modes.leaveToNetwork ? .membershipReportToNetwork : .leaveToNetwork,
                  groups: groups, emit)
        if version == .v1 {
            emit(.count(.droppedClientRequest))
            throw .noLeaveInV1
        }
        if configuration.membership == .track {
            return trackClient(groups.map { GroupRecord(type: .toInclude, group: $0) }, at: now, emit)
        }
        switch version {
        case .v1:
            emit(.count(.droppedClientRequest))
            throw .noLeaveInV1
        case .v2: return try send(groups.map { IGMPMessage.v2Leave(group: $0) }, as: .leaveToNetwork, at: now, emit)
        case .v3:
            let records = groups.map { GroupRecord(type: .toInclude, group: $0) }
            return try send(try v3Reports(records, emit), as: .leaveToNetwork, at: now, emit)
        }
    }

    /// Applies `records` to the client's membership (RFC 3376 §3.1 socket
    /// semantics: TO_IN/IS_IN set INCLUDE, TO_EX/IS_EX set EXCLUDE, ALLOW and
    /// BLOCK add or take sources) and hands the union of each group to the
    /// host side of the active outside, which sends what changed.
    private mutating func trackClient(_ records: [GroupRecord], at now: ProxyTime,
                                      _ emit: (ProxyAction) -> Void) -> ClientDelivery {
        let outside = activeOutside
        var route = ClientDelivery.Route.multicast
        if configuration.modes.unicastMembershipResponse, let target = unicastTarget(at: now) { route = target.route }
        var sent = 0
        let time = MembershipTime(nanoseconds: now.nanoseconds)
        for record in records {
            let next = Self.apply(record, to: clientStates[record.group] ?? .none)
            clientStates[record.group] = next.hasMembers ? next : nil
            let union = Self.reportable(routers.insideUnion(of: record.group).union(next))
            withHost(outside) { host, policy in
                host.setState(of: record.group, to: union, at: time) { action in
                    if case .send = action { sent += 1 }
                    policy.hostAction(action, on: outside, at: now, emit)
                }
            }
            emit(.count(record.type == .toInclude && record.sources.isEmpty ? .sentClientLeave : .sentClientReport))
        }
        return ClientDelivery(outside: outside, route: route, messageCount: sent)
    }

    /// `state` after a host asks for `record` (RFC 3376 §3.1, §5.1).
    static func apply(_ record: GroupRecord, to state: GroupFilterState) -> GroupFilterState {
        let sources = Set(record.sources)
        switch record.type {
        case .isInclude, .toInclude:
            return GroupFilterState(mode: .include, sources: sources.sorted())
        case .isExclude, .toExclude:
            return GroupFilterState(mode: .exclude, sources: sources.sorted())
        case .allowNewSources:
            return state.mode == .include
                ? GroupFilterState(mode: .include, sources: Set(state.sources).union(sources).sorted())
                : GroupFilterState(mode: .exclude, sources: Set(state.sources).subtracting(sources).sorted())
        case .blockOldSources:
            return state.mode == .include
                ? GroupFilterState(mode: .include, sources: Set(state.sources).subtracting(sources).sorted())
                : GroupFilterState(mode: .exclude, sources: Set(state.sources).union(sources).sorted())
        }
    }

    /// Refuses a request whose mode is off or whose groups are not reportable.
    private func check(_ mode: ProxyMode, groups: [IPv4Address],
                       _ emit: (ProxyAction) -> Void) throws(ClientRequestError) {
        guard configuration.modes[mode] else {
            emit(.count(.droppedClientRequest))
            throw .modeOff(mode)
        }
        guard !groups.isEmpty else {
            emit(.count(.droppedClientRequest))
            throw .nothingToSend
        }
        for group in groups where !group.isMulticast || group.isLinkLocalMulticast {
            emit(.count(.droppedClientRequest))
            throw .invalidGroup(group)
        }
    }

    /// Packs records into as few v3 reports as fit ``maxOriginatedMessageBytes``,
    /// after checking each against the source limit and the encoder.
    private func v3Reports(_ records: [GroupRecord],
                           _ emit: (ProxyAction) -> Void) throws(ClientRequestError) -> [IGMPMessage] {
        let limit = configuration.limits.maxSourcesPerRecord
        var reports: [IGMPMessage] = []
        var pending: [GroupRecord] = []
        var pendingBytes = 8
        for record in records {
            guard record.sources.count <= limit else {
                emit(.count(.droppedClientRequest))
                throw .tooManySources(group: record.group, count: record.sources.count, limit: limit)
            }
            do {
                _ = try IGMPEncoder.validatedLength(of: .v3Report([record]))
            } catch {
                emit(.count(.droppedClientRequest))
                throw .unencodable(record.group, error)
            }
            if !pending.isEmpty && pendingBytes + record.encodedLength > Self.maxOriginatedMessageBytes {
                reports.append(.v3Report(pending))
                pending = []
                pendingBytes = 8
            }
            pending.append(record)
            pendingBytes += record.encodedLength
        }
        if !pending.isEmpty { reports.append(.v3Report(pending)) }
        return reports
    }

    /// Emits one transmit per message on the active outside, multicast or unicast
    /// per ``ProxyMode/unicastMembershipResponse``.
    private mutating func send(_ messages: [IGMPMessage], as mode: ProxyMode, at now: ProxyTime,
                               _ emit: (ProxyAction) -> Void) throws(ClientRequestError) -> ClientDelivery {
        let outside = activeOutside
        var route = ClientDelivery.Route.multicast
        var unicastDestination: IPv4Address? = nil
        if configuration.modes.unicastMembershipResponse {
            guard let target = unicastTarget(at: now) else {
                emit(.count(.droppedNoQuerier))
                throw .noQuerier(outside)
            }
            (route, unicastDestination) = (target.route, target.address)
        }
        guard let upstream = activeAddressing else {
            emit(.count(.droppedOutsideAbsent))
            throw .outsideAbsent(outside)
        }
        for message in messages {
            emit(.transmit(ProxyTransmit(role: outside.role, source: upstream.address,
                                         destination: unicastDestination ?? message.defaultDestination,
                                         payload: .message(message), mode: mode)))
            emit(.count(mode == .leaveToNetwork ? .sentClientLeave : .sentClientReport))
            switch route {
            case .multicast: break
            case .querier: emit(.count(.sentUnicastToQuerier))
            case .fallback: emit(.count(.sentUnicastToFallback))
            }
        }
        return ClientDelivery(outside: outside, route: route, messageCount: messages.count)
    }
}
