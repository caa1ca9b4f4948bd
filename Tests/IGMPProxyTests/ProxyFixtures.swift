import IGMPMembership
import IGMPProxy
import IGMPWire
import Testing
import XigmpTestSupport

// The test network: an Ethernet primary upstream, a GRE-like alt (no MAC), a
// docker-like inside bridge.
let outsideAddressing = InterfaceAddressing(address: ip("192.0.2.2"), prefixLength: 24,
                                            mac: mac("02:00:00:00:01:02"))
let altAddressing = InterfaceAddressing(address: ip("198.51.100.2"), prefixLength: 30, mac: nil)
let insideAddressing = InterfaceAddressing(address: ip("172.17.0.1"), prefixLength: 16,
                                           mac: mac("02:00:00:00:01:01"))
let primaryQuerier = ip("192.0.2.1")
let primaryQuerierMAC = mac("02:00:00:00:09:01")
let altQuerier = ip("198.51.100.1")
let insideHost = ip("172.17.0.5")
let insideHostMAC = mac("02:42:ac:11:00:05")
let outsideHost = ip("192.0.2.77")
let fallbackAddress = ip("10.99.0.1")
let group1 = ip("239.1.1.1")
let group2 = ip("239.2.2.2")
let ssmGroup = ip("232.1.1.1")

/// A configuration of the test network with `modes`.
func configuration(_ modes: ProxyModes, active: OutsideSelection = .primary,
                   fallback: IPv4Address? = nil, limits: ProxyLimits = ProxyLimits()) -> ProxyConfiguration {
    ProxyConfiguration(modes: modes, outside: outsideAddressing, alt: altAddressing, inside: insideAddressing,
                       activeOutside: active, unicastFallback: fallback, limits: limits)
}

/// A policy for the test network.
func policy(_ modes: ProxyModes, active: OutsideSelection = .primary, fallback: IPv4Address? = nil,
            limits: ProxyLimits = ProxyLimits()) -> ProxyPolicy {
    do {
        return try ProxyPolicy(configuration: configuration(modes, active: active, fallback: fallback, limits: limits))
    } catch {
        fatalError("test configuration rejected: \(error)")
    }
}

/// One transmit, copied out of the callback.
struct Sent: Hashable, CustomStringConvertible {
    var role: InterfaceRole
    var source: IPv4Address
    var destination: IPv4Address
    var bytes: [UInt8]
    var purpose: TransmitPurpose
    var ipOptions: IPv4EncodeOptions
    /// True when the payload was the inbound bytes (a forward), false for an
    /// originated message.
    var forwarded: Bool

    /// The payload decoded.
    var message: IGMPMessage? { try? IGMPDecoder.decode(igmpMessage: bytes).message }

    /// The mode that sent it; nil for the membership engines' messages.
    var mode: ProxyMode? { if case .mode(let m) = purpose { m } else { nil } }

    var description: String {
        "\(purpose) on \(role) \(source)→\(destination) \(message.map { "\($0)" } ?? "undecodable")"
    }
}

/// Everything a policy call produced, in order, as owned values.
struct Recorded: Hashable {
    /// Every action in order, each rendered to an owned value.
    enum Item: Hashable {
        case sent(Sent)
        case event(ProxyEvent)
        case count(ProxyCounter)
        case routerCount(MembershipCounter, InterfaceRole)
        case upstreamCount(HostCounter, InterfaceRole)
    }
    var items: [Item] = []

    var sent: [Sent] { items.compactMap { if case .sent(let s) = $0 { s } else { nil } } }
    var events: [ProxyEvent] { items.compactMap { if case .event(let e) = $0 { e } else { nil } } }
    var counters: [ProxyCounter] { items.compactMap { if case .count(let c) = $0 { c } else { nil } } }
    func count(_ counter: ProxyCounter) -> Int { counters.filter { $0 == counter }.count }
    var queryEvents: [QueryHeard] { events.compactMap { if case .queryHeard(let q) = $0 { q } else { nil } } }
    var membershipEvents: [MembershipHeard] {
        events.compactMap { if case .membershipHeard(let m) = $0 { m } else { nil } }
    }

    /// Copies an action (payload bytes included) while it is still valid.
    mutating func record(_ action: ProxyAction) {
        switch action {
        case .transmit(let transmit):
            let bytes = transmit.withPayloadBytes { Array($0) } ?? []
            var forwarded = false
            if case .inbound = transmit.payload { forwarded = true }
            items.append(.sent(Sent(role: transmit.role, source: transmit.source,
                                    destination: transmit.destination, bytes: bytes, purpose: transmit.purpose,
                                    ipOptions: transmit.ipOptions, forwarded: forwarded)))
        case .event(let event):
            items.append(.event(event))
        case .count(let counter):
            items.append(.count(counter))
        case .routerCount(let counter, let role):
            items.append(.routerCount(counter, role))
        case .upstreamCount(let counter, let role):
            items.append(.upstreamCount(counter, role))
        }
    }
}

/// How a test frame reaches the policy.
enum Path: CaseIterable, CustomTestStringConvertible {
    /// An Ethernet frame parsed with IGMPPacketView (the AF_XDP path).
    case ethernetFrame
    /// An IPv4 packet parsed with IGMPPacketView (the kernel/L3 path).
    case ipv4Packet
    /// An owned IGMPMessage with explicit metadata.
    case ownedMessage

    var testDescription: String {
        switch self {
        case .ethernetFrame: "Ethernet frame"
        case .ipv4Packet: "IPv4 packet"
        case .ownedMessage: "owned message"
        }
    }
}

