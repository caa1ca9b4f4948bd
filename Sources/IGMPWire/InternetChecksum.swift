/// The Internet checksum (RFC 1071): the 16-bit one's complement of the one's
/// complement sum of the data taken as big-endian 16-bit words.
///
/// Used for the IPv4 header (RFC 791 §3.1) and for the whole IGMP message
/// (RFC 2236 §2.3, RFC 3376 §4.1.2). The sum runs over exactly the bytes given: an
/// odd final byte is summed as if followed by a zero byte (RFC 1071 §4.1), but no
/// byte is ever added to the message — goIGMP checksummed and sent a padded buffer.
public enum InternetChecksum {
    /// The checksum to store in a header whose checksum field is zero in `bytes`.
    /// Over bytes that include a correct checksum the result is 0 (see ``isValid(_:)``).
    @inlinable
    public static func compute(_ bytes: UnsafeRawBufferPointer) -> UInt16 {
        ~fold(sum(bytes))
    }

    /// ``compute(_:)`` over an array.
    @inlinable
    public static func compute(_ bytes: [UInt8]) -> UInt16 {
        bytes.withUnsafeBytes { compute($0) }
    }

    /// True when `bytes`, checksum field included, sum to all ones, i.e. the stored
    /// checksum is correct (RFC 1071 §1: "if the result is all 1 bits, the check succeeds").
    @inlinable
    public static func isValid(_ bytes: UnsafeRawBufferPointer) -> Bool {
        compute(bytes) == 0
    }

    /// The checksum `bytes` should carry in the 16-bit field at `fieldOffset`, computed
    /// as if that field were zero. `fieldOffset` must be even and `fieldOffset + 2`
    /// must not exceed `bytes.count`.
    @inlinable
    public static func compute(_ bytes: UnsafeRawBufferPointer, zeroingFieldAt fieldOffset: Int) -> UInt16 {
        precondition(fieldOffset >= 0 && fieldOffset & 1 == 0 && fieldOffset + 2 <= bytes.count)
        let before = UnsafeRawBufferPointer(rebasing: bytes[0..<fieldOffset])
        let after = UnsafeRawBufferPointer(rebasing: bytes[(fieldOffset + 2)...])
        return ~fold(sum(before) &+ sum(after))
    }

    /// The unfolded one's complement sum of `bytes`. A UInt64 accumulator cannot
    /// overflow: even 2^32 words of 0xFFFF stay below 2^48.
    @inlinable
    static func sum(_ bytes: UnsafeRawBufferPointer) -> UInt64 {
        var total: UInt64 = 0
        let count = bytes.count
        var index = 0
        while index + 1 < count {
            total &+= UInt64(bytes[index]) << 8 | UInt64(bytes[index + 1])
            index += 2
        }
        if index < count {
            total &+= UInt64(bytes[index]) << 8
        }
        return total
    }

    /// Folds carries back into the low 16 bits (end-around carry, RFC 1071 §2(C)).
    @inlinable
    static func fold(_ value: UInt64) -> UInt16 {
        var total = value
        while total >> 16 != 0 {
            total = (total & 0xFFFF) &+ (total >> 16)
        }
        return UInt16(truncatingIfNeeded: total)
    }
}
