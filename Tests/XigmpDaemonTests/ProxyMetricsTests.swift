import DatapathPorts
import IGMPProxy
import Prometheus
import Testing
@testable import XigmpDaemon

/// The per-message counters keep the series they resolved last: a count
/// must still land in its own series when the decision or the role changes,
/// and in the new series of a role that went and came back.
@Suite("ProxyMetrics per-message counters")
struct ProxyMetricsTests {
    private static func value(_ registry: PrometheusCollectorRegistry, _ prefix: String) -> Int? {
        for line in registry.emitToString().split(separator: "\n") where line.hasPrefix(prefix) {
            return Int(line.split(separator: " ").last ?? "")
        }
        return nil
    }

    @Test("alternating decisions each count in their own series")
    func decisions() {
        let registry = PrometheusCollectorRegistry()
        let m = ProxyMetrics(registry: registry, interfaces: [:])
        for c in [ProxyCounter.forwardedInToOut, .forwardedInToOut, .forwardedOutToIn, .forwardedInToOut, .notifiedQuery] {
            m.count(c)
        }
        #expect(Self.value(registry, #"xigmp_policy_total{counter="forwarded_in_to_out"}"#) == 3)
        #expect(Self.value(registry, #"xigmp_policy_total{counter="forwarded_out_to_in"}"#) == 1)
        #expect(Self.value(registry, #"xigmp_policy_total{counter="notified_query"}"#) == 1)
    }

    @Test("sends count per mode and role; a role that went and came back counts in its new series")
    func forwardedAcrossRoles() {
        let registry = PrometheusCollectorRegistry()
        let m = ProxyMetrics(registry: registry, interfaces: [.outside: ("po", .xdp), .inside(0): ("pi", .xdp)])
        let up = TransmitPurpose.mode(.unicastProxyInToOut)
        m.forwarded(up, on: .outside)
        m.forwarded(up, on: .outside)
        m.forwarded(.query, on: .inside(0))
        m.forwarded(up, on: .outside)
        let outside = #"xigmp_forwarded_total{mode="unicastProxyInToOut",role="outside",ifname="#
        #expect(Self.value(registry, outside + #""po"}"#) == 3)
        #expect(Self.value(registry, #"xigmp_forwarded_total{mode="query",role="inside",ifname="pi"}"#) == 1)
        m.removeRole(.outside)
        m.addRole(.outside, name: "po2", datapath: .xdp)
        m.forwarded(up, on: .outside)
        #expect(Self.value(registry, outside + #""po2"}"#) == 1)
        #expect(Self.value(registry, outside + #""po"}"#) == nil)
    }
}
