import DatapathKernel
import Foundation
import Glibc
import Testing
import XigmpTestSupport

/// The one scoped way into a network namespace: setns(2) moves a single
/// thread, so after `NetNamespace.run` returns (or throws) no thread of the
/// process may be left in the namespace it entered. (Other tests run in
/// parallel and put their own threads in their own namespaces for a while,
/// so "every thread in the initial namespace" would be the wrong check.)
@Suite("NetNamespace.run: scoped entry, per thread")
struct NetNamespaceTests {
    /// Inode of a namespace link such as /proc/self/task/TID/ns/net.
    static func inode(_ path: String) -> UInt64? {
        var st = stat()
        guard stat(path, &st) == 0 else { return nil }
        return UInt64(st.st_ino)
    }

    /// (tid, netns inode) of every thread of this process.
    static func threads() -> [(String, UInt64?)] {
        let tids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc/self/task")) ?? []
        return tids.map { ($0, inode("/proc/self/task/\($0)/ns/net")) }
    }

    struct Thrown: Error {}

    @Test("inside, the calling thread is in the namespace; after, no thread is left in it and the caller is back (returning and throwing)")
    func everyThreadReturns() throws {
        try NetnsFixture.withTopology { net in
            let ns = try net.addNamespace()
            let target = Self.inode("\(NetNamespace.runDirectory)/\(ns)")
            let before = Self.inode("/proc/thread-self/ns/net")
            #expect(target != nil && target != before)
            // Other threads exist while it runs (the test runner's, and one
            // of ours), so a setns that leaked to another thread would show.
            let parked = Thread { usleep(300_000) }
            parked.start()
            let inside = try NetNamespace.run(named: ns) { Self.inode("/proc/thread-self/ns/net") }
            #expect(inside == target, "the body ran in \(ns)")
            var stray = Self.threads().filter { $0.1 == target }
            #expect(stray.isEmpty, "threads left in \(ns) after return: \(stray)")
            #expect(Self.inode("/proc/thread-self/ns/net") == before)

            #expect(throws: Thrown.self) {
                try NetNamespace.run(named: ns) { () throws -> Int in throw Thrown() }
            }
            #expect(Self.inode("/proc/thread-self/ns/net") == before)
            stray = Self.threads().filter { $0.1 == target }
            #expect(stray.isEmpty, "threads left in \(ns) after a throw: \(stray)")
        }
    }

    @Test("a bad name is an invalid argument, a missing namespace is named as missing")
    func errors() {
        for bad in ["", "a/b", "../x"] {
            #expect(throws: DatapathError.self) { try NetNamespace.run(named: bad) { 0 } }
            do throws(DatapathError) { _ = try NetNamespace.open(named: bad) } catch {
                #expect(error.kind == .invalidArgument, "\(bad): \(error)")
            }
        }
        do throws(DatapathError) { _ = try NetNamespace.open(named: "xigmp-no-such-ns-\(getpid())") } catch {
            #expect(error.kind == .noSuchInterface && error.message.contains("ip netns list"), "\(error)")
        }
    }
}
