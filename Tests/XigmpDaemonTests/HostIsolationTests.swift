import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import Testing
import XigmpConfig
@testable import XigmpDaemon
import XigmpTestSupport

/// Which insides get IGMPv2 fast leave: hosts that cannot hear each other's reports.
@Suite struct HostIsolationTests {
    @Test("auto: a snooping bridge and point-to-point links are isolated; a plain segment is not")
    func auto() {
        let snooping = LinkState(index: 3, name: "docker0", kind: "bridge", bridgeSnooping: true)
        let flooding = LinkState(index: 4, name: "br1", kind: "bridge", bridgeSnooping: false)
        let tun = LinkState(index: 5, name: "tun0", kind: "tun", hardwareType: 65534)
        let veth = LinkState(index: 6, name: "veth0", kind: "veth")
        #expect(HostIsolation.isolated(snooping, setting: .auto).answer)
        #expect(!HostIsolation.isolated(flooding, setting: .auto).answer)
        #expect(HostIsolation.isolated(tun, setting: .auto).answer)
        #expect(!HostIsolation.isolated(veth, setting: .auto).answer)
        #expect(!HostIsolation.isolated(LinkState(index: 7, name: "br2", kind: "bridge"), setting: .auto).answer)
    }

    @Test("the operator's yes and no win over what the link looks like")
    func declared() {
        let veth = LinkState(index: 6, name: "veth0", kind: "veth")
        let snooping = LinkState(index: 3, name: "docker0", kind: "bridge", bridgeSnooping: true)
        #expect(HostIsolation.isolated(veth, setting: .yes).answer)
        #expect(!HostIsolation.isolated(snooping, setting: .no).answer)
    }
}
