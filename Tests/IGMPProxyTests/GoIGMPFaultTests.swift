import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

/// Every goIGMP fault the README lists (Daemon: "What goIGMP got wrong"),
/// each made impossible, one test each.
@Suite struct GoIGMPFaultTests {
    @Test("payload is exactly the message length, never a 200-byte buffer", arguments: Path.allCases)
    func exactPayloadLength(path: Path) throws {
        var proxy = policy(.fullProxy)
        let query = try feed(&proxy, primaryQuery(), path: path)
        #expect(query.sent.map(\.bytes.count) == [8])
        let v3 = try feed(&proxy, insideReport(v3Report2Records), path: path)
        #expect(v3.sent.map(\.bytes.count) == [v3Report2Records.encodedLength])
        #expect(v3Report2Records.encodedLength == 8 + 8 + 16)
    }

    @Test("a frame padded to the Ethernet minimum forwards only the IGMP message")
    func ethernetPaddingNotForwarded() throws {
        var proxy = policy(.fullProxy)
        let frame = try IGMPEncoder.ethernetFrame(
            .v2Report(group: group1), ethernet: EthernetEncodeOptions(source: insideHostMAC, padToMinimum: true),
            source: insideHost)
        #expect(frame.count == 60)
        var recorded = Recorded()
        try frame.withUnsafeBytes { buffer in
            let view = try IGMPPacketView(ethernetFrame: buffer)
            proxy.handle(view, on: .inside, at: .seconds(1)) { recorded.record($0) }
        }
        #expect(recorded.sent.map(\.bytes.count) == [8])
    }

    @Test("v1/v2 reports go to the group, never to 224.0.0.22, whatever they arrived at",
          arguments: [IGMPMessage.v1Report(group: group1), .v2Report(group: group1)],
          [group1, IPv4Address.igmpv3Routers, insideAddressing.address])
    func v2ReportsToGroup(message: IGMPMessage, arrivedAt: IPv4Address) throws {
        var proxy = policy(ProxyModes(proxyInToOut: true, unicastProxyInToOut: true))
        let recorded = try feed(&proxy, insideReport(message, to: arrivedAt))
        #expect(recorded.sent.map(\.destination) == [group1])
        // And client reports too.
        var client = policy(ProxyModes(membershipReportToNetwork: true))
        let (sent, _) = IGMPProxyTests.client(&client) { (p, emit) throws(ClientRequestError) in
            try p.clientReport(groups: [group1, group2], version: message.version, at: .seconds(1), emit)
        }
        #expect(sent.sent.map(\.destination) == [group1, group2])
    }

    @Test("Max Resp Code reaches hosts exactly as the querier set it (v2 linear, v3 timer code)",
          arguments: [UInt32(10), 100, 127, 128, 300, 3000, 31744])
    func maxRespCodeKept(tenths: UInt32) throws {
        var proxy = policy(ProxyModes(proxyOutToIn: true, queryNotify: true))
        let code = IGMPTimerCode.encode(tenths)
        let query = IGMPQuery.v3(group: group1, maxResponseTenths: tenths)
        #expect(query.maxRespCode == code)
        let recorded = try feed(&proxy, primaryQuery(.query(query)))
        let sent = try #require(recorded.sent.first)
        #expect(sent.bytes[1] == code, "the Max Resp Code octet is not re-encoded")
        guard case .query(let forwarded)? = sent.message else {
            Issue.record("not a query")
            return
        }
        #expect(forwarded.maxResponseTenths == IGMPTimerCode.decode(code))
        #expect(recorded.queryEvents.first?.maxResponseSeconds == Double(IGMPTimerCode.decode(code)) / 10)
        if tenths <= 255 {
            let v2 = try feed(&proxy, primaryQuery(.query(.v2(group: group1, maxResponseTenths: UInt8(tenths)))))
            #expect(v2.sent.first?.bytes[1] == UInt8(tenths), "v2 is linear tenths, not the v3 code")
            #expect(v2.queryEvents.first?.maxResponseSeconds == Double(tenths) / 10)
        }
    }

    @Test("the learned querier address is used for unicast responses")
    func learnedQuerierUsed() throws {
        var proxy = policy(ProxyModes(membershipReportToNetwork: true, unicastMembershipResponse: true,
                                      leaveToNetwork: true), fallback: fallbackAddress)
        _ = try feed(&proxy, primaryQuery())
        let (report, delivery) = client(&proxy) { (p, emit) throws(ClientRequestError) in
            try p.clientReport(groups: [group1], version: .v2, at: .seconds(101), emit)
        }
        #expect(report.sent.map(\.destination) == [primaryQuerier])
        #expect(try delivery.get().route == .querier)
        let (leave, _) = client(&proxy) { (p, emit) throws(ClientRequestError) in
            try p.clientLeave(groups: [group1], version: .v3, at: .seconds(102), emit)
        }
        #expect(leave.sent.map(\.destination) == [primaryQuerier])
        #expect(leave.sent.first?.message == .v3Report([GroupRecord(type: .toInclude, group: group1)]))
    }

