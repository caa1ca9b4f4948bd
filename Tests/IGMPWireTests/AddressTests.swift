import Foundation
import IGMPWire
import Testing
import XigmpTestSupport

@Suite struct AddressTests {
    @Test func ipv4ParsesStrictDottedQuads() {
        #expect(IPv4Address("224.0.0.22")?.rawValue == 0xE000_0016)
        #expect(IPv4Address("0.0.0.0") == .any)
        #expect(IPv4Address("255.255.255.255")?.rawValue == 0xFFFF_FFFF)
        #expect(IPv4Address(10, 1, 2, 3).description == "10.1.2.3")
        for bad in ["", "1.2.3", "1.2.3.4.5", "256.1.1.1", "1..2.3", ".1.2.3", "1.2.3.",
                    "01.2.3.4", "1.2.3.04", "1.2.3.4 ", " 1.2.3.4", "+1.2.3.4", "1.2.3.a",
                    "1234.1.1.1", "0x1.2.3.4", "1.2.3.4\n", "١.2.3.4"] {
            #expect(IPv4Address(bad) == nil, "accepted \(bad.debugDescription)")
        }
    }

    @Test func ipv4Classification() {
        #expect(ip("224.0.0.1").isMulticast && ip("224.0.0.1").isLinkLocalMulticast)
        #expect(ip("224.0.0.255").isLinkLocalMulticast)
        #expect(ip("224.0.1.1").isMulticast && !ip("224.0.1.1").isLinkLocalMulticast)
        #expect(ip("239.255.255.255").isMulticast)
        #expect(!ip("240.0.0.1").isMulticast && !ip("223.255.255.255").isMulticast)
        #expect(ip("10.0.0.1") < ip("10.0.0.2"))
    }

    @Test func ipv4IsCodableAsAString() throws {
        let data = try JSONEncoder().encode([ip("239.1.2.3")])
        #expect(String(decoding: data, as: UTF8.self) == #"["239.1.2.3"]"#)
        #expect(try JSONDecoder().decode([IPv4Address].self, from: data) == [ip("239.1.2.3")])
        #expect(throws: DecodingError.self) {
            try JSONDecoder().decode([IPv4Address].self, from: Data(#"["1.2.3"]"#.utf8))
        }
    }

    @Test func macParsesAndPrints() throws {
        let address = try #require(MACAddress("01:00:5E:7F:00:16"))
        #expect(address.description == "01:00:5e:7f:00:16")
        #expect(MACAddress("01-00-5e-7f-00-16") == address)
        #expect(address.isMulticast && !hostMAC.isMulticast)
        #expect(MACAddress(bytes: [1, 0, 0x5E, 0x7F, 0, 0x16]) == address)
        #expect(MACAddress(bytes: [1, 2, 3]) == nil)
        for bad in ["", "01:00:5e:7f:00", "01:00:5e:7f:00:16:00", "1:00:5e:7f:00:16",
                    "01:00:5e:7f:00:1g", "01:00-5e:7f:00:16", "0100.5e7f.0016", "01:00:5e:7f:00:166"] {
            #expect(MACAddress(bad) == nil, "accepted \(bad.debugDescription)")
        }
        let data = try JSONEncoder().encode(address)
        #expect(try JSONDecoder().decode(MACAddress.self, from: data) == address)
    }

    @Test func multicastMACTakesTheLow23Bits() {
        #expect(MACAddress.multicast(for: ip("224.0.0.22")).description == "01:00:5e:00:00:16")
        #expect(MACAddress.multicast(for: ip("239.255.1.2")).description == "01:00:5e:7f:01:02")
        // The 24th bit is dropped: 224.128.1.2 and 224.0.1.2 share a MAC (RFC 1112 §6.4).
        #expect(MACAddress.multicast(for: ip("224.128.1.2")) == MACAddress.multicast(for: ip("224.0.1.2")))
    }

    @Test func recordTypesNamesAndLeaveSemantics() {
        #expect(GroupRecordType.allCases.map(\.shortName) == ["is_in", "is_ex", "to_in", "to_ex", "allow", "block"])
        #expect(GroupRecordType.allCases.map(\.rawValue) == [1, 2, 3, 4, 5, 6])
        #expect(GroupRecordType.toInclude.isLeave(sourceCount: 0))
        #expect(!GroupRecordType.toInclude.isJoin(sourceCount: 0))
        #expect(!GroupRecordType.toInclude.isLeave(sourceCount: 2))
        #expect(GroupRecordType.blockOldSources.isLeave(sourceCount: 1))
        #expect(!GroupRecordType.blockOldSources.isJoin(sourceCount: 1))
        #expect(GroupRecordType.toExclude.isJoin(sourceCount: 0))
        #expect(GroupRecordType.isExclude.isJoin(sourceCount: 0))
        #expect(GroupRecordType.allowNewSources.isJoin(sourceCount: 1))
        #expect(!GroupRecordType.isInclude.isJoin(sourceCount: 0) && !GroupRecordType.isInclude.isLeave(sourceCount: 0))
        #expect(IGMPType.allCases.map(\.rawValue) == [0x11, 0x12, 0x16, 0x17, 0x22])
    }
}
