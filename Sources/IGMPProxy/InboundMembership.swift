import IGMPWire

extension ProxyPolicy {
    /// A report or leave heard on inside or on the active outside.
    ///
    /// Checked first, whatever the modes: the source must be on the receiving
    /// interface's subnet or 0.0.0.0 (RFC 3376 §9.2, RFC 2236 §9, against reports
    /// forged from afar), every group must be multicast, and no v3 record may list
    /// more than ``ProxyLimits/maxSourcesPerRecord`` sources. A report failing any
    /// check is dropped whole, since forwarding passes the bytes on unchanged.
    ///
    /// The destination decides which mode may forward it from inside: multicast
    /// (any group address; Linux accepts reports at any multicast destination, and
    /// goIGMP's own v2 reports to 224.0.0.22 still deserve forwarding to the right
    /// place) is ``ProxyMode/proxyInToOut``'s; sent to the inside interface's own
    /// address it is ``ProxyMode/unicastProxyInToOut``'s. The two never overlap, so
    /// with both on a unicast report is forwarded exactly once. Unicast to any
    /// other address is not for the proxy and is dropped.
    ///
    /// Upstream it goes where the RFCs send its kind, whatever destination it came
    /// with: v1/v2 report → the group (RFC 1112 app. I, RFC 2236 §9; snooping
    /// switches depend on it, goIGMP used 224.0.0.22), v2 leave → 224.0.0.2
    /// (RFC 2236 §9), v3 report → 224.0.0.22 (RFC 3376 §4.2.14), from the active
    /// outside's address.
    mutating func handleMembership(_ message: IGMPMessageView, metadata: FrameMetadata, on role: InterfaceRole,
                                   at now: ProxyTime, _ emit: (ProxyAction) -> Void) {
        guard let receiving = configuration.addressing(for: role) else {
            // Unreachable: an absent alt is never the active outside.
            emit(.count(.droppedInactiveOutside))
            return
        }
        let source = metadata.source
        if !source.isUnspecified && !receiving.isOnSubnet(source) {
            emit(.count(.droppedSourceOffSubnet))
            return
        }
        if let reason = contentProblem(message) {
            emit(.count(reason))
            return
        }
        let destination = metadata.destination
        let isUnicastToUs = destination == receiving.address
        guard destination.isMulticast || isUnicastToUs else {
            emit(.count(.droppedBadDestination))
            return
        }
        let modes = configuration.modes
        var handled = false
        if routers.contains(role) {
            // The membership table takes reports sent to it unicast as well: a
            // host may (RFC 3376 §4.2.14 lets routers accept any destination).
            routerHear(message, metadata: metadata, on: role, at: now, emit)
            handled = true
        }
        if !role.isUpstream {
            let mode: ProxyMode = isUnicastToUs ? .unicastProxyInToOut : .proxyInToOut
            if modes[mode], let upstream = activeAddressing {
                emit(.transmit(ProxyTransmit(role: activeOutside.role, source: upstream.address,
                                             destination: Self.upstreamDestination(of: message),
                                             payload: .inbound(message.bytes), mode: mode)))
                emit(.count(isUnicastToUs ? .forwardedUnicastInToOut : .forwardedInToOut))
                handled = true
            } else if modes[mode] {
                emit(.count(.droppedOutsideAbsent))
                handled = true
            }
        }
        if modes.membershipReportFromNetwork {
            notifyMembership(message, host: source, on: role, unicast: isUnicastToUs, emit)
            handled = true
        }
        if !handled { emit(.count(.droppedModeOff)) }
    }

    /// Where the RFCs send a report or leave of this kind.
    static func upstreamDestination(of message: IGMPMessageView) -> IPv4Address {
        switch message.type {
        case .v1Report, .v2Report: message.group
        case .v2Leave: .allRouters
        case .v3Report, .query: .igmpv3Routers
        }
    }

    /// Why a report or leave must be dropped, or nil when it is fine. v3 records
    /// of an unknown type are skipped, as RFC 3376 §4.2.12 tells receivers to;
    /// a report with no record of a known type asks for nothing and is malformed.
    func contentProblem(_ message: IGMPMessageView) -> ProxyCounter? {
        guard message.type == .v3Report else {
            return message.group.isMulticast ? nil : .droppedInvalidGroup
        }
        let limit = configuration.limits.maxSourcesPerRecord
        var known = 0
        // A while loop over the iterator: no generic Sequence machinery, which
        // allocates per element in unoptimised builds.
        var records = message.records.makeIterator()
        while let record = records.next() {
            guard record.type != nil else { continue }
            known += 1
            if !record.group.isMulticast { return .droppedInvalidGroup }
            if record.sources.count > limit { return .droppedTooManySources }
        }
        return known == 0 ? .droppedMalformed : nil
    }

    /// Emits one ``MembershipHeard`` per group (allocates: client mode only).
    private func notifyMembership(_ message: IGMPMessageView, host: IPv4Address, on role: InterfaceRole,
                                  unicast: Bool, _ emit: (ProxyAction) -> Void) {
        switch message.type {
        case .v1Report, .v2Report, .v2Leave:
            let isLeave = message.type == .v2Leave
            let event = MembershipHeard(role: role, host: host, group: message.group,
                                        kind: isLeave ? .leave : .joinExcluding,
                                        version: message.type == .v1Report ? .v1 : .v2, isUnicast: unicast)
            emit(.event(.membershipHeard(event)))
            emit(.count(.notifiedMembership))
        case .v3Report:
            var records = message.records.makeIterator()
            while let record = records.next() {
                guard let type = record.type else { continue }
                let event = MembershipHeard(role: role, host: host, group: record.group,
                                            kind: MembershipKind(recordType: type, sourceCount: record.sources.count),
                                            sources: Array(record.sources), version: .v3, recordType: type,
                                            isUnicast: unicast)
                emit(.event(.membershipHeard(event)))
                emit(.count(.notifiedMembership))
            }
        case .query:
            break
        }
    }
}
