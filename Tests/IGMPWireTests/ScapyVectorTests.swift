import Foundation
import IGMPWire
import Testing
import XigmpTestSupport

/// Vectors made by scapy (scripts/make_vectors.py → Vectors/scapy_vectors.json): our
/// decoder reads scapy's bytes to scapy's fields, our encoder reproduces scapy's bytes
/// exactly where the construction is the same, and scapy's own Max Resp Code encoder
/// agrees with ours.
///
/// Byte differences accepted (vectors marked `identical: false`, each with a note):
/// Router Alert after a NOP (we always put it first, IHL 6); scapy's default IGMP
/// packet (IP id 1, TOS 0, no Router Alert, Max Resp Code 20 in a report — RFC 2236
/// says 0, and we send 0); a v3 report with trailing bytes (we never append any).
/// Everything else, including VLAN/QinQ tags and Ethernet padding, is byte-identical.
@Suite struct ScapyVectorTests {
    struct VectorFile: Decodable, Equatable {
        let vectors: [Vector]
        let timerCodes: [[UInt32]]
    }

    struct Vector: Decodable, Equatable {
        let name: String
        let layer: String
        let hex: String
        let error: String?
        let expect: Expect?
        let identical: Bool?
        let pad: Bool?
        let note: String?
    }

    struct Expect: Decodable, Equatable {
        let igmp: IGMPFields
        let ip: IPFields?
        let eth: EthernetFields?
    }

    struct IGMPFields: Decodable, Equatable {
        let type: UInt8
        let maxRespCode: UInt8
        let group: String?
        let version: UInt8?
        let s: UInt8?
        let qrv: UInt8?
        let qqic: UInt8?
        let sources: [String]?
        let records: [RecordFields]?
        let length: Int
    }

    struct RecordFields: Decodable, Equatable {
        let type: UInt8
        let group: String
        let sources: [String]
        let aux: String
    }

    struct IPFields: Decodable, Equatable {
        let src: String
        let dst: String
        let ttl: UInt8
        let tos: UInt8
        let ihl: UInt8
        let id: UInt16
        let routerAlert: Bool
        let totalLength: Int
    }

    struct EthernetFields: Decodable, Equatable {
        let dst: String
        let src: String
        let vlans: [VLANFields]
    }

    struct VLANFields: Decodable, Equatable {
        let tpid: UInt16
        let vid: UInt16
        let pcp: UInt8
    }

    static func decodeFile(_ data: Data) throws -> VectorFile {
        let decoder = JSONDecoder()
        decoder.keyDecodingStrategy = .convertFromSnakeCase
        return try decoder.decode(VectorFile.self, from: data)
    }

