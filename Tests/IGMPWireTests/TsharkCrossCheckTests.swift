import Foundation
import IGMPWire
import Testing
import XigmpTestSupport

/// Wireshark's IGMP dissector, which nobody here wrote, reads every kind of frame our
/// encoder builds: no malformed frame, no expert warning, both checksums good, and
/// every field equal to what we built.
@Suite struct TsharkCrossCheckTests {
    static let fields = [
        "frame.number", "igmp.type", "igmp.version", "igmp.max_resp", "igmp.maddr",
        "igmp.checksum.status", "ip.checksum.status", "igmp.s", "igmp.qrv", "igmp.qqic",
        "igmp.saddr", "igmp.record_type", "igmp.aux_data_len", "ip.opt.ra", "ip.ttl",
        "ip.dsfield", "ip.dst", "eth.dst", "vlan.id", "_ws.malformed", "_ws.expert.severity",
        "_ws.expert.message", "ip.len",
    ]

    /// What tshark should print for each field of `message` framed with `vlan`.
    static func expectedFields(_ message: IGMPMessage, vlan: UInt16?) -> [String: String] {
        let destination = message.defaultDestination
        var expected: [String: String] = [
            "igmp.type": "0x" + String(format: "%02x", message.type.rawValue),
            "igmp.version": "\(message.version.rawValue)",
            "igmp.checksum.status": "1",   // 1 = good
            "ip.checksum.status": "1",
            "ip.opt.ra": "0",              // Router Alert present, value 0
            "ip.ttl": "1",
            "ip.dsfield": "0xc0",
            "ip.dst": destination.description,
            "eth.dst": MACAddress.multicast(for: destination).description,
            "ip.len": "\(24 + message.encodedLength)",
            "vlan.id": vlan.map { "\($0)" } ?? "",
            "_ws.malformed": "",
            "_ws.expert.severity": "",
            "_ws.expert.message": "",
        ]
        switch message {
        case .query(let query):
            expected["igmp.maddr"] = query.group.description
            switch query.version {
            case .v1:
                expected["igmp.max_resp"] = ""
            case .v2:
                expected["igmp.max_resp"] = "\(query.maxRespCode)"
            case .v3:
                // tshark shows the decoded Max Resp in tenths and QQIC as the raw code.
                expected["igmp.max_resp"] = "\(query.maxResponseTenths)"
                expected["igmp.s"] = query.sFlag ? "1" : "0"
                expected["igmp.qrv"] = "\(query.qrv)"
                expected["igmp.qqic"] = "\(query.qqicCode)"
                expected["igmp.saddr"] = query.sources.map(\.description).joined(separator: ",")
            }
        case .v1Report(let group), .v2Report(let group), .v2Leave(let group):
            expected["igmp.maddr"] = group.description
        case .v3Report(let records):
            expected["igmp.maddr"] = records.map(\.group.description).joined(separator: ",")
            expected["igmp.record_type"] = records.map { "\($0.type.rawValue)" }.joined(separator: ",")
            expected["igmp.aux_data_len"] = records.map { "\($0.auxData.count / 4)" }.joined(separator: ",")
            expected["igmp.saddr"] = records.flatMap(\.sources).map(\.description).joined(separator: ",")
        }
        return expected
    }

    @Test func tsharkReadsEveryFrameWeBuild() throws {
        guard let tshark = findExecutable(["/usr/bin/tshark", "/usr/local/bin/tshark"]) else {
            Issue.record("tshark not found: install tshark (make test does this)")
            return
        }
        var writer = PcapWriter()
        var expectations: [[String: String]] = []
        for sample in samples {
            for vlan: UInt16? in [nil, 100] {
                let data = try frame(sample.message, vlan: vlan.map { VLANTag(vid: $0) })
                writer.append(data, seconds: UInt32(expectations.count))
                expectations.append(Self.expectedFields(sample.message, vlan: vlan))
            }
        }
        let directory = FileManager.default.temporaryDirectory
            .appendingPathComponent("igmpwire-tshark-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: directory) }
        let file = directory.appendingPathComponent("frames.pcap")
        try Data(writer.bytes).write(to: file)

        var arguments = ["-n", "-r", file.path, "-o", "ip.check_checksum:TRUE", "-T", "fields",
                         "-E", "occurrence=a", "-E", "aggregator=,", "-E", "separator=/t"]
        for field in Self.fields { arguments += ["-e", field] }
        let (status, output, errors) = try run(tshark, arguments)
        try #require(status == 0, "tshark failed: \(errors)")
        let lines = output.split(separator: "\n", omittingEmptySubsequences: true)
        try #require(lines.count == expectations.count, "tshark read \(lines.count) frames, wrote \(expectations.count)")
        for (line, expected) in zip(lines, expectations) {
            let values = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
            try #require(values.count == Self.fields.count, "odd tshark line: \(line)")
            let got = Dictionary(uniqueKeysWithValues: zip(Self.fields, values))
            for (field, value) in expected {
                #expect(got[field] == value, "frame \(got["frame.number"] ?? "?") \(field)")
            }
        }
    }
}
