import IGMPMembership
import IGMPWire
import Testing
import XigmpTestSupport

/// Source `n` of the test tables: 10.1.0.n.
func s(_ n: UInt8) -> IPv4Address { IPv4Address(10, 1, 0, n) }

/// Sources from numbers.
func sources(_ numbers: [UInt8]) -> [IPv4Address] { numbers.map(s) }

let group = ip("239.1.1.1")
let group2 = ip("239.2.2.2")
let host = ip("192.168.1.10")
let host2 = ip("192.168.1.11")
let routerAddress = ip("192.168.1.5")

/// A time in (fractional) seconds.
func at(_ seconds: Double) -> MembershipTime {
    MembershipTime(nanoseconds: UInt64((seconds * 1e9).rounded()))
}

/// Everything the engines emitted, in order.
struct Recorded {
    var actions: [MembershipAction] = []

    var queries: [IGMPQuery] {
        actions.compactMap { if case .sendQuery(let query, _) = $0 { query } else { nil } }
    }
    var destinations: [IPv4Address] {
        actions.compactMap { if case .sendQuery(_, let destination) = $0 { destination } else { nil } }
    }
    var changes: [MembershipChange] {
        actions.compactMap { if case .membershipChanged(let change) = $0 { change } else { nil } }
    }
    var querierChanges: [QuerierStatus] {
        actions.compactMap { if case .querierChanged(let status) = $0 { status } else { nil } }
    }
    func count(_ counter: MembershipCounter) -> Int {
        actions.filter { $0 == .count(counter) }.count
    }
    mutating func callAsFunction(_ action: MembershipAction) { actions.append(action) }
}

/// A table with `configuration`, as querier unless told otherwise.
func makeTable(_ configuration: MembershipConfiguration = MembershipConfiguration(),
               querier: Bool = true) -> MembershipTable {
    do {
        var table = try MembershipTable(configuration: configuration)
        table.setQuerier(querier)
        return table
    } catch {
        fatalError("test configuration rejected: \(error)")
    }
}

extension MembershipTable {
    /// Applies one record and returns what was emitted.
    @discardableResult
    mutating func record(_ type: GroupRecordType, _ numbers: [UInt8], group: IPv4Address = group,
                         from reporter: IPv4Address = host, at time: Double) -> Recorded {
        var recorded = Recorded()
        receiveRecord(type, group: group, sources: sources(numbers), from: reporter, at: at(time)) { recorded($0) }
        return recorded
    }

    /// Applies a message and returns what was emitted.
    @discardableResult
    mutating func message(_ message: IGMPMessage, from reporter: IPv4Address = host, at time: Double) -> Recorded {
        var recorded = Recorded()
        handle(message, from: reporter, at: at(time)) { recorded($0) }
        return recorded
    }

    /// Runs timers to `time`.
    @discardableResult
    mutating func advance(to time: Double) -> Recorded {
        var recorded = Recorded()
        tick(at: at(time)) { recorded($0) }
        return recorded
    }

    /// The group's snapshot at `time`.
    func groupSnapshot(_ group: IPv4Address = group, at time: Double) -> GroupSnapshot? {
        snapshot(at: at(time)).groups.first { $0.group == group }
    }

    /// Source number → remaining seconds (rounded to ms) of the group at `time`.
    func timers(_ group: IPv4Address = group, at time: Double) -> [UInt8: Double] {
        guard let snapshot = groupSnapshot(group, at: time) else { return [:] }
        var result: [UInt8: Double] = [:]
        for source in snapshot.sources {
            result[source.address.octets.3] = (source.timerSeconds * 1000).rounded() / 1000
        }
        return result
    }
}
