import CXigmp
import DatapathKernel
import Glibc
import Synchronization

/// One BPF program on an interface's TC hook, the way the kernel allows
/// best: a tcx bpf_link where the kernel has tcx (Linux 6.6+), which the
/// kernel removes when its last descriptor closes — a crash or kill -9
/// leaves nothing — else a direct-action filter on a clsact qdisc (added
/// when missing), which outlives the process: `deinit` removes it, and a
/// filter a crashed run left in our slot is recognised by its program name
/// and replaced on the next start.
///
/// Every TC program xigmp attaches (the egress filter, the TC forwarding
/// path) goes through this one type, so the choice is made and reported in
/// one place (`mechanism`).
public final class TCAttachment: @unchecked Sendable {
    /// Which TC hook.
    public enum Hook: String, Sendable {
        case ingress, egress
    }

    /// How the program is attached.
    public enum Mechanism: String, Sendable, Codable {
        /// A tcx bpf_link (gone with the process).
        case tcx
        /// A clsact qdisc filter (removed by `deinit`, or by the next start).
        case clsact
    }

    public let interface: NetworkInterface
    public let hook: Hook
    public let mechanism: Mechanism
    /// Notes for the operator (a leftover filter replaced).
    public let notes: [String]
    /// clsact only: true when this attachment added the qdisc (and so
    /// deletes it on close when nothing else uses it).
    public let createdQdisc: Bool
    /// Kernel id of the attached program.
    public let programID: UInt32

    private let handle: UInt32
    private let priority: UInt32
    /// Until `close()`: the tcx link, or (clsact) a descriptor of the
    /// namespace the filter lives in (tc netlink calls are per namespace).
    private let state: Mutex<(link: KernelFD?, namespace: KernelFD?, open: Bool)>

    /// Attaches `program` (a loaded SCHED_CLS program named `programName`)
    /// to `interface`'s `hook`. `handle`/`priority` name xigmp's clsact
    /// slot for this program; `mechanism` nil picks tcx when the kernel has
    /// it.
    public init(program: Int32, programName: String, interface: NetworkInterface, hook: Hook,
                handle: UInt32, priority: UInt32, mechanism: Mechanism? = nil) throws(DatapathError) {
        self.interface = interface
        self.hook = hook
        self.handle = handle
        self.priority = priority
        var info = bpf_prog_info()
        var len = UInt32(MemoryLayout<bpf_prog_info>.size)
        programID = bpf_obj_get_info_by_fd(program, &info, &len) == 0 ? info.id : 0
        let egress = hook == .egress
        let chosen = mechanism ?? (KernelCapabilities.current.tcx ? .tcx : .clsact)
        self.mechanism = chosen
        if chosen == .tcx {
            let fd = cxigmp_tcx_attach(program, Int32(bitPattern: interface.index), egress)
            guard fd >= 0 else {
                let code = errno
                if code == EINVAL {
                    throw DatapathError(.featureAbsent, "attaching \(programName) to \(interface.name) \(hook.rawValue) with tcx: this kernel has no tcx (Linux 6.6+)", errno: code)
                }
                throw DatapathError.system("attaching \(programName) to \(interface.name) \(hook.rawValue) (tcx link)", errno: code)
            }
            state = Mutex((KernelFD(owning: fd), nil, true))
            createdQdisc = false
            notes = []
            return
        }
        let raw = open("/proc/thread-self/ns/net", O_RDONLY | O_CLOEXEC)
        guard raw >= 0 else {
            throw DatapathError.system("opening this thread's network namespace (/proc/thread-self/ns/net)", errno: errno)
        }
        let ns = KernelFD(owning: raw)
        (createdQdisc, notes) = try Self.attachClsact(program, programName, interface, egress, handle, priority)
        state = Mutex((nil, ns, true))
    }

    deinit {
        try? close()
    }

    /// True until `close()`.
    public var isAttached: Bool { state.withLock { $0.open } }

    /// Detaches: closes the tcx link, or removes our clsact filter (only
    /// ours) and the qdisc if this attachment added it and nothing else
    /// uses it, from the namespace it was attached in, whichever thread
    /// calls. Idempotent; `deinit` calls it.
    public func close() throws(DatapathError) {
        try state.withLock { (s: inout (link: KernelFD?, namespace: KernelFD?, open: Bool)) throws(DatapathError) in
            guard s.open else { return }
            if mechanism == .clsact {
                if let ns = s.namespace {
                    try NetNamespace.run(in: ns.raw) { () throws(DatapathError) in try detachClsact() }
                }
                s.namespace = nil
            }
            s.link = nil  // a tcx link goes with its last descriptor
            s.open = false
        }
    }

