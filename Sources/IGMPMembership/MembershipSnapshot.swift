import IGMPWire

/// The membership table as `xigmp groups --json` shows it: timers as seconds
/// remaining (Double) at the time the snapshot was taken.
public struct MembershipSnapshot: Sendable, Hashable, Codable {
    /// The groups, ascending by address.
    public var groups: [GroupSnapshot]

    /// Creates a snapshot.
    public init(groups: [GroupSnapshot]) { self.groups = groups }
}

/// One group of a ``MembershipSnapshot`` (RFC 3376 §6.2).
public struct GroupSnapshot: Sendable, Hashable, Codable {
    /// The group address.
    public var group: IPv4Address
    /// The filter mode.
    public var filterMode: FilterMode
    /// Seconds until the group timer expires; nil in INCLUDE mode, where it is unused (§6.2.2).
    public var groupTimerSeconds: Double?
    /// The source records, ascending.
    public var sources: [SourceSnapshot]
    /// Group compatibility mode (§7.3.2): `"v1"`, `"v2"` or `"v3"`.
    public var compatibilityMode: String
    /// The host whose report last touched the group.
    public var lastReporter: IPv4Address
    /// The tracked reporting hosts, ascending by address.
    public var hosts: [HostSnapshot]
    /// True while a host of the group is not tracked (``MembershipLimits/maxHostsPerGroup``):
    /// fast leave is off for it.
    public var hostsUntracked: Bool

    /// Creates a group snapshot.
    public init(group: IPv4Address, filterMode: FilterMode, groupTimerSeconds: Double?,
                sources: [SourceSnapshot], compatibilityMode: String, lastReporter: IPv4Address,
                hosts: [HostSnapshot] = [], hostsUntracked: Bool = false) {
        self.group = group
        self.filterMode = filterMode
        self.groupTimerSeconds = groupTimerSeconds
        self.sources = sources
        self.compatibilityMode = compatibilityMode
        self.lastReporter = lastReporter
        self.hosts = hosts
        self.hostsUntracked = hostsUntracked
    }
}

/// One tracked host of a ``GroupSnapshot``: what it asks for itself.
public struct HostSnapshot: Sendable, Hashable, Codable {
    /// The host's IP address (hosts behind one address are one host).
    public var address: IPv4Address
    /// The source MAC of its last accepted report, `aa:bb:cc:dd:ee:ff`; nil on L3 links.
    public var mac: String?
    /// The host's own filter mode.
    public var filterMode: FilterMode
    /// The sources it includes (INCLUDE) or excludes (EXCLUDE), ascending.
    public var sources: [IPv4Address]
    /// Seconds until its record expires unless it reports again.
    public var timerSeconds: Double

    /// Creates a host snapshot.
    public init(address: IPv4Address, mac: String?, filterMode: FilterMode, sources: [IPv4Address],
                timerSeconds: Double) {
        self.address = address
        self.mac = mac
        self.filterMode = filterMode
        self.sources = sources
        self.timerSeconds = timerSeconds
    }
}

/// One source record of a ``GroupSnapshot`` (RFC 3376 §6.2.3).
public struct SourceSnapshot: Sendable, Hashable, Codable {
    /// The source address.
    public var address: IPv4Address
    /// Seconds until the source timer expires; 0 for an excluded source.
    public var timerSeconds: Double
    /// Whether traffic from it is forwarded (§6.3: timer above zero).
    public var forwarding: Bool

    /// Creates a source snapshot.
    public init(address: IPv4Address, timerSeconds: Double, forwarding: Bool) {
        self.address = address
        self.timerSeconds = timerSeconds
        self.forwarding = forwarding
    }
}

extension MembershipTable {
    /// The table at `now` (call ``tick(at:_:)`` first for fully current state).
    public func snapshot(at now: MembershipTime) -> MembershipSnapshot {
        let time = now.nanoseconds
        func seconds(_ expires: UInt64) -> Double {
            expires > time ? Double(expires - time) / 1e9 : 0
        }
        let groups = self.groups.sorted { $0.key < $1.key }.map { group, entry in
            GroupSnapshot(
                group: group, filterMode: entry.mode,
                groupTimerSeconds: entry.mode == .exclude ? seconds(entry.groupExpires) : nil,
                sources: entry.sources.map {
                    SourceSnapshot(address: $0.address, timerSeconds: seconds($0.expires), forwarding: $0.expires > time)
                },
                compatibilityMode: entry.compatibility(at: time).description,
                lastReporter: entry.lastReporter,
                hosts: entry.hosts.filter { $0.expires > time }.sorted { $0.address < $1.address }.map {
                    HostSnapshot(address: $0.address, mac: $0.mac?.description, filterMode: $0.mode,
                                 sources: $0.sources, timerSeconds: seconds($0.expires))
                },
                hostsUntracked: entry.untrackedUntil > time)
        }
        return MembershipSnapshot(groups: groups)
    }
}
