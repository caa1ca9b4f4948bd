import CXigmp
import Glibc

/// What this kernel and this process can do for xigmp, asked of the kernel
/// rather than assumed from its version: the one probe the daemon, the CLI
/// (`xigmp doctor`), the tests (to skip with the feature named) and the
/// benchmark use. Nothing is attached; the probe's only side effects are
/// short-lived sockets, maps and programs.
public struct KernelCapabilities: Sendable, Codable, Equatable {
    /// Whether a feature is there, and what xigmp does without it.
    public struct Feature: Sendable, Codable, Equatable {
        /// Short key (`ip_mroute`), as in `--json` and skip reasons.
        public let key: String
        public let present: Bool
        /// What was found (an errno, a version, a value).
        public let detail: String
        /// What xigmp does when it is absent.
        public let without: String
    }

    /// `uname -r`.
    public let kernel: String
    /// Every feature, in a fixed order.
    public let features: [Feature]

    /// The feature with `key`; absent keys read as not present.
    public func has(_ key: String) -> Bool { features.first { $0.key == key }?.present ?? false }

    /// Kernel IPv4 multicast routing (CONFIG_IP_MROUTE): MRT_INIT possible,
    /// whether or not another program holds it now.
    public var ipMroute: Bool { has("ip_mroute") }
    /// tcx bpf_links for TC programs (Linux 6.6+).
    public var tcx: Bool { has("tcx") }
    /// The clsact qdisc (sch_ingress) for TC programs without tcx.
    public var clsact: Bool { has("clsact") }
    /// BPF at all (the syscall, with the privileges to use it).
    public var bpf: Bool { has("bpf") }

