import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

/// One mode's behaviour: a stimulus, what must happen with the mode on, and what
/// must not happen with it off.
struct ModeCase: Sendable, CustomTestStringConvertible {
    let mode: ProxyMode
    /// Modes the stimulus needs besides the one under test (e.g. a client report
    /// needs membershipReportToNetwork for unicastMembershipResponse to matter).
    let base: ProxyModes
    let run: @Sendable (inout ProxyPolicy) throws -> Outcome
    let whenOn: @Sendable (Outcome) -> Void
    let whenOff: @Sendable (Outcome) -> Void

    var testDescription: String { mode.rawValue }

    struct Outcome {
        var recorded: Recorded
        var client: Result<ClientDelivery, ClientRequestError>?
    }
}

/// Learns the primary querier, then runs `body` as a client request.
func afterLearningQuerier(_ policy: inout ProxyPolicy,
                          _ body: (inout ProxyPolicy, (ProxyAction) -> Void) throws(ClientRequestError) -> ClientDelivery)
    throws -> ModeCase.Outcome {
    _ = try feed(&policy, primaryQuery())
    let (recorded, result) = client(&policy, body)
    return ModeCase.Outcome(recorded: recorded, client: result)
}

let modeCases: [ModeCase] = [
    ModeCase(mode: .proxyOutToIn, base: .none,
             run: { policy in ModeCase.Outcome(recorded: try feed(&policy, primaryQuery())) },
             whenOn: { outcome in
                 let sent = outcome.recorded.sent
                 #expect(sent.count == 1)
                 #expect(sent.first?.role == .inside)
                 #expect(sent.first?.destination == .allSystems)
                 #expect(sent.first?.source == insideAddressing.address)
                 #expect(sent.first?.message == v2GeneralQuery)
                 #expect(outcome.recorded.count(.forwardedOutToIn) == 1)
             },
             whenOff: { outcome in
                 #expect(outcome.recorded.sent.allSatisfy { $0.role != .inside && $0.mode != .proxyOutToIn })
                 #expect(outcome.recorded.count(.forwardedOutToIn) == 0)
             }),
    ModeCase(mode: .proxyInToOut, base: .none,
             run: { policy in ModeCase.Outcome(recorded: try feed(&policy, insideReport(.v2Report(group: group1)))) },
             whenOn: { outcome in
                 let sent = outcome.recorded.sent
                 #expect(sent.count == 1)
                 #expect(sent.first?.role == .outside)
                 #expect(sent.first?.destination == group1)
                 #expect(sent.first?.source == outsideAddressing.address)
                 #expect(sent.first?.message == .v2Report(group: group1))
                 #expect(outcome.recorded.count(.forwardedInToOut) == 1)
             },
             whenOff: { outcome in
                 #expect(outcome.recorded.sent.isEmpty)
                 #expect(outcome.recorded.count(.forwardedInToOut) == 0)
             }),
    ModeCase(mode: .unicastProxyInToOut, base: .none,
             run: { policy in
                 ModeCase.Outcome(recorded: try feed(&policy, insideReport(.v2Report(group: group1),
                                                                           to: insideAddressing.address)))
             },
             whenOn: { outcome in
                 let sent = outcome.recorded.sent
                 #expect(sent.count == 1)
                 #expect(sent.first?.role == .outside)
                 #expect(sent.first?.destination == group1)
                 #expect(sent.first?.source == outsideAddressing.address)
                 #expect(outcome.recorded.count(.forwardedUnicastInToOut) == 1)
             },
             whenOff: { outcome in
                 #expect(outcome.recorded.sent.isEmpty)
                 #expect(outcome.recorded.count(.forwardedUnicastInToOut) == 0)
             }),
    ModeCase(mode: .queryNotify, base: .none,
             run: { policy in
                 ModeCase.Outcome(recorded: try feed(&policy, primaryQuery(.query(.v3(group: group1, maxResponseTenths: 25)))))
             },
             whenOn: { outcome in
                 let events = outcome.recorded.queryEvents
                 #expect(events == [QueryHeard(querier: primaryQuerier, role: .outside, version: .v3, group: group1,
                                               maxResponseSeconds: 2.5)])
                 #expect(outcome.recorded.count(.notifiedQuery) == 1)
             },
             whenOff: { outcome in
                 #expect(outcome.recorded.queryEvents.isEmpty)
                 #expect(outcome.recorded.count(.notifiedQuery) == 0)
             }),
    ModeCase(mode: .membershipReportFromNetwork, base: .none,
             run: { policy in ModeCase.Outcome(recorded: try feed(&policy, insideReport(v3Report2Records))) },
             whenOn: { outcome in
                 #expect(outcome.recorded.membershipEvents == [
                     MembershipHeard(role: .inside, host: insideHost, group: group1, kind: .joinExcluding,
                                     version: .v3, recordType: .toExclude),
                     MembershipHeard(role: .inside, host: insideHost, group: ssmGroup, kind: .joinSources,
                                     sources: [ip("10.0.0.1"), ip("10.0.0.2")], version: .v3,
                                     recordType: .allowNewSources),
                 ])
                 #expect(outcome.recorded.count(.notifiedMembership) == 2)
             },
             whenOff: { outcome in
                 #expect(outcome.recorded.membershipEvents.isEmpty)
                 #expect(outcome.recorded.count(.notifiedMembership) == 0)
             }),
    ModeCase(mode: .membershipReportToNetwork, base: .none,
             run: { policy in
                 let (recorded, result) = client(&policy) { (p, emit) throws(ClientRequestError) in
                     try p.clientReport(groups: [group1], version: .v2, at: .seconds(100), emit)
                 }
                 return ModeCase.Outcome(recorded: recorded, client: result)
             },
             whenOn: { outcome in
                 let sent = outcome.recorded.sent
                 #expect(sent.count == 1)
                 #expect(sent.first?.role == .outside)
                 #expect(sent.first?.destination == group1)
                 #expect(sent.first?.message == .v2Report(group: group1))
                 #expect(outcome.recorded.count(.sentClientReport) == 1)
                 #expect((try? outcome.client?.get())?.messageCount == 1)
             },
             whenOff: { outcome in
                 #expect(outcome.recorded.sent.isEmpty)
                 #expect(outcome.client.map { r in if case .failure(.modeOff(.membershipReportToNetwork)) = r { true } else { false } } == true)
                 #expect(outcome.recorded.count(.droppedClientRequest) == 1)
             }),
    ModeCase(mode: .unicastMembershipResponse, base: ProxyModes(membershipReportToNetwork: true),
             run: { policy in
                 try afterLearningQuerier(&policy) { (p, emit) throws(ClientRequestError) in
                     try p.clientReport(groups: [group1], version: .v3, at: .seconds(101), emit)
                 }
             },
             whenOn: { outcome in
                 let sent = outcome.recorded.sent
                 #expect(sent.count == 1)
                 #expect(sent.first?.destination == primaryQuerier)
                 #expect(sent.first?.role == .outside)
                 #expect(outcome.recorded.count(.sentUnicastToQuerier) == 1)
                 #expect((try? outcome.client?.get())?.route == .querier)
             },
             whenOff: { outcome in
                 #expect(outcome.recorded.sent.map(\.destination) == [.igmpv3Routers])
                 #expect(outcome.recorded.count(.sentUnicastToQuerier) == 0)
                 #expect((try? outcome.client?.get())?.route == .multicast)
             }),
    ModeCase(mode: .leaveToNetwork, base: .none,
             run: { policy in
                 let (recorded, result) = client(&policy) { (p, emit) throws(ClientRequestError) in
                     try p.clientLeave(groups: [group1], version: .v2, at: .seconds(100), emit)
                 }
                 return ModeCase.Outcome(recorded: recorded, client: result)
             },
             whenOn: { outcome in
                 let sent = outcome.recorded.sent
                 #expect(sent.count == 1)
                 #expect(sent.first?.destination == .allRouters)
                 #expect(sent.first?.message == .v2Leave(group: group1))
                 #expect(outcome.recorded.count(.sentClientLeave) == 1)
             },
             whenOff: { outcome in
                 #expect(outcome.recorded.sent.isEmpty)
                 #expect(outcome.client.map { r in if case .failure(.modeOff(.leaveToNetwork)) = r { true } else { false } } == true)
             }),
]

