import IGMPMembership
import IGMPWire
import Testing
import XigmpTestSupport

/// Router state before a row: INCLUDE(A) or EXCLUDE(X,Y), built at t = 0 so its
/// timers have 250 s left when the row's record arrives at t = 10.
enum Initial: Sendable, CustomStringConvertible {
    case include([UInt8])
    case exclude(x: [UInt8], y: [UInt8])

    var description: String {
        switch self {
        case .include(let a): "INCLUDE(\(a))"
        case .exclude(let x, let y): "EXCLUDE(\(x),\(y))"
        }
    }

    func build(into table: inout MembershipTable) {
        switch self {
        case .include(let a):
            table.record(.isInclude, a, at: 0)
        case .exclude(let x, let y):
            table.record(.isExclude, y, at: 0)   // INCLUDE({}) IS_EX(Y) → EXCLUDE({},Y)
            if !x.isEmpty { table.record(.allowNewSources, x, at: 0) }  // → EXCLUDE(X,Y)
        }
    }
}

/// One row of RFC 3376 §6.4.1 / §6.4.2, with the state expected right after the
/// record (at t = 10): 260 = GMI set now, 250 = left from t = 0 (old timer or the
/// Group Timer copied), 2 = lowered to LMQT by a query, 0 = excluded.
struct RecordRow: Sendable, CustomTestStringConvertible {
    var initial: Initial
    var record: GroupRecordType
    var sources: [UInt8]
    var mode: FilterMode
    var timers: [UInt8: Double]
    var groupTimer: Double?
    /// Q(G,S) messages (S clear) the querier sends at once.
    var sourceQueries: [[UInt8]] = []
    /// Whether the querier sends Q(G) at once.
    var groupQuery = false
    /// For rows with queries: the timers of a non-querier, which sends none and so
    /// lowers nothing (nil: same as ``timers``), and its group timer.
    var unqueried: [UInt8: Double]? = nil
    var unqueriedGroupTimer: Double?? = nil

    var testDescription: String { "\(initial) + \(record.shortName)(\(sources))" }
}

@Suite struct RecordRowTests {
    /// §6.4.1 Reception of Current-State Records: every row.
    static let currentState: [RecordRow] = [
        // INCLUDE (A)  IS_IN (B)  → INCLUDE (A+B);  (B)=GMI
        RecordRow(initial: .include([1, 2]), record: .isInclude, sources: [2, 3], mode: .include,
                  timers: [1: 250, 2: 260, 3: 260], groupTimer: nil),
        // INCLUDE (A)  IS_EX (B)  → EXCLUDE (A*B,B-A);  (B-A)=0;  Delete (A-B);  GT=GMI
        RecordRow(initial: .include([1, 2]), record: .isExclude, sources: [2, 3], mode: .exclude,
                  timers: [2: 250, 3: 0], groupTimer: 260),
        // EXCLUDE (X,Y)  IS_IN (A)  → EXCLUDE (X+A,Y-A);  (A)=GMI
        RecordRow(initial: .exclude(x: [1, 2], y: [3, 4]), record: .isInclude, sources: [2, 3, 5], mode: .exclude,
                  timers: [1: 250, 2: 260, 3: 260, 4: 0, 5: 260], groupTimer: 250),
        // EXCLUDE (X,Y)  IS_EX (A)  → EXCLUDE (A-Y,Y*A);  (A-X-Y)=GMI;  Delete (X-A), (Y-A);  GT=GMI
        RecordRow(initial: .exclude(x: [1, 2], y: [3, 4]), record: .isExclude, sources: [2, 3, 5], mode: .exclude,
                  timers: [2: 250, 3: 0, 5: 260], groupTimer: 260),
    ]

