import CXigmp
import DatapathBPF
import DatapathKernel
import DatapathPrograms
import Glibc

/// Sizes of an interface's UMEM and rings. Ring sizes are powers of two.
public struct XSKGeometry: Sendable, Equatable {
    /// Bytes per frame (2048 or 4096 in aligned mode).
    public var frameSize: Int = 2048
    /// RX frames (and fill/RX ring entries) per queue.
    public var rxFramesPerQueue: Int = 1024
    /// Frames reserved for transmit (and TX/completion ring entries).
    public var txFrames: Int = 512

    /// The defaults: 1024 RX frames per queue, 512 TX frames, 2 KiB each.
    public init() {}

    /// Total frames for `queues` queues.
    public func frameCount(queues: Int) -> Int { queues * rxFramesPerQueue + txFrames }
}

/// The UMEM: one anonymous mmap registered with the kernel once
/// (`xsk_umem__create`) and shared by every AF_XDP socket of an interface.
/// Owns the first fill/completion ring pair (queue 0's). Released in
/// `deinit`, after every socket using it.
final class XSKUmem {
    let area: UnsafeMutableRawPointer
    let size: Int
    let geometry: XSKGeometry
    let frameCount: Int
    private(set) var handle: OpaquePointer?
    let fill0: UnsafeMutablePointer<xsk_ring_prod>
    let comp0: UnsafeMutablePointer<xsk_ring_cons>

    init(geometry: XSKGeometry, queues: Int, ifname: String) throws(DatapathError) {
        self.geometry = geometry
        frameCount = geometry.frameCount(queues: queues)
        size = frameCount * geometry.frameSize
        guard let p = mmap(nil, size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0),
              p != MAP_FAILED else {
            throw DatapathError.system("allocating \(size / 1024) KiB of UMEM for \(ifname)", errno: errno)
        }
        area = p
        fill0 = .allocate(capacity: 1)
        fill0.initialize(to: xsk_ring_prod())
        comp0 = .allocate(capacity: 1)
        comp0.initialize(to: xsk_ring_cons())
        var config = xsk_umem_config(
            fill_size: UInt32(geometry.rxFramesPerQueue), comp_size: UInt32(geometry.txFrames),
            frame_size: UInt32(geometry.frameSize), frame_headroom: 0, flags: 0)
        var umem: OpaquePointer?
        let rc = xsk_umem__create(&umem, area, UInt64(size), fill0, comp0, &config)
        guard rc == 0, let umem else {
            // Every stored property is set (handle stays nil), so deinit
            // runs and releases the area and rings: no manual cleanup here.
            if rc == -ENOBUFS || rc == -ENOMEM || rc == -EPERM {
                throw DatapathError(.missingPrivilege, "cannot register \(size / 1024) KiB of AF_XDP UMEM for \(ifname): the locked-memory limit is too low (\(errnoName(-rc))); raise it (ulimit -l unlimited, or LimitMEMLOCK=infinity in the systemd unit), or use --datapath kernel", errno: -rc)
            }
            throw DatapathError.system("registering UMEM for \(ifname)", errno: -rc)
        }
        handle = umem
    }

    /// Address of frame `index`.
    @inline(__always)
    func frameAddress(_ index: Int) -> UInt64 { UInt64(index * geometry.frameSize) }

    /// Pointer to the bytes at UMEM offset `addr`.
    @inline(__always)
    func data(_ addr: UInt64) -> UnsafeMutableRawPointer { area + Int(addr) }

    deinit {
        if let handle { xsk_umem__delete(handle) }
        munmap(area, size)
        fill0.deinitialize(count: 1)
        fill0.deallocate()
        comp0.deinitialize(count: 1)
        comp0.deallocate()
    }
}

/// A fixed-capacity stack of free TX frame addresses: allocated once, so
/// taking and returning frames never allocates.
struct FrameStack: ~Copyable {
    private let storage: UnsafeMutablePointer<UInt64>
    private let capacity: Int
    private(set) var count = 0

    init(capacity: Int) {
        self.capacity = capacity
        storage = .allocate(capacity: capacity)
    }

    deinit { storage.deallocate() }

    @inline(__always)
    mutating func push(_ addr: UInt64) {
        precondition(count < capacity, "TX frame returned twice")
        storage[count] = addr
        count += 1
    }

    @inline(__always)
    mutating func pop() -> UInt64? {
        guard count > 0 else { return nil }
        count -= 1
        return storage[count]
    }
}

