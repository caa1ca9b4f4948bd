import IGMPWire

/// An IPv4 host and TCP port to listen on (YAML `metrics.listen`).
///
/// Written `PORT`, `:PORT` or `IPV4:PORT`. With only a port the host is
/// 127.0.0.1, so the endpoint stays on this machine unless the operator
/// writes another address (such as `0.0.0.0:9740`) on purpose.
public struct ListenAddress: Sendable, Equatable, CustomStringConvertible {
    /// The local address to bind.
    public var host: IPv4Address
    /// The TCP port, 1–65535.
    public var port: UInt16

    /// The host used when only a port is written.
    public static let defaultHost = IPv4Address(127, 0, 0, 1)

    /// Creates an address; `host` defaults to loopback.
    public init(host: IPv4Address = ListenAddress.defaultHost, port: UInt16) {
        self.host = host
        self.port = port
    }

    /// Parses `PORT`, `:PORT` or `IPV4:PORT`; nil when malformed. See
    /// ``ListenAddress/problem(in:)`` for why.
    public init?(_ text: String) {
        guard case .success(let address) = Self.parse(text) else { return nil }
        self = address
    }

    /// `IPV4:PORT`, e.g. `127.0.0.1:9740`.
    public var description: String { "\(host):\(port)" }

    /// What is wrong with `text` as a listen address, as a message ending in
    /// what is expected; nil when it parses.
    public static func problem(in text: String) -> String? {
        if case .failure(let why) = parse(text) { return why.message }
        return nil
    }

    struct Problem: Error { let message: String }

    static func parse(_ text: String) -> Result<ListenAddress, Problem> {
        let expected = "expected PORT, :PORT or IPV4:PORT, e.g. 127.0.0.1:9740"
        let hostText: Substring?
        let portText: Substring
        if let colon = text.lastIndex(of: ":") {
            hostText = text[..<colon]
            portText = text[text.index(after: colon)...]
        } else {
            hostText = nil
            portText = text[...]
        }
        var host = defaultHost
        if let hostText, !hostText.isEmpty {
            guard let parsed = IPv4Address(String(hostText)) else {
                return .failure(Problem(message: "'\(hostText)' in '\(text)' is not an IPv4 address; \(expected) (host names are not looked up)"))
            }
            guard !parsed.isMulticast, parsed.rawValue >> 28 != 0xF else {
                return .failure(Problem(message: "\(parsed) is not a local unicast address; expected 127.0.0.1, 0.0.0.0 or an address of this host"))
            }
            host = parsed
        }
        guard !portText.isEmpty, portText.allSatisfy({ $0.isASCII && $0.isNumber }) else {
            return .failure(Problem(message: "'\(text)' has no port number; \(expected)"))
        }
        guard let port = UInt16(portText), port != 0 else {
            return .failure(Problem(message: "port \(portText) in '\(text)' is out of range; expected a port from 1 to 65535"))
        }
        return .success(ListenAddress(host: host, port: port))
    }
}
