#!/usr/bin/env bash
# Fuzz the IGMPWire decoders with libFuzzer.
#   fuzz/run.sh [SECONDS]     (default 600)
# Builds build/fuzz/igmp-decode-fuzz from Sources/IGMPWire/*.swift plus
# fuzz/IGMPDecodeFuzz.swift with -sanitize=fuzzer,address, seeds a corpus from the
# scapy vectors (Tests/IGMPWireTests/Vectors/scapy_vectors.json) and runs. Crash
# inputs land in build/fuzz/artifacts/. The last lines printed are libFuzzer's
# final stats (executions, exec/s) and the crash count.
set -euo pipefail

seconds="${1:-600}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/build/fuzz"
mkdir -p "$out/corpus" "$out/seeds" "$out/artifacts"

# ld.gold warns about every ASan register thunk ("Cannot export local symbol");
# keep the build log and show it only when the build fails.
if ! swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name IGMPWireFuzz \
    "$root"/Sources/IGMPWire/*.swift "$root/fuzz/IGMPDecodeFuzz.swift" \
    -o "$out/igmp-decode-fuzz" >"$out/build.log" 2>&1; then
    grep -v 'Cannot export local symbol' "$out/build.log" >&2
    exit 1
fi

# Seeds: every scapy vector as-is, its IPv4 and IGMP layers, and one pcap file of
# them all, so mutations start from well-formed structure at every entry point.
python3 - "$root/Tests/IGMPWireTests/Vectors/scapy_vectors.json" "$out/seeds" <<'PY'
import json, os, struct, sys
vectors = json.load(open(sys.argv[1]))["vectors"]
seeds = sys.argv[2]
pcap = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
for v in vectors:
    data = bytes.fromhex(v["hex"])
    open(os.path.join(seeds, v["name"]), "wb").write(data)
    if v["layer"] == "ethernet" and "expect" in v:
        off = 14 + 4 * len(v["expect"]["eth"]["vlans"])
        open(os.path.join(seeds, v["name"] + ".ip"), "wb").write(data[off:])
        ihl = (data[off] & 0x0F) * 4
        open(os.path.join(seeds, v["name"] + ".igmp"), "wb").write(data[off + ihl:])
    pcap += struct.pack("<IIII", 1, 0, len(data), len(data)) + data
open(os.path.join(seeds, "all.pcap"), "wb").write(pcap)
PY

log="$out/fuzz.log"
set +e
"$out/igmp-decode-fuzz" -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$out/artifacts/" "$out/corpus" "$out/seeds" >"$log" 2>&1
status=$?
set -e
grep -E '^Done [0-9]+ runs' "$log" || tail -n 20 "$log"
grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$log" || true
crashes=$(find "$out/artifacts" -type f | wc -l)
echo "crashes: $crashes (artifacts in $out/artifacts)"
exit $status
