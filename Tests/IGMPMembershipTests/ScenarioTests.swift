import IGMPMembership
import IGMPWire
import Testing
import XigmpTestSupport

/// End to end in simulated time: a router (querier + table) and hosts answering
/// its general queries, driven only through `nextDeadline`.
@Suite struct ScenarioTests {
    /// A host that answers each general query after `delay` seconds (within Max
    /// Resp, RFC 3376 §5.2) until `silentFrom`.
    struct Host {
        var address: IPv4Address
        var report: IGMPMessage
        var delay: Double
        var silentFrom: Double
    }

    struct Outcome {
        var lastReport: Double = -1
        var deletedAt: Double?
        var changes: [(Double, MembershipChange)] = []
        var generalQueries: [Double] = []
    }

    /// Runs the router and `hosts` until `end`.
    func simulate(_ hosts: [Host], until end: Double,
                  configuration: MembershipConfiguration = MembershipConfiguration()) -> Outcome {
        var router = makeRouter(configuration)
        var outcome = Outcome()
        var pending: [(time: Double, host: Host)] = []
        // Every host reports once when it starts (an unsolicited join) at t = 1.
        for host in hosts { pending.append((1, host)) }
        var now = 0.0
        var steps = 0
        while now <= end {
            steps += 1
            if steps > 100_000 {
                Issue.record("the simulation does not advance (stuck at \(now) s)")
                break
            }
            let routerNext = router.nextDeadline.map { Double($0.nanoseconds) / 1e9 } ?? .infinity
            let hostNext = pending.map(\.time).min() ?? .infinity
            now = min(routerNext, hostNext)
            guard now <= end else { break }
            var step = Recorded()
            if hostNext <= routerNext, let index = pending.firstIndex(where: { $0.time == hostNext }) {
                let (_, host) = pending.remove(at: index)
                router.handle(host.report, from: host.address, to: host.report.defaultDestination, at: at(now)) { step($0) }
                outcome.lastReport = now
            } else {
                router.tick(at: at(now)) { step($0) }
            }
            for query in step.queries where query.isGeneral {
                outcome.generalQueries.append(now)
                for host in hosts where now < host.silentFrom {
                    pending.append((now + host.delay, host))
                }
            }
            for change in step.changes {
                outcome.changes.append((now, change))
                if !change.new.hasMembers { outcome.deletedAt = now }
            }
        }
        return outcome
    }

    @Test("membership survives query cycles and expires on silence within GMI",
          arguments: [IGMPMessage.v2Report(group: group), .v1Report(group: group),
                      .v3Report([GroupRecord(type: .isExclude, group: group)])])
    func survivesAndExpires(report: IGMPMessage) {
        let hosts = [Host(address: host, report: report, delay: 7.5, silentFrom: 1000)]
        let outcome = simulate(hosts, until: 2000)
        // Joined once, left once: no flapping over ~8 query cycles.
        #expect(outcome.changes.count == 2)
        #expect(outcome.changes.first?.1.old == GroupFilterState.none)
        #expect(outcome.generalQueries.prefix(3) == [0, 31.25, 156.25])
        // The last answer was to the last query before silence; the group went
        // exactly one Group Membership Interval (260 s) later — never earlier.
        #expect(outcome.lastReport == 906.25 + 7.5)
        #expect(outcome.deletedAt == outcome.lastReport + 260)
    }

    @Test("two hosts: the group stays while either answers; the silent one's leave does not drop the other")
    func twoHosts() {
        let hosts = [
            Host(address: host, report: .v2Report(group: group), delay: 2, silentFrom: 300),
            Host(address: host2, report: .v2Report(group: group), delay: 9, silentFrom: 700),
        ]
        let outcome = simulate(hosts, until: 1500)
        #expect(outcome.changes.count == 2)
        #expect(outcome.deletedAt == outcome.lastReport + 260)
        #expect(outcome.lastReport == 656.25 + 9)
    }

    @Test("tuned timers: RV 3, QI 20 s, QRI 5 s → GMI 65 s")
    func tuned() {
        let configuration = MembershipConfiguration(robustness: 3, queryInterval: .seconds(20),
                                                    queryResponseInterval: .seconds(5))
        let hosts = [Host(address: host, report: .v2Report(group: group), delay: 4, silentFrom: 100)]
        let outcome = simulate(hosts, until: 400, configuration: configuration)
        #expect(outcome.changes.count == 2)
        #expect(outcome.deletedAt == outcome.lastReport + 65)
    }
}
