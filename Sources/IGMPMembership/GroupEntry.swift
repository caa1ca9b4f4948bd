import IGMPWire

/// One source record (RFC 3376 §6.2.3): its timer and, while it is being queried,
/// its retransmission count (§6.6.3.2).
struct SourceEntry: Sendable, Hashable {
    var address: IPv4Address
    /// Source timer expiry in nanoseconds; 0 means the timer is zero — in
    /// EXCLUDE mode the source is on the "excluded" list.
    var expires: UInt64
    /// Group-and-source-specific queries still to include this source in.
    var retransmissions: UInt8 = 0
}

/// What the group-level code needs besides the entry itself.
struct GroupContext {
    var group: IPv4Address
    var now: UInt64
    var timing: Timing
    var isQuerier: Bool
}

/// The router state of one group (RFC 3376 §6.2): filter mode, group timer, source
/// records, older-version-host-present timers (§7.3.2) and the retransmission
/// state of group(-and-source)-specific queries (§6.6.3). All times in nanoseconds;
/// 0 means "not running".
///
/// Every change that alters the forwarding state (§6.3) goes through the helpers
/// below, which capture the state before the first such change in ``before`` so
/// the table can report old and new — allocating only when something changes.
struct GroupEntry: Sendable {
    var mode: FilterMode = .include
    /// Group timer expiry (EXCLUDE mode only; §6.2.2).
    var groupExpires: UInt64 = 0
    /// Source records, ascending by address.
    var sources: [SourceEntry] = []
    var v1HostExpires: UInt64 = 0
    var v2HostExpires: UInt64 = 0
    /// Group-specific queries still to send, and when the next one is due.
    var groupQueriesLeft: UInt8 = 0
    var nextGroupQuery: UInt64 = 0
    /// When the next group-and-source-specific retransmission is due.
    var nextSourceQuery: UInt64 = 0
    /// Start of the current Query Interval window for the Q(G,S) cap, and the
    /// actions started in it.
    var sourceQueryWindowStart: UInt64 = 0
    var sourceQueriesInWindow: Int = 0
    /// The host whose report last touched the group.
    var lastReporter: IPv4Address = .any
    /// The reporting hosts, tracked explicitly (``HostRecord``), in arrival order.
    var hosts: [HostRecord] = []
    /// Until when a host went untracked (``MembershipLimits/maxHostsPerGroup``):
    /// fast leave is off for the group until then (0: never).
    var untrackedUntil: UInt64 = 0
    /// Forwarding state before the first change of the current operation.
    var before: GroupFilterState?

    /// The forwarding state (§6.3): INCLUDE(all sources) or EXCLUDE(excluded sources).
    var filterState: GroupFilterState {
        var addresses: [IPv4Address] = []
        for source in sources where mode == .include || source.expires == 0 {
            addresses.append(source.address)
        }
        return GroupFilterState(mode: mode, sources: addresses)
    }

    /// True when nothing is left: INCLUDE with no sources (§6.5: delete the record).
    var isEmpty: Bool { mode == .include && sources.isEmpty }

    /// The group compatibility mode at `now` (§7.3.2).
    func compatibility(at now: UInt64) -> IGMPVersion {
        if v1HostExpires > now { return .v1 }
        if v2HostExpires > now { return .v2 }
        return .v3
    }

    /// The earliest time something is due; UInt64.max when nothing is.
    var nextEvent: UInt64 {
        var next = UInt64.max
        if mode == .exclude && groupExpires != 0 { next = groupExpires }
        for source in sources where source.expires != 0 && source.expires < next { next = source.expires }
        if nextGroupQuery != 0 && nextGroupQuery < next { next = nextGroupQuery }
        if nextSourceQuery != 0 && nextSourceQuery < next { next = nextSourceQuery }
        return next
    }

    // MARK: Mutation helpers

    mutating func noteChange() {
        if before == nil { before = filterState }
    }

    /// Binary search: the index of `address`, or where it would be inserted.
    func find(_ address: IPv4Address) -> (found: Bool, index: Int) {
        var low = 0
        var high = sources.count
        while low < high {
            let middle = (low + high) / 2
            let value = sources[middle].address
            if value == address { return (true, middle) }
            if value < address { low = middle + 1 } else { high = middle }
        }
        return (false, low)
    }

    func contains(_ address: IPv4Address) -> Bool { find(address).found }

    mutating func setMode(_ newMode: FilterMode) {
        guard newMode != mode else { return }
        noteChange()
        mode = newMode
    }

    /// Sets the timer of an existing source.
    mutating func setTimer(at index: Int, _ expires: UInt64) {
        if mode == .exclude && (sources[index].expires == 0) != (expires == 0) { noteChange() }
        sources[index].expires = expires
        if expires == 0 { sources[index].retransmissions = 0 }
    }

    /// Sets `address`'s timer, creating the record if needed: the "(A)=GMI" actions.
    mutating func setTimer(_ address: IPv4Address, _ expires: UInt64, _ context: GroupContext,
                           _ emit: (MembershipAction) -> Void) {
        let (found, index) = find(address)
        if found {
            setTimer(at: index, expires)
        } else {
            insert(address, expires, at: index, context, emit)
        }
    }

    /// Creates `address` with `expires` unless it exists: the "(B-A)=0" and
    /// "(A-X-Y)=…" actions, which leave existing records alone.
    mutating func addIfMissing(_ address: IPv4Address, _ expires: UInt64, _ context: GroupContext,
                               _ emit: (MembershipAction) -> Void) {
        let (found, index) = find(address)
        if !found { insert(address, expires, at: index, context, emit) }
    }

    private mutating func insert(_ address: IPv4Address, _ expires: UInt64, at index: Int,
                                 _ context: GroupContext, _ emit: (MembershipAction) -> Void) {
        guard sources.count < context.timing.limits.maxSourcesPerGroup else {
            emit(.count(.droppedSourceLimit))
            return
        }
        if mode == .include || expires == 0 { noteChange() }
        sources.insert(SourceEntry(address: address, expires: expires), at: index)
    }

    /// Deletes every source record for which `remove` is true: the "Delete (…)" actions.
    mutating func removeSources(where remove: (SourceEntry) -> Bool) {
        // Capture the old state before the compaction below starts moving records.
        if sources.contains(where: { remove($0) && (mode == .include || $0.expires == 0) }) { noteChange() }
        var kept = 0
        for index in sources.indices {
            let source = sources[index]
            if !remove(source) {
                if kept != index { sources[kept] = source }
                kept += 1
            }
        }
        if kept < sources.count { sources.removeSubrange(kept...) }
    }
}
