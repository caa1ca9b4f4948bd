import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import IGMPWire
import Testing
import XigmpConfig
@testable import XigmpDaemon
import XigmpTestSupport

private func link(_ index: UInt32, _ name: String, address: String? = "10.0.\(0).1", master: UInt32? = nil) -> LinkState {
    var l = LinkState(index: index, name: name, up: true, lowerUp: true)
    l.master = master
    if let address, let a = IPv4Address(address) { l.addresses = [LinkAddress(address: a, prefixLength: 24)] }
    return l
}

private func links(_ list: [LinkState]) -> [UInt32: LinkState] {
    Dictionary(uniqueKeysWithValues: list.map { ($0.index, $0) })
}

@Suite("Which interface takes which role")
struct RoleMatcherTests {
    let docker = RoleMatcher(.init(outside: "eth0", insides: ["docker0", "br-*"], exclude: ["br-skip*"]))

    @Test("names and globs take their interfaces; excluded ones, lo and bridge ports never")
    func globs() {
        let a = docker.assign(links([link(1, "lo", address: "127.0.0.1"), link(2, "eth0"), link(3, "docker0"),
                                     link(4, "br-1a2b"), link(5, "br-skipme"), link(6, "veth12", master: 4),
                                     link(7, "br-port", master: 3)]))
        #expect(a.outside == 2)
        #expect(a.insides == [3, 4])
        #expect(a.waiting.isEmpty)
        #expect(a.conflicts.isEmpty)
    }

    @Test("missing interfaces and ones without an address are waited for, by pattern")
    func waiting() {
        let a = docker.assign(links([link(2, "eth0"), link(3, "docker0", address: nil)]))
        #expect(a.insides.isEmpty)
        #expect(a.waiting == ["docker0 (no IPv4 address)", "br-*"])
        let none = docker.assign([:])
        #expect(none.outside == nil)
        #expect(none.waiting == ["eth0", "docker0", "br-*"])
    }

    @Test("an enslaved interface is never an inside, even by its own name")
    func enslaved() {
        let a = docker.assign(links([link(2, "eth0"), link(3, "docker0", master: 9)]))
        #expect(a.insides.isEmpty)
        #expect(a.waiting.contains("docker0"))
    }

    @Test("an outside glob matching two: a conflict, the held one kept or none taken")
    func outsideConflict() {
        let m = RoleMatcher(.init(outside: "ppp*", insides: ["docker0"]))
        let both = links([link(2, "ppp0"), link(3, "ppp1"), link(4, "docker0")])
        let fresh = m.assign(both)
        #expect(fresh.outside == nil)
        #expect(fresh.conflicts == ["interfaces.outside 'ppp*' matches ppp0 and ppp1: an outside role takes one interface; taking none (narrow the pattern or list the others in interfaces.exclude)"])
        let held = m.assign(both, holding: [.outside: 3])
        #expect(held.outside == 3)
        #expect(held.conflicts.first?.contains("keeping ppp1") == true)
    }

    @Test("one interface matching globs of two roles: the upstream takes it, logged; a written name wins over globs")
    func twoRoles() {
        let m = RoleMatcher(.init(outside: "e*", insides: ["eth*"]))
        let a = m.assign(links([link(2, "eth1")]))
        #expect(a.outside == 2)
        #expect(a.insides.isEmpty)
        #expect(a.conflicts == ["eth1 matches interfaces.outside and interfaces.inside: taken as outside (name it in interfaces.exclude or write the names out to choose)"])
        let named = RoleMatcher(.init(outside: "e*", insides: ["eth1"]))
        let b = named.assign(links([link(2, "eth1"), link(3, "eth0")]))
        #expect(b.insides == [2])
        #expect(b.outside == 3)
        #expect(b.conflicts.isEmpty)
    }
}
