import IGMPMembership
import IGMPProxy
import IGMPWire
import Logging
import Prometheus
import Testing
import XDPDatapath
import XigmpConfig
@testable import XigmpDaemon

/// Records every call, in order, into a log shared by both fake paths.
final class FakePath: ForwardingBackend {
    let path: String
    let log: CallLog
    /// Egress names this path cannot transmit to (the XDP path's bridges).
    var refuses: Set<String> = []
    var failPassToKernel = false
    private(set) var entries: [RouteKey: [String]] = [:]
    private(set) var kernelRows: Set<RouteKey> = []

    init(_ path: String, _ log: CallLog) {
        self.path = path
        self.log = log
    }

    func set(_ key: RouteKey, incoming: NetworkInterface, outgoing: [NetworkInterface]) throws(DatapathError) {
        entries[key] = outgoing.map(\.name)
        kernelRows.remove(key)
        log.calls.append("\(path) set \(key.group) \(outgoing.map(\.name).joined(separator: ","))")
    }
    func remove(_ key: RouteKey, incoming: NetworkInterface) throws(DatapathError) {
        let had = entries.removeValue(forKey: key) != nil || kernelRows.remove(key) != nil
        if had { log.calls.append("\(path) remove \(key.group)") }
    }
    func counters() -> [RouteKey: (packets: UInt64, bytes: UInt64)] { [:] }
    func accepts(incoming: NetworkInterface, outgoing: [NetworkInterface]) -> Bool {
        !outgoing.contains { refuses.contains($0.name) }
    }
    func passToKernel(_ key: RouteKey, incoming: NetworkInterface) throws(DatapathError) {
        guard path == "xdp" else { return }
        if failPassToKernel { throw DatapathError(.kernel, "route map full") }
        entries.removeValue(forKey: key)
        kernelRows.insert(key)
        log.calls.append("xdp kernel-row \(key.group)")
    }
    func close() {}
}

final class CallLog { var calls: [String] = [] }

private let g1 = IPv4Address(239, 1, 1, 1), g2 = IPv4Address(239, 2, 2, 2)
private let known = [NetworkInterface(name: "po", index: 2), NetworkInterface(name: "pi", index: 3),
                     NetworkInterface(name: "br0", index: 4)]

private func manager(unmatched: DaemonConfig.Forwarding.Unmatched = .drop)
    -> (ForwardingManager, FakePath, FakePath, CallLog) {
    let log = CallLog()
    let xdp = FakePath("xdp", log), kernel = FakePath("kernel", log)
    xdp.refuses = ["br0"]
    let metrics = ProxyMetrics(registry: PrometheusCollectorRegistry(), interfaces: [:])
    let m = ForwardingManager(settings: DaemonConfig.Forwarding(mode: .xdp, unmatched: unmatched), statics: [],
                              xdp: xdp, kernel: kernel, logger: Logger(label: "test"), metrics: metrics,
                              knownInterfaces: known)
    return (m, xdp, kernel, log)
}

private let any = GroupFilterState(mode: .exclude)
private func star(_ g: IPv4Address) -> RouteKey { RouteKey(source: nil, group: g, incoming: "po") }

@Suite("Forwarding manager: paths, kernel-path rows, ordering")
struct ForwardingManagerTests {
    @Test("an entry XDP can serve goes to XDP; one with a bridge egress to the kernel, with a kernel-path row in XDP")
    func choosesPaths() {
        let (m, xdp, kernel, _) = manager()
        m.update(group: g1, states: ["pi": any], incoming: "po", now: 0)
        m.update(group: g2, states: ["pi": any, "br0": any], incoming: "po", now: 0)
        #expect(xdp.entries[star(g1)] == ["pi"])
        #expect(kernel.entries[star(g2)] == ["br0", "pi"])
        #expect(xdp.kernelRows == [star(g2)], "XDP lets the kernel entry's traffic through")
        #expect(m.installed[star(g1)]?.path == "xdp" && m.installed[star(g2)]?.path == "kernel")
    }

    @Test("per-group updates end where a full recompute does")
    func perGroupMatchesFull() {
        let (a, _, _, _) = manager(), (b, _, _, _) = manager()
        a.update(group: g1, states: ["pi": any], incoming: "po", now: 0)
        a.update(group: g2, states: ["br0": GroupFilterState(mode: .include, sources: [IPv4Address(10, 0, 0, 1)])],
                 incoming: "po", now: 0)
        a.update(group: g1, states: [:], incoming: "po", now: 0)
        b.update(memberships: ["br0": [(g2, GroupFilterState(mode: .include, sources: [IPv4Address(10, 0, 0, 1)]))]],
                 incoming: "po", now: 0)
        #expect(a.plan == b.plan)
        #expect(Set(a.installed.keys) == Set(b.installed.keys))
    }

    @Test("kernel → xdp: the XDP route replaces the kernel-path row before the MFC entry goes")
    func kernelToXDP() {
        let (m, xdp, kernel, log) = manager()
        m.update(group: g1, states: ["pi": any, "br0": any], incoming: "po", now: 0)
        log.calls = []
        m.update(group: g1, states: ["pi": any], incoming: "po", now: 0)
        #expect(log.calls == ["xdp set 239.1.1.1 pi", "kernel remove 239.1.1.1"])
        #expect(kernel.entries.isEmpty && xdp.kernelRows.isEmpty && xdp.entries[star(g1)] == ["pi"])
    }

    @Test("xdp → kernel: the MFC entry is in before the kernel-path row replaces the XDP route")
    func xdpToKernel() {
        let (m, xdp, kernel, log) = manager()
        m.update(group: g1, states: ["pi": any], incoming: "po", now: 0)
        log.calls = []
        m.update(group: g1, states: ["pi": any, "br0": any], incoming: "po", now: 0)
        #expect(log.calls == ["kernel set 239.1.1.1 br0,pi", "xdp kernel-row 239.1.1.1"])
        #expect(xdp.entries.isEmpty && xdp.kernelRows == [star(g1)] && kernel.entries[star(g1)] != nil)
    }

    @Test("removing a kernel entry takes the kernel-path row out first; removeAll leaves no row behind")
    func removalOrder() {
        let (m, xdp, kernel, log) = manager()
        m.update(group: g1, states: ["br0": any], incoming: "po", now: 0)
        m.update(group: g2, states: ["br0": any], incoming: "po", now: 0)
        log.calls = []
        m.update(group: g1, states: [:], incoming: "po", now: 0)
        #expect(log.calls == ["xdp remove 239.1.1.1", "kernel remove 239.1.1.1"])
        m.removeAll()
        #expect(xdp.kernelRows.isEmpty && kernel.entries.isEmpty && m.installed.isEmpty)
    }

    @Test("a kernel-path row that cannot be written leaves the entry known, so its removal still happens")
    func passToKernelFailure() {
        let (m, xdp, kernel, _) = manager()
        xdp.failPassToKernel = true
        m.update(group: g1, states: ["br0": any], incoming: "po", now: 0)
        #expect(kernel.entries[star(g1)] == ["br0"])
        #expect(m.installed[star(g1)]?.path == "kernel")
        m.update(group: g1, states: [:], incoming: "po", now: 0)
        #expect(kernel.entries.isEmpty, "the MFC entry did not leak")
    }
}
