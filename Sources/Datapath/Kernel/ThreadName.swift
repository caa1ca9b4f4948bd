import CXigmp
import Glibc

/// The calling thread's kernel name (`/proc/self/task/TID/comm`): what
/// `top -H`, `ps -L`, `perf` and a benchmark's per-thread accounting show.
public enum ThreadName {
    /// Names the calling thread (at most 15 bytes: longer names are cut at
    /// a character boundary). Returns whether the kernel took it.
    @discardableResult
    public static func setCurrent(_ name: String) -> Bool {
        var cut = Substring(name)
        while cut.utf8.count > 15 { cut = cut.dropLast() }
        return String(cut).withCString { cxigmp_name_thread($0) == 0 }
    }

    /// The calling thread's kernel name, nil if /proc cannot say.
    public static func current() -> String? {
        guard let f = fopen("/proc/thread-self/comm", "r") else { return nil }
        defer { fclose(f) }
        var buf = [CChar](repeating: 0, count: 64)
        guard fgets(&buf, Int32(buf.count), f) != nil else { return nil }
        // The name ends at the newline /proc puts after it.
        let bytes = buf.prefix { $0 != 0 && $0 != 10 }.map { UInt8(bitPattern: $0) }
        return String(decoding: bytes, as: UTF8.self)
    }
}
