import CXigmp
import DatapathBPF
import DatapathKernel
import Glibc

/// The classifier on an interface, held for as long as a port needs IGMP
/// redirected to it.
///
/// If xigmp's classifier is already attached (a pinned `xigmp load`), the
/// lease reuses it: it switches the wildcard action rows to redirect and
/// puts the previous rows back when released. Otherwise it attaches a new
/// instance through an unpinned bpf_link that it owns, so the program goes
/// away with this process, even if it crashes.
package final class ClassifierLease {
    package let interface: NetworkInterface
    /// The XSKMAP to register sockets in.
    package let xsks: BPFMap
    /// The per-source token bucket's configuration and the counters.
    package let limits: BPFMap?
    package let counters: BPFMap?
    /// Provisional forwarding: the shared table's slots and the allow table.
    package let provisional: ProvisionalSlots?
    private let actions: BPFMap
    private let link: KernelFD?
    private let previousRows: [(IGMPClass, xigmp_action_value?)]
    /// Mode the classifier runs in and its program id.
    package let mode: XDPMode
    package let programID: UInt32
    /// Human notes (fallbacks, reuse).
    package let notes: [String]

    package init(interface: NetworkInterface, mode request: ClassifierControl.ModeRequest, force: Bool) throws(DatapathError) {
        self.interface = interface
        var notes: [String] = []
        if let existing = try XDP.query(interface), existing.isOurs, !force {
            var found: (BPFMap?, BPFMap?) = (nil, nil)
            var limits: BPFMap?
            var counters: BPFMap?
            var all: [BPFMap] = []
            for id in existing.program.mapIDs {
                let m = try BPFMap(id: id)
                all.append(m)
                if m.name == XIGMP_MAP_XSKS { found.0 = m }
                if m.name == XIGMP_MAP_ACTIONS { found.1 = m }
                if m.name == XIGMP_MAP_LIMITS { limits = m }
                if m.name == XIGMP_MAP_COUNTERS { counters = m }
            }
            self.limits = limits
            self.counters = counters
            provisional = ProvisionalSlots(maps: all)
            guard let xsks = found.0, let actions = found.1 else {
                throw DatapathError(.abiMismatch, "the classifier on \(interface.name) (prog id \(existing.program.id)) lacks its maps: reload it with `xigmp load --force --iface \(interface.name)`")
            }
            self.xsks = xsks
            self.actions = actions
            link = nil
            mode = existing.mode
            programID = existing.program.id
            notes.append("using the classifier already attached to \(interface.name) (prog id \(existing.program.id), \(existing.mode.rawValue) mode)")
        } else {
            if let existing = try XDP.query(interface) {
                guard force else {
                    throw DatapathError(.foreignProgram, "\(interface.name) runs a foreign XDP program '\(existing.program.name)' (prog id \(existing.program.id)): remove it, pass --force, or use --datapath kernel")
                }
                try XDP.detach(existing)
                notes.append("replaced XDP program '\(existing.program.name)' (prog id \(existing.program.id)) on \(interface.name)")
            }
            let classifier = try Classifier()
            let attached = try XDP.attach(program: classifier.program, to: interface, request: request)
            notes += attached.notes
            xsks = classifier.xsks
            actions = classifier.actions
            limits = classifier.limits
            counters = classifier.counters
            provisional = classifier.provisional
            link = attached.link
            mode = attached.mode
            programID = classifier.info.id
        }
        var previous: [(IGMPClass, xigmp_action_value?)] = []
        for c in IGMPClass.allCases {
            let key = xigmp_action_key(ifindex: 0, igmp_class: c.rawValue)
            previous.append((c, try actions.lookup(key, as: xigmp_action_value.self)))
            try actions.update(key, xigmp_action_value(action: ClassifierAction.redirect.raw, reserved: 0))
        }
        previousRows = previous
        self.notes = notes
    }

    /// Registers an AF_XDP socket for RX queue `queue`.
    package func register(queue: UInt32, socketFD: Int32) throws(DatapathError) {
        try xsks.update(queue, socketFD)
    }

    deinit {
        // An owned link detaches when its descriptor closes; a reused one
        // gets its action rows back.
        if link == nil {
            for (c, row) in previousRows {
                let key = xigmp_action_key(ifindex: 0, igmp_class: c.rawValue)
                if let row { try? actions.update(key, row) } else { try? actions.delete(key) }
            }
        }
    }
}