@Suite struct ModeTests {
    @Test("the table covers every mode exactly once")
    func everyModeHasACase() {
        #expect(modeCases.map(\.mode) == ProxyMode.allCases)
    }

    @Test("mode on, alone (plus what the stimulus needs): its behaviour", arguments: modeCases)
    func onAlone(_ modeCase: ModeCase) throws {
        var modes = modeCase.base
        modes[modeCase.mode] = true
        var proxy = policy(modes)
        modeCase.whenOn(try modeCase.run(&proxy))
    }

    @Test("mode off, others as needed: its absence", arguments: modeCases)
    func offAlone(_ modeCase: ModeCase) throws {
        var proxy = policy(modeCase.base)
        modeCase.whenOff(try modeCase.run(&proxy))
    }

    @Test("mode off, every other mode on: still its absence", arguments: modeCases)
    func offWithAllOthers(_ modeCase: ModeCase) throws {
        var modes = ProxyModes(Set(ProxyMode.allCases))
        modes[modeCase.mode] = false
        var proxy = policy(modes)
        modeCase.whenOff(try modeCase.run(&proxy))
    }

    @Test("everything off: a query and a report are learned from / counted, nothing else")
    func allOff() throws {
        var proxy = policy(.none)
        let query = try feed(&proxy, primaryQuery())
        #expect(query.sent.isEmpty && query.queryEvents.isEmpty)
        #expect(query.count(.droppedModeOff) == 1)
        #expect(proxy.querier(for: .primary, at: .seconds(100))?.address == primaryQuerier)
        let report = try feed(&proxy, insideReport(.v2Report(group: group1)))
        #expect(report.sent.isEmpty && report.events.isEmpty)
        #expect(report.counters == [.droppedModeOff])
    }
}
