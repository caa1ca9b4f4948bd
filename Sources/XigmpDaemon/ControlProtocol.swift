import Foundation
import XigmpTools

// The control socket's protocol, and the shapes of every `--json` output that
// comes from the daemon: one JSON object per line each way, keys in
// snake_case. The daemon, the CLI and the tests use these types only, so a
// renamed field fails to compile (or fails a golden test) instead of reading
// as a silent empty list.
//
// Versioning: `major.minor`. A minor release only adds optional fields and
// commands; a major one changes or removes them. A request names the version
// its client speaks (`"protocol": "1.0"`; a request without one is taken as
// the daemon's own, for hand-written `nc` use); a daemon refuses another
// major with an error naming both, and a client refuses a reply of another
// major the same way.

/// A protocol version, written `"major.minor"`.
public struct ProtocolVersion: Codable, Sendable, Equatable, CustomStringConvertible {
    public var major: Int
    public var minor: Int

    /// The version this build speaks.
    public static let current = ProtocolVersion(major: 1, minor: 3)

    public init(major: Int, minor: Int) {
        self.major = major
        self.minor = minor
    }

    /// Parses `"1.0"`; nil for anything else.
    public init?(_ text: String) {
        let parts = text.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count == 2, parts.allSatisfy({ (1...6).contains($0.count) && $0.allSatisfy { $0 >= "0" && $0 <= "9" } }),
              let a = Int(parts[0]), let b = Int(parts[1]) else { return nil }
        major = a
        minor = b
    }

    public var description: String { "\(major).\(minor)" }

    public init(from decoder: any Decoder) throws {
        let text = try decoder.singleValueContainer().decode(String.self)
        guard let v = ProtocolVersion(text) else {
            throw DecodingError.dataCorrupted(.init(codingPath: decoder.codingPath,
                                                    debugDescription: "expected a version such as \"1.0\", got \"\(text)\""))
        }
        self = v
    }

    public func encode(to encoder: any Encoder) throws {
        var c = encoder.singleValueContainer()
        try c.encode(description)
    }
}

/// What a client may ask.
public enum ControlCommand: String, Codable, Sendable, CaseIterable {
    /// Is anyone there.
    case ping
    /// `DaemonStatus`.
    case status
    /// Switch the active outside (`value`: `primary` or `alt`); replies with the status.
    case outside
    /// `MembershipReply`.
    case groups
    /// `RoutesReply`.
    case routes
}

/// One request line.
public struct ControlRequest: Codable, Sendable, Equatable {
    /// The version the client speaks (absent: the daemon's own).
    public var `protocol`: ProtocolVersion?
    public var cmd: ControlCommand
    /// The command's argument (`outside`: `primary` or `alt`).
    public var value: String?

    public init(_ cmd: ControlCommand, value: String? = nil, protocol version: ProtocolVersion? = .current) {
        self.protocol = version
        self.cmd = cmd
        self.value = value
    }
}

/// Why a request failed.
public struct ControlFailure: Codable, Sendable, Equatable, Error, CustomStringConvertible {
    public enum Kind: String, Codable, Sendable {
        /// Not one JSON object with a known `cmd`, or a bad argument.
        case badRequest = "bad_request"
        /// The client speaks another major version.
        case version
        /// The daemon understood and refused (no such outside, shutting down…).
        case refused
    }

    public var kind: Kind
    public var message: String

    public init(_ kind: Kind, _ message: String) {
        self.kind = kind
        self.message = message
    }

    public var description: String { message }
}

/// One reply line: `ok`, the protocol version, and the body of the command
/// asked (`status` for `status` and `outside`, `membership` for `groups`,
/// `routes` for `routes`; none for `ping`) or `error`.
public struct ControlReply: Codable, Sendable, Equatable {
    public var `protocol`: ProtocolVersion
    public var ok: Bool
    public var error: ControlFailure?
    public var status: DaemonStatus?
    public var membership: MembershipReply?
    public var routes: RoutesReply?

    public init(protocol version: ProtocolVersion = .current, ok: Bool = true, error: ControlFailure? = nil,
                status: DaemonStatus? = nil, membership: MembershipReply? = nil, routes: RoutesReply? = nil) {
        self.protocol = version
        self.ok = ok
        self.error = error
        self.status = status
        self.membership = membership
        self.routes = routes
    }

    public static func failure(_ kind: ControlFailure.Kind, _ message: String) -> ControlReply {
        ControlReply(ok: false, error: ControlFailure(kind, message))
    }
}

/// `xigmp status`: the daemon's part.
public struct DaemonStatus: Codable, Sendable, Equatable {
    /// `primary` or `alt`.
    public var activeOutside: String
    /// The active outside's interface name.
    public var activeInterface: String
    /// The client modes switched on.
    public var modes: [String]
    /// `track` or `passthrough`.
    public var membership: String
    public var uptimeSeconds: UInt64
    /// The querier heard on the active outside, if any.
    public var querier: QuerierHeard?
    /// `modes.unicastFallback`'s address, if set.
    public var unicastFallback: String?
    /// Every role's interface and whether it works.
    public var roles: [RoleStatus]
    /// What the roles wait for (a name or glob no interface matches yet, or
    /// one without an IPv4 address). Since 1.1.
    public var waiting: [String]?
    /// Whether `activeOutside: auto` chooses the outside now (off once
    /// `xigmp outside` pinned one). Since 1.1.
    public var autoOutside: Bool?
    /// What works in a degraded way now (e.g. the loop cannot watch its
    /// ports with epoll and drains them on a timer). Since 1.3.
    public var problems: [String]?
}

