import Glibc

/// CLOCK_REALTIME in nanoseconds (the clock SO_TIMESTAMPNS stamps with).
/// Inlinable: the ports call it once per receive batch.
@inlinable
package func realtimeNanoseconds() -> UInt64 {
    var ts = timespec()
    clock_gettime(CLOCK_REALTIME, &ts)
    return UInt64(ts.tv_sec) &* 1_000_000_000 &+ UInt64(ts.tv_nsec)
}
