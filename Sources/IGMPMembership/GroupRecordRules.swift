import IGMPWire

/// The router's state transitions for one group (RFC 3376 §6.4–§6.6), written
/// row by row after the RFC's tables. `A`/`B` and `X`/`Y` are the RFC's names:
/// the INCLUDE list, the record's sources, the EXCLUDE mode's "requested" (timer
/// running) and "excluded" (timer zero) lists.
extension GroupEntry {
    /// Applies one group record (§6.4.1 current-state, §6.4.2 state-change).
    mutating func apply<Sources: RandomAccessCollection<IPv4Address>>(
        _ type: GroupRecordType, _ records: Sources, _ context: GroupContext,
        _ emit: (MembershipAction) -> Void
    ) {
        let gmi = saturatingSum(context.now, context.timing.groupMembershipInterval)
        switch (mode, type) {
        case (.include, .isInclude), (.include, .allowNewSources):
            // INCLUDE (A)  IS_IN (B) / ALLOW (B)  →  INCLUDE (A+B);  (B)=GMI
            for source in records { setTimer(source, gmi, context, emit) }

        case (.exclude, .isInclude), (.exclude, .allowNewSources):
            // EXCLUDE (X,Y)  IS_IN (A) / ALLOW (A)  →  EXCLUDE (X+A,Y-A);  (A)=GMI
            for source in records { setTimer(source, gmi, context, emit) }

        case (.include, .isExclude), (.include, .toExclude):
            // INCLUDE (A)  IS_EX (B) / TO_EX (B)  →  EXCLUDE (A*B,B-A)
            //   (B-A)=0;  Delete (A-B);  [TO_EX: Send Q(G,A*B)];  Group Timer=GMI
            removeSources { !records.contains($0.address) }
            setMode(.exclude)
            for source in records { addIfMissing(source, 0, context, emit) }
            if type == .toExclude { querySources(context, emit) { $0.expires != 0 } }
            groupExpires = gmi

        case (.exclude, .isExclude), (.exclude, .toExclude):
            // EXCLUDE (X,Y)  IS_EX (A)  →  EXCLUDE (A-Y,Y*A)
            //   (A-X-Y)=GMI;  Delete (X-A);  Delete (Y-A);  Group Timer=GMI
            // EXCLUDE (X,Y)  TO_EX (A)  →  EXCLUDE (A-Y,Y*A)
            //   (A-X-Y)=Group Timer;  Delete (X-A);  Delete (Y-A);  Send Q(G,A-Y);  Group Timer=GMI
            let newTimer = type == .isExclude ? gmi : groupExpires
            removeSources { !records.contains($0.address) }
            for source in records { addIfMissing(source, newTimer, context, emit) }
            if type == .toExclude { querySources(context, emit) { $0.expires != 0 } }
            groupExpires = gmi

        case (.include, .blockOldSources):
            // INCLUDE (A)  BLOCK (B)  →  INCLUDE (A);  Send Q(G,A*B)
            querySources(context, emit) { records.contains($0.address) }

        case (.exclude, .blockOldSources):
            // EXCLUDE (X,Y)  BLOCK (A)  →  EXCLUDE (X+(A-Y),Y);  (A-X-Y)=Group Timer;  Send Q(G,A-Y)
            for source in records { addIfMissing(source, groupExpires, context, emit) }
            querySources(context, emit) { $0.expires != 0 && records.contains($0.address) }

        case (.include, .toInclude):
            // INCLUDE (A)  TO_IN (B)  →  INCLUDE (A+B);  (B)=GMI;  Send Q(G,A-B)
            for source in records { setTimer(source, gmi, context, emit) }
            querySources(context, emit) { !records.contains($0.address) }

        case (.exclude, .toInclude):
            // EXCLUDE (X,Y)  TO_IN (A)  →  EXCLUDE (X+A,Y-A);  (A)=GMI;  Send Q(G,X-A);  Send Q(G)
            for source in records { setTimer(source, gmi, context, emit) }
            querySources(context, emit) { $0.expires != 0 && !records.contains($0.address) }
            queryGroup(context, emit)
        }
    }

