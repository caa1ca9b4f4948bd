import IGMPWire

/// The querier heard on one upstream: where client reports go when
/// ``ProxyMode/unicastMembershipResponse`` is on (goIGMP learned it and then
/// never used it).
public struct LearnedQuerier: Sendable, Hashable {
    /// The querier's address (the IP source of its queries).
    public var address: IPv4Address
    /// The version of the last query heard from it.
    public var version: IGMPVersion
    /// When it was last heard.
    public var lastHeard: ProxyTime
    /// When it is forgotten unless heard again: the Other Querier Present Interval
    /// after ``lastHeard`` (RFC 3376 §8.5, RFC 2236 §8.5).
    public var expires: ProxyTime

    /// Creates a record.
    public init(address: IPv4Address, version: IGMPVersion, lastHeard: ProxyTime, expires: ProxyTime) {
        self.address = address
        self.version = version
        self.lastHeard = lastHeard
        self.expires = expires
    }

    /// Whether it is still current at `now`.
    public func isCurrent(at now: ProxyTime) -> Bool { now < expires }

    /// The Other Querier Present Interval a query announces, in nanoseconds:
    /// Robustness × Query Interval + Query Response Interval / 2 (RFC 3376 §8.5).
    /// v3 queries carry QRV and QQIC (§4.1.6–4.1.7; 0 means "use the default");
    /// v1/v2 queries carry neither, so the defaults apply (RV 2, QI 125 s, §8.1–8.2)
    /// — 255 s with a 10 s response time.
    static func otherQuerierPresentNanoseconds(version: IGMPVersion, maxRespCode: UInt8,
                                               qrv: UInt8, qqicCode: UInt8) -> UInt64 {
        var robustness: UInt64 = 2
        var intervalSeconds: UInt64 = 125
        let responseTenths: UInt64
        switch version {
        case .v1:
            responseTenths = 100  // RFC 2236 §4: a v1 query means 10 s
        case .v2:
            responseTenths = UInt64(maxRespCode)
        case .v3:
            responseTenths = UInt64(IGMPTimerCode.decode(maxRespCode))
            if qrv != 0 { robustness = UInt64(qrv) }
            let qqi = IGMPTimerCode.decode(qqicCode)
            if qqi != 0 { intervalSeconds = UInt64(qqi) }
        }
        // At most 7 × 31744 s + 3174.4 s: far inside UInt64 nanoseconds.
        return robustness * intervalSeconds * 1_000_000_000 + responseTenths * 50_000_000
    }
}

/// The queriers of both upstreams, kept apart so switching the active outside
/// switches which one unicast responses use, and switching back finds the first
/// one again (if it has not expired meanwhile).
struct QuerierTable: Sendable, Hashable {
    var primary: LearnedQuerier?
    var alt: LearnedQuerier?

    subscript(outside: OutsideSelection) -> LearnedQuerier? {
        get { outside == .primary ? primary : alt }
        set {
            if outside == .primary { primary = newValue } else { alt = newValue }
        }
    }

    /// Takes a multicast query from `source` into account, by RFC 3376 §6.6.2
    /// (RFC 2236 §3): the lowest address is the querier, so a query from a higher
    /// address than the current querier's changes nothing, and one from a lower (or
    /// the same) address takes over (or refreshes the timer). Expired entries must
    /// have been removed first (``ProxyPolicy`` does so before every decision).
    mutating func hear(from source: IPv4Address, on outside: OutsideSelection, version: IGMPVersion,
                       presentNanoseconds: UInt64, at now: ProxyTime) -> QuerierUpdate {
        let current = self[outside]
        if let current, source > current.address { return .unchanged }
        let (sum, carry) = now.nanoseconds.addingReportingOverflow(presentNanoseconds)
        let expires = ProxyTime(nanoseconds: carry ? .max : sum)
        self[outside] = LearnedQuerier(address: source, version: version, lastHeard: now, expires: expires)
        if let current, current.address == source { return .unchanged }
        return .learned(previous: current?.address)
    }
}

/// What hearing a query did to the querier table.
enum QuerierUpdate: Equatable {
    /// The same querier (timer refreshed) or a losing candidate.
    case unchanged
    /// A new querier, replacing `previous` (nil: there was none).
    case learned(previous: IPv4Address?)
}
