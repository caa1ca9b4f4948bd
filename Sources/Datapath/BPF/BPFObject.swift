import CXigmp
import DatapathKernel
import Glibc

/// The BPF objects compiled into this binary by `make`.
public enum EmbeddedObject: String, Sendable, CaseIterable {
    /// The XDP IGMP classifier (`bpf/igmp_classify.bpf.c`).
    case igmpClassify = "igmp_classify"
    /// The TC egress filter for the host's own reports (`bpf/igmp_egress.bpf.c`).
    case igmpEgress = "igmp_egress"
    /// A bare XDP_PASS program, the baseline for cost measurements.
    case xdpPass = "xdp_pass"

    /// The object's bytes, or nil when the build did not embed it.
    public var bytes: UnsafeRawBufferPointer? {
        var len = 0
        guard let p = cxigmp_embedded_object(rawValue, &len), len > 0 else { return nil }
        return UnsafeRawBufferPointer(start: p, count: len)
    }
}

/// An opened (and, after `load()`, verified and loaded) BPF object; wraps
/// `struct bpf_object`, closed in `deinit` with `bpf_object__close`.
///
/// Programs and maps taken from it are duplicated into their own
/// descriptors, so they outlive the object when the caller keeps them.
public final class BPFObject: @unchecked Sendable {
    private let handle: OpaquePointer
    /// The embedded object's short name.
    public let name: String

    /// Opens an embedded object (`bpf_object__open_mem`); nothing reaches the
    /// kernel until `load()`.
    public init(_ object: EmbeddedObject) throws(DatapathError) {
        guard let bytes = object.bytes else {
            throw DatapathError(
                .objectMissing,
                "this xigmp binary was built without its BPF object '\(object.rawValue)': build with `make`, not a bare `swift build`")
        }
        errno = 0
        guard let h = cxigmp_object_open_mem(bytes.baseAddress, bytes.count, object.rawValue) else {
            let code = errno == 0 ? EINVAL : errno
            throw DatapathError(.objectMissing, "cannot parse embedded BPF object '\(object.rawValue)': \(errnoName(code))",
                                detail: LibBPFLog.tail(LibBPFLog.take(), lines: 5), errno: code)
        }
        handle = h
        name = object.rawValue
    }

    deinit {
        bpf_object__close(handle)
    }

    /// Loads every program and creates every map (`bpf_object__load`). A
    /// verifier rejection carries the verifier's last lines.
    public func load() throws(DatapathError) {
        _ = LibBPFLog.take()
        let rc = bpf_object__load(handle)
        guard rc == 0 else {
            let code = -rc
            let log = LibBPFLog.take()
            if code == EPERM {
                throw DatapathError.system("loading BPF object '\(name)'", errno: code)
            }
            if log.contains("-- BEGIN PROG LOAD LOG --") || code == EACCES || code == EINVAL || code == E2BIG {
                throw DatapathError(
                    .verifierRejected,
                    "the kernel's verifier rejected BPF object '\(name)' (\(errnoName(code))); this kernel may lack a feature xigmp needs (Linux >= 5.10 with BTF). Verifier's last lines:",
                    detail: LibBPFLog.tail(verifierLog(log), lines: 12), errno: code)
            }
            throw DatapathError.failed("loading BPF object '\(name)' failed: \(errnoName(code))",
                                detail: LibBPFLog.tail(log, lines: 8), errno: code)
        }
    }

    /// A loaded program's descriptor (duplicated; caller owns it).
    public func program(named program: String) throws(DatapathError) -> KernelFD {
        guard let p = bpf_object__find_program_by_name(handle, program) else {
            throw DatapathError(.objectMissing, "BPF object '\(name)' has no program '\(program)'")
        }
        return try dupFD(bpf_program__fd(p), "program \(program)")
    }

    /// A created map (duplicated descriptor; caller owns it).
    public func map(named map: String) throws(DatapathError) -> BPFMap {
        guard let m = bpf_object__find_map_by_name(handle, map) else {
            throw DatapathError(.objectMissing, "BPF object '\(name)' has no map '\(map)'")
        }
        return try BPFMap(fd: dupFD(bpf_map__fd(m), "map \(map)"))
    }

    private func dupFD(_ fd: Int32, _ what: String) throws(DatapathError) -> KernelFD {
        guard fd >= 0 else {
            throw DatapathError(.notLoaded, "\(what) of '\(name)' is not loaded: call load() first")
        }
        let copy = fcntl(fd, F_DUPFD_CLOEXEC, 0)
        guard copy >= 0 else { throw DatapathError.system("dup \(what)", errno: errno) }
        return KernelFD(owning: copy)
    }

    /// The part of libbpf's output between the load-log markers.
    private func verifierLog(_ log: String) -> String {
        guard let start = log.firstRange(of: "-- BEGIN PROG LOAD LOG --"),
              let end = log[start.upperBound...].firstRange(of: "-- END PROG LOAD LOG --")
        else { return log }
        return String(log[start.upperBound..<end.lowerBound])
    }
}

/// Descriptor of a loaded program with the kernel's view of it.
public struct BPFProgramInfo: Sendable, Equatable {
    /// Kernel program id.
    public let id: UInt32
    /// Program name as the kernel keeps it (at most 15 bytes).
    public let name: String
    /// Ids of the maps it uses.
    public let mapIDs: [UInt32]

    /// Reads the info of an open program (`bpf_obj_get_info_by_fd`).
    public init(fd: Int32) throws(DatapathError) {
        var info = cxigmp_prog_info()
        try libbpfCheck(cxigmp_prog_info(fd, &info), "reading program info")
        id = info.id
        name = withUnsafeBytes(of: info.name) { String(decoding: $0.prefix { $0 != 0 }, as: UTF8.self) }
        let count = Int(info.nr_map_ids)
        mapIDs = withUnsafeBytes(of: info.map_ids) { Array($0.bindMemory(to: UInt32.self).prefix(count)) }
    }

    /// Reads the info of a program by id (`bpf_prog_get_fd_by_id`).
    public init(id: UInt32) throws(DatapathError) {
        let fd = bpf_prog_get_fd_by_id(id)
        guard fd >= 0 else { throw DatapathError.system("opening program id \(id)", errno: -fd) }
        let owned = KernelFD(owning: fd)
        try self.init(fd: owned.raw)
    }
}
