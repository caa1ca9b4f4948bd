import ArgumentParser
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms
import Foundation
import Glibc
import XigmpTools

/// The benchmark driver behind `make bench`: each subcommand prints one JSON
/// object on stdout (progress on stderr), every figure measured beside its
/// baseline in the same run, in alternating rounds, as medians and ratios.
@main
struct XigmpBench: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "xigmp-bench",
        abstract: "xigmp's benchmarks: classifier cost, veth throughput, control-plane cost.",
        discussion: "Each subcommand prints one JSON object on stdout. bench/run.sh runs them all.",
        subcommands: [ClassifierCommand.self, ThroughputCommand.self, ControlPlaneCommand.self]
    )
}

/// Prints `json` as the one line on stdout, or the error as one line on
/// stderr and exits 1.
func emit(_ work: () throws -> JSON) throws {
    do {
        let json = try work()
        FileHandle.standardOutput.write(Data((json.rendered + "\n").utf8))
    } catch {
        progress("error: \(error)")
        throw ExitCode(1)
    }
}

/// Loading BPF programs, namespaces and uprobes all need root.
func requireRoot(_ what: String) throws {
    guard geteuid() == 0 else {
        progress("\(what) needs root (it loads BPF programs\(what == "throughput" ? ", creates network namespaces" : "")\(what == "control-plane" ? " and counts allocations with uprobes" : "")): run it with sudo")
        throw ExitCode(1)
    }
}

struct ClassifierCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "classifier",
        abstract: "ns per frame through BPF_PROG_TEST_RUN: the classifier against a one-line XDP_PASS.")

    @Option(help: "BPF_PROG_TEST_RUN repeat count per measurement (at least 1000000).")
    var `repeat`: UInt32 = 2_000_000

    @Option(help: "Rounds, alternating classifier and baseline.")
    var rounds = 7

    func validate() throws {
        guard `repeat` >= 1_000_000 else { throw ValidationError("--repeat must be at least 1000000") }
        guard rounds >= 1 else { throw ValidationError("--rounds must be at least 1") }
    }

    func run() throws {
        try requireRoot("classifier")
        try emit { try ClassifierBench.run(repeat: `repeat`, rounds: rounds) }
    }
}

struct ThroughputCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "throughput",
        abstract: "Non-IGMP frames per second through a veth: bare, XDP_PASS, classifier; native and generic.")

    @Option(help: "Seconds per measurement window.")
    var window = 1.0

    @Option(help: "Rounds over the five configurations, order rotated each round.")
    var rounds = 10

    @Option(help: "Seconds to let a configuration settle before its window.")
    var settle = 0.25

    @Option(help: "Frames per sendmmsg call.")
    var batch = 64

    @Option(help: "Only these configurations, comma-separated (bare, native_pass, native_classifier, generic_pass, generic_classifier): for profiling; prints raw windows only.")
    var configs: String?

    func validate() throws {
        guard window >= 0.1, rounds >= 1, settle >= 0, batch >= 1 && batch <= 1024 else {
            throw ValidationError("need --window >= 0.1, --rounds >= 1, --settle >= 0, 1 <= --batch <= 1024")
        }
    }

    func run() throws {
        try requireRoot("throughput")
        let only = configs.map { $0.split(separator: ",").map { String($0) } }
        try emit { try ThroughputBench.run(window: window, rounds: rounds, settle: settle, batch: batch, only: only) }
    }
}

struct ControlPlaneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "control-plane",
        abstract: "Decode + policy + encode per message, in process, with allocations counted.")

    @Option(help: "Messages per timed round (at least 1000000).")
    var messages = 1_000_000

    @Option(help: "Timed rounds, alternating the zero-copy path and the owned-value baseline.")
    var rounds = 5

    @Option(help: "Messages in the (untimed) allocation-counting pass.")
    var allocationSample = 100_000

    func validate() throws {
        guard messages >= 1_000_000 else { throw ValidationError("--messages must be at least 1000000") }
        guard rounds >= 1, allocationSample >= 1 else { throw ValidationError("--rounds and --allocation-sample must be positive") }
    }

    func run() throws {
        try requireRoot("control-plane")
        try emit { try ControlPlaneBench.run(count: messages, rounds: rounds, allocationSample: allocationSample) }
    }
}
