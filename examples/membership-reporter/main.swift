// membership-reporter: goIGMP's example client, on xigmp's client API.
//
// Runs an in-process proxy in client mode on one interface and, per
// requested group, sends periodic reports, answers queries with the current
// groups, and sends leaves when a group is no longer wanted (a "-GROUP"
// line on stdin, or everything at exit). Reports go unicast to the learned
// querier, or to --proxy until one is heard: point --proxy at an xigmp
// proxy's inside address and its unicastProxyInToOut mode turns them into
// multicast upstream (unicast translation).
//
// stdin: "+239.1.2.3" wants a group, "-239.1.2.3" no longer wants it.
import ArgumentParser
import Foundation
import IGMPProxy
import IGMPWire
import Logging
import XigmpConfig
import Synchronization
import XigmpDaemon

let stopRequested = Atomic<Bool>(false)

/// One line per event, flushed, so a log file shows them as they happen.
func say(_ line: String) {
    print(line)
    fflush(nil)
}

@main
struct MembershipReporter: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "membership-reporter",
        abstract: "Keep IGMP memberships alive through an xigmp proxy (goIGMP's client example).")

    @Option(name: .long, help: ArgumentHelp("The interface facing the proxy/querier.", valueName: "IF"))
    var iface: String
    @Option(name: .long, help: ArgumentHelp("Where reports go until a querier is heard (the proxy's inside address).", valueName: "ADDR"))
    var proxy: String?
    @Option(name: .long, help: "A group to keep joined (repeatable).") var group: [String] = []
    @Option(name: .customLong("igmp-version"), help: "2 or 3.") var version: Int = 3
    @Option(name: .long, help: "Seconds between unsolicited reports.") var interval: Double = 10
    @Option(name: .long, help: "Leave everything and exit after this many seconds (default: run until Ctrl-C).")
    var duration: Double?
    @Option(name: .long, help: "auto, xdp or kernel.") var datapath: String = "auto"

    mutating func run() async throws {
        var logger = Logger(label: "membership-reporter")
        logger.logLevel = .notice
        guard let v = [2: IGMPVersion.v2, 3: .v3][version] else { throw ValidationError("--igmp-version must be 2 or 3") }
        var wanted = Set<IPv4Address>()
        for g in group {
            guard let a = IPv4Address(g), a.isMulticast else { throw ValidationError("--group \(g) is not a multicast address") }
            wanted.insert(a)
        }
        let fallback = try proxy.map { p -> IPv4Address in
            guard let a = IPv4Address(p) else { throw ValidationError("--proxy \(p) is not an IPv4 address") }
            return a
        }
        guard let dp = DaemonConfig.Datapath(rawValue: datapath) else { throw ValidationError("--datapath: auto, xdp or kernel") }
        // Client mode: hear queries, send reports/leaves, unicast to the querier.
        let config = DaemonConfig(
            interfaces: .init(outside: iface, inside: "lo"), datapath: dp,
            modes: .init(queryNotify: true, membershipReportToNetwork: true,
                         unicastMembershipResponse: fallback != nil, leaveToNetwork: true),
            unicastFallback: fallback)
        let proxy: RunningProxy
        do {
            proxy = try RunningProxy(config: LoadedConfig(config: config, warnings: [], locations: SourceLocations(fileName: "membership-reporter")),
                                     logger: logger, controlSocket: false)
        } catch {
            FileHandle.standardError.write(Data("membership-reporter: \(error.description)\n".utf8))
            throw ExitCode(1)
        }
        let client = proxy.client
        let state = Wanted(wanted)

        func report(_ groups: [IPv4Address], why: String) async {
            guard !groups.isEmpty else { return }
            do {
                try await client.report(groups: groups, version: v)
                say("report \(groups.map(\.description).joined(separator: " ")) (\(why))")
            } catch {
                say("report failed: \(error.description)")
            }
        }

        await report(await state.all(), why: "start")
        let queries = Task {
            for await q in client.queries() {
                // RFC 3376 §5.2: answer after a random delay within Max Resp
                // Time, with the groups still wanted then.
                let delay = Double.random(in: 0...max(q.maxResponseSeconds, 0.1))
                try? await Task.sleep(for: .seconds(delay))
                let groups = await state.all().filter { q.group == nil || q.group == $0 }
                await report(groups, why: "query from \(q.querier)")
            }
        }
        let every = interval
        let periodic = Task {
            while !Task.isCancelled {
                try? await Task.sleep(for: .seconds(every))
                await report(await state.all(), why: "periodic")
            }
        }
        let input = Task.detached {
            while let line = readLine() {
                let t = line.trimmingCharacters(in: .whitespaces)
                guard let op = t.first, let g = IPv4Address(String(t.dropFirst())), g.isMulticast else { continue }
                if op == "+", await state.add(g) {
                    await report([g], why: "joined")
                } else if op == "-", await state.remove(g) {
                    do throws(ProxyClientError) { try await client.leave(groups: [g], version: v); say("leave \(g)") }
                    catch { say("leave failed: \(error.description)") }
                }
            }
        }
        signal(SIGINT) { _ in stopRequested.store(true, ordering: .relaxed) }
        signal(SIGTERM) { _ in stopRequested.store(true, ordering: .relaxed) }
        let deadline = duration.map { Date().addingTimeInterval($0) }
        while !stopRequested.load(ordering: .relaxed) && deadline.map({ Date() < $0 }) ?? true {
            try? await Task.sleep(for: .milliseconds(100))
        }
        periodic.cancel()
        queries.cancel()
        input.cancel()
        let remaining = await state.all()
        if !remaining.isEmpty {
            do { try await client.leave(groups: remaining, version: v); say("leave \(remaining.map(\.description).joined(separator: " ")) (exit)") }
            catch { say("leave failed: \(error.description)") }
        }
        proxy.shutdown()
    }
}

/// The groups currently wanted.
actor Wanted {
    private var groups: Set<IPv4Address>
    init(_ g: Set<IPv4Address>) { groups = g }
    func all() -> [IPv4Address] { groups.sorted() }
    func add(_ g: IPv4Address) -> Bool { groups.insert(g).inserted }
    func remove(_ g: IPv4Address) -> Bool { groups.remove(g) != nil }
}
