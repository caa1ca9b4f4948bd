import DatapathBPF
import DatapathKernel
import DatapathPrograms
import Glibc
import IGMPWire

/// Which datapath carries IGMP between the wire and the control plane.
public enum DatapathKind: String, Sendable, CaseIterable, Codable {
    /// XDP classifier + AF_XDP sockets (Ethernet interfaces).
    case xdp
    /// Raw IGMP socket in, raw IP_HDRINCL socket out: any interface,
    /// including those without Ethernet (GRE, tun); the benchmark baseline.
    case kernel
}

/// The first byte of `PortPacket.bytes`.
public enum LinkLayer: Sendable, Equatable {
    /// An Ethernet header (AF_XDP frames).
    case ethernet
    /// The IPv4 header (raw socket, L3 devices).
    case ipv4
}

/// One received packet, lent to the consumer for the duration of the
/// callback: `bytes` points into a ring or a reused buffer and must not be
/// kept (copy what must outlive the call).
public struct PortPacket {
    /// Ingress interface index.
    public let ifindex: UInt32
    /// RX queue it arrived on (0 on the kernel path).
    public let queue: UInt32
    /// What `bytes` starts with.
    public let linkLayer: LinkLayer
    /// The packet.
    public let bytes: UnsafeRawBufferPointer
    /// Arrival time, CLOCK_REALTIME nanoseconds (taken per batch on the
    /// XDP path, per packet from SO_TIMESTAMPNS on the kernel path).
    public let timestampNs: UInt64

    /// Creates a packet description.
    public init(ifindex: UInt32, queue: UInt32, linkLayer: LinkLayer,
                bytes: UnsafeRawBufferPointer, timestampNs: UInt64) {
        self.ifindex = ifindex
        self.queue = queue
        self.linkLayer = linkLayer
        self.bytes = bytes
        self.timestampNs = timestampNs
    }
}

/// Figures a port keeps about itself (monotonic counts since it opened).
public struct PortStatistics: Sendable, Equatable {
    /// Packets handed to the consumer.
    public var rxPackets: UInt64 = 0
    /// Batches in which at least one packet arrived.
    public var rxBatches: UInt64 = 0
    /// Packets put on the wire (TX ring or socket).
    public var txPackets: UInt64 = 0
    /// Sends that failed or found no room (the packet was not sent).
    public var txErrors: UInt64 = 0
    /// Times the kernel had to be woken (need_wakeup / sendto kicks).
    public var wakeups: UInt64 = 0
    /// Times received frames had to wait for fill-ring room (AF_XDP).
    public var fillDeferred: UInt64 = 0
    /// Creates zeroed statistics.
    public init() {}
}

/// A bidirectional IGMP port on one interface: the seam between the
/// datapath (XDP or kernel) and the control plane, so policy code and tests
/// never care which one carries the packets.
///
/// Ports are used from one thread at a time (the event loop that owns them):
/// the hot path takes no locks.
public protocol IGMPPort: AnyObject {
    /// The interface this port serves.
    var interface: NetworkInterface { get }
    /// Which datapath it is.
    var kind: DatapathKind { get }
    /// Descriptors to poll(2) for input, for loops that serve several ports.
    var pollDescriptors: [Int32] { get }
    /// Counters since the port opened.
    var statistics: PortStatistics { get }

    /// Waits up to `timeoutMs` (0: do not wait; -1: forever) for input, then
    /// lends every available packet, at most `maxBatch`, to `body` in
    /// arrival order. Returns how many were handed over.
    func receive(maxBatch: Int, timeoutMs: Int32, _ body: (PortPacket) -> Void) throws(DatapathError) -> Int

    /// Sends an IGMP message (the encoded IGMP bytes, checksum included) in an
    /// IPv4 packet from `source` to `destination`, built per `options`
    /// (TTL 1, TOS 0xc0, Router Alert by default). Multicast destinations get
    /// the 01:00:5e MAC mapping; unicast ones go wherever the port can
    /// resolve them. May queue: call `flush()` after a batch of sends.
    func send(igmp payload: UnsafeRawBufferPointer, source: IPv4Address, destination: IPv4Address,
              options: IPv4EncodeOptions) throws(DatapathError)

    /// Pushes queued transmissions to the kernel and reclaims completed ones.
    func flush() throws(DatapathError)
}

extension IGMPPort {
    /// Encodes `message` and sends it to `destination` (default: where the
    /// RFCs send it) from `source`.
    public func send(_ message: IGMPMessage, source: IPv4Address, destination: IPv4Address? = nil,
                     options: IPv4EncodeOptions = IPv4EncodeOptions()) throws(DatapathError) {
        let bytes: [UInt8]
        do {
            bytes = try IGMPEncoder.encode(message)
        } catch {
            throw DatapathError(.invalidArgument, "cannot encode \(message.type): \(error)")
        }
        let to = destination ?? message.defaultDestination
        var failure: DatapathError?
        bytes.withUnsafeBytes { raw in
            do throws(DatapathError) { try send(igmp: raw, source: source, destination: to, options: options) } catch { failure = error }
        }
        if let failure { throw failure }
        try flush()
    }
}