/// A frame arriving at the proxy, described by what the policy sees.
struct Arrival {
    var message: IGMPMessage
    var role: InterfaceRole
    var source: IPv4Address
    var destination: IPv4Address
    var sourceMAC: MACAddress?
    var ttl: UInt8 = 1
    var routerAlert: Bool = true

    init(_ message: IGMPMessage, on role: InterfaceRole, from source: IPv4Address,
         to destination: IPv4Address? = nil, mac: MACAddress? = nil, ttl: UInt8 = 1, routerAlert: Bool = true) {
        self.message = message
        self.role = role
        self.source = source
        self.destination = destination ?? message.defaultDestination
        self.sourceMAC = mac
        self.ttl = ttl
        self.routerAlert = routerAlert
    }

    var metadata: FrameMetadata {
        FrameMetadata(sourceMAC: sourceMAC, source: source, destination: destination, ttl: ttl,
                      routerAlert: routerAlert)
    }
}

/// Feeds one arrival to `policy` through `path` and records what it did.
func feed(_ policy: inout ProxyPolicy, _ arrival: Arrival, path: Path = .ethernetFrame,
          at now: ProxyTime = .seconds(100)) throws -> Recorded {
    var recorded = Recorded()
    let options = IPv4EncodeOptions(ttl: arrival.ttl, routerAlert: arrival.routerAlert)
    switch path {
    case .ethernetFrame:
        let frame = try IGMPEncoder.ethernetFrame(
            arrival.message,
            ethernet: EthernetEncodeOptions(source: arrival.sourceMAC ?? mac("02:00:00:00:ff:ff"),
                                            destination: mac("02:00:00:00:ee:ee")),
            source: arrival.source, destination: arrival.destination, options: options)
        try frame.withUnsafeBytes { buffer in
            let view = try IGMPPacketView(ethernetFrame: buffer)
            policy.handle(view, on: arrival.role, at: now) { recorded.record($0) }
        }
    case .ipv4Packet:
        let packet = try IGMPEncoder.ipv4Packet(arrival.message, source: arrival.source,
                                                destination: arrival.destination, options: options)
        try packet.withUnsafeBytes { buffer in
            let view = try IGMPPacketView(ipv4Packet: buffer)
            // No Ethernet header: the source MAC comes from the metadata, if any.
            var metadata = try #require(FrameMetadata(view))
            metadata.sourceMAC = arrival.sourceMAC
            policy.handle(view.igmp, metadata: metadata, on: arrival.role, at: now) { recorded.record($0) }
        }
    case .ownedMessage:
        policy.handle(arrival.message, metadata: arrival.metadata, on: arrival.role, at: now) {
            recorded.record($0)
        }
    }
    return recorded
}

/// Feeds raw IGMP message bytes (for inputs IGMPMessage cannot express).
func feed(_ policy: inout ProxyPolicy, igmpBytes: [UInt8], on role: InterfaceRole, metadata: FrameMetadata,
          at now: ProxyTime = .seconds(100)) throws -> Recorded {
    var recorded = Recorded()
    try igmpBytes.withUnsafeBytes { buffer in
        let view = try IGMPMessageView(buffer, verifyChecksum: false)
        policy.handle(view, metadata: metadata, on: role, at: now) { recorded.record($0) }
    }
    return recorded
}

/// Runs a client request and records what it did.
func client(_ policy: inout ProxyPolicy,
            _ body: (inout ProxyPolicy, (ProxyAction) -> Void) throws(ClientRequestError) -> ClientDelivery)
    -> (Recorded, Result<ClientDelivery, ClientRequestError>) {
    var recorded = Recorded()
    let result = Result { () throws(ClientRequestError) -> ClientDelivery in
        try body(&policy) { recorded.record($0) }
    }
    return (recorded, result)
}

/// Common messages.
let v2GeneralQuery = IGMPMessage.query(.v2())
let v3GeneralQuery = IGMPMessage.query(.v3())
let v3Report2Records = IGMPMessage.v3Report([
    GroupRecord(type: .toExclude, group: group1),
    GroupRecord(type: .allowNewSources, group: ssmGroup, sources: [ip("10.0.0.1"), ip("10.0.0.2")]),
])

/// A query from the primary querier on the primary outside.
func primaryQuery(_ message: IGMPMessage = v2GeneralQuery, from source: IPv4Address = primaryQuerier) -> Arrival {
    Arrival(message, on: .outside, from: source, mac: primaryQuerierMAC)
}

/// A report from the inside host.
func insideReport(_ message: IGMPMessage, to destination: IPv4Address? = nil,
                  from source: IPv4Address = insideHost) -> Arrival {
    Arrival(message, on: .inside, from: source, to: destination, mac: insideHostMAC)
}

/// The test network's three interfaces, one of each role.
let testRoles: [InterfaceRole] = [.outside, .alt, .inside]

/// Ticks the policy at every deadline up to `seconds`, recording what it does.
func advance(_ policy: inout ProxyPolicy, until seconds: Double) -> Recorded {
    var recorded = Recorded()
    let end = ProxyTime(nanoseconds: UInt64(seconds * 1e9))
    while let next = policy.nextDeadline, next <= end {
        policy.tick(at: next) { recorded.record($0) }
    }
    return recorded
}

/// A time in seconds.
func at(_ seconds: Double) -> ProxyTime { ProxyTime(nanoseconds: UInt64(seconds * 1e9)) }