/// A querier heard upstream.
public struct QuerierHeard: Codable, Sendable, Equatable {
    public var address: String
    /// `v1`, `v2` or `v3`.
    public var version: String
}

/// One role's interface.
public struct RoleStatus: Codable, Sendable, Equatable {
    /// `outside`, `alt` or `inside`.
    public var role: String
    public var interface: String
    public var ifindex: UInt32
    /// `xdp` or `kernel`.
    public var datapath: String
    public var up: Bool
    /// Why it is down (nil when up).
    public var reason: String?
}

/// `xigmp groups`: each interface's membership table and querier, what the
/// active outside reports upstream, and the membership counters.
public struct MembershipReply: Codable, Sendable, Equatable {
    /// `track` or `passthrough`.
    public var membership: String
    public var interfaces: [InterfaceTable]
    public var upstream: UpstreamState
    /// Counter name → value, per interface name (limits included).
    public var counters: [String: [String: UInt64]]

    public struct InterfaceTable: Codable, Sendable, Equatable {
        public var interface: String
        /// `outside`, `alt` or `inside`.
        public var role: String
        public var querier: QuerierRole
        public var groups: [Group]
    }

    /// xigmp's querier role on an interface.
    public struct QuerierRole: Codable, Sendable, Equatable {
        /// `querier`, `non-querier` or `passive`.
        public var role: String
        /// The other querier (non-querier only).
        public var querier: String?
    }

    /// One group's record (RFC 3376 §6).
    public struct Group: Codable, Sendable, Equatable {
        public var group: String
        /// `include` or `exclude`.
        public var filterMode: String
        /// `v1`, `v2` or `v3`.
        public var compatibility: String
        public var lastReporter: String
        /// Seconds left (exclude mode only), to the millisecond.
        public var groupTimerSeconds: Double?
        public var sources: [Source]
        /// The tracked reporting hosts (protocol 1.2).
        public var hosts: [Host]?
        /// True while a host of the group went untracked (limits.maxHostsPerGroup):
        /// fast leave is off for the group (protocol 1.2).
        public var hostsUntracked: Bool?
    }

    /// One tracked host: what it asks for itself.
    public struct Host: Codable, Sendable, Equatable {
        public var address: String
        /// `aa:bb:cc:dd:ee:ff`; absent on L3 links.
        public var mac: String?
        /// `include` or `exclude`.
        public var filterMode: String
        public var sources: [String]
        /// Seconds until the record expires unless the host reports again.
        public var timerSeconds: Double
    }

    public struct Source: Codable, Sendable, Equatable {
        public var address: String
        public var timerSeconds: Double
        public var forwarding: Bool
    }

    /// What the active outside reports upstream (tracking only).
    public struct UpstreamState: Codable, Sendable, Equatable {
        public var interface: String
        /// `v1`, `v2` or `v3`.
        public var version: String
        public var groups: [UpstreamGroup]
    }

    public struct UpstreamGroup: Codable, Sendable, Equatable {
        public var group: String
        public var filterMode: String
        public var sources: [String]
    }
}

/// `xigmp routes`: the forwarding entries.
public struct RoutesReply: Codable, Sendable, Equatable {
    /// `xdp`, `kernel` or `off`.
    public var mode: String
    public var routes: [Route]

    public struct Route: Codable, Sendable, Equatable {
        /// A source address, or `*` for any.
        public var source: String
        public var group: String
        /// The incoming interface.
        public var incoming: String
        /// The outgoing interfaces.
        public var out: [String]
        /// `xdp`, `tc` or `kernel`.
        public var path: String
        public var packets: UInt64
        public var bytes: UInt64
        /// Packets per second, to a tenth.
        public var ratePps: Double
        /// Seconds since it was installed, to a tenth.
        public var ageSeconds: Double
        /// How long after it was installed its first packet was forwarded, in ms.
        public var firstPacketMs: Double?

        enum CodingKeys: String, CodingKey {
            case source, group, incoming = "in", out, path, packets, bytes, ratePps, ageSeconds, firstPacketMs
        }
    }
}

/// `xigmp status --json`: the interfaces running xigmp's classifier in this
/// namespace, pins left by programs that are gone, and the daemon's status
/// when one answers (absent when none runs).
public struct StatusOutput: Codable, Sendable, Equatable {
    public var interfaces: [AttachedClassifier]
    public var stalePins: [String]
    public var daemon: DaemonStatus?

    public init(interfaces: [AttachedClassifier], stalePins: [String], daemon: DaemonStatus?) {
        self.interfaces = interfaces
        self.stalePins = stalePins
        self.daemon = daemon
    }

    /// One interface with the classifier attached.
    public struct AttachedClassifier: Codable, Sendable, Equatable {
        public var ifname: String
        public var ifindex: UInt32
        /// `native`, `generic` or `offload`.
        public var mode: String
        public var progId: UInt32
        /// The bpf_link's id (absent for a netlink attachment).
        public var linkId: UInt32?
        /// Whether it is pinned (kept after the loading process exits).
        public var pinned: Bool
        public var pinPath: String?

        public init(ifname: String, ifindex: UInt32, mode: String, progId: UInt32, linkId: UInt32?, pinned: Bool, pinPath: String?) {
            self.ifname = ifname
            self.ifindex = ifindex
            self.mode = mode
            self.progId = progId
            self.linkId = linkId
            self.pinned = pinned
            self.pinPath = pinPath
        }
    }
}
