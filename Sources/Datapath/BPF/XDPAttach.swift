import CXigmp
import DatapathKernel
import Glibc

/// How an XDP program runs on an interface.
public enum XDPMode: String, Sendable, Codable, CaseIterable {
    /// In the driver (`XDP_FLAGS_DRV_MODE`), before an skb exists.
    case native
    /// In the core stack on an skb (`XDP_FLAGS_SKB_MODE`); works everywhere.
    case generic
    /// On the NIC (`XDP_FLAGS_HW_MODE`); xigmp never asks for it.
    case offload

    var flags: UInt32 {
        switch self {
        case .native: return UInt32(XDP_FLAGS_DRV_MODE)
        case .generic: return UInt32(XDP_FLAGS_SKB_MODE)
        case .offload: return UInt32(XDP_FLAGS_HW_MODE)
        }
    }
}

/// What the kernel reports as attached to an interface.
public struct XDPAttachment: Sendable, Equatable {
    /// The interface.
    public let interface: NetworkInterface
    /// Mode it runs in.
    public let mode: XDPMode
    /// Kernel program id and name.
    public let program: BPFProgramInfo
    /// The bpf_link holding it, when it was attached through one.
    public let linkID: UInt32?

    /// True when it is xigmp's classifier.
    public var isOurs: Bool { program.name == XIGMP_PROG_CLASSIFY }
}


/// Attach, query and detach of XDP programs (netlink and bpf_link).
public enum XDP {
    /// What is attached to `interface`, or nil when nothing is
    /// (`bpf_xdp_query`, then the program's info and its link, if any).
    public static func query(_ interface: NetworkInterface) throws(DatapathError) -> XDPAttachment? {
        var state = cxigmp_xdp_state()
        try libbpfCheck(cxigmp_xdp_query(Int32(interface.index), &state), "querying XDP on \(interface.name)")
        let candidates: [(UInt32, XDPMode)] = [
            (state.drv_prog_id, .native), (state.skb_prog_id, .generic), (state.hw_prog_id, .offload),
        ]
        guard let (id, mode) = candidates.first(where: { $0.0 != 0 }) else { return nil }
        let info = try BPFProgramInfo(id: id)
        let link = findLink(programID: id, ifindex: interface.index)
        return XDPAttachment(interface: interface, mode: mode, program: info, linkID: link?.id)
    }

    /// The XDP bpf_link that holds program `programID` on `ifindex`, found by
    /// walking the kernel's links (ids are global, ifindexes per namespace,
    /// so both must match).
    static func findLink(programID: UInt32, ifindex: UInt32) -> (id: UInt32, fd: KernelFD)? {
        var id: UInt32 = 0
        while bpf_link_get_next_id(id, &id) == 0 {
            let fd = bpf_link_get_fd_by_id(id)
            if fd < 0 { continue }
            let owned = KernelFD(owning: fd)
            var info = cxigmp_link_info()
            guard cxigmp_link_info(fd, &info) == 0 else { continue }
            if info.type == BPF_LINK_TYPE_XDP.rawValue, info.prog_id == programID, info.xdp_ifindex == ifindex {
                return (id, owned)
            }
        }
        return nil
    }

    /// Attaches `program` to `interface` through a bpf_link in `mode`.
    /// Returns the link's descriptor: the attachment lives while it (or a
    /// pin of it) does.
    public static func attach(program: KernelFD, to interface: NetworkInterface,
                              mode: XDPMode) throws(DatapathError) -> KernelFD {
        let fd = cxigmp_link_create_xdp(program.raw, Int32(interface.index), mode.flags)
        guard fd >= 0 else {
            let code = -fd
            if code == EBUSY || code == EEXIST {
                throw DatapathError(.foreignProgram, "\(interface.name) already has an XDP program attached: see `xigmp status`, or pass --force to replace it", errno: code)
            }
            if mode == .native && (code == EOPNOTSUPP || code == EINVAL || code == ENOTSUP) {
                throw DatapathError(.featureAbsent, "the driver of \(interface.name) has no native XDP support (\(errnoName(code))): use --mode generic", errno: code)
            }
            throw DatapathError.system("attaching XDP to \(interface.name) in \(mode.rawValue) mode", errno: code)
        }
        return KernelFD(owning: fd)
    }

    /// Removes whatever `attachment` describes: through its bpf_link when it
    /// has one (`bpf_link_detach`), else through netlink.
    public static func detach(_ attachment: XDPAttachment) throws(DatapathError) {
        if let found = findLink(programID: attachment.program.id, ifindex: attachment.interface.index) {
            try libbpfCheck(bpf_link_detach(found.fd.raw), "detaching link \(found.id) from \(attachment.interface.name)")
            return
        }
        try libbpfCheck(cxigmp_xdp_detach(Int32(attachment.interface.index), attachment.mode.flags),
                        "detaching XDP program \(attachment.program.id) from \(attachment.interface.name)")
    }

    /// Attaches with a mode request: `auto` tries the modes cheapest first
    /// for the driver (generic on veth, else native then generic) and says
    /// which it took and why.
    public static func attach(program: KernelFD, to interface: NetworkInterface,
                              request: XDPModeRequest) throws(DatapathError)
        -> (link: KernelFD, mode: XDPMode, notes: [String]) {
        let attempts = request.attempts(for: interface)
        var notes: [String] = []
        if request == .auto, attempts == [.generic], let d = interface.driver {
            notes.append("auto mode: generic XDP on \(interface.name) (driver \(d): cheaper than native there, see `make bench`)")
        }
        var lastError: DatapathError?
        for (i, mode) in attempts.enumerated() {
            do {
                return (try attach(program: program, to: interface, mode: mode), mode, notes)
            } catch where error.kind != .missingPrivilege && error.kind != .foreignProgram && i + 1 < attempts.count {
                notes.append("\(mode.rawValue) XDP is not available on \(interface.name) (\(error.errno.map(errnoName) ?? "unsupported")); trying \(attempts[i + 1].rawValue)")
                lastError = error
            }
        }
        throw lastError ?? DatapathError(.invalidArgument, "no XDP mode to try on \(interface.name)")
    }
}

/// Which XDP mode to attach in: native, generic, or the cheaper that works.
public enum XDPModeRequest: String, Sendable, CaseIterable {
    /// Native, falling back to generic when the driver lacks it.
    case auto
    /// Native only.
    case native
    /// Generic only.
    case generic
}

extension XDPModeRequest {
    /// Drivers where generic XDP costs less than native: on veth, native
    /// mode turns on NAPI and per-frame XDP buffer handling, measured here
    /// (`make bench`, throughput section) at 0.75 of bare throughput with a
    /// bare XDP_PASS program against 0.88 in generic mode.
    static let genericIsCheaper: Set<String> = ["veth"]

    /// The modes `auto` tries on `interface`, cheapest first.
    func attempts(for interface: NetworkInterface) -> [XDPMode] {
        switch self {
        case .native: return [.native]
        case .generic: return [.generic]
        case .auto:
            if let d = interface.driver, Self.genericIsCheaper.contains(d) { return [.generic] }
            return [.native, .generic]
        }
    }
}
