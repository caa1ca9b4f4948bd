import CXigmp
import DatapathBPF
import DatapathKernel
import Glibc

/// Operator-level operations on the classifier: load with a pinned link,
/// unload, list what is attached, read counters. Each leaves nothing
/// half-done: a failure after attaching detaches again and removes pins.
public enum ClassifierControl {
    /// Which XDP mode `load` should use (the BPF layer's `XDPModeRequest`).
    public typealias ModeRequest = XDPModeRequest

    /// Outcome of `load`.
    public struct LoadResult: Sendable {
        /// The interface.
        public let interface: NetworkInterface
        /// Mode actually used.
        public let mode: XDPMode
        /// Kernel program id.
        public let programID: UInt32
        /// Pin directory.
        public let pinDirectory: String
        /// Human notes (fallbacks taken, programs replaced).
        public let notes: [String]
    }

    /// Pin file names inside an interface's pin directory.
    static let pinNames = ["link", XIGMP_MAP_ACTIONS, XIGMP_MAP_COUNTERS, XIGMP_MAP_XSKS,
                           XIGMP_MAP_LIMITS]

    /// Attaches a new classifier instance to `ifname` with a pinned bpf_link,
    /// every IGMP class set to `action`.
    ///
    /// Refuses when any XDP program is attached (ours or not) unless `force`,
    /// which detaches it first.
    public static func load(ifname: String, mode request: ModeRequest, force: Bool,
                            action: ClassifierAction = .redirect,
                            rateLimit: (perSecond: UInt32, burst: UInt32)? = nil) throws(DatapathError) -> LoadResult {
        try Privileges.requireBPF("xigmp load")
        let iface = try NetworkInterface(named: ifname)
        try BPFFS.ensureMounted()
        let dir = BPFFS.pinDirectory(ifname: ifname)
        var notes: [String] = []

        if let existing = try XDP.query(iface) {
            let who = existing.isOurs ? "xigmp's classifier" : "a foreign XDP program '\(existing.program.name)'"
            guard force else {
                let kind: DatapathError.Kind = existing.isOurs ? .alreadyLoaded : .foreignProgram
                let fix = existing.isOurs ? "run `xigmp unload --iface \(ifname)` first, or pass --force to replace it"
                                          : "remove it, or pass --force to replace it"
                throw DatapathError(kind, "\(ifname) already runs \(who) (prog id \(existing.program.id), \(existing.mode.rawValue) mode): \(fix)")
            }
            try XDP.detach(existing)
            notes.append("replaced \(who) (prog id \(existing.program.id)) on \(ifname)")
        }
        removePins(dir)

        let classifier = try Classifier()
        try classifier.setAction(action)
        if let rateLimit { try classifier.setRateLimit(perSecond: rateLimit.perSecond, burst: rateLimit.burst) }

        let (link, mode, attachNotes) = try XDP.attach(program: classifier.program, to: iface, request: request)
        notes += attachNotes

        // Pin link and maps; on any failure, unpin and let the link's last
        // descriptor close, which detaches the program.
        do {
            try BPFFS.makeDirectories(dir)
            try libbpfCheck(bpf_obj_pin(link.raw, "\(dir)/link"), "pinning link at \(dir)/link")
            try classifier.actions.pin(at: "\(dir)/\(XIGMP_MAP_ACTIONS)")
            try classifier.counters.pin(at: "\(dir)/\(XIGMP_MAP_COUNTERS)")
            try classifier.xsks.pin(at: "\(dir)/\(XIGMP_MAP_XSKS)")
            try classifier.limits.pin(at: "\(dir)/\(XIGMP_MAP_LIMITS)")
        } catch {
            _ = bpf_link_detach(link.raw)
            removePins(dir)
            throw error
        }
        return LoadResult(interface: iface, mode: mode, programID: classifier.info.id,
                          pinDirectory: dir, notes: notes)
    }

    /// Outcome of `unload` for one interface.
    public struct UnloadResult: Sendable {
        /// Interface name.
        public let ifname: String
        /// Program id detached, if one was attached.
        public let programID: UInt32?
        /// Whether pins were removed.
        public let removedPins: Bool
    }

