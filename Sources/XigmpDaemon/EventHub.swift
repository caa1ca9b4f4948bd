import IGMPProxy
import Synchronization

/// Fans the policy's client events out to every subscriber's AsyncStream.
/// Publishing happens on the loop thread; a slow subscriber loses its
/// oldest events (bounded buffer) rather than stalling the proxy.
final class EventHub: Sendable {
    private let subscribers = Mutex<[Int: AsyncStream<ProxyEvent>.Continuation]>([:])
    private let nextID = Atomic<Int>(0)

    /// A new stream of events from now on.
    func subscribe(buffer: Int = 1024) -> AsyncStream<ProxyEvent> {
        let (stream, continuation) = AsyncStream<ProxyEvent>.makeStream(bufferingPolicy: .bufferingNewest(buffer))
        let id = nextID.add(1, ordering: .relaxed).newValue
        subscribers.withLock { $0[id] = continuation }
        continuation.onTermination = { [weak self] _ in
            _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
        }
        return stream
    }

    func publish(_ event: ProxyEvent) {
        subscribers.withLock { subs in
            for (_, c) in subs { c.yield(event) }
        }
    }

    /// Ends every stream.
    func finish() {
        let all = subscribers.withLock { s -> [AsyncStream<ProxyEvent>.Continuation] in
            let v = Array(s.values)
            s.removeAll()
            return v
        }
        for c in all { c.finish() }
    }
}
