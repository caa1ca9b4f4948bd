import DatapathKernel
import Glibc
import Testing

/// The packet loop's wait: only ready descriptors come back, each with the
/// token it was registered under; readiness is level-triggered like poll(2).
@Suite("EventPoll (the loop's epoll set)")
struct EventPollTests {
    private final class Pipe {
        let read: KernelFD
        let write: KernelFD
        init() {
            var p: [Int32] = [0, 0]
            precondition(pipe(&p) == 0)
            read = KernelFD(owning: p[0])
            write = KernelFD(owning: p[1])
        }
        func put() { var b: UInt8 = 1; _ = Glibc.write(write.raw, &b, 1) }
        func take() { var b: UInt8 = 0; _ = Glibc.read(read.raw, &b, 1) }
    }

    private func ready(_ set: EventPoll, timeoutMs: Int32 = 0) -> [Int] {
        var tokens: [Int] = []
        _ = set.wait(timeoutMs: timeoutMs) { tokens.append($0) }
        return tokens.sorted()
    }

    @Test("only the descriptors with input come back, by token (negative tokens too)")
    func tokens() throws {
        let set = try EventPoll(capacity: 8)
        let a = Pipe(), b = Pipe(), c = Pipe()
        try set.add(a.read.raw, token: -1)
        try set.add(b.read.raw, token: 7)
        try set.add(c.read.raw, token: 0)
        #expect(ready(set).isEmpty)
        b.put()
        a.put()
        #expect(ready(set) == [-1, 7])
    }

    @Test("level-triggered: unread input is reported again; read, it is not")
    func levelTriggered() throws {
        let set = try EventPoll()
        let a = Pipe()
        try set.add(a.read.raw, token: 3)
        a.put()
        #expect(ready(set) == [3])
        #expect(ready(set) == [3])
        a.take()
        #expect(ready(set).isEmpty)
    }

    @Test("a wait with nothing ready returns 0 after its timeout, calling nothing")
    func timeout() throws {
        let set = try EventPoll()
        let a = Pipe()
        try set.add(a.read.raw, token: 1)
        var calls = 0
        #expect(set.wait(timeoutMs: 20) { _ in calls += 1 } == 0)
        #expect(calls == 0)
    }

    @Test("registering a descriptor that is not open is an error naming it, not a crash")
    func badDescriptor() throws {
        let set = try EventPoll()
        #expect(throws: DatapathError.self) { try set.add(987_654, token: 0) }
    }
}