    /// Detaches xigmp's classifier from `ifname` and removes its pins. A
    /// foreign program is left alone (error); nothing attached is an error
    /// unless stale pins were cleaned up.
    public static func unload(ifname: String) throws(DatapathError) -> UnloadResult {
        try Privileges.requireBPF("xigmp unload")
        let dir = BPFFS.pinDirectory(ifname: ifname)
        let hadPins = BPFFS.exists(dir)
        var detached: UInt32?
        if let iface = try? NetworkInterface(named: ifname), let existing = try XDP.query(iface) {
            guard existing.isOurs else {
                throw DatapathError(.foreignProgram, "\(ifname) runs a foreign XDP program '\(existing.program.name)' (prog id \(existing.program.id)), not xigmp's: left in place")
            }
            try XDP.detach(existing)
            detached = existing.program.id
        }
        if hadPins { removePins(dir) }
        if detached == nil && !hadPins {
            if (try? NetworkInterface(named: ifname)) == nil {
                throw DatapathError(.noSuchInterface, "no interface named '\(ifname)' and no xigmp pins for it: see `xigmp status`")
            }
            throw DatapathError(.notLoaded, "xigmp is not attached to \(ifname): nothing to unload (see `xigmp status`)")
        }
        return UnloadResult(ifname: ifname, programID: detached, removedPins: hadPins)
    }

    /// Unloads from every interface carrying the classifier in this network
    /// namespace, and removes every pin directory of this namespace.
    public static func unloadAll() throws(DatapathError) -> [UnloadResult] {
        var results: [UnloadResult] = []
        var names = Set<String>()
        for s in try status() { names.insert(s.attachment.interface.name) }
        for name in BPFFS.list(BPFFS.namespaceDirectory()) where !name.hasPrefix("@") && !name.hasPrefix("ns-") {
            names.insert(name)
        }
        for name in names.sorted() {
            results.append(try unload(ifname: name))
        }
        return results
    }

    /// One interface carrying xigmp's classifier.
    public struct Status: Sendable {
        /// What the kernel reports.
        public let attachment: XDPAttachment
        /// Pin directory when the link is pinned there.
        public let pinDirectory: String?
    }

    /// Every interface of this namespace that runs xigmp's classifier.
    public static func status() throws(DatapathError) -> [Status] {
        try Privileges.requireBPF("reading XDP attachments")
        var result: [Status] = []
        for iface in NetworkInterface.all() {
            guard let a = try XDP.query(iface), a.isOurs else { continue }
            let dir = BPFFS.pinDirectory(ifname: iface.name)
            let pinned = BPFFS.exists("\(dir)/link")
            result.append(Status(attachment: a, pinDirectory: pinned ? dir : nil))
        }
        return result
    }

    /// Pin directories of this namespace whose interface no longer runs
    /// the classifier (left by a crash or a deleted interface).
    public static func stalePins() throws(DatapathError) -> [String] {
        let live = Set(try status().map(\.attachment.interface.name))
        return BPFFS.list(BPFFS.namespaceDirectory())
            .filter { !$0.hasPrefix("@") && !$0.hasPrefix("ns-") && !live.contains($0) }
            .map { "\(BPFFS.namespaceDirectory())/\($0)" }
    }

    /// Counters of the classifier on `interface`, read through the kernel
    /// (the program's own map), so unpinned daemon attachments work too.
    public static func counters(of attachment: XDPAttachment) throws(DatapathError) -> ClassifierCounters {
        for id in attachment.program.mapIDs {
            let map = try BPFMap(id: id)
            if map.name == XIGMP_MAP_COUNTERS {
                return ClassifierCounters(values: try map.perCPUSums(slots: ClassifierCounters.slotCount))
            }
        }
        throw DatapathError(.abiMismatch, "program \(attachment.program.id) on \(attachment.interface.name) has no counters map: is it an older xigmp? reload with `xigmp load --force`")
    }

    /// Removes an interface's pin files and directory (missing is fine).
    static func removePins(_ dir: String) {
        for name in pinNames { unlink("\(dir)/\(name)") }
        rmdir(dir)
        // Drop an empty namespace directory too.
        let parent = String(dir[..<(dir.lastIndex(of: "/") ?? dir.endIndex)])
        if parent != BPFFS.root { rmdir(parent) }
    }
}
