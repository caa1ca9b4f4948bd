import DatapathKernel
import Glibc
import Testing

/// Errors carry a kind derived from what failed, so callers act on the
/// kind (retry another mode, pick an exit status), never on the text.
@Suite("DatapathError kinds")
struct DatapathErrorTests {
    @Test("an errno maps to the kind that names it", arguments: [
        (EPERM, DatapathError.Kind.missingPrivilege), (EACCES, .missingPrivilege),
        (ENODEV, .noSuchInterface), (ENXIO, .noSuchInterface),
        (EBUSY, .busy), (EEXIST, .busy), (EADDRINUSE, .busy),
        (EOPNOTSUPP, .featureAbsent), (ENOPROTOOPT, .featureAbsent), (ENOSYS, .featureAbsent),
        (EINVAL, .io(Errno(EINVAL))), (ENOMEM, .io(Errno(ENOMEM))),
    ])
    func errnoKinds(code: Int32, kind: DatapathError.Kind) {
        #expect(DatapathError.kind(forErrno: code) == kind)
    }

    @Test("an I/O kind names its errno")
    func ioNamesErrno() {
        #expect(Errno(ENOENT).description.hasPrefix("ENOENT ("))
        #expect(Errno(9999).description.hasPrefix("errno 9999"))
    }
}