    private static func attachClsact(_ program: Int32, _ name: String, _ interface: NetworkInterface, _ egress: Bool,
                                     _ handle: UInt32, _ priority: UInt32) throws(DatapathError) -> (Bool, [String]) {
        let ifindex = Int32(bitPattern: interface.index)
        let side = egress ? "egress" : "ingress"
        var notes: [String] = []
        // Looked at first: asking libbpf to add a qdisc that exists makes
        // the kernel log an error that would reach the operator.
        let present = cxigmp_tc_has_clsact(ifindex)
        guard present >= 0 else { throw tcError("reading the qdiscs of \(interface.name)", present, interface, side, priority) }
        var created = false
        if present == 0 {
            let rc = cxigmp_tc_hook_create(ifindex)
            guard rc == 0 || rc == -EEXIST else {
                throw tcError("adding a clsact qdisc to \(interface.name)", rc, interface, side, priority)
            }
            created = rc == 0
        }
        func undo() { if created { _ = cxigmp_tc_hook_destroy(ifindex) } }
        var slot = cxigmp_tc_hook_state()
        let scanned = cxigmp_tc_scan(ifindex, egress, handle, priority, &slot)
        guard scanned == 0 else {
            undo()
            throw tcError("reading the \(side) filters of \(interface.name)", scanned, interface, side, priority)
        }
        if slot.found {
            // Our slot is taken: by a filter a crashed xigmp left, or by a
            // foreign one.
            let found = slot.prog_id == 0 ? nil : (try? BPFProgramInfo(id: slot.prog_id))?.name
            guard found == name else {
                undo()
                let at = "pref \(priority) handle 0x\(String(handle, radix: 16))"
                throw DatapathError(
                    .foreignProgram,
                    "another filter (\(found.map { "BPF program '\($0)', prog id \(slot.prog_id)" } ?? "not xigmp's")) holds xigmp's tc slot on \(interface.name) \(side) (\(at)): remove it with `tc filter del dev \(interface.name) \(side) \(at)`")
            }
            notes.append("replaced the \(name) filter already on \(interface.name) \(side) (prog id \(slot.prog_id)), left by an earlier run or another xigmp")
        }
        var id: UInt32 = 0
        let attached = cxigmp_tc_attach(ifindex, egress, program, handle, priority, slot.found, &id)
        guard attached == 0 else {
            undo()
            throw tcError("attaching \(name) to \(interface.name) \(side)", attached, interface, side, priority)
        }
        return (created, notes)
    }

    /// Removes a clsact filter named `programName` that a crashed run left
    /// in xigmp's slot (`handle`, `priority`) on `interface`'s `hook`: on a
    /// kernel without tcx nothing else does, and a filter attached on
    /// demand (the TC forwarding path) would otherwise keep forwarding
    /// with nobody to update it. A filter of another name is left alone.
    /// Returns whether one was removed.
    @discardableResult
    public static func removeLeftover(programName: String, interface: NetworkInterface, hook: Hook,
                                      handle: UInt32, priority: UInt32) throws(DatapathError) -> Bool {
        let ifindex = Int32(bitPattern: interface.index)
        let egress = hook == .egress
        guard cxigmp_tc_has_clsact(ifindex) == 1 else { return false }
        var slot = cxigmp_tc_hook_state()
        let rc = cxigmp_tc_scan(ifindex, egress, handle, priority, &slot)
        guard rc == 0 else { throw tcError("reading the filters of \(interface.name)", rc, interface, hook.rawValue, priority) }
        guard slot.found, slot.prog_id != 0, (try? BPFProgramInfo(id: slot.prog_id))?.name == programName else { return false }
        let gone = cxigmp_tc_detach(ifindex, egress, handle, priority)
        guard gone == 0 || gone == -ENOENT else {
            throw tcError("removing the \(programName) filter left on \(interface.name)", gone, interface, hook.rawValue, priority)
        }
        return gone == 0
    }

    /// Removes our filter if it is still ours, then the qdisc if we added
    /// it and no filter is left on either hook.
    private func detachClsact() throws(DatapathError) {
        let ifindex = Int32(bitPattern: interface.index)
        let egress = hook == .egress
        var slot = cxigmp_tc_hook_state()
        let rc = cxigmp_tc_scan(ifindex, egress, handle, priority, &slot)
        if rc == -ENODEV { return }  // the interface is gone, and the filter with it
        guard rc == 0 else { throw Self.tcError("reading the filters of \(interface.name)", rc, interface, hook.rawValue, priority) }
        if slot.found && slot.prog_id == programID {
            let gone = cxigmp_tc_detach(ifindex, egress, handle, priority)
            guard gone == 0 || gone == -ENOENT || gone == -ENODEV else {
                throw Self.tcError("detaching from \(interface.name)", gone, interface, hook.rawValue, priority)
            }
        }
        guard createdQdisc else { return }
        var ingress = cxigmp_tc_hook_state(), eg = cxigmp_tc_hook_state()
        guard cxigmp_tc_scan(ifindex, false, 0, 0, &ingress) == 0, cxigmp_tc_scan(ifindex, true, 0, 0, &eg) == 0,
              ingress.entries == 0, eg.entries == 0 else { return }
        _ = cxigmp_tc_hook_destroy(ifindex)
    }

    static func tcError(_ what: String, _ rc: Int32, _ interface: NetworkInterface, _ side: String,
                        _ priority: UInt32) -> DatapathError {
        let code = -rc
        switch code {
        case ENODEV:
            return DatapathError(.noSuchInterface, "\(what): no such device (ENODEV): it vanished; check `ip link`", errno: code)
        case EINVAL, EOPNOTSUPP:
            return DatapathError(
                .featureAbsent,
                "\(what): the kernel refused (\(errnoName(code))); \(interface.name) may carry an 'ingress' qdisc, which has no egress hook, or a filter of another kind at pref \(priority): see `tc qdisc show dev \(interface.name)` and `tc filter show dev \(interface.name) \(side)`",
                errno: code)
        case EEXIST:
            return DatapathError(.busy, "\(what): a filter appeared in xigmp's slot meanwhile (EEXIST): see `tc filter show dev \(interface.name) \(side)` and retry", errno: code)
        default:
            return DatapathError.system(what, errno: code)
        }
    }
}
