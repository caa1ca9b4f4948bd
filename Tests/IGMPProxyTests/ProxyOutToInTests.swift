import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

/// proxyOutToIn for every query kind and version.
@Suite struct ProxyOutToInTests {
    struct QueryCase: Sendable, CustomTestStringConvertible {
        let name: String
        let message: IGMPMessage
        let destination: IPv4Address
        var testDescription: String { name }
    }

    static let cases: [QueryCase] = [
        QueryCase(name: "v1 general", message: .query(.v1()), destination: .allSystems),
        QueryCase(name: "v2 general", message: .query(.v2()), destination: .allSystems),
        QueryCase(name: "v2 group-specific", message: .query(.v2(group: group1, maxResponseTenths: 10)),
                  destination: group1),
        QueryCase(name: "v3 general", message: .query(.v3(maxResponseTenths: 200, qrv: 3, queryIntervalSeconds: 60)),
                  destination: .allSystems),
        QueryCase(name: "v3 group-specific", message: .query(.v3(group: group2, maxResponseTenths: 10)),
                  destination: group2),
        QueryCase(name: "v3 group-and-source-specific",
                  message: .query(.v3(group: ssmGroup, sources: [ip("10.0.0.1"), ip("10.0.0.2")],
                                      maxResponseTenths: 10, sFlag: true)),
                  destination: ssmGroup),
    ]

    @Test("re-sent on inside, unchanged, to 224.0.0.1 or the group, from the inside address",
          arguments: cases, Path.allCases)
    func proxied(_ queryCase: QueryCase, path: Path) throws {
        var proxy = policy(ProxyModes(proxyOutToIn: true))
        let arrival = primaryQuery(queryCase.message)
        let recorded = try feed(&proxy, arrival, path: path)
        let sent = try #require(recorded.sent.first)
        #expect(recorded.sent.count == 1)
        #expect(sent.role == .inside)
        #expect(sent.source == insideAddressing.address)
        #expect(sent.destination == queryCase.destination)
        #expect(sent.forwarded)
        #expect(sent.bytes == (try IGMPEncoder.encode(queryCase.message)), "forwarded bytes are the inbound message")
        #expect(sent.ipOptions == IPv4EncodeOptions(), "TTL 1, TOS 0xc0, Router Alert")
    }

    @Test("a group-specific query sent to 224.0.0.1 is accepted and re-sent to the group")
    func groupQueryToAllSystems() throws {
        var proxy = policy(ProxyModes(proxyOutToIn: true))
        let arrival = Arrival(.query(.v2(group: group1, maxResponseTenths: 10)), on: .outside,
                              from: primaryQuerier, to: .allSystems)
        #expect(try feed(&proxy, arrival).sent.map(\.destination) == [group1])
    }

    @Test("a query to some other multicast address is dropped")
    func queryToWrongMulticast() throws {
        var proxy = policy(ProxyModes(proxyOutToIn: true, queryNotify: true))
        let arrival = Arrival(v2GeneralQuery, on: .outside, from: primaryQuerier, to: .igmpv3Routers)
        let recorded = try feed(&proxy, arrival)
        #expect(recorded.sent.isEmpty && recorded.events.isEmpty)
        #expect(recorded.counters == [.droppedBadDestination])
        #expect(proxy.querier(for: .primary, at: .seconds(100)) == nil)
    }

    @Test("a query heard on inside is neither proxied nor notified")
    func queryOnInside() throws {
        var proxy = policy(ProxyModes(Set(ProxyMode.allCases)))
        let recorded = try feed(&proxy, Arrival(v2GeneralQuery, on: .inside, from: ip("172.17.0.9")))
        #expect(recorded.sent.isEmpty && recorded.events.isEmpty)
        #expect(recorded.counters == [.droppedQueryOnInside])
    }

    @Test("a query with a non-multicast group is dropped")
    func queryForUnicastGroup() throws {
        var proxy = policy(ProxyModes(proxyOutToIn: true))
        let arrival = Arrival(.query(.v2(group: ip("10.1.1.1"))), on: .outside, from: primaryQuerier,
                              to: .allSystems)
        #expect(try feed(&proxy, arrival).counters == [.droppedInvalidGroup])
    }
}
