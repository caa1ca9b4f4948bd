import Glibc
import Testing
import XigmpConfig
import XigmpTestSupport

/// Numbers and inputs that once trapped or ran away: every one is a
/// FILE:LINE error now, and the error output is bounded.
@Suite struct ConfigLimitsTests {
    static let tracked = """
        interfaces: {outside: enp1s0, inside: dockerbr}
        membership: track

        """

    @Test("durations past a day are FILE:LINE errors, not a trap (Double → Int64)",
          arguments: ["queryInterval: 10000000000s", "lastMemberQueryInterval: 99999999999999ms",
                      "queryResponseInterval: 1e300s", "startupQueryInterval: 25h"])
    func durationsOutOfRange(_ setting: String) {
        let e = errors(Self.tracked + "querier:\n  inside: {\(setting)}\n")
        #expect(e.count == 1 && e.first?.hasPrefix("x.yaml:4:") == true
                && e.first?.contains("duration") == true, "\(e)")
    }

    @Test("the upstream's unsolicitedReportInterval is range-checked too")
    func upstreamDuration() {
        let e = errors(Self.tracked + "upstream: {unsolicitedReportInterval: 10000000000s}\n")
        #expect(e.first?.contains("expected a duration from 0 to 24h") == true, "\(e)")
    }

    @Test("long intervals within the cap are still accepted (8h: QQIC reaches 31744 s)")
    func longIsFine() {
        #expect(errors(Self.tracked + "querier:\n  inside: {queryInterval: 8h}\n").isEmpty)
    }

    @Test("100,000 unknown keys: 50 described, the rest counted, values not echoed whole")
    func manyUnknownKeys() throws {
        var yaml = minimal
        for i in 0..<100_000 { yaml += "k\(i): 1\n" }
        do {
            _ = try DaemonConfig.parse(text: yaml, fileName: "x.yaml")
            Issue.record("parsed")
        } catch {
            let lines = error.description.split(separator: "\n")
            #expect(lines.count == ConfigError.shownIssues + 1)
            #expect(lines.last == "… and \(100_000 - ConfigError.shownIssues) more")
        }
    }

    @Test("a 20 MB scalar is cut in the message")
    func hugeValueNotEchoed() {
        let huge = String(repeating: "x", count: 1 << 20)
        let e = errors("interfaces: {outside: enp1s0, inside: dockerbr}\nmodes:\n  proxyOutToIn: \(huge)\n")
        #expect(!e.isEmpty && e.allSatisfy { $0.count < 600 }, "\(e.map(\.count))")
    }

    @Test("only regular files up to 1 MiB are read")
    func fileKinds() throws {
        func message(_ path: String) -> String {
            do { _ = try DaemonConfig.load(path: path); return "loaded" } catch { return error.description }
        }
        #expect(message("/dev/zero").contains("not a regular file"))
        #expect(message("/tmp").contains("not a regular file (a directory)"))
        let fifo = "/tmp/xigmp-test-fifo-\(getpid())"
        mkfifo(fifo, 0o600)
        defer { unlink(fifo) }
        #expect(message(fifo).contains("not a regular file"), "a FIFO without a writer must not hang")
        let big = "/tmp/xigmp-test-big-\(getpid()).yaml"
        let f = fopen(big, "w")
        _ = String(repeating: "a", count: DaemonConfig.maxFileBytes + 1).withCString { fputs($0, f) }
        fclose(f)
        defer { unlink(big) }
        #expect(message(big).contains("larger than 1024 KiB"))
    }
}
