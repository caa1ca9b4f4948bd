import IGMPWire
import Testing
import XigmpTestSupport
@testable import XigmpTools

@Suite struct DumpFormatterTests {
    let ctx = DumpFormatter.Context(timeNs: 1_700_000_000_123_456_789, ifname: "eth0")
    let src = IPv4Address("10.0.0.2")!

    func decoded(_ m: IGMPMessage, routerAlert: Bool = true) throws -> DecodedIGMPPacket {
        let bytes = try IGMPEncoder.ipv4Packet(m, source: src, options: IPv4EncodeOptions(routerAlert: routerAlert))
        return try IGMPDecoder.decode(ipv4Packet: bytes)
    }

    @Test func clock() {
        #expect(DumpFormatter.clock(ctx.timeNs) == "22:13:20.123456")
    }

    @Test func queryLines() throws {
        let v2 = try decoded(.query(.v2(group: .any, maxResponseTenths: 100)))
        #expect(DumpFormatter.text(v2, ctx) == "22:13:20.123456 eth0 10.0.0.2 > 224.0.0.1: igmp query v2 [max resp time 10.0s] (ttl 1)")
        let g = IPv4Address("239.1.1.1")!
        let v3 = try decoded(.query(.v3(group: g, sources: [src], maxResponseTenths: 25)), routerAlert: false)
        #expect(DumpFormatter.text(v3, ctx).hasSuffix("10.0.0.2 > 239.1.1.1: igmp query v3 [gaddr 239.1.1.1 { 10.0.0.2 }] [max resp time 2.5s] [qrv 2] [qqic 125s] (ttl 1, no router alert)"))
    }

    @Test func reportLines() throws {
        let g = IPv4Address("239.1.1.1")!
        #expect(DumpFormatter.text(try decoded(.v2Report(group: g)), ctx).hasSuffix("10.0.0.2 > 239.1.1.1: igmp v2 report 239.1.1.1 (ttl 1)"))
        #expect(DumpFormatter.text(try decoded(.v2Leave(group: g)), ctx).hasSuffix("10.0.0.2 > 224.0.0.2: igmp leave 239.1.1.1 (ttl 1)"))
        let v3 = try decoded(.v3Report([GroupRecord(type: .toExclude, group: g), GroupRecord(type: .allowNewSources, group: g, sources: [src])]))
        #expect(DumpFormatter.text(v3, ctx).hasSuffix("igmp v3 report, 2 group record(s) [gaddr 239.1.1.1 to_ex { }] [gaddr 239.1.1.1 allow { 10.0.0.2 }] (ttl 1)"))
    }

    @Test("JSON has every documented key, sorted (the one JSON coding of the tree)")
    func jsonKeys() throws {
        let g = IPv4Address("239.1.1.1")!
        let j = DumpFormatter.json(try decoded(.query(.v3(group: g, sources: [src], maxResponseTenths: 25))), ctx).rendered
        #expect(j == #"{"checksum_ok":true,"dst":"239.1.1.1","group":"239.1.1.1","ifname":"eth0","max_resp_s":2.5,"qqic_s":125,"qrv":2,"records":null,"router_alert":true,"s_flag":false,"sources":["10.0.0.2"],"src":"10.0.0.2","time":1700000000.123456,"ttl":1,"type":"query","version":3}"#)
        let r = DumpFormatter.json(try decoded(.v3Report([GroupRecord(type: .blockOldSources, group: g, sources: [src])])), ctx).rendered
        #expect(r == #"{"checksum_ok":true,"dst":"224.0.0.22","group":null,"ifname":"eth0","max_resp_s":null,"qqic_s":null,"qrv":null,"records":[{"group":"239.1.1.1","sources":["10.0.0.2"],"type":"block"}],"router_alert":true,"s_flag":null,"sources":null,"src":"10.0.0.2","time":1700000000.123456,"ttl":1,"type":"v3_report","version":3}"#)
    }

    @Test func errors() {
        #expect(DumpFormatter.errorJSON("IGMP message too short", ctx).rendered
            == #"{"error":"IGMP message too short","ifname":"eth0","time":1700000000.123456}"#)
        #expect(DumpFormatter.errorText("bad", ctx) == "22:13:20.123456 eth0 error: bad")
    }
}
