/// One IGMPv3 group record read in place (RFC 3376 §4.2.4):
///
/// ```
/// +---------------+---------------+-------------------------------+
/// |  Record Type  |  Aux Data Len |     Number of Sources (N)     |
/// +---------------+---------------+-------------------------------+
/// |                       Multicast Address                       |
/// +---------------------------------------------------------------+
/// |                  Source Address [1..N]                        |
/// +---------------------------------------------------------------+
/// |                  Auxiliary Data (Aux Data Len × 4 bytes)      |
/// +---------------------------------------------------------------+
/// ```
public struct GroupRecordView {
    /// 0-based position of the record in the report.
    public let index: Int
    /// Byte offset of the record from the start of the IGMP message.
    public let offset: Int
    /// The Record Type octet as sent, including values this codec does not know.
    public let rawType: UInt8
    /// The multicast group.
    public let group: IPv4Address
    /// The source list.
    public let sources: IPv4AddressList
    /// The auxiliary data (Aux Data Len × 4 bytes; hosts send none, RFC 3376 §4.2.6).
    public let auxData: UnsafeRawBufferPointer

    /// The record type, or nil for an unknown one, which receivers must ignore
    /// (RFC 3376 §4.2.12).
    public var type: GroupRecordType? { GroupRecordType(rawValue: rawType) }
    /// Aux Data Len in 32-bit words.
    public var auxDataWords: Int { auxData.count / 4 }
    /// Bytes the record takes: 8 + 4N + aux data.
    public var length: Int { 8 + 4 * sources.count + auxData.count }
    /// False for unknown types; else see ``GroupRecordType/isLeave(sourceCount:)``.
    public var isLeave: Bool { type?.isLeave(sourceCount: sources.count) ?? false }
    /// False for unknown types; else see ``GroupRecordType/isJoin(sourceCount:)``.
    public var isJoin: Bool { type?.isJoin(sourceCount: sources.count) ?? false }

    /// Reads the record at `offset` in a message the view has already validated.
    init(in message: UnsafeRawBufferPointer, at offset: Int, index: Int) {
        let sourceCount = Int(message.u16(offset + 2))
        let sourcesEnd = offset + 8 + 4 * sourceCount
        let auxEnd = sourcesEnd + 4 * Int(message.u8(offset + 1))
        self.index = index
        self.offset = offset
        self.rawType = message.u8(offset)
        self.group = message.address(offset + 4)
        self.sources = IPv4AddressList(message.slice((offset + 8)..<sourcesEnd))
        self.auxData = message.slice(sourcesEnd..<auxEnd)
    }

    /// Checks that record `index` starting at `offset` fits in `message`, and returns
    /// the offset just past it. Counts are at most 65535 and offsets at most 65535 + a
    /// few × 2^18, so the Int arithmetic cannot overflow.
    static func validate(in message: UnsafeRawBufferPointer, at offset: Int, index: Int,
                         recordCount: Int) throws(IGMPParseError) -> Int {
        let have = message.count
        guard offset + 8 <= have else {
            throw .reportRecordsPastEnd(recordCount: recordCount, index: index,
                                        needed: offset + 8, have: have)
        }
        let sourceCount = Int(message.u16(offset + 2))
        let sourcesEnd = offset + 8 + 4 * sourceCount
        guard sourcesEnd <= have else {
            throw .recordSourcesPastEnd(index: index, sourceCount: sourceCount,
                                        needed: sourcesEnd, have: have)
        }
        let auxWords = Int(message.u8(offset + 1))
        let auxEnd = sourcesEnd + 4 * auxWords
        guard auxEnd <= have else {
            throw .recordAuxDataPastEnd(index: index, auxDataWords: auxWords,
                                        needed: auxEnd, have: have)
        }
        return auxEnd
    }
}

@available(*, unavailable, message: "borrows packet memory")
extension GroupRecordView: Sendable {}

/// The group records of a validated v3 report, iterated in order without allocating.
public struct GroupRecordSequence: Sequence {
    /// The whole IGMP message.
    let bytes: UnsafeRawBufferPointer
    /// Number of records, all validated to fit.
    public let count: Int

    init(bytes: UnsafeRawBufferPointer, count: Int) {
        self.bytes = bytes
        self.count = count
    }

    /// The exact number of records.
    public var underestimatedCount: Int { count }

    /// Walks the records; each step reads one 8-byte header.
    public struct Iterator: IteratorProtocol {
        let bytes: UnsafeRawBufferPointer
        let count: Int
        var index = 0
        var offset = 8

        /// The next record, or nil after the last.
        public mutating func next() -> GroupRecordView? {
            guard index < count else { return nil }
            let record = GroupRecordView(in: bytes, at: offset, index: index)
            index += 1
            offset += record.length
            return record
        }
    }

    /// An iterator from the first record.
    public func makeIterator() -> Iterator { Iterator(bytes: bytes, count: count) }
}

@available(*, unavailable, message: "borrows packet memory")
extension GroupRecordSequence: Sendable {}
@available(*, unavailable, message: "borrows packet memory")
extension GroupRecordSequence.Iterator: Sendable {}