    // MARK: Queries the querier sends (§6.6.3)

    /// "Send Q(G,S)" for the sources `selected` picks (§6.6.3.2): each with a timer
    /// above LMQT gets LMQC retransmissions and its timer lowered to LMQT; then a
    /// query goes out at once and LMQC−1 more every LMQI. Only the querier acts,
    /// only in v3 (v1/v2 queries carry no sources), and at most
    /// ``MembershipLimits/maxSuccessiveSourceQueries`` actions per Query Interval.
    mutating func querySources(_ context: GroupContext, _ emit: (MembershipAction) -> Void,
                               _ selected: (SourceEntry) -> Bool) {
        guard context.isQuerier else { return }
        let now = context.now
        let timing = context.timing
        let lowered = saturatingSum(now, timing.lastMemberQueryTime)
        guard sources.contains(where: { $0.expires > lowered && selected($0) }) else { return }
        guard timing.queryVersion == .v3 else {
            emit(.count(.skippedQueryVersion))
            return
        }
        if now &- sourceQueryWindowStart >= timing.queryInterval || sourceQueriesInWindow == 0 {
            sourceQueryWindowStart = now
            sourceQueriesInWindow = 0
        }
        guard sourceQueriesInWindow < timing.limits.maxSuccessiveSourceQueries else {
            emit(.count(.droppedSourceQueryLimit))
            return
        }
        sourceQueriesInWindow += 1
        for index in sources.indices where sources[index].expires > lowered && selected(sources[index]) {
            sources[index].expires = lowered
            sources[index].retransmissions = timing.lastMemberQueryCount
        }
        transmitSourceQueries(at: now, context, emit)
    }

    /// Sends the group-and-source-specific queries due at `time` (§6.6.3.2): one
    /// with S set for sources whose timers exceed LMQT (a report refreshed them),
    /// one with S clear for the rest; either is suppressed when empty. Each source
    /// included spends one retransmission.
    mutating func transmitSourceQueries(at time: UInt64, _ context: GroupContext,
                                        _ emit: (MembershipAction) -> Void) {
        let timing = context.timing
        let threshold = saturatingSum(time, timing.lastMemberQueryTime)
        var suppressed: [IPv4Address] = []
        var plain: [IPv4Address] = []
        var remaining = false
        for index in sources.indices where sources[index].retransmissions > 0 {
            if sources[index].expires > threshold {
                suppressed.append(sources[index].address)
            } else {
                plain.append(sources[index].address)
            }
            sources[index].retransmissions -= 1
            if sources[index].retransmissions > 0 { remaining = true }
        }
        for (list, sFlag) in [(suppressed, true), (plain, false)] where !list.isEmpty {
            let query = IGMPQuery.v3(group: context.group, sources: list,
                                     maxResponseTenths: timing.lastMemberTenths, sFlag: sFlag,
                                     qrv: timing.qrvField, queryIntervalSeconds: timing.queryIntervalSeconds)
            emit(.sendQuery(query, destination: context.group))
            emit(.count(.sentSourceQuery))
        }
        nextSourceQuery = remaining ? saturatingSum(time, max(timing.lastMemberQueryInterval, 1)) : 0
    }

    /// "Send Q(G)" (§6.6.3.1): the group timer is lowered to LMQT, a group-specific
    /// query goes out at once and LMQC−1 more every LMQI. Only the querier acts;
    /// v1 has no group-specific query.
    mutating func queryGroup(_ context: GroupContext, _ emit: (MembershipAction) -> Void) {
        guard context.isQuerier else { return }
        let timing = context.timing
        guard timing.queryVersion != .v1 else {
            emit(.count(.skippedQueryVersion))
            return
        }
        groupExpires = min(groupExpires, saturatingSum(context.now, timing.lastMemberQueryTime))
        groupQueriesLeft = timing.lastMemberQueryCount
        transmitGroupQuery(at: context.now, context, emit)
    }

