/// Why a frame, packet or IGMP message was rejected. Every case carries what an
/// operator needs to see the fault without a hex dump.
public enum IGMPParseError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The header that did not fit in the bytes given.
    public enum Region: String, Sendable, Hashable {
        /// The 14-byte Ethernet header.
        case ethernetHeader = "Ethernet header"
        /// A 4-byte 802.1Q / 802.1ad tag.
        case vlanTag = "VLAN tag"
        /// The fixed 20-byte IPv4 header.
        case ipv4Header = "IPv4 header"
        /// The IPv4 options announced by IHL.
        case ipv4Options = "IPv4 options"
    }

    /// `region` needed `needed` bytes from the start of the buffer but only `have` exist.
    case truncated(Region, needed: Int, have: Int)
    /// A third VLAN tag; at most two (802.1ad outer + 802.1Q inner) are accepted.
    case tooManyVLANTags
    /// The EtherType after any VLAN tags is not IPv4 (0x0800).
    case notIPv4(etherType: UInt16)
    /// The IP Version nibble is not 4.
    case ipVersion(UInt8)
    /// IHL below 5 words, impossible for IPv4 (RFC 791 §3.1).
    case ihlTooSmall(UInt8)
    /// Total Length is larger than the bytes available. (Bytes *beyond* Total Length are
    /// allowed and ignored: Ethernet pads short frames to 60 bytes.)
    case totalLengthMismatch(headerSays: Int, available: Int)
    /// Total Length is smaller than the header itself (IHL × 4).
    case totalLengthBelowHeader(totalLength: Int, headerLength: Int)
    /// An IPv4 option at `offset` (from the start of the IP header) runs past the
    /// options area or has a length below 2 (RFC 791 §3.1 option format).
    case malformedIPOption(offset: Int, kind: UInt8)
    /// A fragment (MF set or non-zero offset); IGMP is parsed only whole.
    case fragment(offset: Int, moreFragments: Bool)
    /// The IP protocol is not 2 (IGMP).
    case notIGMP(protocolNumber: UInt8)
    /// The IPv4 header checksum is wrong; `computed` is what it should be.
    case badIPChecksum(stored: UInt16, computed: UInt16)
    /// The IGMP checksum (over the whole message) is wrong; `computed` is what it should be.
    case badIGMPChecksum(stored: UInt16, computed: UInt16)
    /// Fewer than the 8 bytes every IGMP message has (RFC 3376 §7.1: ignore).
    case igmpTooShort(length: Int)
    /// A query of 9–11 bytes, which is no version (RFC 3376 §7.1: ignore).
    case queryLengthInvalid(length: Int)
    /// A v3 query whose Number of Sources does not fit in the message.
    case querySourcesPastEnd(sourceCount: Int, needed: Int, have: Int)
    /// A v3 report whose Number of Group Records runs past the end: record `index`
    /// (0-based) needs bytes up to `needed` for its 8-byte header.
    case reportRecordsPastEnd(recordCount: Int, index: Int, needed: Int, have: Int)
    /// Group record `index`'s Number of Sources runs past the end of the message.
    case recordSourcesPastEnd(index: Int, sourceCount: Int, needed: Int, have: Int)
    /// Group record `index`'s Aux Data Len (in 32-bit words) runs past the end.
    case recordAuxDataPastEnd(index: Int, auxDataWords: Int, needed: Int, have: Int)
    /// An IGMP type this codec does not handle.
    case unknownType(UInt8)

    /// A one-line reason for logs and the `dump` command.
    public var description: String {
        switch self {
        case let .truncated(region, needed, have):
            "truncated frame: \(region.rawValue) needs \(needed) bytes, have \(have)"
        case .tooManyVLANTags:
            "more than two VLAN tags"
        case let .notIPv4(etherType):
            "not IPv4: EtherType 0x\(hex(etherType, width: 4))"
        case let .ipVersion(version):
            "IP version \(version), expected 4"
        case let .ihlTooSmall(ihl):
            "IPv4 IHL \(ihl) is below the minimum of 5 words"
        case let .totalLengthMismatch(headerSays, available):
            "IPv4 total length \(headerSays) exceeds the \(available) bytes available"
        case let .totalLengthBelowHeader(totalLength, headerLength):
            "IPv4 total length \(totalLength) is shorter than its \(headerLength)-byte header"
        case let .malformedIPOption(offset, kind):
            "malformed IPv4 option 0x\(hex(kind, width: 2)) at header offset \(offset)"
        case let .fragment(offset, moreFragments):
            "IPv4 fragment (offset \(offset) bytes\(moreFragments ? ", more fragments" : ""))"
        case let .notIGMP(protocolNumber):
            "IP protocol \(protocolNumber), expected 2 (IGMP)"
        case let .badIPChecksum(stored, computed):
            "bad IPv4 header checksum 0x\(hex(stored, width: 4)), expected 0x\(hex(computed, width: 4))"
        case let .badIGMPChecksum(stored, computed):
            "bad IGMP checksum 0x\(hex(stored, width: 4)), expected 0x\(hex(computed, width: 4))"
        case let .igmpTooShort(length):
            "IGMP message of \(length) bytes is shorter than 8"
        case let .queryLengthInvalid(length):
            "IGMP query of \(length) bytes: 8 is v1/v2, 12 or more is v3, 9–11 is invalid"
        case let .querySourcesPastEnd(sourceCount, needed, have):
            "IGMPv3 query lists \(sourceCount) sources needing \(needed) bytes, message has \(have)"
        case let .reportRecordsPastEnd(recordCount, index, needed, have):
            "IGMPv3 report declares \(recordCount) group records but record #\(index + 1) needs \(needed) bytes, message has \(have)"
        case let .recordSourcesPastEnd(index, sourceCount, needed, have):
            "IGMPv3 group record #\(index + 1) lists \(sourceCount) sources needing \(needed) bytes, message has \(have)"
        case let .recordAuxDataPastEnd(index, auxDataWords, needed, have):
            "IGMPv3 group record #\(index + 1) has \(auxDataWords) words of aux data needing \(needed) bytes, message has \(have)"
        case let .unknownType(type):
            "unknown IGMP type 0x\(hex(type, width: 2))"
        }
    }
}

