import IGMPWire

extension ProxyPolicy {
    /// A query heard on the active outside (inactive outside and inside were
    /// filtered out before).
    ///
    /// Destinations (RFC 3376 §4.1.12, RFC 2236 §9): a general query goes to
    /// 224.0.0.1, a group(-and-source)-specific one to the group (224.0.0.1 is
    /// accepted for those too, as some queriers send them there). A query sent to
    /// the receiving interface's own address must still be processed (§4.1.12), so
    /// it is notified; but it never takes part in querier election — a unicast
    /// query must not take over (RFC 3376 §9.1, FRR issue 1692) — and it is not
    /// proxied, because re-sending one host's query to all of inside would turn a
    /// unicast probe into a report storm. Anything else is dropped.
    mutating func handleQuery(_ message: IGMPMessageView, metadata: FrameMetadata, on role: InterfaceRole,
                              at now: ProxyTime, _ emit: (ProxyAction) -> Void) {
        let group = message.group
        let isGeneral = group.isUnspecified
        if !isGeneral && !group.isMulticast {
            emit(.count(.droppedInvalidGroup))
            return
        }
        let destination = metadata.destination
        let isMulticast = destination == .allSystems || (!isGeneral && destination == group)
        let isUnicastToUs = destination == activeAddressing?.address
        guard isMulticast || isUnicastToUs else {
            emit(.count(.droppedBadDestination))
            return
        }
        let modes = configuration.modes
        if configuration.membership == .track, let outside = OutsideSelection(role: role) {
            // RFC 4605 §4.1: the proxy answers the upstream querier as a host.
            hostHearQuery(message, on: outside, at: now, emit)
        }
        if isUnicastToUs {
            emit(.count(.unicastQueryNotElected))
            if modes.queryNotify { notifyQuery(message, metadata: metadata, on: role, unicast: true, emit) }
            return
        }
        learnQuerier(message, from: metadata.source, on: role, at: now, emit)
        var handled = configuration.membership == .track
        if modes.proxyOutToIn {
            // Re-sent unchanged: Max Resp Code, QRV, QQIC, S flag and sources
            // reach the hosts exactly as the querier set them (goIGMP re-encoded
            // Max Resp wrongly).
            // To every downstream (one transmit and one count each).
            let insides = configuration.insides
            var index = 0
            while index < insides.count {
                if let inside = insides[index] {
                    emit(.transmit(ProxyTransmit(role: .inside(index), source: inside.address,
                                                 destination: isGeneral ? .allSystems : group,
                                                 payload: .inbound(message.bytes), mode: .proxyOutToIn)))
                    emit(.count(.forwardedOutToIn))
                }
                index += 1
            }
            handled = true
        }
        if modes.queryNotify {
            notifyQuery(message, metadata: metadata, on: role, unicast: false, emit)
            handled = true
        }
        if !handled { emit(.count(.droppedModeOff)) }
    }

    /// Learns the sender of a multicast query as the querier of the upstream in
    /// `role`, by election (lowest address wins). 0.0.0.0 cannot be answered
    /// unicast (snooping switches send proxy queries from it), so it is never learned.
    private mutating func learnQuerier(_ message: IGMPMessageView, from source: IPv4Address, on role: InterfaceRole,
                                       at now: ProxyTime, _ emit: (ProxyAction) -> Void) {
        guard !source.isUnspecified, let outside = OutsideSelection(role: role),
              let version = message.queryVersion else { return }
        let present = LearnedQuerier.otherQuerierPresentNanoseconds(
            version: version, maxRespCode: message.maxRespCode, qrv: message.qrv, qqicCode: message.qqicCode)
        let update = queriers.hear(from: source, on: outside, version: version,
                                   presentNanoseconds: present, at: now)
        if case .learned(let previous) = update {
            emit(.count(.querierLearned))
            emit(.event(.querierChanged(QuerierChange(outside: outside, querier: source, previous: previous))))
        }
    }

    /// Emits a ``QueryHeard`` event (allocates the source list: client mode only).
    private func notifyQuery(_ message: IGMPMessageView, metadata: FrameMetadata, on role: InterfaceRole,
                             unicast: Bool, _ emit: (ProxyAction) -> Void) {
        let version = message.queryVersion ?? .v1
        let tenths: UInt32
        switch version {
        case .v1: tenths = 100  // RFC 2236 §4: a v1 query means 10 s
        case .v2: tenths = UInt32(message.maxRespCode)  // linear tenths, RFC 2236 §2.2
        case .v3: tenths = IGMPTimerCode.decode(message.maxRespCode)  // RFC 3376 §4.1.1
        }
        let group = message.group
        let event = QueryHeard(querier: metadata.source, role: role, version: version,
                               group: group.isUnspecified ? nil : group,
                               maxResponseSeconds: Double(tenths) / 10,
                               sources: Array(message.sources), isUnicast: unicast)
        emit(.event(.queryHeard(event)))
        emit(.count(.notifiedQuery))
    }
}
