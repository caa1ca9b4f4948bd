// xigmp-gen: the traffic generator and sink of the end-to-end benchmarks
// (bench/e2e). `send` emits IGMPv3 reports, paced or flat out, each carrying
// a run id, a sequence number and its send time; `receive` counts them where
// they come out and computes latency percentiles from those timestamps.
import ArgumentParser
import Glibc
import DatapathBPF
import DatapathForwarding
import DatapathKernel
import DatapathNetlink
import DatapathPorts
import DatapathPrograms

XigmpGen.main()