    /// Sends the group-specific query due at `time`, with S set when the group
    /// timer is above LMQT — a report refreshed it since (§6.6.3.1).
    mutating func transmitGroupQuery(at time: UInt64, _ context: GroupContext,
                                     _ emit: (MembershipAction) -> Void) {
        let timing = context.timing
        guard groupQueriesLeft > 0 else {
            nextGroupQuery = 0
            return
        }
        let query: IGMPQuery
        if timing.queryVersion == .v2 {
            query = .v2(group: context.group, maxResponseTenths: UInt8(clamping: max(timing.lastMemberTenths, 1)))
        } else {
            let sFlag = groupExpires > saturatingSum(time, timing.lastMemberQueryTime)
            query = .v3(group: context.group, maxResponseTenths: timing.lastMemberTenths, sFlag: sFlag,
                        qrv: timing.qrvField, queryIntervalSeconds: timing.queryIntervalSeconds)
        }
        emit(.sendQuery(query, destination: context.group))
        emit(.count(.sentGroupQuery))
        groupQueriesLeft -= 1
        nextGroupQuery = groupQueriesLeft > 0 ? saturatingSum(time, max(timing.lastMemberQueryInterval, 1)) : 0
    }

    /// Forgets pending retransmissions (this router stopped being the querier).
    mutating func cancelQueries() {
        groupQueriesLeft = 0
        nextGroupQuery = 0
        nextSourceQuery = 0
        for index in sources.indices { sources[index].retransmissions = 0 }
    }

    // MARK: Queries heard (§6.6.1)

    /// A query heard with S clear: Q(G) lowers the group timer, Q(G,A) the timers of
    /// the sources in A, to `lowered`. Returns whether any timer changed.
    mutating func lowerTimers<Sources: RandomAccessCollection<IPv4Address>>(
        for queried: Sources, to lowered: UInt64
    ) -> Bool {
        var changed = false
        if queried.isEmpty {
            if mode == .exclude && groupExpires > lowered {
                groupExpires = lowered
                changed = true
            }
            return changed
        }
        for address in queried {
            let (found, index) = find(address)
            if found && sources[index].expires > lowered {
                sources[index].expires = lowered
                changed = true
            }
        }
        return changed
    }

    // MARK: Timers (§6.5, §6.3)

    /// Processes everything due up to `now`, in time order. Group timer expiry in
    /// EXCLUDE mode switches to INCLUDE with the sources whose timers still run and
    /// deletes the rest (§6.5); an expired source is deleted in INCLUDE mode and
    /// kept with timer zero ("excluded") in EXCLUDE mode (§6.3). The caller deletes
    /// the group when it ends up INCLUDE({}).
    mutating func advance(to now: UInt64, _ context: GroupContext, _ emit: (MembershipAction) -> Void) {
        while true {
            let time = nextEvent
            guard time <= now else { return }
            if mode == .exclude && groupExpires != 0 && groupExpires <= time {
                removeSources { $0.expires == 0 || $0.expires <= time }
                setMode(.include)
                groupExpires = 0
                groupQueriesLeft = 0
                nextGroupQuery = 0
                if !sources.isEmpty { emit(.count(.groupToInclude)) }
            }
            var expiredInInclude = false
            for index in sources.indices where sources[index].expires != 0 && sources[index].expires <= time {
                emit(.count(.sourceExpired))
                if mode == .exclude { setTimer(at: index, 0) } else { expiredInInclude = true }
            }
            if expiredInInclude { removeSources { $0.expires <= time } }
            if nextGroupQuery != 0 && nextGroupQuery <= time {
                if context.isQuerier { transmitGroupQuery(at: time, context, emit) } else { nextGroupQuery = 0 }
            }
            if nextSourceQuery != 0 && nextSourceQuery <= time {
                if context.isQuerier { transmitSourceQueries(at: time, context, emit) } else { nextSourceQuery = 0 }
            }
        }
    }
}
