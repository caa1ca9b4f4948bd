import DatapathKernel
import Foundation
import Testing

/// A thread's kernel name is what /proc shows for it, and a name longer
/// than the kernel's 15 bytes is cut, not refused.
@Suite("ThreadName (the kernel's name of a thread)")
struct ThreadNameTests {
    /// Runs `body` on a fresh thread (naming the test runner's own threads
    /// would outlive the test) and returns what it returned.
    private static func onThread<T: Sendable>(_ body: @escaping @Sendable () -> T) -> T {
        let done = DispatchSemaphore(value: 0)
        let box = Box<T>()
        let t = Thread {
            box.value = body()
            done.signal()
        }
        t.start()
        done.wait()
        return box.value!
    }

    private final class Box<T>: @unchecked Sendable { var value: T? }

    @Test func setsTheNameProcShows() {
        let (ok, name) = Self.onThread { (ThreadName.setCurrent("xigmp-test"), ThreadName.current()) }
        #expect(ok)
        #expect(name == "xigmp-test")
    }

    @Test func cutsALongNameToFifteenBytes() {
        let (ok, name) = Self.onThread { (ThreadName.setCurrent("xigmp-a-very-long-name"), ThreadName.current()) }
        #expect(ok)
        #expect(name == "xigmp-a-very-lo")
    }
}
