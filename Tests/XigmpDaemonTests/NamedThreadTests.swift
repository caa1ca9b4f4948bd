import DatapathKernel
import Foundation
import Testing
@testable import XigmpDaemon

/// The daemon's threads carry their names in the kernel (top -H, perf, the
/// benchmark's per-thread CPU), not only on Foundation's Thread object.
@Suite("NamedThread")
struct NamedThreadTests {
    private final class Box: @unchecked Sendable { var name: String? }

    @Test func theKernelSeesTheName() {
        let done = DispatchSemaphore(value: 0)
        let box = Box()
        NamedThread.start("xigmp-loop") {
            box.name = ThreadName.current()
            done.signal()
        }
        done.wait()
        #expect(box.name == "xigmp-loop")
    }
}