    /// §6.4.2 Reception of Filter-Mode-Change and Source-List-Change Records: every row.
    static let stateChange: [RecordRow] = [
        // INCLUDE (A)  ALLOW (B)  → INCLUDE (A+B);  (B)=GMI
        RecordRow(initial: .include([1, 2]), record: .allowNewSources, sources: [2, 3], mode: .include,
                  timers: [1: 250, 2: 260, 3: 260], groupTimer: nil),
        // INCLUDE (A)  BLOCK (B)  → INCLUDE (A);  Send Q(G,A*B)
        RecordRow(initial: .include([1, 2]), record: .blockOldSources, sources: [2, 3], mode: .include,
                  timers: [1: 250, 2: 2], groupTimer: nil, sourceQueries: [[2]],
                  unqueried: [1: 250, 2: 250]),
        // INCLUDE (A)  TO_EX (B)  → EXCLUDE (A*B,B-A);  (B-A)=0;  Delete (A-B);  Send Q(G,A*B);  GT=GMI
        RecordRow(initial: .include([1, 2]), record: .toExclude, sources: [2, 3], mode: .exclude,
                  timers: [2: 2, 3: 0], groupTimer: 260, sourceQueries: [[2]],
                  unqueried: [2: 250, 3: 0]),
        // INCLUDE (A)  TO_IN (B)  → INCLUDE (A+B);  (B)=GMI;  Send Q(G,A-B)
        RecordRow(initial: .include([1, 2]), record: .toInclude, sources: [2, 3], mode: .include,
                  timers: [1: 2, 2: 260, 3: 260], groupTimer: nil, sourceQueries: [[1]],
                  unqueried: [1: 250, 2: 260, 3: 260]),
        // EXCLUDE (X,Y)  ALLOW (A)  → EXCLUDE (X+A,Y-A);  (A)=GMI
        RecordRow(initial: .exclude(x: [1, 2], y: [3, 4]), record: .allowNewSources, sources: [2, 3, 5],
                  mode: .exclude, timers: [1: 250, 2: 260, 3: 260, 4: 0, 5: 260], groupTimer: 250),
        // EXCLUDE (X,Y)  BLOCK (A)  → EXCLUDE (X+(A-Y),Y);  (A-X-Y)=Group Timer;  Send Q(G,A-Y)
        RecordRow(initial: .exclude(x: [1, 2], y: [3, 4]), record: .blockOldSources, sources: [2, 3, 5],
                  mode: .exclude, timers: [1: 250, 2: 2, 3: 0, 4: 0, 5: 2], groupTimer: 250,
                  sourceQueries: [[2, 5]], unqueried: [1: 250, 2: 250, 3: 0, 4: 0, 5: 250]),
        // EXCLUDE (X,Y)  TO_EX (A)  → EXCLUDE (A-Y,Y*A);  (A-X-Y)=Group Timer;  Delete (X-A), (Y-A);
        //                             Send Q(G,A-Y);  GT=GMI
        RecordRow(initial: .exclude(x: [1, 2], y: [3, 4]), record: .toExclude, sources: [2, 3, 5],
                  mode: .exclude, timers: [2: 2, 3: 0, 5: 2], groupTimer: 260, sourceQueries: [[2, 5]],
                  unqueried: [2: 250, 3: 0, 5: 250]),
        // EXCLUDE (X,Y)  TO_IN (A)  → EXCLUDE (X+A,Y-A);  (A)=GMI;  Send Q(G,X-A);  Send Q(G)
        RecordRow(initial: .exclude(x: [1, 2], y: [3, 4]), record: .toInclude, sources: [2, 3, 5],
                  mode: .exclude, timers: [1: 2, 2: 260, 3: 260, 4: 0, 5: 260], groupTimer: 2,
                  sourceQueries: [[1]], groupQuery: true,
                  unqueried: [1: 250, 2: 260, 3: 260, 4: 0, 5: 260], unqueriedGroupTimer: 250),
    ]

    @Test("§6.4.1 current-state records, as querier", arguments: currentState)
    func currentStateRow(_ row: RecordRow) { check(row) }

    @Test("§6.4.2 state-change records, as querier", arguments: stateChange)
    func stateChangeRow(_ row: RecordRow) { check(row) }