    /// Probes this kernel from the calling thread's network namespace.
    public static func probe() -> KernelCapabilities {
        var u = utsname()
        uname(&u)
        let release = withUnsafeBytes(of: &u.release) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        var f: [Feature] = []
        func add(_ key: String, _ present: Bool, _ detail: String, without: String) {
            f.append(Feature(key: key, present: present, detail: detail, without: without))
        }
        let caps = capabilityNames()
        add("capabilities", caps.missing.isEmpty, caps.held.isEmpty ? "none" : caps.held.joined(separator: " ")
                + (caps.missing.isEmpty ? "" : "; missing \(caps.missing.joined(separator: " "))"),
            without: "run as root: loading BPF, raw sockets and namespaces need CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN")
        let btf = access("/sys/kernel/btf/vmlinux", R_OK) == 0
        add("btf", btf, btf ? "/sys/kernel/btf/vmlinux" : "no /sys/kernel/btf/vmlinux",
            without: "nothing: xigmp's programs need no CO-RE relocations")
        let bpfMap = bpf_map_create(BPF_MAP_TYPE_ARRAY, "xigmp_probe", 4, 8, 1, nil)
        let bpfErr = errno
        _ = bpfMap >= 0 ? KernelFD(owning: bpfMap) : nil  // made to see that it can be; closed at once
        add("bpf", bpfMap >= 0, bpfMap >= 0 ? "a map can be made" : "BPF_MAP_CREATE: \(errnoName(bpfErr))",
            without: "the kernel datapath only (datapath: kernel); no XDP, TC filter or XDP/TC forwarding")
        var rl = rlimit()
        getrlimit(__rlimit_resource_t(8), &rl)  // RLIMIT_MEMLOCK (a macro Swift does not import)
        let memlock = rl.rlim_cur == rlim_t.max ? "unlimited" : "\(rl.rlim_cur / 1024) KiB"
        // Since 5.11 BPF memory is charged to the memory cgroup, not RLIMIT_MEMLOCK.
        add("memlock", true, "RLIMIT_MEMLOCK \(memlock) (BPF memory is cgroup-charged since 5.11)",
            without: "raise RLIMIT_MEMLOCK (LimitMEMLOCK=infinity) on kernels before 5.11")
        let xdp = libbpf_probe_bpf_prog_type(BPF_PROG_TYPE_XDP, nil) == 1
        add("xdp", xdp, xdp ? "BPF_PROG_TYPE_XDP loads" : "BPF_PROG_TYPE_XDP does not load",
            without: "the kernel datapath (AF_PACKET tap + raw socket) for IGMP; TC forwarding")
        let xdpLink = xdp && versionAtLeast(release, 5, 9)
        add("xdp_link", xdpLink, "bpf_link for XDP (Linux 5.9+)",
            without: "attachments are not detached when the process dies: `xigmp unload` after a crash")
        let loop = libbpf_probe_bpf_helper(BPF_PROG_TYPE_XDP, BPF_FUNC_loop, nil) == 1
        add("bpf_loop", loop, loop ? "helper bpf_loop" : "no bpf_loop (Linux 5.17+)",
            without: "the classifier cannot load (it walks IGMPv3 records with bpf_loop): use datapath: kernel")
        let devmapBroadcast = xdp && versionAtLeast(release, 5, 13)
        add("devmap_broadcast", devmapBroadcast, "BPF_F_BROADCAST redirects (Linux 5.13+)",
            without: "XDP forwarding to one egress per route; several egress ports go the TC path")
        let afxdp = KernelFD.socket(AF_XDP, Int32(SOCK_RAW.rawValue)) != nil
        let afxdpErr = errno
        add("af_xdp", afxdp, afxdp ? "AF_XDP sockets open" : "socket(AF_XDP): \(errnoName(afxdpErr))",
            without: "datapath: kernel (AF_PACKET tap + raw socket) for IGMP")
        let tcxAnswer = cxigmp_probe_tcx()
        let tcxErr = errno
        add("tcx", tcxAnswer == 1, tcxAnswer == 1 ? "BPF_TCX_INGRESS/EGRESS links (Linux 6.6+)"
                : tcxAnswer == 0 ? "no tcx attach type (before Linux 6.6)" : "unknown: \(errnoName(tcxErr))",
            without: "TC programs go on a clsact qdisc, which outlives a crash: the next start removes what the last left")
        let schIngress = kconfig("CONFIG_NET_SCH_INGRESS")
        let clsact = schIngress != nil || access("/sys/module/sch_ingress", F_OK) == 0
        add("clsact", clsact, clsact ? "clsact qdisc (CONFIG_NET_SCH_INGRESS=\(schIngress ?? "m, loaded"))" : "no CONFIG_NET_SCH_INGRESS",
            without: tcxAnswer == 1 ? "nothing: tcx is used" : "no TC egress filter and no TC forwarding")
        let mroute = probeMulticastRouting()
        add("ip_mroute", mroute.present, mroute.detail,
            without: "forwarding.mode: xdp (XDP and TC forwarding need no MFC); mode: kernel, igmpproxy and smcroute cannot run")
        var mask: UInt64 = 0, segs: UInt32 = 0
        let netdev = cxigmp_xdp_features(1, &mask, &segs) == 0 || errno != ENOENT
        add("xdp_features", netdev, netdev ? "netdev genetlink xdp-features (Linux 6.3+)" : "no netdev genetlink family (before Linux 6.3)",
            without: "xigmp cannot tell which egress native XDP can transmit to: under xdpMode: native every route takes the TC path")
        let bpffs = BPFFS.isBPFFS()
        add("bpffs", bpffs, bpffs ? "\(BPFFS.mountPoint) mounted" : "\(BPFFS.mountPoint) not mounted",
            without: "xigmp mounts it when a pinned attachment is asked for")
        return KernelCapabilities(kernel: release, features: f)
    }

    /// The process-wide answer, probed once.
    public static let current = KernelCapabilities.probe()

