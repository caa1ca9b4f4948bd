import IGMPWire

/// A point in time, passed in by the caller: the policy never reads a clock, so
/// tests can drive it through any timeline.
///
/// Any monotonic nanosecond count works (CLOCK_MONOTONIC is the natural choice);
/// only differences matter. A clock that steps backwards can only make a learned
/// querier live longer, never crash anything: arithmetic saturates.
public struct ProxyTime: Sendable, Hashable, Comparable, CustomStringConvertible {
    /// Nanoseconds since the caller's epoch.
    public var nanoseconds: UInt64

    /// Creates a time from nanoseconds.
    public init(nanoseconds: UInt64) { self.nanoseconds = nanoseconds }

    /// A time `seconds` after the epoch (tests and examples).
    public static func seconds(_ seconds: UInt64) -> ProxyTime {
        ProxyTime(nanoseconds: seconds.multipliedReportingOverflow(by: 1_000_000_000).overflow
                  ? UInt64.max : seconds * 1_000_000_000)
    }

    /// The epoch.
    public static let zero = ProxyTime(nanoseconds: 0)

    /// This time plus `seconds`, saturating.
    public func adding(seconds: UInt64) -> ProxyTime {
        let (product, overflow) = seconds.multipliedReportingOverflow(by: 1_000_000_000)
        if overflow { return ProxyTime(nanoseconds: .max) }
        let (sum, carry) = nanoseconds.addingReportingOverflow(product)
        return ProxyTime(nanoseconds: carry ? .max : sum)
    }

    /// Orders times.
    public static func < (lhs: ProxyTime, rhs: ProxyTime) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// Seconds with a unit, e.g. `"12.5 s"`.
    public var description: String {
        let whole = nanoseconds / 1_000_000_000
        let tenths = nanoseconds % 1_000_000_000 / 100_000_000
        return "\(whole).\(tenths) s"
    }
}

/// What the frame around an IGMP message said: the facts the policy decides on
/// besides the message itself.
public struct FrameMetadata: Sendable, Hashable {
    /// Source MAC, when the frame had an Ethernet header (nil on L3 devices).
    public var sourceMAC: MACAddress?
    /// IP source address.
    public var source: IPv4Address
    /// IP destination address.
    public var destination: IPv4Address
    /// IP TTL as received (IGMP is sent with 1).
    public var ttl: UInt8
    /// Whether the IP header carried Router Alert (RFC 2113).
    public var routerAlert: Bool

    /// Creates metadata. The defaults are what a conforming IGMP packet has.
    public init(sourceMAC: MACAddress? = nil, source: IPv4Address, destination: IPv4Address,
                ttl: UInt8 = 1, routerAlert: Bool = true) {
        self.sourceMAC = sourceMAC
        self.source = source
        self.destination = destination
        self.ttl = ttl
        self.routerAlert = routerAlert
    }

    /// The metadata of a parsed packet; nil when it was parsed without an IP
    /// header (a bare IGMP message says nothing about where it came from).
    public init?(_ packet: IGMPPacketView) {
        guard let ip = packet.ip else { return nil }
        self.init(sourceMAC: packet.ethernet?.source, source: ip.source, destination: ip.destination,
                  ttl: ip.ttl, routerAlert: ip.routerAlert)
    }
}
