import DatapathForwarding
import IGMPWire
import Testing

@Suite("Forwarder route keys")
struct RouteKeyTests {
    @Test("a 0.0.0.0 source is the (*,G) row, as in the kernel's key, so the member devmap bookkeeping finds it again")
    func zeroSourceIsStarG() {
        let g = IPv4Address(239, 1, 1, 1)
        let zero = MulticastForwarder.RouteKey(ingress: 3, source: IPv4Address(0, 0, 0, 0), group: g)
        let star = MulticastForwarder.RouteKey(ingress: 3, source: nil, group: g)
        #expect(zero == star)
        #expect(zero.source == nil)
        #expect(MulticastForwarder.RouteKey(ingress: 3, source: IPv4Address(10, 0, 0, 1), group: g) != star)
    }
}
