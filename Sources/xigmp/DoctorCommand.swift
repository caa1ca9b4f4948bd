import ArgumentParser
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import XigmpTools

/// `xigmp doctor`: what this kernel and this process can do, and which
/// configuration features will work here.
struct Doctor: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Probe the kernel's features (like `bpftool feature probe`) and say which xigmp features work here.",
        discussion: "Nothing is attached. Exit status 0 whatever is missing: the table says what xigmp does without it.")

    @OptionGroup var global: GlobalOptions

    @Option(name: .long, help: ArgumentHelp("Also report what XDP can do on this interface (repeatable).", valueName: "IF"))
    var iface: [String] = []

    @Flag(name: .long, help: "Print JSON.")
    var json = false

    func run() throws {
        try global.apply()
        let caps = KernelCapabilities.probe()
        var interfaces: [InterfaceXDPFeatures] = []
        for name in iface {
            let i = try xigmp.run { () throws(DatapathError) in try NetworkInterface(named: name) }
            interfaces.append(InterfaceXDPFeatures.probe(i))
        }
        let works = Self.configFeatures(caps)
        if json {
            let obj: JSON = .object([
                ("kernel", .string(caps.kernel)),
                ("ip_mroute", .bool(caps.ipMroute)),
                ("tcx", .bool(caps.tcx)),
                ("capabilities", .object(caps.features.map { ($0.key, .bool($0.present)) })),
                ("features", .array(caps.features.map {
                    .object([("key", .string($0.key)), ("present", .bool($0.present)), ("detail", .string($0.detail)),
                             ("without", .string($0.without))])
                })),
                ("config", .object(works.map { ($0.key, .bool($0.works)) })),
                ("interfaces", .array(interfaces.map { i in
                    .object([("ifname", .string(i.ifname)), ("ifindex", .uint(UInt64(i.ifindex))),
                             ("xdp_features", i.mask.map { .uint($0) } ?? .null),
                             ("native_xdp", .bool(i.native)), ("xdp_transmit", .bool(i.ndoXmit)),
                             ("xsk_zerocopy", .bool(i.zeroCopy)), ("error", i.error.map { .string($0) } ?? .null)])
                })),
            ])
            print(obj.rendered)
            return
        }
        print("kernel \(caps.kernel)")
        let w = max(16, (caps.features.map(\.key.count).max() ?? 0) + 2)
        print("feature".padding(w) + "present  detail")
        for f in caps.features {
            print(f.key.padding(w) + (f.present ? "yes" : "NO ").padding(9) + f.detail)
            if !f.present { print("".padding(w + 9) + "without it: " + f.without) }
        }
        if !interfaces.isEmpty {
            print("")
            print("interface".padding(w) + "native-xdp  xdp-transmit  zero-copy")
            for i in interfaces {
                if let error = i.error {
                    print(i.ifname.padding(w) + "unknown: \(error)")
                } else {
                    print(i.ifname.padding(w) + (i.native ? "yes" : "no").padding(12) + (i.ndoXmit ? "yes" : "no").padding(14)
                        + (i.zeroCopy ? "yes" : "no"))
                }
            }
        }
        print("")
        print("configuration".padding(w + 18) + "works here")
        for c in works {
            print(c.key.padding(w + 18) + (c.works ? "yes" : "no: \(c.why)"))
        }
    }

    /// Which settings work with these capabilities.
    static func configFeatures(_ c: KernelCapabilities) -> [(key: String, works: Bool, why: String)] {
        let bpf = c.bpf && c.has("xdp") && c.has("bpf_loop")
        return [
            ("datapath: xdp (AF_XDP)", bpf && c.has("af_xdp"), "needs BPF, XDP, bpf_loop and AF_XDP"),
            ("datapath: kernel", true, ""),
            ("forwarding.mode: xdp (xdp path)", bpf, "needs BPF, XDP and bpf_loop"),
            ("forwarding.mode: xdp (tc path)", bpf && (c.tcx || c.clsact), "needs BPF and tcx or clsact"),
            ("forwarding.mode: kernel (MFC)", c.ipMroute, "kernel lacks CONFIG_IP_MROUTE"),
            ("egressFilter", bpf && (c.tcx || c.clsact), "needs BPF and tcx or clsact"),
            ("crash-safe TC attachments", c.tcx, "no tcx (Linux 6.6+): clsact filters outlive a crash until the next start"),
        ]
    }
}

extension String {
    fileprivate func padding(_ n: Int) -> String {
        count >= n ? self + " " : self + String(repeating: " ", count: n - count)
    }
}