    /// MRT_INIT on a fresh raw IGMP socket: succeeds (then undone), or
    /// EADDRINUSE (present, another program routes here), or ENOPROTOOPT /
    /// EOPNOTSUPP (no CONFIG_IP_MROUTE).
    static func probeMulticastRouting() -> (present: Bool, detail: String) {
        guard let socket = KernelFD.socket(AF_INET, Int32(SOCK_RAW.rawValue), Int32(IPPROTO_IGMP)) else {
            return (false, "unknown: raw socket: \(errnoName(errno))")
        }
        let fd = socket.raw
        if cxigmp_mrt_init(fd) == 0 {
            _ = cxigmp_mrt_done(fd)
            return (true, "MRT_INIT works (CONFIG_IP_MROUTE)")
        }
        switch errno {
        case EADDRINUSE: return (true, "CONFIG_IP_MROUTE; another program (igmpproxy, smcroute?) is this namespace's multicast router")
        case ENOPROTOOPT, EOPNOTSUPP: return (false, "MRT_INIT: \(errnoName(errno)): kernel lacks CONFIG_IP_MROUTE")
        case let code: return (false, "MRT_INIT: \(errnoName(code))")
        }
    }

    static func versionAtLeast(_ release: String, _ major: Int, _ minor: Int) -> Bool {
        let parts = release.split(whereSeparator: { !$0.isNumber }).prefix(2).compactMap { Int($0) }
        guard parts.count == 2 else { return false }
        return (parts[0], parts[1]) >= (major, minor)
    }

    /// The value of `name` in the kernel's configuration (/proc/config.gz
    /// or /boot/config-RELEASE): nil when not set or unknown.
    public static func kconfig(_ name: String) -> String? {
        var buf = [CChar](repeating: 0, count: 64)
        guard cxigmp_kconfig(name, &buf, buf.count) == 1 else { return nil }
        return buf.withUnsafeBufferPointer { String(cString: $0.baseAddress!) }
    }

    static func capabilityNames() -> (held: [String], missing: [String]) {
        let all: [(Privileges.Capability, String)] = [(.bpf, "CAP_BPF"), (.perfmon, "CAP_PERFMON"),
                                                      (.netAdmin, "CAP_NET_ADMIN"), (.netRaw, "CAP_NET_RAW"),
                                                      (.sysAdmin, "CAP_SYS_ADMIN")]
        var held: [String] = [], missing: [String] = []
        for (cap, name) in all { if Privileges.has(cap) { held.append(name) } else { missing.append(name) } }
        return (held, missing)
    }
}

/// What XDP can do on one interface, from the netdev genetlink family's
/// `xdp-features` (Linux 6.3+), asked without attaching anything.
public struct InterfaceXDPFeatures: Sendable, Codable, Equatable {
    public let ifname: String
    public let ifindex: UInt32
    /// Nil when the kernel has no netdev family (before 6.3).
    public let mask: UInt64?
    /// XDP programs run natively (the driver's XDP, not generic).
    public var native: Bool { (mask ?? 0) & UInt64(CXIGMP_XDP_ACT_BASIC) != 0 }
    /// XDP can transmit frames redirected to this interface (ndo_xdp_xmit):
    /// a native-mode devmap redirect can use it as an egress.
    public var ndoXmit: Bool { (mask ?? 0) & UInt64(CXIGMP_XDP_ACT_NDO_XMIT) != 0 }
    /// AF_XDP zero-copy.
    public var zeroCopy: Bool { (mask ?? 0) & UInt64(CXIGMP_XDP_ACT_XSK_ZEROCOPY) != 0 }
    /// Why the answer is unknown, when it is.
    public let error: String?

    /// Asks the kernel about `interface` (in the calling thread's namespace).
    public static func probe(_ interface: NetworkInterface) -> InterfaceXDPFeatures {
        var mask: UInt64 = 0
        var segs: UInt32 = 0
        if cxigmp_xdp_features(Int32(bitPattern: interface.index), &mask, &segs) == 0 {
            return InterfaceXDPFeatures(ifname: interface.name, ifindex: interface.index, mask: mask, error: nil)
        }
        let code = errno
        let why = code == ENOENT ? "the kernel has no netdev genetlink family (xdp-features, Linux 6.3+)" : errnoName(code)
        return InterfaceXDPFeatures(ifname: interface.name, ifindex: interface.index, mask: nil, error: why)
    }
}

