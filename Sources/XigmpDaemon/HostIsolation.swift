import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import XigmpConfig

/// Whether the hosts on an inside interface can hear each other's IGMP
/// reports, which decides fast leave for IGMPv2 groups (v2 hosts suppress
/// their report on hearing another's, RFC 2236 §3, so tracking would miss
/// them). Read once when the interface is taken in.
enum HostIsolation {
    /// ARPHRD_PPP, ARPHRD_NONE (tun), ARPHRD_TUNNEL/SIT/IPGRE: one peer only.
    static let pointToPointTypes: Set<UInt16> = [512, 65534, 768, 776, 778]

    /// The answer for `link` under `setting`, and why.
    static func isolated(_ link: LinkState, setting: DaemonConfig.IsolatedHosts) -> (answer: Bool, why: String) {
        switch setting {
        case .yes: return (true, "querier.inside.isolatedHosts: yes")
        case .no: return (false, "querier.inside.isolatedHosts: no")
        case .auto: break
        }
        if pointToPointTypes.contains(link.hardwareType) { return (true, "a point-to-point link") }
        if link.kind == "bridge" {
            switch link.bridgeSnooping {
            case true?: return (true, "a bridge with IGMP snooping on: reports reach only router ports")
            case false?: return (false, "a bridge with IGMP snooping off: it floods reports to every port")
            case nil: return (false, "a bridge whose snooping setting could not be read")
            }
        }
        return (false, "a shared segment, as far as xigmp can tell; set querier.inside.isolatedHosts: yes if not")
    }
}
