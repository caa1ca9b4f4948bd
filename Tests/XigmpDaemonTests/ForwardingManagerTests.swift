import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import IGMPMembership
import IGMPProxy
import IGMPWire
import Logging
import Prometheus
import Testing
import XigmpConfig
@testable import XigmpDaemon
import XigmpTestSupport

/// A backend with one route table whose rows say their path, as the XDP/TC
/// datapath has: XDP unless an egress refuses redirected frames, else TC.
/// Records every call, in order.
final class FakeBackend: ForwardingBackend {
    let log: CallLog
    /// Egress names XDP cannot transmit to (bridges): those routes go TC.
    var refuses: Set<String> = []
    var failSet = false
    private(set) var table: [RouteKey: (path: String, out: [String])] = [:]
    private(set) var closed = false

    init(_ log: CallLog) { self.log = log }

    func set(_ key: RouteKey, incoming: NetworkInterface, outgoing: [NetworkInterface]) throws(DatapathError) -> String {
        if failSet { throw DatapathError(.limitReached, "route map full") }
        let path = outgoing.contains { refuses.contains($0.name) } ? "tc" : "xdp"
        table[key] = (path, outgoing.map(\.name))
        log.calls.append("set \(key.group) \(path) \(outgoing.map(\.name).joined(separator: ","))")
        return path
    }
    func remove(_ key: RouteKey, incoming: NetworkInterface) throws(DatapathError) {
        if table.removeValue(forKey: key) != nil { log.calls.append("remove \(key.group)") }
    }
    func counters() -> [RouteKey: (packets: UInt64, bytes: UInt64)] { [:] }
    func close() { closed = true }
    /// Provisional entries "in the kernel" for confirmProvisional.
    var provisional: [IPv4Address] = []
    func provision(from outside: NetworkInterface?, groups: [IPv4Prefix]) throws(DatapathError) {
        log.calls.append("provision \(outside?.name ?? "none") \(groups.map(\.description).joined(separator: ","))")
    }
    func confirmProvisional(stampedBefore cutoff: UInt64,
                            isRouted: (UInt32, IPv4Address) -> Bool) -> (confirmed: Int, removed: Int) {
        let routed = provisional.filter { isRouted(2, $0) }.count
        log.calls.append("confirm \(routed) of \(provisional.count)")
        defer { provisional = [] }
        return (routed, provisional.count - routed)
    }
}

final class CallLog { var calls: [String] = [] }

private let g1 = IPv4Address(239, 1, 1, 1), g2 = IPv4Address(239, 2, 2, 2)
private let known = [NetworkInterface(name: "po", index: 2), NetworkInterface(name: "pi", index: 3),
                     NetworkInterface(name: "br0", index: 4)]

private func manager(unmatched: DaemonConfig.Forwarding.Unmatched = .drop,
                     groups: [IPv4Prefix]? = nil,
                     registry: PrometheusCollectorRegistry = PrometheusCollectorRegistry()) -> (ForwardingManager, FakeBackend, CallLog) {
    let log = CallLog()
    let backend = FakeBackend(log)
    backend.refuses = ["br0"]
    let metrics = ProxyMetrics(registry: registry, interfaces: [:])
    let m = ForwardingManager(settings: DaemonConfig.Forwarding(mode: .xdp, unmatched: unmatched, groups: groups), statics: [],
                              backend: backend, logger: Logger(label: "test"), metrics: metrics,
                              knownInterfaces: known)
    return (m, backend, log)
}

private let any = GroupFilterState(mode: .exclude)
private func star(_ g: IPv4Address) -> RouteKey { RouteKey(source: nil, group: g, incoming: "po") }

@Suite("Forwarding manager: paths, moves in place, ordering")
struct ForwardingManagerTests {
    @Test("an entry XDP can serve goes to XDP; one with a bridge egress to TC; the path the backend used is recorded")
    func choosesPaths() {
        let (m, backend, _) = manager()
        m.update(group: g1, states: ["pi": any], incoming: "po", now: 0)
        m.update(group: g2, states: ["pi": any, "br0": any], incoming: "po", now: 0)
        #expect(backend.table[star(g1)]?.path == "xdp" && backend.table[star(g1)]?.out == ["pi"])
        #expect(backend.table[star(g2)]?.path == "tc" && backend.table[star(g2)]?.out == ["br0", "pi"])
        #expect(m.installed[star(g1)]?.path == "xdp" && m.installed[star(g2)]?.path == "tc")
    }

    @Test("per-group updates end where a full recompute does")
    func perGroupMatchesFull() {
        let (a, _, _) = manager(), (b, _, _) = manager()
        a.update(group: g1, states: ["pi": any], incoming: "po", now: 0)
        a.update(group: g2, states: ["br0": GroupFilterState(mode: .include, sources: [IPv4Address(10, 0, 0, 1)])],
                 incoming: "po", now: 0)
        a.update(group: g1, states: [:], incoming: "po", now: 0)
        b.update(memberships: ["br0": [(g2, GroupFilterState(mode: .include, sources: [IPv4Address(10, 0, 0, 1)]))]],
                 incoming: "po", now: 0)
        #expect(a.plan == b.plan)
        #expect(Set(a.installed.keys) == Set(b.installed.keys))
    }

