import DatapathKernel
import Foundation

/// Threads the daemon starts, named where the kernel shows it.
///
/// Foundation's `Thread.name` on Linux names the `Thread` object only: the
/// kernel's name of the thread (what `top -H`, `ps -L`, `perf` and the
/// benchmark's per-thread CPU accounting see) stayed the process's. The
/// thread names itself first thing.
enum NamedThread {
    /// Starts `body` on a new thread called `name` (at most 15 bytes).
    static func start(_ name: String, _ body: @escaping @Sendable () -> Void) {
        let t = Thread {
            ThreadName.setCurrent(name)
            body()
        }
        t.name = name
        t.start()
    }
}
