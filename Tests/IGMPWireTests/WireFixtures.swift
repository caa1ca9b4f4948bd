import Foundation
import IGMPWire
import Testing
import XigmpTestSupport

let hostMAC = mac("02:00:00:00:00:01")
let hostIP = ip("192.0.2.10")
let querierIP = ip("192.0.2.1")

/// One of every message kind the codec builds, with a name for test output.
struct Sample: Sendable, CustomTestStringConvertible {
    let name: String
    let message: IGMPMessage
    var testDescription: String { name }
}

/// Every message kind: queries of each version and kind, v1/v2 reports, leave,
/// v3 reports with each record type, several records, sources and aux data.
let samples: [Sample] = [
    Sample(name: "v1 general query", message: .query(.v1())),
    Sample(name: "v2 general query", message: .query(.v2())),
    Sample(name: "v2 group-specific query",
           message: .query(.v2(group: ip("239.1.2.3"), maxResponseTenths: 10))),
    Sample(name: "v3 general query", message: .query(.v3())),
    Sample(name: "v3 group-specific query",
           message: .query(.v3(group: ip("239.1.2.3"), maxResponseTenths: 10, qrv: 3,
                               queryIntervalSeconds: 60))),
    Sample(name: "v3 group-and-source-specific query",
           message: .query(.v3(group: ip("232.1.1.1"), sources: [ip("10.1.1.1"), ip("10.1.1.2")],
                               maxResponseTenths: 10, sFlag: true))),
    Sample(name: "v3 query with float codes",
           message: .query(.v3(maxResponseTenths: 3000, qrv: 7, queryIntervalSeconds: 31744))),
    Sample(name: "v1 report", message: .v1Report(group: ip("239.1.1.1"))),
    Sample(name: "v2 report", message: .v2Report(group: ip("239.2.2.2"))),
    Sample(name: "v2 leave", message: .v2Leave(group: ip("239.2.2.2"))),
] + GroupRecordType.allCases.map { type in
    let sources = type == .toInclude || type == .toExclude
        ? [] : [ip("10.0.0.\(type.rawValue)"), ip("10.0.1.\(type.rawValue)")]
    return Sample(name: "v3 report \(type.shortName)",
                  message: .v3Report([GroupRecord(type: type, group: ip("239.3.0.\(type.rawValue)"),
                                                  sources: sources)]))
} + [
    Sample(name: "v3 report with several records and aux data",
           message: .v3Report([
               GroupRecord(type: .toInclude, group: ip("239.3.1.1"), sources: [ip("10.0.0.1")]),
               GroupRecord(type: .toExclude, group: ip("239.3.1.2")),
               GroupRecord(type: .allowNewSources, group: ip("232.3.1.3"),
                           sources: [ip("10.0.0.2"), ip("10.0.0.3"), ip("10.0.0.4")]),
               GroupRecord(type: .isInclude, group: ip("232.3.1.4"), sources: [ip("10.0.0.5")],
                           auxData: [1, 2, 3, 4, 5, 6, 7, 8]),
               GroupRecord(type: .blockOldSources, group: ip("232.3.1.3"), sources: [ip("10.0.0.2")]),
           ])),
    Sample(name: "v3 report with no records", message: .v3Report([])),
]

/// The source address a sample is sent from: queries from the querier, the rest from a host.
func sourceIP(for message: IGMPMessage) -> IPv4Address {
    message.type == .query ? querierIP : hostIP
}

/// An Ethernet frame with IGMP defaults (TTL 1, TOS 0xc0, Router Alert) for a message.
func frame(_ message: IGMPMessage, vlan: VLANTag? = nil, inner: VLANTag? = nil,
           options: IPv4EncodeOptions = IPv4EncodeOptions()) throws -> [UInt8] {
    try IGMPEncoder.ethernetFrame(message, ethernet: EthernetEncodeOptions(source: hostMAC, outerVLAN: vlan,
                                                                       innerVLAN: inner),
                                  source: sourceIP(for: message), options: options)
}

/// Rewrites the IPv4 header checksum of a packet starting at `offset` after a test
/// corrupted another header field, so the corruption itself is what gets reported.
func fixIPChecksum(_ data: inout [UInt8], at offset: Int) {
    let ihl = Int(data[offset] & 0x0F) * 4
    data[offset + 10] = 0
    data[offset + 11] = 0
    let sum = InternetChecksum.compute(Array(data[offset..<min(data.count, offset + max(ihl, 20))]))
    data[offset + 10] = UInt8(sum >> 8)
    data[offset + 11] = UInt8(sum & 0xFF)
}

/// Rewrites the IGMP checksum over `data[offset..<end]`.
func fixIGMPChecksum(_ data: inout [UInt8], at offset: Int, end: Int? = nil) {
    let stop = end ?? data.count
    data[offset + 2] = 0
    data[offset + 3] = 0
    let sum = InternetChecksum.compute(Array(data[offset..<stop]))
    data[offset + 2] = UInt8(sum >> 8)
    data[offset + 3] = UInt8(sum & 0xFF)
}

/// Sets IP Total Length for a packet at `offset` and fixes the header checksum.
func setTotalLength(_ data: inout [UInt8], at offset: Int, _ length: Int) {
    data[offset + 2] = UInt8(length >> 8)
    data[offset + 3] = UInt8(length & 0xFF)
    fixIPChecksum(&data, at: offset)
}

/// The case name of a parse error, to compare with the scapy vectors' "error" field.
func caseName(_ error: IGMPParseError) -> String {
    switch error {
    case .truncated: "truncated"
    case .tooManyVLANTags: "tooManyVLANTags"
    case .notIPv4: "notIPv4"
    case .ipVersion: "ipVersion"
    case .ihlTooSmall: "ihlTooSmall"
    case .totalLengthMismatch: "totalLengthMismatch"
    case .totalLengthBelowHeader: "totalLengthBelowHeader"
    case .malformedIPOption: "malformedIPOption"
    case .fragment: "fragment"
    case .notIGMP: "notIGMP"
    case .badIPChecksum: "badIPChecksum"
    case .badIGMPChecksum: "badIGMPChecksum"
    case .igmpTooShort: "igmpTooShort"
    case .queryLengthInvalid: "queryLengthInvalid"
    case .querySourcesPastEnd: "querySourcesPastEnd"
    case .reportRecordsPastEnd: "reportRecordsPastEnd"
    case .recordSourcesPastEnd: "recordSourcesPastEnd"
    case .recordAuxDataPastEnd: "recordAuxDataPastEnd"
    case .unknownType: "unknownType"
    }
}

/// Decodes a frame and returns the error it throws, or nil if it decodes.
func parseError(ethernet data: [UInt8], verifyChecksums: Bool = true) -> IGMPParseError? {
    do {
        _ = try IGMPDecoder.decode(ethernetFrame: data, verifyChecksums: verifyChecksums)
        return nil
    } catch {
        return error
    }
}

/// The repository root, found from this file's path (Tests/IGMPWireTests/…).
let repositoryRoot: URL = URL(fileURLWithPath: #filePath)
    .deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
