import DatapathKernel
import Testing
import XigmpDaemon

/// `xigmp run`'s exit status comes from the error's kind, never its text.
@Suite("DaemonError kinds and exit status")
struct DaemonErrorTests {
    @Test("a config-rooted error ends the run with 2, every other kind with 1")
    func exitStatus() {
        #expect(DaemonError.config("x.yaml:3: interfaces.required: no interface named 'eth9'").exitStatus == 2)
        #expect(DaemonError("cannot create the wake-up pipe: EMFILE").exitStatus == 1)
        let busy = DatapathError(.busy, "RX queue 0 of eth0 already has an AF_XDP socket")
        #expect(DaemonError(busy).exitStatus == 1)
        #expect(DaemonError(busy).kind == .datapath(.busy))
        // A message that merely starts like a path is not a config error.
        #expect(DaemonError("x.yaml: looks like a path").exitStatus == 1)
    }

    @Test("a datapath error keeps its message behind the context")
    func context() {
        let e = DaemonError(DatapathError(.missingPrivilege, "permission denied"), context: "cannot watch the interfaces (rtnetlink)")
        #expect(e.description == "cannot watch the interfaces (rtnetlink): permission denied")
        #expect(e.kind == .datapath(.missingPrivilege))
    }
}
