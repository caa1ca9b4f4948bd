/// The IGMPv3 8-bit "floating point" time code used by Max Resp Code (RFC 3376 §4.1.1,
/// unit 1/10 s) and QQIC (§4.1.7, unit 1 s).
///
/// ```
///  code < 128:  value = code
///  code ≥ 128:  0 1 2 3 4 5 6 7
///              +-+-+-+-+-+-+-+-+
///              |1| exp | mant  |     value = (mant | 0x10) << (exp + 3)
///              +-+-+-+-+-+-+-+-+
/// ```
///
/// The mapping is strictly increasing over all 256 codes (127 → 127, 128 → 128,
/// 255 → 31744), so every value has exactly one exact code or falls between two.
/// IGMPv2's Max Response Time is *not* this format: it is a plain UInt8 in tenths
/// (RFC 2236 §2.2) — goIGMP mixed the two.
public enum IGMPTimerCode {
    /// The largest value a code can carry: code 0xFF, `0x1F << 10` = 31744.
    public static let maxValue: UInt32 = 31744

    /// The value (tenths of a second for Max Resp Code, seconds for QQIC) a code stands for.
    @inlinable
    public static func decode(_ code: UInt8) -> UInt32 {
        if code < 128 { return UInt32(code) }
        let exponent = UInt32((code >> 4) & 0x7)
        let mantissa = UInt32(code & 0xF)
        return (mantissa | 0x10) << (exponent + 3)
    }

    /// The code for `value`: exact when `value` is representable, otherwise the
    /// largest code whose value is *below* `value` (round down), and 0xFF for anything
    /// at or above ``maxValue``.
    ///
    /// Rounding down is deliberate: for Max Resp Code it keeps the advertised response
    /// interval no longer than configured, so it stays below the Query Interval as
    /// RFC 3376 §8.3 requires; for QQIC it makes non-queriers time out other queriers
    /// no later than the real querier expects (§8.5). Rounding up could break both.
    @inlinable
    public static func encode(_ value: UInt32) -> UInt8 {
        if value < 128 { return UInt8(value) }
        if value >= maxValue { return 0xFF }
        // value is in [128, 31744): its top bit is bit 7…14, so exp = bit − 7 is 0…7
        // and value >> (exp + 3) is the 5-bit 1mmmm with the lower bits dropped (floor).
        let topBit = 31 - value.leadingZeroBitCount
        let exponent = UInt32(topBit - 7)
        let mantissa = (value >> (exponent + 3)) & 0xF
        return UInt8(0x80 | exponent << 4 | mantissa)
    }
}
