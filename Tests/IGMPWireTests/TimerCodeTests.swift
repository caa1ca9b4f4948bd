import IGMPWire
import Testing
import XigmpTestSupport

/// RFC 3376 §4.1.1 / §4.1.7 time codes, over all 256 codes.
@Suite struct TimerCodeTests {
    /// The RFC formula written out independently of the implementation.
    static func rfcValue(_ code: UInt8) -> UInt32 {
        if code < 128 { return UInt32(code) }
        let exp = Int((code >> 4) & 7)
        let mant = UInt32(code & 0x0F)
        return (mant | 0x10) << UInt32(exp + 3)
    }

    @Test func decodeMatchesTheRFCForEveryCode() {
        for code in UInt8.min...UInt8.max {
            #expect(IGMPTimerCode.decode(code) == Self.rfcValue(code), "code \(code)")
        }
        #expect(IGMPTimerCode.decode(0x80) == 128)
        #expect(IGMPTimerCode.decode(0x8F) == 248)
        #expect(IGMPTimerCode.decode(0x90) == 256)
        #expect(IGMPTimerCode.decode(0xFF) == 31744)
        #expect(IGMPTimerCode.maxValue == 31744)
    }

    @Test func encodeInvertsDecodeForEveryCode() {
        for code in UInt8.min...UInt8.max {
            #expect(IGMPTimerCode.encode(IGMPTimerCode.decode(code)) == code, "code \(code)")
        }
    }

    @Test func decodeIsStrictlyIncreasing() {
        for code in UInt8.min..<UInt8.max {
            #expect(IGMPTimerCode.decode(code) < IGMPTimerCode.decode(code + 1), "code \(code)")
        }
    }

    /// Non-representable values round down to the largest code not above them, and
    /// everything from 31744 up clamps to 0xFF. Checked against every value up to
    /// 40000 by brute force over the 256 codes.
    @Test func nonRepresentableValuesRoundDown() {
        let table = (0...255).map { IGMPTimerCode.decode(UInt8($0)) }
        for value in UInt32(0)...40_000 {
            let expected = UInt8(table.lastIndex { $0 <= value } ?? 0)
            let code = IGMPTimerCode.encode(value)
            guard code == expected else {
                Issue.record("encode(\(value)) = \(code), expected \(expected)")
                return
            }
        }
        #expect(IGMPTimerCode.encode(129) == 0x80)          // 128 ≤ 129 < 136
        #expect(IGMPTimerCode.encode(255) == 0x8F)          // 248
        #expect(IGMPTimerCode.encode(31743) == 0xFE)        // 30720
        #expect(IGMPTimerCode.encode(UInt32.max) == 0xFF)
    }

    /// v2 Max Response Time is linear tenths in one octet: every value round-trips.
    @Test func v2MaxResponseIsLinearTenths() throws {
        for tenths in UInt8(1)...UInt8.max {
            let data = try IGMPEncoder.encode(.query(.v2(maxResponseTenths: tenths)))
            #expect(data[1] == tenths)
            let decoded = try IGMPDecoder.decode(igmpMessage: data)
            guard case .query(let query) = decoded.message else { Issue.record("not a query"); return }
            #expect(query.maxResponseTenths == UInt32(tenths))
        }
    }

    /// The v3 query carries the encoded codes, and decoding gives back the rounded value.
    @Test func v3QueryCarriesEncodedCodes() throws {
        let data = try IGMPEncoder.encode(.query(.v3(maxResponseTenths: 1000, queryIntervalSeconds: 125)))
        #expect(data[1] == IGMPTimerCode.encode(1000))
        #expect(data[9] == 125)
        let decoded = try IGMPDecoder.decode(igmpMessage: data)
        guard case .query(let query) = decoded.message else { Issue.record("not a query"); return }
        #expect(query.maxResponseTenths == IGMPTimerCode.decode(IGMPTimerCode.encode(1000)))
        #expect(query.queryIntervalSeconds == 125)
    }
}
