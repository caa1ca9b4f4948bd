/// Writes IGMP messages, IPv4 packets and Ethernet frames straight into caller
/// memory (an AF_XDP UMEM frame, a stack buffer) without allocating, and returns the
/// byte count. The `[UInt8]`-returning forms are conveniences for tests and the CLI.
///
/// Lengths are always exact: the IGMP checksum covers exactly the message
/// (RFC 3376 §4.1.2) and IP Total Length counts exactly header + message. Nothing is
/// padded unless ``EthernetEncodeOptions/padToMinimum`` asks for Ethernet padding,
/// which lies outside IP Total Length as on any real wire.
public enum IGMPEncoder {
    /// Encodes a bare IGMP message with its checksum into `buffer`.
    /// - Returns: the number of bytes written (``IGMPMessage/encodedLength``).
    public static func encode(_ message: IGMPMessage, into buffer: UnsafeMutableRawBufferPointer)
        throws(IGMPEncodeError) -> Int {
        let length = try validatedLength(of: message)
        guard length <= buffer.count else {
            throw .bufferTooSmall(needed: length, have: buffer.count)
        }
        let out = UnsafeMutableRawBufferPointer(rebasing: buffer[0..<length])
        write(message, into: out)
        out.put16(InternetChecksum.compute(UnsafeRawBufferPointer(out)), at: 2)
        return length
    }

    /// Encodes a bare IGMP message into a new array.
    public static func encode(_ message: IGMPMessage) throws(IGMPEncodeError) -> [UInt8] {
        let length = try validatedLength(of: message)
        return try makeArray(count: length) { buffer throws(IGMPEncodeError) in
            try encode(message, into: buffer)
        }
    }

    /// The byte length `message` will encode to, after checking every field fits its
    /// wire encoding; see ``IGMPEncodeError`` for what is refused and why.
    public static func validatedLength(of message: IGMPMessage) throws(IGMPEncodeError) -> Int {
        switch message {
        case .query(let query):
            switch query.version {
            case .v1:
                guard query.maxRespCode == 0 else {
                    throw .v1QueryWithMaxResponse(code: query.maxRespCode)
                }
                return 8
            case .v2:
                guard query.maxRespCode != 0 else { throw .v2QueryWithZeroMaxResponse }
                return 8
            case .v3:
                guard query.qrv <= 7 else { throw .qrvOutOfRange(query.qrv) }
                guard query.sources.count <= 0xFFFF else {
                    throw .tooManySources(count: query.sources.count)
                }
                return 12 + 4 * query.sources.count
            }
        case .v1Report, .v2Report, .v2Leave:
            return 8
        case .v3Report(let records):
            guard records.count <= 0xFFFF else { throw .tooManyRecords(count: records.count) }
            var total = 8
            for record in records {
                guard record.sources.count <= 0xFFFF else {
                    throw .tooManySources(count: record.sources.count)
                }
                guard record.auxData.count % 4 == 0 else {
                    throw .auxDataNotWordAligned(byteCount: record.auxData.count)
                }
                guard record.auxData.count <= 255 * 4 else {
                    throw .auxDataTooLong(byteCount: record.auxData.count)
                }
                total += record.encodedLength
            }
            return total
        }
    }

    /// Writes the message fields with a zero checksum; `out` is exactly the validated length.
    static func write(_ message: IGMPMessage, into out: UnsafeMutableRawBufferPointer) {
        out.put8(message.type.rawValue, at: 0)
        out.put16(0, at: 2)
        switch message {
        case .query(let query):
            // v1: the field is "unused" and zero (RFC 1112 app. I); v2: tenths, linear
            // (RFC 2236 §2.2); v3: the timer-code form (RFC 3376 §4.1.1). All three are
            // the raw octet here; IGMPQuery.v2/v3 build the right one.
            out.put8(query.maxRespCode, at: 1)
            out.put(query.group, at: 4)
            guard query.version == .v3 else { return }
            // Resv (4 bits, zero) | S | QRV (RFC 3376 §4.1.4–4.1.6).
            out.put8((query.sFlag ? 0x08 : 0) | (query.qrv & 0x07), at: 8)
            out.put8(query.qqicCode, at: 9)
            out.put16(UInt16(truncatingIfNeeded: query.sources.count), at: 10)
            var offset = 12
            for source in query.sources {
                out.put(source, at: offset)
                offset += 4
            }
        case .v1Report(let group), .v2Report(let group), .v2Leave(let group):
            // Reports and leaves carry Max Resp Code 0 (RFC 2236 §2.2).
            out.put8(0, at: 1)
            out.put(group, at: 4)
        case .v3Report(let records):
            out.put8(0, at: 1)   // Reserved (RFC 3376 §4.2.1)
            out.put16(0, at: 4)  // Reserved
            out.put16(UInt16(truncatingIfNeeded: records.count), at: 6)
            var offset = 8
            for record in records {
                out.put8(record.type.rawValue, at: offset)
                out.put8(UInt8(truncatingIfNeeded: record.auxData.count / 4), at: offset + 1)
                out.put16(UInt16(truncatingIfNeeded: record.sources.count), at: offset + 2)
                out.put(record.group, at: offset + 4)
                offset += 8
                for source in record.sources {
                    out.put(source, at: offset)
                    offset += 4
                }
                for byte in record.auxData {
                    out.put8(byte, at: offset)
                    offset += 1
                }
            }
        }
    }

    /// Allocates an array of `count` bytes and lets `body` fill it, carrying the typed
    /// error out of the closure-based array initializer.
    static func makeArray(count: Int,
                          _ body: (UnsafeMutableRawBufferPointer) throws(IGMPEncodeError) -> Int)
        throws(IGMPEncodeError) -> [UInt8] {
        var failure: IGMPEncodeError? = nil
        let bytes = [UInt8](unsafeUninitializedCapacity: count) { buffer, initialized in
            buffer.initialize(repeating: 0)
            do throws(IGMPEncodeError) {
                initialized = try body(UnsafeMutableRawBufferPointer(buffer))
            } catch {
                failure = error
                initialized = 0
            }
        }
        if let failure { throw failure }
        return bytes
    }
}
