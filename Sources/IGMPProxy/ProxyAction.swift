import IGMPMembership
import IGMPWire

/// What the policy asks its caller to do. Handed to the caller's closure one at a
/// time, in order, while the packet being handled is still lent: a transmit's
/// ``ProxyPayload/inbound(_:)`` bytes point into that packet, so an action must be
/// executed (or copied, see ``ProxyTransmit/withPayloadBytes(_:)``) inside the
/// closure. Hence not `Sendable`, like the packet views it borrows from.
public enum ProxyAction {
    /// Send an IGMP message.
    case transmit(ProxyTransmit)
    /// Tell clients something.
    case event(ProxyEvent)
    /// Add one to a counter.
    case count(ProxyCounter)
    /// Add one to a membership-table or querier counter of the interface in the role.
    case routerCount(MembershipCounter, InterfaceRole)
    /// Add one to an upstream host-side counter of the interface in the role.
    case upstreamCount(HostCounter, InterfaceRole)
}

/// Why a transmit is sent: a mode forwarding or originating it, or the
/// membership engines (``MembershipTracking/track`` and the queriers).
public enum TransmitPurpose: Sendable, Hashable, CustomStringConvertible {
    /// A proxy mode.
    case mode(ProxyMode)
    /// A query of xigmp's own querier.
    case query
    /// A report or leave of the upstream host side (RFC 4605).
    case upstreamReport

    /// The mode name, `query` or `upstream_report` (metric label values).
    public var description: String {
        switch self {
        case .mode(let mode): mode.rawValue
        case .query: "query"
        case .upstreamReport: "upstream_report"
        }
    }
}

@available(*, unavailable, message: "may borrow packet memory; execute inside the closure")
extension ProxyAction: Sendable {}

/// The IGMP message a transmit carries.
public enum ProxyPayload {
    /// Exactly the inbound IGMP message, unchanged: IP Total Length delimits it, so
    /// it is as long as the sender made it, never a whole receive buffer (goIGMP
    /// sent 200 bytes whatever the message). Its checksum covers only the IGMP
    /// message (RFC 2236 §2.3, RFC 3376 §4.1.2), so it stays valid inside the new
    /// IP header, whose own checksum the port computes. Valid only during the call.
    case inbound(UnsafeRawBufferPointer)
    /// A message the proxy originates (client reports and leaves). Always one that
    /// encodes: the policy checks it with ``IGMPEncoder/validatedLength(of:)``.
    case message(IGMPMessage)
}

@available(*, unavailable, message: "may borrow packet memory")
extension ProxyPayload: Sendable {}

/// Send one IGMP message out of one interface.
public struct ProxyTransmit {
    /// The egress interface. Upstream sends always name the *active* outside
    /// (``InterfaceRole/outside`` or ``InterfaceRole/alt``).
    public var role: InterfaceRole
    /// IP source: the egress interface's address.
    public var source: IPv4Address
    /// IP destination: where the RFCs send this kind of message, or the querier
    /// for unicast responses.
    public var destination: IPv4Address
    /// The IGMP message.
    public var payload: ProxyPayload
    /// How to build the IP header: always the IGMP defaults (TTL 1, TOS 0xc0,
    /// Router Alert; RFC 2236 §2, RFC 3376 §4), also for unicast destinations.
    public var ipOptions: IPv4EncodeOptions
    /// Who asked for it.
    public var purpose: TransmitPurpose

    /// The mode that asked for it; nil for the membership engines' messages.
    public var mode: ProxyMode? {
        if case .mode(let mode) = purpose { return mode }
        return nil
    }

    /// Creates a transmit with the IGMP IP defaults.
    public init(role: InterfaceRole, source: IPv4Address, destination: IPv4Address,
                payload: ProxyPayload, purpose: TransmitPurpose,
                ipOptions: IPv4EncodeOptions = IPv4EncodeOptions()) {
        self.role = role
        self.source = source
        self.destination = destination
        self.payload = payload
        self.purpose = purpose
        self.ipOptions = ipOptions
    }

    /// Creates a transmit a mode asked for, with the IGMP IP defaults.
    public init(role: InterfaceRole, source: IPv4Address, destination: IPv4Address,
                payload: ProxyPayload, mode: ProxyMode,
                ipOptions: IPv4EncodeOptions = IPv4EncodeOptions()) {
        self.init(role: role, source: source, destination: destination, payload: payload,
                  purpose: .mode(mode), ipOptions: ipOptions)
    }

    /// The payload's byte count.
    public var payloadLength: Int {
        switch payload {
        case .inbound(let bytes): bytes.count
        case .message(let message): message.encodedLength
        }
    }

    /// Runs `body` over the exact IGMP message bytes: the inbound bytes as they
    /// are, or an originated message encoded into stack memory (no heap
    /// allocation for anything that fits a frame). Returns nil, without calling
    /// `body`, only if an originated message fails to encode, which the policy
    /// never emits.
    public func withPayloadBytes<R, E: Error>(_ body: (UnsafeRawBufferPointer) throws(E) -> R) throws(E) -> R? {
        switch payload {
        case .inbound(let bytes):
            return try body(bytes)
        case .message(let message):
            let length = message.encodedLength
            let result: Result<R, E>? = withUnsafeTemporaryAllocation(byteCount: max(length, 8), alignment: 8) { buffer in
                guard let written = try? IGMPEncoder.encode(message, into: buffer) else { return nil }
                let bytes = UnsafeRawBufferPointer(rebasing: buffer[0..<written])
                do throws(E) { return .success(try body(bytes)) } catch { return .failure(error) }
            }
            guard let result else { return nil }
            return try result.get()
        }
    }
}

@available(*, unavailable, message: "may borrow packet memory")
extension ProxyTransmit: Sendable {}
