/// A validated IGMP message read in place from borrowed bytes, without allocating.
///
/// Construction checks everything once (length, checksum, type, query version, and
/// every v3 source list, group record and aux-data length against the end), so the
/// accessors and the ``records`` iteration afterwards cannot fail or read out of
/// bounds. The view holds only a pointer, a count and a few scalars; nothing in it is
/// a class, array or string, which is why parsing does not allocate (see
/// `AllocationTests`).
///
/// The view is valid only while the bytes it was made from are, and is deliberately
/// not `Sendable`: it borrows memory (an AF_XDP UMEM frame) that the ring will reuse.
/// Copy out with ``message()`` to keep or send anything.
public struct IGMPMessageView {
    /// Exactly the IGMP message: the IP payload as IP Total Length delimits it.
    public let bytes: UnsafeRawBufferPointer
    /// The message type.
    public let type: IGMPType
    /// Whether the IGMP checksum is right (always true unless parsed with
    /// `verifyChecksum: false`).
    public let checksumOK: Bool
    /// For queries, the version told by length and Max Resp Code (RFC 3376 §7.1); nil
    /// for everything else.
    public let queryVersion: IGMPVersion?
    /// For v3 reports, the Number of Group Records (all of which fit); 0 otherwise.
    public let recordCount: Int
    /// For v3 queries, the Number of Sources (all of which fit); 0 otherwise.
    public let sourceCount: Int

    /// Validates `bytes` as one IGMP message. Checks in order: length ≥ 8, checksum
    /// (skipped when `verifyChecksum` is false; ``checksumOK`` still tells), type,
    /// then the type's own structure. Bytes after the structure are allowed and
    /// ignored, as RFC 2236 §2.5 and RFC 3376 §4.1.10 / §4.2.11 require; they are
    /// still covered by the checksum.
    public init(_ bytes: UnsafeRawBufferPointer, verifyChecksum: Bool = true) throws(IGMPParseError) {
        let length = bytes.count
        guard length >= 8 else { throw .igmpTooShort(length: length) }
        let checksumOK = InternetChecksum.isValid(bytes)
        if verifyChecksum && !checksumOK {
            throw .badIGMPChecksum(stored: bytes.u16(2),
                                   computed: InternetChecksum.compute(bytes, zeroingFieldAt: 2))
        }
        guard let type = IGMPType(rawValue: bytes.u8(0)) else { throw .unknownType(bytes.u8(0)) }
        var queryVersion: IGMPVersion? = nil
        var recordCount = 0
        var sourceCount = 0
        switch type {
        case .query:
            if length == 8 {
                queryVersion = bytes.u8(1) == 0 ? .v1 : .v2
            } else if length < 12 {
                throw .queryLengthInvalid(length: length)
            } else {
                queryVersion = .v3
                sourceCount = Int(bytes.u16(10))
                let needed = 12 + 4 * sourceCount
                guard needed <= length else {
                    throw .querySourcesPastEnd(sourceCount: sourceCount, needed: needed, have: length)
                }
            }
        case .v3Report:
            recordCount = Int(bytes.u16(6))
            var offset = 8
            for index in 0..<recordCount {
                offset = try GroupRecordView.validate(in: bytes, at: offset, index: index,
                                                      recordCount: recordCount)
            }
        case .v1Report, .v2Report, .v2Leave:
            break
        }
        self.bytes = bytes
        self.type = type
        self.checksumOK = checksumOK
        self.queryVersion = queryVersion
        self.recordCount = recordCount
        self.sourceCount = sourceCount
    }

    /// Length of the message in bytes.
    public var length: Int { bytes.count }
    /// The raw Max Resp Code octet (queries; 0 in reports and leaves by RFC, but shown raw).
    public var maxRespCode: UInt8 { bytes.u8(1) }
    /// The checksum field as stored.
    public var checksum: UInt16 { bytes.u16(2) }
    /// The Group Address of a query, v1/v2 report or leave; 0.0.0.0 for v3 reports,
    /// whose bytes 4–7 are Reserved and Number of Group Records instead.
    public var group: IPv4Address { type == .v3Report ? .any : bytes.address(4) }
    /// v3 query S flag; false otherwise.
    public var sFlag: Bool { queryVersion == .v3 && bytes.u8(8) & 0x08 != 0 }
    /// v3 query QRV; 0 otherwise.
    public var qrv: UInt8 { queryVersion == .v3 ? bytes.u8(8) & 0x07 : 0 }
    /// v3 query raw QQIC; 0 otherwise.
    public var qqicCode: UInt8 { queryVersion == .v3 ? bytes.u8(9) : 0 }
    /// v3 query source list (empty otherwise), indexable without allocating.
    public var sources: IPv4AddressList {
        IPv4AddressList(sourceCount == 0 ? .empty : bytes.slice(12..<(12 + 4 * sourceCount)))
    }
    /// v3 report group records (empty otherwise), iterated without allocating.
    public var records: GroupRecordSequence {
        GroupRecordSequence(bytes: bytes, count: recordCount)
    }

    /// The query as an owned value, or nil when this is not a query. Allocates.
    public func query() -> IGMPQuery? {
        guard let version = queryVersion else { return nil }
        return IGMPQuery(version: version, maxRespCode: maxRespCode, group: group,
                         sFlag: sFlag, qrv: qrv, qqicCode: qqicCode, sources: Array(sources))
    }

    /// The message as an owned value. Allocates. Group records of an unknown type are
    /// dropped, as RFC 3376 §4.2.12 requires of receivers; ``records`` still shows them.
    public func message() -> IGMPMessage {
        switch type {
        case .query:
            // queryVersion is always set for queries by init; the fallback is unreachable.
            return .query(query() ?? IGMPQuery.v1())
        case .v1Report: return .v1Report(group: group)
        case .v2Report: return .v2Report(group: group)
        case .v2Leave: return .v2Leave(group: group)
        case .v3Report:
            var owned: [GroupRecord] = []
            owned.reserveCapacity(recordCount)
            for record in records {
                guard let recordType = record.type else { continue }
                owned.append(GroupRecord(type: recordType, group: record.group,
                                         sources: Array(record.sources), auxData: Array(record.auxData)))
            }
            return .v3Report(owned)
        }
    }
}

@available(*, unavailable, message: "borrows packet memory; copy out with message()")
extension IGMPMessageView: Sendable {}

extension UnsafeRawBufferPointer {
    /// An empty buffer with no base address.
    static var empty: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: nil, count: 0) }
}

/// A list of IPv4 addresses read in place from packet bytes (4 bytes each, network order).
public struct IPv4AddressList: RandomAccessCollection {
    /// Exactly `count × 4` bytes.
    public let bytes: UnsafeRawBufferPointer

    /// Wraps `bytes`; a trailing partial address is ignored.
    public init(_ bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

    /// Always 0.
    public var startIndex: Int { 0 }
    /// The number of addresses.
    public var endIndex: Int { bytes.count / 4 }

    /// The address at `index`, which must be in `indices` (a programming error
    /// otherwise: the count was validated against the packet when the view was made).
    public subscript(index: Int) -> IPv4Address {
        precondition(index >= 0 && index < endIndex, "source index out of range")
        return bytes.address(4 * index)
    }
}

@available(*, unavailable, message: "borrows packet memory; copy out with Array(_:)")
extension IPv4AddressList: Sendable {}
