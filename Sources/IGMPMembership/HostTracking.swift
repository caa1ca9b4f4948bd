import IGMPWire

/// One reporting host of a group, tracked explicitly (beyond RFC 3376 §6, which
/// keeps no per-host state): what the host itself asks for — its own filter mode
/// and source list, rebuilt from its records the way the host builds its
/// interface state (§3.2) — its MAC, and its own timer (GMI from its last report).
///
/// Hosts are keyed by IP address: hosts behind one address (NAT) are one host.
struct HostRecord: Sendable, Hashable {
    var address: IPv4Address
    /// The source MAC of the host's last accepted report (nil on L3 links).
    var mac: MACAddress?
    /// When this record expires unless the host reports again (nanoseconds).
    var expires: UInt64
    var mode: FilterMode
    /// Ascending.
    var sources: [IPv4Address]

    /// True when the host asks for nothing: INCLUDE({}), which is no record.
    var isEmpty: Bool { mode == .include && sources.isEmpty }

    /// Applies one record of the host's to its own state: IS_IN/TO_IN(B) make
    /// INCLUDE(B), IS_EX/TO_EX(B) EXCLUDE(B), ALLOW adds to an INCLUDE list (or
    /// takes from an EXCLUDE list), BLOCK the other way round.
    mutating func apply<Sources: RandomAccessCollection<IPv4Address>>(_ type: GroupRecordType, _ records: Sources) {
        switch type {
        case .isInclude, .toInclude:
            mode = .include
            replaceSources(with: records)
        case .isExclude, .toExclude:
            mode = .exclude
            replaceSources(with: records)
        case .allowNewSources:
            if mode == .include { add(records) } else { remove(records) }
        case .blockOldSources:
            if mode == .include { remove(records) } else { add(records) }
        }
    }

    /// Replaces the list, without allocating when it is unchanged (the common
    /// refresh: a current-state record repeating what the host said before).
    private mutating func replaceSources<Sources: RandomAccessCollection<IPv4Address>>(with records: Sources) {
        if records.isEmpty {
            if !sources.isEmpty { sources.removeAll() }
            return
        }
        if records.count == sources.count && records.allSatisfy({ contains($0) }) { return }
        sources = Array(Set(records)).sorted()
    }

    private mutating func add<Sources: RandomAccessCollection<IPv4Address>>(_ records: Sources) {
        for address in records where !contains(address) {
            sources.insert(address, at: sources.firstIndex(where: { $0 > address }) ?? sources.endIndex)
        }
    }

    private mutating func remove<Sources: RandomAccessCollection<IPv4Address>>(_ records: Sources) {
        guard records.contains(where: { contains($0) }) else { return }
        sources.removeAll { records.contains($0) }
    }

    func contains(_ address: IPv4Address) -> Bool {
        var low = 0
        var high = sources.count
        while low < high {
            let middle = (low + high) / 2
            if sources[middle] == address { return true }
            if sources[middle] < address { low = middle + 1 } else { high = middle }
        }
        return false
    }

    /// Whether the host wants traffic from `source`.
    func wants(_ source: IPv4Address) -> Bool {
        mode == .include ? contains(source) : !contains(source)
    }
}

/// What tracking made of one record.
enum HostTrackingOutcome {
    /// The host's record was created, updated or removed.
    case tracked
    /// A leave (TO_IN, BLOCK) whose source MAC differs from the host's record:
    /// the record stays as it was.
    case macMismatch
    /// The group already tracks ``MembershipLimits/maxHostsPerGroup`` hosts: this one
    /// is not tracked, and fast leave is off for the group until it could be again.
    case overLimit
}

extension GroupEntry {
    /// Records what `host` asked for with this record. `gmi` is when its record
    /// expires; expired records are dropped first.
    mutating func track<Sources: RandomAccessCollection<IPv4Address>>(
        _ type: GroupRecordType, _ records: Sources, host: IPv4Address, mac: MACAddress?,
        now: UInt64, gmi: UInt64, limit: Int
    ) -> HostTrackingOutcome {
        if hosts.contains(where: { $0.expires <= now }) { hosts.removeAll { $0.expires <= now } }
        let isLeave = type == .toInclude || type == .blockOldSources
        if let index = hosts.firstIndex(where: { $0.address == host }) {
            if isLeave, let known = hosts[index].mac, let mac, known != mac { return .macMismatch }
            hosts[index].apply(type, records)
            if let mac { hosts[index].mac = mac }
            hosts[index].expires = gmi
            if hosts[index].isEmpty { hosts.remove(at: index) }
            return .tracked
        }
        var record = HostRecord(address: host, mac: mac, expires: gmi, mode: .include, sources: [])
        record.apply(type, records)
        guard !record.isEmpty else { return .tracked }
        guard hosts.count < limit else {
            untrackedUntil = max(untrackedUntil, gmi)
            return .overLimit
        }
        hosts.append(record)
        return .tracked
    }

    /// Fast leave after a leave-type record (RFC 3376 has none; the tracked
    /// hosts make it safe): the group's state becomes what the tracked hosts
    /// still ask for, at once and with no last-member queries. With no host
    /// left the group empties (the table deletes it); sources no host asks for
    /// go; what others still ask for keeps (or gets back) the timers their own
    /// reports set, and the queries the leave started are cancelled. Returns
    /// whether forwarding was cut.
    mutating func fastLeave(now: UInt64, _ emit: (MembershipAction) -> Void) -> Bool {
        hosts.removeAll { $0.expires <= now }
        let cutBefore = filterState
        if hosts.isEmpty {
            if mode == .exclude || !sources.isEmpty {
                noteChange()
                mode = .include
                sources.removeAll()
            }
            groupExpires = 0
            cancelQueries()
        } else if hosts.contains(where: { $0.mode == .exclude }) {
            // Someone still wants every source but its excluded ones: the group
            // timer runs as long as the latest EXCLUDE host's record.
            guard mode == .exclude else { return false }
            let latest = hosts.lazy.filter { $0.mode == .exclude }.map(\.expires).max() ?? groupExpires
            groupExpires = max(groupExpires, latest)
            groupQueriesLeft = 0
            nextGroupQuery = 0
            restoreWantedSources()
        } else {
            // Only INCLUDE hosts: exactly the sources they ask for.
            if mode == .exclude {
                noteChange()
                mode = .include
                groupExpires = 0
                groupQueriesLeft = 0
                nextGroupQuery = 0
            }
            let tracked = hosts
            removeSources { source in !tracked.contains { $0.wants(source.address) } }
            restoreWantedSources()
        }
        let cut = cutBefore != filterState
        if cut { emit(.count(.fastLeave)) }
        return cut
    }

    /// Gives each source a tracked host wants the timer of that host's latest
    /// record (a leave's Q(G,S) lowered it) and cancels its retransmissions.
    private mutating func restoreWantedSources() {
        for index in sources.indices {
            let address = sources[index].address
            var latest: UInt64 = 0
            for host in hosts where host.wants(address) && host.expires > latest { latest = host.expires }
            guard latest != 0 else { continue }
            if sources[index].expires != 0 || mode == .include {
                if sources[index].expires < latest { setTimer(at: index, latest) }
            }
            sources[index].retransmissions = 0
        }
        if !sources.contains(where: { $0.retransmissions > 0 }) { nextSourceQuery = 0 }
    }
}
