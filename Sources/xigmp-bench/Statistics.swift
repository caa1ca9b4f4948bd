import XigmpTools
import Foundation
import Glibc

/// Small statistics and timing helpers shared by the subcommands.
enum Stats {
    /// Median of `values` (mean of the middle two for an even count); NaN
    /// when empty. Medians, not means: one preempted round on this noisy
    /// 2-core machine must not move the figure.
    static func median(_ values: [Double]) -> Double {
        guard !values.isEmpty else { return .nan }
        let sorted = values.sorted()
        let mid = sorted.count / 2
        return sorted.count % 2 == 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
    }

    /// Smallest and largest value, for the spread shown beside a median.
    static func range(_ values: [Double]) -> JSON {
        guard let lo = values.min(), let hi = values.max() else { return .null }
        return .array([.rounded(lo), .rounded(hi)])
    }

    /// `numerator / denominator`, NaN (rendered null) when the denominator is 0.
    static func ratio(_ numerator: Double, _ denominator: Double) -> Double {
        denominator == 0 ? .nan : numerator / denominator
    }
}

/// CLOCK_MONOTONIC in nanoseconds.
@inline(__always)
func monotonicNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// CPU time this thread has used, in nanoseconds (CLOCK_THREAD_CPUTIME_ID).
@inline(__always)
func threadCPUNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}

/// Progress and diagnostics go to stderr; stdout carries only the JSON.
func progress(_ message: String) {
    FileHandle.standardError.write(Data("xigmp-bench: \(message)\n".utf8))
}

/// A failure of the benchmark itself, with what to do about it.
struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