/// One AF_XDP socket bound to one RX queue of an interface, on the shared
/// UMEM, with its own RX ring, fill and completion rings, and (queue 0
/// only) the TX ring. Deleted in `deinit` (`xsk_socket__delete`), which also
/// takes it out of the XSKMAP.
final class XSKQueueSocket {
    /// The UMEM this socket's rings point into (queue 0 uses its fill and
    /// completion rings): held, so it outlives the socket by construction.
    let umem: XSKUmem
    let queue: UInt32
    let rx: UnsafeMutablePointer<xsk_ring_cons>
    let tx: UnsafeMutablePointer<xsk_ring_prod>?
    let hasRX: Bool
    let fill: UnsafeMutablePointer<xsk_ring_prod>
    let comp: UnsafeMutablePointer<xsk_ring_cons>
    private let ownsRings: Bool
    private(set) var handle: OpaquePointer?
    let fd: Int32
    /// Received frames waiting for room in the fill ring. The kernel
    /// publishes its fill-ring consumer index lazily (it reads entries in
    /// batches), so right after a burst the ring can look full even though
    /// the frames just received came out of it; writing them anyway would
    /// overwrite entries the kernel has not read and hand one frame out
    /// twice (seen as duplicated and lost packets under overload).
    var pendingFill: FrameStack

    init(umem: XSKUmem, ifname: String, queue: UInt32, withRX: Bool = true, withTX: Bool,
         ringSize: Int, txSize: Int) throws(DatapathError) {
        self.umem = umem
        self.queue = queue
        pendingFill = FrameStack(capacity: max(ringSize, 1))
        hasRX = withRX
        rx = .allocate(capacity: 1)
        rx.initialize(to: xsk_ring_cons())
        if withTX {
            let t = UnsafeMutablePointer<xsk_ring_prod>.allocate(capacity: 1)
            t.initialize(to: xsk_ring_prod())
            tx = t
        } else {
            tx = nil
        }
        // Queue 0 uses the rings made with the UMEM; the others get their own.
        ownsRings = queue != 0
        if queue == 0 {
            fill = umem.fill0
            comp = umem.comp0
        } else {
            fill = .allocate(capacity: 1)
            fill.initialize(to: xsk_ring_prod())
            comp = .allocate(capacity: 1)
            comp.initialize(to: xsk_ring_cons())
        }
        var config = xsk_socket_config()
        config.rx_size = UInt32(ringSize)
        config.tx_size = UInt32(txSize)
        config.libxdp_flags = UInt32(XSK_LIBXDP_FLAGS__INHIBIT_PROG_LOAD)
        config.bind_flags = UInt16(XDP_USE_NEED_WAKEUP)
        var xsk: OpaquePointer?
        var rc = xsk_socket__create_shared(&xsk, ifname, queue, umem.handle, withRX ? rx : nil, tx, fill, comp, &config)
        // The kernel detaches a closed socket's UMEM from the queue in
        // deferred work, so a queue freed a moment ago (the previous xigmp
        // command just exited) can still read as busy: retry for ~1 s.
        var retries = 0
        while rc == -EBUSY && retries < 20 {
            usleep(50_000)
            retries += 1
            rc = xsk_socket__create_shared(&xsk, ifname, queue, umem.handle, withRX ? rx : nil, tx, fill, comp, &config)
        }
        guard rc == 0, let xsk else {
            let code = -rc
            Self.release(rx: rx, tx: tx, fill: fill, comp: comp, ownsRings: ownsRings)
            if code == EBUSY {
                throw DatapathError(.busy, "RX queue \(queue) of \(ifname) already has an AF_XDP socket (another `xigmp run` or `xigmp dump`?): stop it first, or use --datapath kernel", errno: code)
            }
            throw DatapathError.system("creating the AF_XDP socket for \(ifname) queue \(queue)", errno: code)
        }
        handle = xsk
        fd = xsk_socket__fd(xsk)
    }

    deinit {
        if let handle { xsk_socket__delete(handle) }
        Self.release(rx: rx, tx: tx, fill: fill, comp: comp, ownsRings: ownsRings)
    }

    private static func release(rx: UnsafeMutablePointer<xsk_ring_cons>, tx: UnsafeMutablePointer<xsk_ring_prod>?,
                                fill: UnsafeMutablePointer<xsk_ring_prod>, comp: UnsafeMutablePointer<xsk_ring_cons>,
                                ownsRings: Bool) {
        rx.deinitialize(count: 1)
        rx.deallocate()
        if let tx {
            tx.deinitialize(count: 1)
            tx.deallocate()
        }
        if ownsRings {
            fill.deinitialize(count: 1)
            fill.deallocate()
            comp.deinitialize(count: 1)
            comp.deallocate()
        }
    }
}
