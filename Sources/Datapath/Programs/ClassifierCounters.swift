import CXigmp
import DatapathBPF
import DatapathKernel

/// The classifier's per-CPU counters, summed over CPUs. Slot indices come
/// from `enum xigmp_counter` in bpf/xigmp_abi.h.
public struct ClassifierCounters: Sendable, Equatable {
    /// A counter: its JSON key and its slot in the map.
    public struct Field: Sendable {
        /// The key in `xigmp stats --json`.
        public let key: String
        /// Slot in the per-CPU array.
        public let slot: Int
    }

    /// Every counter in display order. The first eleven keys are the stable
    /// JSON contract; the rest are diagnostics.
    public static let fields: [Field] = [
        Field(key: "query", slot: Int(XIGMP_CNT_QUERY.rawValue)),
        Field(key: "v1_report", slot: Int(XIGMP_CNT_V1_REPORT.rawValue)),
        Field(key: "v2_report", slot: Int(XIGMP_CNT_V2_REPORT.rawValue)),
        Field(key: "v2_leave", slot: Int(XIGMP_CNT_V2_LEAVE.rawValue)),
        Field(key: "v3_report", slot: Int(XIGMP_CNT_V3_REPORT.rawValue)),
        Field(key: "other_igmp", slot: Int(XIGMP_CNT_OTHER_IGMP.rawValue)),
        Field(key: "non_igmp", slot: Int(XIGMP_CNT_NON_IGMP.rawValue)),
        Field(key: "malformed", slot: Int(XIGMP_CNT_MALFORMED.rawValue)),
        Field(key: "redirected", slot: Int(XIGMP_CNT_REDIRECTED.rawValue)),
        Field(key: "passed", slot: Int(XIGMP_CNT_PASSED.rawValue)),
        Field(key: "dropped", slot: Int(XIGMP_CNT_DROPPED.rawValue)),
        Field(key: "no_router_alert", slot: Int(XIGMP_CNT_NO_ROUTER_ALERT.rawValue)),
        Field(key: "no_socket", slot: Int(XIGMP_CNT_NO_SOCKET.rawValue)),
        Field(key: "vlan", slot: Int(XIGMP_CNT_VLAN.rawValue)),
        Field(key: "rate_limited", slot: Int(XIGMP_CNT_RATE_LIMITED.rawValue)),
        Field(key: "provisional_installed", slot: Int(XIGMP_CNT_PROV_INSTALLED.rawValue)),
    ]

    /// Number of slots in the map.
    public static let slotCount = Int(XIGMP_CNT__MAX.rawValue)

    /// Values by slot.
    public var values: [UInt64]

    /// Zeroed counters.
    public init() { values = Array(repeating: 0, count: Self.slotCount) }

    /// Counters from raw slot values.
    public init(values: [UInt64]) {
        self.values = values + Array(repeating: 0, count: max(0, Self.slotCount - values.count))
    }

    /// Value of the counter with JSON key `key` (0 for an unknown key).
    public subscript(key: String) -> UInt64 {
        guard let f = Self.fields.first(where: { $0.key == key }) else { return 0 }
        return values[f.slot]
    }

    /// Slot-wise difference `self - earlier` (counters only grow; a reload
    /// resets them, which shows as zero, never as a wrap).
    public func delta(since earlier: ClassifierCounters) -> ClassifierCounters {
        ClassifierCounters(values: zip(values, earlier.values).map { $0 >= $1 ? $0 - $1 : $0 })
    }

    /// (key, value) pairs in display order.
    public var pairs: [(key: String, value: UInt64)] {
        Self.fields.map { ($0.key, values[$0.slot]) }
    }
}

/// IGMP message classes the classifier distinguishes (`enum xigmp_igmp_class`).
public enum IGMPClass: UInt32, Sendable, CaseIterable {
    case query = 0, v1Report, v2Report, v2Leave, v3Report, other
}

/// What the classifier does with a class of IGMP (`enum xigmp_action`).
public enum ClassifierAction: String, Sendable, CaseIterable, Codable {
    /// To the kernel's IGMP stack.
    case pass
    /// To the AF_XDP socket of the RX queue; passed when none is bound.
    case redirect
    /// Dropped.
    case drop

    var raw: UInt32 {
        switch self {
        case .pass: return XIGMP_ACTION_PASS.rawValue
        case .redirect: return XIGMP_ACTION_REDIRECT.rawValue
        case .drop: return XIGMP_ACTION_DROP.rawValue
        }
    }
}