/// Why an encoder refused to build a message.
public enum IGMPEncodeError: Error, Equatable, Sendable, CustomStringConvertible {
    /// The output buffer holds `have` bytes and the result needs `needed`.
    case bufferTooSmall(needed: Int, have: Int)
    /// More than 65535 sources in a query or record (the count field is 16 bits).
    case tooManySources(count: Int)
    /// More than 65535 group records (the count field is 16 bits).
    case tooManyRecords(count: Int)
    /// Aux data whose length is not a whole number of 32-bit words (RFC 3376 §4.2.6).
    case auxDataNotWordAligned(byteCount: Int)
    /// Aux data longer than 255 words (Aux Data Len is one octet).
    case auxDataTooLong(byteCount: Int)
    /// The IPv4 packet would exceed 65535 bytes.
    case packetTooLarge(totalLength: Int)
    /// A v1 query must carry Max Resp Code 0, or receivers read it as v2 (RFC 3376 §7.1).
    case v1QueryWithMaxResponse(code: UInt8)
    /// A v2 query with Max Resp Code 0 would be read as v1 (RFC 3376 §7.1).
    case v2QueryWithZeroMaxResponse
    /// QRV must fit its 3-bit field (RFC 3376 §4.1.6).
    case qrvOutOfRange(UInt8)
    /// A unicast IP destination has no derivable MAC; the caller must supply one.
    case unicastDestinationNeedsMAC(IPv4Address)

    /// A one-line reason.
    public var description: String {
        switch self {
        case let .bufferTooSmall(needed, have):
            "output buffer of \(have) bytes is too small, need \(needed)"
        case let .tooManySources(count):
            "\(count) sources exceed the 16-bit Number of Sources"
        case let .tooManyRecords(count):
            "\(count) group records exceed the 16-bit Number of Group Records"
        case let .auxDataNotWordAligned(byteCount):
            "aux data of \(byteCount) bytes is not a multiple of 4"
        case let .auxDataTooLong(byteCount):
            "aux data of \(byteCount) bytes exceeds 255 words"
        case let .packetTooLarge(totalLength):
            "IPv4 packet of \(totalLength) bytes exceeds 65535"
        case let .v1QueryWithMaxResponse(code):
            "IGMPv1 query with Max Resp Code \(code) would be read as v2; v1 sends 0"
        case .v2QueryWithZeroMaxResponse:
            "IGMPv2 query with Max Resp Code 0 would be read as v1"
        case let .qrvOutOfRange(qrv):
            "QRV \(qrv) does not fit in 3 bits"
        case let .unicastDestinationNeedsMAC(address):
            "unicast destination \(address) needs a destination MAC"
        }
    }
}

/// Zero-padded lower-case hex, without Foundation.
func hex<T: BinaryInteger>(_ value: T, width: Int) -> String {
    let digits = String(value, radix: 16)
    return String(repeating: "0", count: max(0, width - digits.count)) + digits
}
