import CXigmp
import DatapathBPF

/// The maps of one classifier instance that reach the provisional
/// forwarding table (`ProvisionalTable`, a forwarding backend, fills them).
public struct ProvisionalSlots: Sendable {
    /// `xigmp_fwd_prov`: slot 0 → the table.
    public let table: BPFMap
    /// `xigmp_prov_gate`: slot 0 → the gate.
    public let gate: BPFMap
    /// `xigmp_prov_acl`, read by that instance when it is an inside's.
    public let acl: BPFMap

    /// Finds them among a program's maps by name; nil when it predates
    /// provisional forwarding.
    public init?(maps: [BPFMap]) {
        func named(_ n: String) -> BPFMap? { maps.first { $0.name == n } }
        guard let t = named(XIGMP_MAP_PROV_ROUTES), let g = named(XIGMP_MAP_PROV_GATE),
              let a = named(XIGMP_MAP_PROV_ACL) else { return nil }
        table = t
        gate = g
        acl = a
    }
}