    @Test("the alt outside is usable: queries from it are proxied and upstream sends leave through it")
    func altUsable() throws {
        var proxy = policy(ProxyModes(proxyOutToIn: true, proxyInToOut: true, membershipReportToNetwork: true),
                           active: .alt)
        let query = try feed(&proxy, Arrival(v2GeneralQuery, on: .alt, from: altQuerier))
        #expect(query.sent.map(\.role) == [.inside])
        let report = try feed(&proxy, insideReport(.v2Report(group: group1)))
        #expect(report.sent.map(\.role) == [.alt])
        #expect(report.sent.map(\.source) == [altAddressing.address])
        let (client, _) = IGMPProxyTests.client(&proxy) { (p, emit) throws(ClientRequestError) in
            try p.clientReport(groups: [group1], version: .v2, at: .seconds(1), emit)
        }
        #expect(client.sent.map(\.role) == [.alt])
    }

    @Test("the self-loop filter matches our own MAC and our own IP on every role",
          arguments: testRoles, testRoles)
    func selfLoopFilterMatches(arrivalRole: InterfaceRole, ownerRole: InterfaceRole) throws {
        var proxy = policy(ProxyModes(Set(ProxyMode.allCases)))
        let owner = try #require(configuration(.none).addressing(for: ownerRole))
        let stranger = arrivalRole == .inside ? insideHost : (arrivalRole == .alt ? altQuerier : primaryQuerier)
        for message in [v2GeneralQuery, .v2Report(group: group1)] {
            let byIP = try feed(&proxy, Arrival(message, on: arrivalRole, from: owner.address, mac: insideHostMAC))
            #expect(byIP.counters == [.droppedOwnFrame], "own IP \(owner.address) on \(arrivalRole)")
            if let ownMAC = owner.mac {
                let byMAC = try feed(&proxy, Arrival(message, on: arrivalRole, from: stranger, mac: ownMAC))
                #expect(byMAC.counters == [.droppedOwnFrame], "own MAC \(ownMAC) on \(arrivalRole)")
            }
        }
    }

    @Test("v3 record types are honoured: TO_IN{} and BLOCK are leaves, not joins")
    func v3RecordTypesHonoured() throws {
        var proxy = policy(ProxyModes(membershipReportFromNetwork: true))
        let report = IGMPMessage.v3Report([
            GroupRecord(type: .toInclude, group: group1),
            GroupRecord(type: .blockOldSources, group: ssmGroup, sources: [ip("10.0.0.1")]),
            GroupRecord(type: .toExclude, group: group2),
        ])
        let kinds = try feed(&proxy, insideReport(report)).membershipEvents.map(\.kind)
        try #require(kinds == [.leave, .leaveSources, .joinExcluding])
        #expect(!kinds[0].isJoin && kinds[0].isLeave)
        #expect(!kinds[1].isJoin && kinds[1].isLeave)
    }

    @Test("a send failure cannot kill anything: the policy holds no sends, and unexecuted actions change nothing")
    func unexecutedActionsChangeNothing() throws {
        // The daemon executes transmits and owns their errors; here, two policies
        // see the same inputs, one with its transmits "executed" (recorded), one
        // with every transmit thrown away as if each send failed. Their state and
        // their later decisions are identical.
        var executed = policy(.fullProxy.union(ProxyModes(membershipReportToNetwork: true,
                                                          unicastMembershipResponse: true)))
        var failed = executed
        let inputs = [primaryQuery(), insideReport(.v2Report(group: group1)), insideReport(v3Report2Records)]
        for input in inputs {
            _ = try feed(&executed, input)
            failed.handle(input.message, metadata: input.metadata, on: input.role, at: .seconds(100)) { _ in }
        }
        #expect(executed.querier(for: .primary, at: .seconds(100)) == failed.querier(for: .primary, at: .seconds(100)))
        for input in inputs {
            #expect(try feed(&executed, input) == (try feed(&failed, input)))
        }
    }
}

extension ProxyModes {
    /// The modes on in either set.
    func union(_ other: ProxyModes) -> ProxyModes {
        var result = self
        for mode in ProxyMode.allCases where other[mode] { result[mode] = true }
        return result
    }
}
