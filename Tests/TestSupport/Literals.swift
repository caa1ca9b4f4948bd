import Foundation
import IGMPWire

/// A literal address; test data only.
package func ip(_ text: String) -> IPv4Address {
    guard let address = IPv4Address(text) else { fatalError("bad test address \(text)") }
    return address
}

/// A literal MAC; test data only.
package func mac(_ text: String) -> MACAddress {
    guard let address = MACAddress(text) else { fatalError("bad test MAC \(text)") }
    return address
}

/// Bytes from a hex string (test vectors).
package func bytes(hex: String) -> [UInt8] {
    var out: [UInt8] = []
    var chars = Array(hex.utf8)
    if chars.count % 2 == 1 { chars.append(UInt8(ascii: "0")) }
    var index = 0
    while index < chars.count {
        let pair = String(decoding: chars[index..<(index + 2)], as: UTF8.self)
        out.append(UInt8(pair, radix: 16) ?? 0)
        index += 2
    }
    return out
}

/// Lower-case hex of bytes.
package func hexString(_ data: [UInt8]) -> String {
    data.map { String(format: "%02x", $0) }.joined()
}