    @Test("tc → xdp: the row is rewritten in place, never removed in between")
    func tcToXDP() {
        let (m, backend, log) = manager()
        m.update(group: g1, states: ["pi": any, "br0": any], incoming: "po", now: 0)
        log.calls = []
        m.update(group: g1, states: ["pi": any], incoming: "po", now: 0)
        #expect(log.calls == ["set 239.1.1.1 xdp pi"])
        #expect(backend.table[star(g1)]?.path == "xdp" && m.installed[star(g1)]?.path == "xdp")
    }

    @Test("xdp → tc: the row is rewritten in place, never removed in between")
    func xdpToTC() {
        let (m, backend, log) = manager()
        m.update(group: g1, states: ["pi": any], incoming: "po", now: 0)
        log.calls = []
        m.update(group: g1, states: ["pi": any, "br0": any], incoming: "po", now: 0)
        #expect(log.calls == ["set 239.1.1.1 tc br0,pi"])
        #expect(backend.table[star(g1)]?.path == "tc" && m.installed[star(g1)]?.path == "tc")
    }

    @Test("the last member gone removes the entry; removeAll leaves no row and closes the backend")
    func removal() {
        let (m, backend, log) = manager()
        m.update(group: g1, states: ["br0": any], incoming: "po", now: 0)
        m.update(group: g2, states: ["pi": any], incoming: "po", now: 0)
        log.calls = []
        m.update(group: g1, states: [:], incoming: "po", now: 0)
        #expect(log.calls == ["remove 239.1.1.1"])
        m.removeAll()
        #expect(backend.table.isEmpty && m.installed.isEmpty && backend.closed)
    }

    @Test("an entry the backend failed to install stays known, so its removal still happens; the failure is counted and shown")
    func failedSet() {
        let registry = PrometheusCollectorRegistry()
        let (m, backend, _) = manager(registry: registry)
        #expect(m.problem == nil)
        backend.failSet = true
        m.update(group: g1, states: ["br0": any], incoming: "po", now: 0)
        #expect(m.installed[star(g1)] != nil)
        #expect(m.errorCount == 1)
        #expect(registry.emitToString().split(separator: "\n").contains("xigmp_forwarding_errors_total 1"),
                "the failure is counted in the metrics")
        #expect(m.problem?.contains("1 operation refused") == true && m.problem?.contains("route map full") == true,
                "the failure is shown, not only logged: \(m.problem ?? "nil")")
        backend.failSet = false
        m.update(group: g2, states: ["pi": any], incoming: "po", now: 0)
        m.update(group: g1, states: [:], incoming: "po", now: 0)
        #expect(m.installed[star(g1)] == nil && backend.table[star(g1)] == nil)
        #expect(m.errorCount == 1, "later successes add no error")
    }
}

@Suite("Forwarding manager: forwarding.groups and provisional entries")
struct ProvisionalManagerTests {
    @Test("a join for a group forwarding.groups leaves out gets no entry; one inside it does")
    func groupFilter() throws {
        let (m, backend, _) = manager(groups: [IPv4Prefix("239.1.0.0/16")!])
        m.update(group: g2, states: ["pi": any], incoming: "po", now: 1)
        #expect(backend.table.isEmpty)
        m.update(group: g1, states: ["pi": any], incoming: "po", now: 2)
        #expect(backend.table[star(g1)]?.out == ["pi"])
        m.update(memberships: ["pi": [(group: g1, state: any), (group: g2, state: any)]], incoming: "po", now: 3)
        #expect(Set(backend.table.keys) == [star(g1)])
    }

    @Test("the allow tables follow the active outside with forwarding.groups, every group without it")
    func allowTables() throws {
        let (m, _, log) = manager(groups: [IPv4Prefix("239.1.0.0/16")!])
        m.update(memberships: [:], incoming: "po", now: 1)
        m.update(memberships: [:], incoming: nil, now: 2)
        #expect(log.calls == ["provision po 239.1.0.0/16", "provision none 239.1.0.0/16"])
        let (all, _, allLog) = manager()
        all.update(memberships: [:], incoming: "po", now: 1)
        #expect(allLog.calls == ["provision po 224.0.0.0/4"])
    }

    @Test("a batch's entries go: confirmed where a (*,G) route stands, removed where the join got none")
    func confirm() throws {
        let (m, backend, log) = manager(groups: [IPv4Prefix("239.1.0.0/16")!])
        m.update(memberships: [:], incoming: "po", now: 1)
        m.update(group: g1, states: ["pi": any], incoming: "po", now: 2)
        m.update(group: g2, states: ["pi": any], incoming: "po", now: 3)
        backend.provisional = [g1, g2]
        m.confirmProvisional(stampedBefore: 4)
        #expect(log.calls.last == "confirm 1 of 2")
    }
}
