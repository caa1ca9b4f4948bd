import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import IGMPProxy
import Logging

/// Whether each role still works, checked every second by the loop and on
/// every failed send: its interface still there (same ifindex), its link up
/// (carrier, from rtnetlink), its XDP program still attached (an XDP
/// bpf_link gives no event when someone detaches it: the attachment is
/// looked up instead), its sends going through. A role that stops working is logged at once with its cause,
/// shown as down in `xigmp status` and exported as
/// `xigmp_role_up{role,ifname} 0`; coming back is logged too. Loop thread
/// only.
final class RoleHealth {
    struct State: Equatable {
        var up = true
        var reason: String?
    }

    private(set) var states: [InterfaceRole: State] = [:]
    private let logger: Logger
    private let metrics: ProxyMetrics
    /// Send failures since the last check, with the last cause, per role.
    private var sendFailures: [InterfaceRole: (count: Int, cause: String)] = [:]
    /// Roles whose link is down (no carrier, or set down).
    private var linkDown: Set<InterfaceRole> = []

    init(roles: [InterfaceRole], logger: Logger, metrics: ProxyMetrics) {
        self.logger = logger
        self.metrics = metrics
        for r in roles { states[r] = State() }
    }

    /// A role taken by an interface: up until something says otherwise.
    func add(_ role: InterfaceRole) {
        states[role] = State()
        linkDown.remove(role)
        sendFailures[role] = nil
    }

    /// The interface of `role` went (logged by the lifecycle): forgotten.
    func remove(_ role: InterfaceRole) {
        states[role] = nil
        linkDown.remove(role)
        sendFailures[role] = nil
    }

    /// Carrier lost on the interface of `role`.
    func linkDown(_ role: InterfaceRole, name: String) {
        linkDown.insert(role)
        set(role, down: "link down (no carrier, or set down): nothing is sent or heard there", name: name)
    }

    /// Carrier back.
    func linkUp(_ role: InterfaceRole, name: String) {
        linkDown.remove(role)
        set(role, up: name)
    }

    /// A send or flush on `role` failed with `cause`.
    func sendFailed(_ role: InterfaceRole, cause: String) {
        let n = (sendFailures[role]?.count ?? 0) + 1
        sendFailures[role] = (n, cause)
        // The first failure of a run is news at once, not a second later.
        if states[role]?.up == true && n == 1 { set(role, down: "sends fail: \(cause)", name: nil) }
    }

    /// Checks one role's port (the loop checks one per step, each once a
    /// second); the send failures counted since its last check decide too.
    func check(_ role: InterfaceRole, _ port: any IGMPPort) {
        let reason = (linkDown.contains(role) ? "link down (no carrier, or set down): nothing is sent or heard there" : nil)
            ?? Self.problem(port) ?? sendFailures[role].map { "\($0.count) send(s) failed in the last second: \($0.cause)" }
        sendFailures[role] = nil
        if let reason { set(role, down: reason, name: port.interface.name) } else { set(role, up: port.interface.name) }
    }

    /// What is wrong with `port` now, or nil.
    static func problem(_ port: any IGMPPort) -> String? {
        let iface = port.interface
        guard let now = NetworkInterface(index: iface.index) else {
            return "interface \(iface.name) (ifindex \(iface.index)) is gone"
        }
        if port.kind == .xdp {
            switch Result(catching: { () throws(DatapathError) in try XDP.query(now) }) {
            case .success(let attachment?) where attachment.isOurs: break
            case .success(let attachment?):
                return "the XDP program on \(now.name) was replaced by '\(attachment.program.name)' (prog id \(attachment.program.id)): IGMP no longer reaches xigmp there"
            case .success(nil):
                return "the XDP classifier was detached from \(now.name) (by `xigmp unload`, `ip link set dev \(now.name) xdp off`?): IGMP no longer reaches xigmp there"
            case .failure(let error):
                return "cannot look up the XDP program on \(now.name): \(error.description)"
            }
        }
        return nil
    }

    private func set(_ role: InterfaceRole, down reason: String, name: String?) {
        let before = states[role] ?? State()
        guard before.up || before.reason != reason else { return }
        states[role] = State(up: false, reason: reason)
        metrics.setRole(role, up: false)
        // Logged when it goes down; a changing cause while down only
        // updates `xigmp status` (a log line a second would drown the log).
        if before.up { logger.error("\(role)\(name.map { " \($0)" } ?? ""): DOWN: \(reason)") }
    }

    private func set(_ role: InterfaceRole, up name: String) {
        guard let before = states[role], !before.up else { return }
        states[role] = State()
        metrics.setRole(role, up: true)
        logger.notice("\(role) \(name): up again")
    }
}
