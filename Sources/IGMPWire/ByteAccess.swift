// Big-endian loads and stores at byte offsets. Callers check bounds first: every
// parser validates lengths before reading, so these are plain indexed accesses
// (bounds-checked in debug builds, and caught by ASan in the fuzzer).

extension UnsafeRawBufferPointer {
    @inline(__always)
    func u8(_ offset: Int) -> UInt8 { self[offset] }

    @inline(__always)
    func u16(_ offset: Int) -> UInt16 {
        UInt16(self[offset]) << 8 | UInt16(self[offset + 1])
    }

    @inline(__always)
    func u32(_ offset: Int) -> UInt32 {
        UInt32(self[offset]) << 24 | UInt32(self[offset + 1]) << 16
            | UInt32(self[offset + 2]) << 8 | UInt32(self[offset + 3])
    }

    @inline(__always)
    func address(_ offset: Int) -> IPv4Address { IPv4Address(rawValue: u32(offset)) }

    @inline(__always)
    func mac(_ offset: Int) -> MACAddress {
        MACAddress(self[offset], self[offset + 1], self[offset + 2],
                   self[offset + 3], self[offset + 4], self[offset + 5])
    }

    /// The bytes in `range`, as a buffer of their own (no copy).
    @inline(__always)
    func slice(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}

extension UnsafeMutableRawBufferPointer {
    @inline(__always)
    func put8(_ value: UInt8, at offset: Int) { self[offset] = value }

    @inline(__always)
    func put16(_ value: UInt16, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 1] = UInt8(truncatingIfNeeded: value)
    }

    @inline(__always)
    func put32(_ value: UInt32, at offset: Int) {
        self[offset] = UInt8(truncatingIfNeeded: value >> 24)
        self[offset + 1] = UInt8(truncatingIfNeeded: value >> 16)
        self[offset + 2] = UInt8(truncatingIfNeeded: value >> 8)
        self[offset + 3] = UInt8(truncatingIfNeeded: value)
    }

    @inline(__always)
    func put(_ address: IPv4Address, at offset: Int) { put32(address.rawValue, at: offset) }

    @inline(__always)
    func put(_ mac: MACAddress, at offset: Int) {
        for index in 0..<6 { self[offset + index] = mac.octet(index) }
    }

    /// The bytes in `range`, read-only and without a copy.
    @inline(__always)
    func readOnly(_ range: Range<Int>) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: self[range])
    }
}
