import IGMPMembership
import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

@Suite("Forwarding plan from membership and static routes")
struct ForwardingPlanTests {
    let s1 = ip("10.0.0.1"), s2 = ip("10.0.0.2")

    @Test("EXCLUDE({}) is one (*,G) entry to the member interface")
    func anySource() {
        let plan = ForwardingPlan(memberships: ["pi": [(group1, GroupFilterState(mode: .exclude))]], incoming: "po", statics: [])
        #expect(plan.routes == [RouteKey(source: nil, group: group1, incoming: "po"): ["pi"]])
    }

    @Test("INCLUDE(S) is one (S,G) entry per source, no (*,G)")
    func includeSources() {
        let plan = ForwardingPlan(memberships: ["pi": [(group1, GroupFilterState(mode: .include, sources: [s1, s2]))]],
                                  incoming: "po", statics: [])
        #expect(plan.routes == [RouteKey(source: s1, group: group1, incoming: "po"): ["pi"],
                                RouteKey(source: s2, group: group1, incoming: "po"): ["pi"]])
    }

    @Test("EXCLUDE(X) adds an (S,G) entry forwarding nowhere for each excluded source")
    func excludedSource() {
        let plan = ForwardingPlan(memberships: ["pi": [(group1, GroupFilterState(mode: .exclude, sources: [s1]))]],
                                  incoming: "po", statics: [])
        #expect(plan.routes[RouteKey(source: nil, group: group1, incoming: "po")] == ["pi"])
        #expect(plan.routes[RouteKey(source: s1, group: group1, incoming: "po")] == [])
    }

    @Test("an excluded source on one interface still reaches the others")
    func excludedOnOneOnly() {
        let plan = ForwardingPlan(memberships: ["a": [(group1, GroupFilterState(mode: .exclude, sources: [s1]))],
                                                "b": [(group1, GroupFilterState(mode: .exclude))]],
                                  incoming: "po", statics: [])
        #expect(plan.routes[RouteKey(source: nil, group: group1, incoming: "po")] == ["a", "b"])
        #expect(plan.routes[RouteKey(source: s1, group: group1, incoming: "po")] == ["b"])
    }

    @Test("static routes merge with membership; never back out of the incoming interface")
    func statics() {
        let plan = ForwardingPlan(memberships: ["pi": [(group1, GroupFilterState(mode: .exclude))]], incoming: "po",
                                  statics: [(nil, group1, nil, ["extra", "po"]), (s1, group2, "gre0", ["pi"])])
        #expect(plan.routes[RouteKey(source: nil, group: group1, incoming: "po")] == ["extra", "pi"])
        #expect(plan.routes[RouteKey(source: s1, group: group2, incoming: "gre0")] == ["pi"])
    }

    @Test("changes name exactly the entries to set and to remove")
    func changes() {
        let a = ForwardingPlan(memberships: ["pi": [(group1, GroupFilterState(mode: .exclude)),
                                                     (group2, GroupFilterState(mode: .exclude))]], incoming: "po", statics: [])
        let b = ForwardingPlan(memberships: ["pi": [(group1, GroupFilterState(mode: .exclude))],
                                             "pj": [(group1, GroupFilterState(mode: .exclude))]], incoming: "po", statics: [])
        let (set, remove) = a.changes(to: b)
        #expect(set.map(\.0) == [RouteKey(source: nil, group: group1, incoming: "po")])
        #expect(set.map(\.1) == [["pi", "pj"]])
        #expect(remove == [RouteKey(source: nil, group: group2, incoming: "po")])
        #expect(b.changes(to: b).set.isEmpty && b.changes(to: b).remove.isEmpty)
    }

    @Test("a group's own plan, replaced into the whole, gives the plan computed over everything")
    func perGroupUpdateMatchesFullPlan() {
        let statics: [(source: IPv4Address?, group: IPv4Address, incoming: String?, outgoing: [String])] =
            [(nil, group1, nil, ["extra"]), (s1, group2, nil, ["pj"])]
        let before: [String: [IPv4Address: GroupFilterState]] = [
            "pi": [group1: GroupFilterState(mode: .exclude, sources: [s1]), group2: GroupFilterState(mode: .include, sources: [s2])],
            "pj": [group1: GroupFilterState(mode: .exclude)],
        ]
        func full(_ m: [String: [IPv4Address: GroupFilterState]]) -> ForwardingPlan {
            ForwardingPlan(memberships: m.mapValues { $0.map { (group: $0.key, state: $0.value) } }, incoming: "po",
                           statics: statics)
        }
        var plan = full(before)
        // pj leaves group1 and pi stops excluding s1 there (the (s1,G) entry
        // goes), pi widens group2 to INCLUDE(s1, s2), a third group arrives.
        var after = before
        after["pj"]?[group1] = nil
        after["pi"]?[group1] = GroupFilterState(mode: .exclude)
        after["pi"]?[group2] = GroupFilterState(mode: .include, sources: [s1, s2])
        after["pj"]?[ssmGroup] = GroupFilterState(mode: .include, sources: [s2])
        for group in [group1, group2, ssmGroup] {
            var states: [String: [(group: IPv4Address, state: GroupFilterState)]] = [:]
            for (name, groups) in after { if let st = groups[group] { states[name] = [(group, st)] } }
            let one = ForwardingPlan(memberships: states, incoming: "po", statics: statics.filter { $0.group == group })
            #expect(one.routes.keys.allSatisfy { $0.group == group })
            let (set, remove) = plan.restricted(to: group).changes(to: one)
            #expect(set.allSatisfy { $0.0.group == group } && remove.allSatisfy { $0.group == group })
            plan.replace(group: group, with: one)
        }
        #expect(plan == full(after))
        #expect(plan != full(before))
        #expect(plan.restricted(to: group2).routes.count == 2)
    }
}
