/// Everything the policy counts. The daemon adds one per ``ProxyAction/count(_:)``
/// and exports the totals to Prometheus (labelled with the interface it fed the
/// packet from); the raw values are the label values.
///
/// Every inbound message is counted exactly once under a `dropped…` reason, or
/// under ``unicastQueryNotElected``, or contributes at least one
/// `forwarded…`/`notified…` count, so nothing the proxy ignores goes unaccounted.
/// ``missingRouterAlert``, ``ttlNotOne`` and the querier counts are observations
/// on top of that.
public enum ProxyCounter: String, Sendable, Hashable, CaseIterable, CustomStringConvertible {
    // What the modes did.
    /// A query re-sent on inside (``ProxyMode/proxyOutToIn``).
    case forwardedOutToIn = "forwarded_out_to_in"
    /// A report or leave re-sent upstream (``ProxyMode/proxyInToOut``).
    case forwardedInToOut = "forwarded_in_to_out"
    /// A unicast report or leave re-sent multicast upstream (``ProxyMode/unicastProxyInToOut``).
    case forwardedUnicastInToOut = "forwarded_unicast_in_to_out"
    /// A query event for the client (``ProxyMode/queryNotify``).
    case notifiedQuery = "notified_query"
    /// A membership event for the client, one per group (``ProxyMode/membershipReportFromNetwork``).
    case notifiedMembership = "notified_membership"
    /// A client report sent (``ProxyMode/membershipReportToNetwork``), one per message.
    case sentClientReport = "sent_client_report"
    /// A client leave sent (``ProxyMode/leaveToNetwork``), one per message.
    case sentClientLeave = "sent_client_leave"
    /// A client message sent unicast to the querier learned on the active outside
    /// (``ProxyMode/unicastMembershipResponse``).
    case sentUnicastToQuerier = "sent_unicast_to_querier"
    /// A client message sent unicast to the configured fallback: no querier known.
    case sentUnicastToFallback = "sent_unicast_to_fallback"

    // Querier learning.
    /// A querier learned, or replaced by one with a lower address (RFC 3376 §6.6.2).
    case querierLearned = "querier_learned"
    /// A learned querier forgotten after the Other Querier Present Interval (RFC 3376 §8.5).
    case querierExpired = "querier_expired"
    /// A query sent unicast to the proxy: processed as RFC 3376 §4.1.12 requires
    /// (notified), but never used for querier election (RFC 3376 §9.1, FRR issue
    /// 1692) and not proxied inside (one host's query must not become a query to all).
    case unicastQueryNotElected = "unicast_query_not_elected"

    // Why an inbound message was ignored.
    /// Its source MAC or IP is the proxy's own: a reflection of what it sent.
    case droppedOwnFrame = "dropped_own_frame"
    /// It arrived on the upstream that is not active.
    case droppedInactiveOutside = "dropped_inactive_outside"
    /// A query heard on inside: the proxy does not take part in a querier
    /// election downstream, and proxying it upstream is no mode's job.
    case droppedQueryOnInside = "dropped_query_on_inside"
    /// Its destination is neither what the RFCs prescribe for its kind nor an
    /// address of the receiving interface (e.g. unicast to another host).
    case droppedBadDestination = "dropped_bad_destination"
    /// A report or leave whose source is not on the receiving interface's subnet
    /// (RFC 3376 §9.2, RFC 2236 §9; 0.0.0.0 is allowed).
    case droppedSourceOffSubnet = "dropped_source_off_subnet"
    /// A v3 report with a record over ``ProxyLimits/maxSourcesPerRecord``.
    case droppedTooManySources = "dropped_too_many_sources"
    /// A report, leave or query naming a group that is not multicast.
    case droppedInvalidGroup = "dropped_invalid_group"
    /// Bad checksum, no IP header to decide on, a v3 report without records, or an
    /// owned message that does not encode.
    case droppedMalformed = "dropped_malformed"
    /// No mode that is on has anything to do with it.
    case droppedModeOff = "dropped_mode_off"
    /// A client message for unicast delivery with no querier learned and no fallback.
    case droppedNoQuerier = "dropped_no_querier"
    /// Something was to go upstream while the active outside's interface is
    /// absent (waited for, or gone without an alt to fail over to).
    case droppedOutsideAbsent = "dropped_outside_absent"
    /// A client request refused (mode off, bad group, v1 leave, too many sources).
    case droppedClientRequest = "dropped_client_request"

    // Observations (the message is still processed).
    /// No Router Alert option: many switches omit it, so it is accepted but counted.
    case missingRouterAlert = "missing_router_alert"
    /// TTL other than 1: not how IGMP is sent; accepted but counted.
    case ttlNotOne = "ttl_not_one"

    /// The label value, e.g. `"dropped_own_frame"`.
    public var description: String { rawValue }
}
