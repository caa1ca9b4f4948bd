import DatapathBPF
import DatapathKernel
import DatapathPrograms

/// What the operator asked for with `--datapath`.
public enum DatapathChoice: String, CaseIterable, Sendable {
    /// XDP where the interface has Ethernet framing, else the kernel path.
    case auto
    /// XDP classifier + AF_XDP; refused on interfaces without Ethernet.
    case xdp
    /// Raw sockets (`KernelPort`); works on any interface.
    case kernel

    /// The datapath this choice means on `info`'s interface.
    ///
    /// The XDP classifier parses an Ethernet header first, so it can serve
    /// only interfaces whose frames have one (ARPHRD_ETHER: NICs, veth,
    /// bridges, VLANs). L3 devices (tun, GRE, ARPHRD_NONE/IPGRE) go through
    /// the kernel path.
    /// - Throws: `DatapathError` when `.xdp` is asked for on an interface
    ///   without Ethernet.
    public func resolve(for info: InterfaceInfo) throws(DatapathError) -> DatapathKind {
        switch self {
        case .kernel:
            return .kernel
        case .auto:
            return info.hasEthernet ? .xdp : .kernel
        case .xdp:
            guard info.hasEthernet else {
                throw DatapathError(
                    .featureAbsent,
                    "\(info.interface.name) has no Ethernet header (tun/GRE): the XDP classifier cannot parse it; use --datapath kernel or auto")
            }
            return .xdp
        }
    }
}
