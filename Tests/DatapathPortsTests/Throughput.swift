import DatapathKernel
import DatapathPorts
import Synchronization
import Foundation
import Glibc
import XigmpTestSupport

/// What a throughput probe saw: messages sent and received per second.
struct ThroughputSample {
    let sent: Int, failed: Int, received: Int, seconds: Double
    var txRate: Int { Int(Double(sent) / seconds) }
    var rxRate: Int { Int(Double(received) / seconds) }
}

/// Runs `send` (one message per call; throwing counts as a failed attempt)
/// in a loop on a thread inside namespace `ns` while `port` receives for
/// one second, then stops the sender and drains what is left.
func measureThroughput(port: any IGMPPort, senderNamespace ns: String,
                       makeSender: @escaping @Sendable () throws -> (() throws -> Void)) throws -> ThroughputSample {
    let stop = StopFlag(), sent = AtomicCounter(), failed = AtomicCounter()
    let thread = Thread {
        try? NetnsFixture.inNamespace(ns) {
            let send = try makeSender()
            while !stop.value.load(ordering: .relaxed) {
                do { try send() } catch { failed.value.add(1, ordering: .relaxed); sched_yield(); continue }
                sent.value.add(1, ordering: .relaxed)
            }
        }
        stop.done.store(true, ordering: .releasing)
    }
    thread.start()
    let start = realtimeNanoseconds()
    var received = 0
    while realtimeNanoseconds() - start < 1_000_000_000 {
        received += try port.receive(maxBatch: 256, timeoutMs: 10) { _ in }
    }
    stop.value.store(true, ordering: .relaxed)
    while !stop.done.load(ordering: .acquiring) { usleep(1000) }
    received += try port.receive(maxBatch: 1 << 20, timeoutMs: 50) { _ in }
    return ThroughputSample(sent: sent.value.load(ordering: .relaxed), failed: failed.value.load(ordering: .relaxed),
                            received: received, seconds: Double(realtimeNanoseconds() - start) / 1e9)
}