    static func loadCommitted() throws -> VectorFile {
        let url = try #require(Bundle.module.url(forResource: "scapy_vectors", withExtension: "json",
                                                 subdirectory: "Vectors"),
                               "Vectors/scapy_vectors.json missing from the test bundle")
        return try decodeFile(Data(contentsOf: url))
    }

    /// The owned message a vector's fields describe.
    static func message(_ fields: IGMPFields) throws -> IGMPMessage {
        let group = ip(fields.group ?? "0.0.0.0")
        switch fields.type {
        case 0x11:
            let version = try #require(IGMPVersion(rawValue: fields.version ?? 0))
            return .query(IGMPQuery(version: version, maxRespCode: fields.maxRespCode, group: group,
                                    sFlag: fields.s == 1, qrv: fields.qrv ?? 0, qqicCode: fields.qqic ?? 0,
                                    sources: (fields.sources ?? []).map(ip)))
        case 0x12: return .v1Report(group: group)
        case 0x16: return .v2Report(group: group)
        case 0x17: return .v2Leave(group: group)
        default:
            return .v3Report(try (fields.records ?? []).map { record in
                GroupRecord(type: try #require(GroupRecordType(rawValue: record.type)), group: ip(record.group),
                            sources: record.sources.map(ip), auxData: bytes(hex: record.aux))
            })
        }
    }

    static func view<T>(_ vector: Vector, _ body: (IGMPPacketView) throws -> T) throws -> T {
        let data = bytes(hex: vector.hex)
        return try data.withUnsafeBytes { buffer in
            switch vector.layer {
            case "ethernet": try body(IGMPPacketView(ethernetFrame: buffer))
            case "ipv4": try body(IGMPPacketView(ipv4Packet: buffer))
            default: try body(IGMPPacketView(igmpMessage: buffer))
            }
        }
    }

    @Test func decoderReadsScapyBytes() throws {
        let file = try Self.loadCommitted()
        #expect(file.vectors.count >= 40)
        for vector in file.vectors {
            if let expectedError = vector.error {
                do {
                    try Self.view(vector) { _ in }
                    Issue.record("\(vector.name): decoded, expected \(expectedError)")
                } catch let error as IGMPParseError {
                    #expect(caseName(error) == expectedError, "\(vector.name): \(error)")
                }
                continue
            }
            let expect = try #require(vector.expect, "\(vector.name) has neither expect nor error")
            try Self.view(vector) { packet in
                let igmp = packet.igmp
                #expect(igmp.type.rawValue == expect.igmp.type, "\(vector.name)")
                #expect(igmp.maxRespCode == expect.igmp.maxRespCode, "\(vector.name)")
                #expect(igmp.length == expect.igmp.length, "\(vector.name)")
                if let group = expect.igmp.group { #expect(igmp.group == ip(group), "\(vector.name)") }
                if igmp.type == .query {
                    #expect(igmp.queryVersion?.rawValue == expect.igmp.version, "\(vector.name)")
                }
                if igmp.queryVersion == .v3 {
                    #expect(igmp.sFlag == (expect.igmp.s == 1) && igmp.qrv == expect.igmp.qrv
                        && igmp.qqicCode == expect.igmp.qqic, "\(vector.name)")
                    #expect(igmp.sources.map(\.description) == expect.igmp.sources, "\(vector.name)")
                }
                if let records = expect.igmp.records {
                    let got = igmp.records.map { record in
                        RecordFields(type: record.rawType, group: record.group.description,
                                     sources: record.sources.map(\.description), aux: hexString(Array(record.auxData)))
                    }
                    #expect(got == records, "\(vector.name)")
                }
                if let fields = expect.ip {
                    let header = try #require(packet.ip)
                    #expect(header.source == ip(fields.src) && header.destination == ip(fields.dst), "\(vector.name)")
                    #expect(header.ttl == fields.ttl && header.tos == fields.tos && header.ihl == fields.ihl, "\(vector.name)")
                    #expect(header.identification == fields.id, "\(vector.name)")
                    #expect(header.routerAlert == fields.routerAlert, "\(vector.name)")
                    #expect(Int(header.totalLength) == fields.totalLength, "\(vector.name)")
                }
                if let fields = expect.eth {
                    let ethernet = try #require(packet.ethernet)
                    #expect(ethernet.destination == mac(fields.dst) && ethernet.source == mac(fields.src), "\(vector.name)")
                    #expect(ethernet.vlanTags.map { VLANFields(tpid: $0.tpid, vid: $0.vid, pcp: $0.pcp) } == fields.vlans,
                            "\(vector.name)")
                }
            }
        }
    }

    @Test func encoderReproducesScapyBytes() throws {
        let file = try Self.loadCommitted()
        var compared = 0
        for vector in file.vectors where vector.identical == true {
            let expect = try #require(vector.expect)
            let message = try Self.message(expect.igmp)
            let ours: [UInt8]
            switch vector.layer {
            case "igmp":
                ours = try IGMPEncoder.encode(message)
            default:
                let fields = try #require(expect.ip)
                let options = IPv4EncodeOptions(ttl: fields.ttl, tos: fields.tos, routerAlert: fields.routerAlert,
                                                identification: fields.id)
                if vector.layer == "ipv4" {
                    ours = try IGMPEncoder.ipv4Packet(message, source: ip(fields.src), destination: ip(fields.dst),
                                                      options: options)
                } else {
                    let eth = try #require(expect.eth)
                    let tags = eth.vlans.map { VLANTag(vid: $0.vid, pcp: $0.pcp, tpid: $0.tpid) }
                    let ethernet = EthernetEncodeOptions(source: mac(eth.src), outerVLAN: tags.first,
                                                         innerVLAN: tags.dropFirst().first,
                                                         padToMinimum: vector.pad == true)
                    ours = try IGMPEncoder.ethernetFrame(message, ethernet: ethernet, source: ip(fields.src),
                                                         destination: ip(fields.dst), options: options)
                }
            }
            #expect(hexString(ours) == vector.hex, "\(vector.name)")
            compared += 1
        }
        #expect(compared >= 24)
    }

    @Test func scapyMaxRespEncoderAgreesWithOurs() throws {
        let file = try Self.loadCommitted()
        #expect(file.timerCodes.count > 1000)
        for pair in file.timerCodes {
            #expect(UInt32(IGMPTimerCode.encode(pair[0])) == pair[1], "value \(pair[0])")
        }
    }

    /// Regenerates the vectors with scapy and diffs against the committed file, so the
    /// file cannot drift from its generator. Needs /usr/bin/python3 with python3-scapy.
    @Test func committedVectorsMatchTheGenerator() throws {
        let script = repositoryRoot.appendingPathComponent("scripts/make_vectors.py").path
        try #require(FileManager.default.fileExists(atPath: script), "generator missing at \(script)")
        guard let python = findExecutable(["/usr/bin/python3"]) else {
            Issue.record("/usr/bin/python3 not found: install python3 and python3-scapy (make test does this)")
            return
        }
        let (probe, _, _) = try run(python, ["-c", "import scapy.contrib.igmpv3"])
        guard probe == 0 else {
            Issue.record("scapy missing for /usr/bin/python3: install python3-scapy (make test does this)")
            return
        }
        let (status, output, errors) = try run(python, [script, "--stdout"])
        try #require(status == 0, "make_vectors.py failed: \(errors)")
        let regenerated = try Self.decodeFile(Data(output.utf8))
        let committed = try Self.loadCommitted()
        #expect(regenerated.timerCodes == committed.timerCodes)
        #expect(regenerated.vectors.map(\.name) == committed.vectors.map(\.name))
        for (new, old) in zip(regenerated.vectors, committed.vectors) {
            #expect(new == old, "\(old.name) differs: rerun scripts/make_vectors.py and review")
        }
    }
}