    func check(_ row: RecordRow) {
        var table = makeTable()
        row.initial.build(into: &table)
        let before = table.state(of: group)
        let recorded = table.record(row.record, row.sources, at: 10)
        let snapshot = table.groupSnapshot(at: 10)
        #expect(snapshot?.filterMode == row.mode)
        #expect(table.timers(at: 10) == row.timers)
        #expect(snapshot?.groupTimerSeconds == row.groupTimer)
        // Forwarding (§6.3): a source is forwarded while its timer runs.
        for source in snapshot?.sources ?? [] {
            #expect(source.forwarding == (source.timerSeconds > 0))
        }
        // Queries: the group-and-source-specific ones first, then Q(G); all to the
        // group, S clear (timers were just lowered to LMQT), Max Resp = LMQI 1 s,
        // QRV 2, QQIC 125 s (§6.6.3, §4.1).
        var expected = row.sourceQueries.map { IGMPQuery.v3(group: group, sources: sources($0), maxResponseTenths: 10) }
        if row.groupQuery { expected.append(.v3(group: group, maxResponseTenths: 10)) }
        #expect(recorded.queries == expected)
        #expect(recorded.destinations.allSatisfy { $0 == group })
        // A change event exactly when the forwarding state changed, old and new right.
        let after = table.state(of: group)
        let expectedChanges = before == after ? [] : [MembershipChange(group: group, old: before, new: after)]
        #expect(recorded.changes == expectedChanges)
        #expect(recorded.count(.recordApplied) == 1)
    }

    @Test("a non-querier applies every row but sends nothing and lowers no timer (§6.6.3)",
          arguments: currentState + stateChange)
    func nonQuerierRow(_ row: RecordRow) {
        var table = makeTable(querier: false)
        row.initial.build(into: &table)
        let recorded = table.record(row.record, row.sources, at: 10)
        #expect(recorded.queries.isEmpty)
        #expect(table.groupSnapshot(at: 10)?.filterMode == row.mode)
        // Timers the querier would have lowered to LMQT keep their earlier value.
        #expect(table.timers(at: 10) == row.unqueried ?? row.timers)
        #expect(table.groupSnapshot(at: 10)?.groupTimerSeconds == row.unqueriedGroupTimer ?? row.groupTimer)
    }

    @Test("records on a group with no state: INCLUDE({}) rows")
    func missingGroup() {
        var table = makeTable()
        // Nothing to leave, nothing to block, nothing included: no state, no query.
        for type in [GroupRecordType.toInclude, .blockOldSources, .isInclude, .allowNewSources] {
            let recorded = table.record(type, [], at: 1)
            #expect(recorded.queries.isEmpty && recorded.changes.isEmpty)
        }
        #expect(table.record(.blockOldSources, [1], at: 1).queries.isEmpty)
        #expect(table.groupCount == 0)
        // TO_EX({}) is the any-source join: EXCLUDE({}) with GT = GMI.
        let join = table.record(.toExclude, [], at: 1)
        #expect(join.changes == [MembershipChange(group: group, old: .none, new: GroupFilterState(mode: .exclude))])
        #expect(table.groupSnapshot(at: 1)?.groupTimerSeconds == 260)
    }

    @Test("INCLUDE(A) TO_IN({}) is a leave: Q(G,A), LMQC times at LMQI, then the group goes")
    func includeLeave() {
        var table = makeTable()
        table.record(.isInclude, [1, 2], at: 0)
        let leave = table.record(.toInclude, [], at: 10)
        #expect(leave.queries == [.v3(group: group, sources: sources([1, 2]), maxResponseTenths: 10)])
        #expect(table.nextDeadline == at(11))
        #expect(table.advance(to: 11).queries == [.v3(group: group, sources: sources([1, 2]), maxResponseTenths: 10)])
        #expect(table.advance(to: 11.999).actions.isEmpty)
        let expiry = table.advance(to: 12)
        #expect(expiry.changes == [MembershipChange(group: group, old: GroupFilterState(mode: .include, sources: sources([1, 2])),
                                                    new: .none)])
        #expect(expiry.count(.groupDeleted) == 1)
        #expect(table.groupCount == 0)
        #expect(table.nextDeadline == nil)
    }

    @Test("duplicate sources in a record are harmless")
    func duplicates() {
        var table = makeTable()
        table.record(.isInclude, [3, 1, 3, 1], at: 0)
        #expect(table.state(of: group) == GroupFilterState(mode: .include, sources: sources([1, 3])))
    }
}
