/// A point in time, passed in by the caller: the membership engines never read a
/// clock, so tests drive them through any timeline.
///
/// Any monotonic nanosecond count works (CLOCK_MONOTONIC is the natural choice);
/// only differences matter. Arithmetic saturates, so no input can trap. The
/// daemon converts its `ProxyTime` with `MembershipTime(nanoseconds: t.nanoseconds)`.
public struct MembershipTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nanoseconds since the caller's epoch.
    public var nanoseconds: UInt64

    /// Creates a time from nanoseconds.
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// The epoch.
    public static let zero = MembershipTime(nanoseconds: 0)

    /// A time `milliseconds` after the epoch (tests and examples).
    public static func milliseconds(_ milliseconds: UInt64) -> MembershipTime {
        MembershipTime(nanoseconds: saturatingProduct(milliseconds, 1_000_000))
    }

    /// A time `seconds` after the epoch (tests and examples).
    public static func seconds(_ seconds: UInt64) -> MembershipTime {
        MembershipTime(nanoseconds: saturatingProduct(seconds, 1_000_000_000))
    }

    /// This time plus `duration` (negative durations count as zero), saturating.
    public func adding(_ duration: Duration) -> MembershipTime {
        MembershipTime(nanoseconds: saturatingSum(nanoseconds, duration.clampedNanoseconds))
    }

    /// Seconds from this time until `later`; 0 when `later` is not later.
    public func seconds(until later: MembershipTime) -> Double {
        later.nanoseconds > nanoseconds ? Double(later.nanoseconds - nanoseconds) / 1e9 : 0
    }

    /// Orders times.
    public static func < (lhs: MembershipTime, rhs: MembershipTime) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// Seconds with a unit, e.g. `"12.500 s"`.
    public var description: String {
        let whole = nanoseconds / 1_000_000_000
        let millis = nanoseconds % 1_000_000_000 / 1_000_000
        let padded = String(millis)
        return "\(whole).\(String(repeating: "0", count: 3 - padded.count))\(padded) s"
    }
}

/// `a × b`, or UInt64.max on overflow.
@inlinable
func saturatingProduct(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (product, overflow) = a.multipliedReportingOverflow(by: b)
    return overflow ? .max : product
}

/// `a + b`, or UInt64.max on overflow.
@inlinable
func saturatingSum(_ a: UInt64, _ b: UInt64) -> UInt64 {
    let (sum, overflow) = a.addingReportingOverflow(b)
    return overflow ? .max : sum
}

extension Duration {
    /// Whole nanoseconds, 0 for negative durations, UInt64.max when too large.
    var clampedNanoseconds: UInt64 {
        let (seconds, attoseconds) = components
        guard seconds >= 0 else { return 0 }
        return saturatingSum(saturatingProduct(UInt64(seconds), 1_000_000_000),
                             UInt64(max(attoseconds, 0) / 1_000_000_000))
    }

    /// Whole tenths of a second (the unit of Max Resp Code), saturating at UInt32.max.
    var tenths: UInt32 {
        UInt32(clamping: clampedNanoseconds / 100_000_000)
    }

    /// Whole seconds (the unit of QQIC), saturating at UInt32.max.
    var wholeSeconds: UInt32 {
        UInt32(clamping: clampedNanoseconds / 1_000_000_000)
    }

    /// A duration of `nanoseconds`.
    static func nanoseconds(_ nanoseconds: UInt64) -> Duration {
        .seconds(Int64(nanoseconds / 1_000_000_000)) + .nanoseconds(Int64(nanoseconds % 1_000_000_000))
    }
}
