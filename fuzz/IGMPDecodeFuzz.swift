// libFuzzer entry point for the IGMPWire decoders. Compiled by fuzz/run.sh together
// with Sources/IGMPWire/*.swift into one module, hence no `import IGMPWire`.
//
// Every input goes through every parse entry point, with checksums verified (the
// production path) and not (so mutations reach the v3 structure without having to
// forge checksums). Whatever decodes must survive a round trip: encode the owned
// message again and decode it, and get the same message back. A mismatch traps, so
// libFuzzer reports it like a crash.

@_cdecl("LLVMFuzzerTestOneInput")
public func igmpDecodeFuzz(_ data: UnsafePointer<UInt8>?, _ size: Int) -> CInt {
    let input = UnsafeRawBufferPointer(start: data, count: size)
    for verify in [true, false] {
        exercise(input, layer: 0, verify: verify)
        exercise(input, layer: 1, verify: verify)
        exercise(input, layer: 2, verify: verify)
    }
    exercisePcap(input)
    return 0
}

/// Parses `bytes` as an Ethernet frame (0), IPv4 packet (1) or bare IGMP (2).
func exercise(_ bytes: UnsafeRawBufferPointer, layer: Int, verify: Bool) {
    let view: IGMPPacketView
    do {
        switch layer {
        case 0: view = try IGMPPacketView(ethernetFrame: bytes, verifyChecksums: verify)
        case 1: view = try IGMPPacketView(ipv4Packet: bytes, verifyChecksums: verify)
        default: view = try IGMPPacketView(igmpMessage: bytes, verifyChecksums: verify)
        }
    } catch {
        // The reason must always be printable.
        precondition(!error.description.isEmpty)
        return
    }
    walk(view.igmp)
    let decoded = DecodedIGMPPacket(view)
    _ = decoded.ethernet?.vlanTags
    roundTrip(decoded.message)
}

/// Reads every field, source, record and aux byte the view exposes.
func walk(_ igmp: IGMPMessageView) {
    var sink: UInt64 = UInt64(igmp.maxRespCode) &+ UInt64(igmp.checksum) &+ UInt64(igmp.group.rawValue)
    sink &+= UInt64(igmp.qrv) &+ UInt64(igmp.qqicCode) &+ (igmp.sFlag ? 1 : 0)
    for source in igmp.sources { sink &+= UInt64(source.rawValue) }
    var seen = 0
    for record in igmp.records {
        sink &+= UInt64(record.rawType) &+ UInt64(record.group.rawValue) &+ UInt64(record.length)
        for source in record.sources { sink &+= UInt64(source.rawValue) }
        for byte in record.auxData { sink &+= UInt64(byte) }
        if record.isLeave || record.isJoin { sink &+= 1 }
        precondition(record.offset + record.length <= igmp.length, "record past the end")
        seen += 1
    }
    precondition(seen == igmp.recordCount, "record count")
    if sink == 0x5EED_5EED_5EED_5EED { print("") }  // keep the reads alive
}

/// encode(decode(x)) must decode to decode(x).
func roundTrip(_ message: IGMPMessage) {
    let encoded: [UInt8]
    do {
        encoded = try IGMPEncoder.encode(message)
    } catch {
        preconditionFailure("decoded message does not encode: \(error)")
    }
    precondition(encoded.count == message.encodedLength, "encoded length")
    do {
        let again = try IGMPDecoder.decode(igmpMessage: encoded)
        precondition(again.message == message, "round trip changed the message")
    } catch {
        preconditionFailure("re-encoded message does not decode: \(error)")
    }
    let packet = try? IGMPEncoder.ipv4Packet(message, source: IPv4Address(10, 0, 0, 1))
    if let packet {
        precondition((try? IGMPDecoder.decode(ipv4Packet: packet))?.message == message, "IPv4 round trip")
    }
}

/// Reads the input as a pcap file and decodes up to 64 records by its link type.
func exercisePcap(_ bytes: UnsafeRawBufferPointer) {
    guard var reader = try? PcapReader(bytes: Array(bytes)) else { return }
    for _ in 0..<64 {
        guard let record = try? reader.next() else { return }
        record.data.withUnsafeBytes { data in
            exercise(data, layer: reader.linkType == .raw ? 1 : 0, verify: false)
        }
    }
}
