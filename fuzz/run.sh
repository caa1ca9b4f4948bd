#!/usr/bin/env bash
# Fuzz with libFuzzer, one fuzzer after the other, each for SECONDS:
#   fuzz/run.sh [SECONDS]     (default 600 each)
#
# 1. decode: the IGMPWire decoders. Builds build/fuzz/igmp-decode-fuzz from
#    Sources/IGMPWire/*.swift plus fuzz/IGMPDecodeFuzz.swift with
#    -sanitize=fuzzer,address, seeds a corpus from the scapy vectors
#    (Tests/IGMPWireTests/Vectors/scapy_vectors.json). Corpus build/fuzz/corpus,
#    crash inputs in build/fuzz/artifacts/.
# 2. config: the daemon's YAML config parser and what the daemon does with an
#    accepted file (fuzz/ConfigFuzz, a SwiftPM package on the root package,
#    built with --sanitize=fuzzer --sanitize=address into build/fuzz/config-build,
#    so .build/ is left alone). Seeds: the YAML files of examples/, contrib/
#    and the tests, and the YAML texts of Tests/XigmpConfigTests; a dictionary
#    of the config's keys and words.
#    Corpus build/fuzz/config/corpus, crash inputs in build/fuzz/config/artifacts/.
#
# For each fuzzer the last lines printed are libFuzzer's final stats (runs,
# exec/s, corpus, peak RSS) and the count of crash inputs this run wrote.
# Exits non-zero when either fuzzer found something. Reproduce a crash with
#   SWIFT_BACKTRACE=enable=no build/fuzz/config-build/release/ConfigParseFuzz FILE
set -euo pipefail

seconds="${1:-600}"
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/build/fuzz"
config="$out/config"
mkdir -p "$out/corpus" "$out/seeds" "$out/artifacts" \
    "$config/corpus" "$config/seeds" "$config/artifacts"
# The Swift runtime's backtracer and ASan's signal handling fight over a
# crash (the backtracer can hang); libFuzzer and ASan print the stack.
export SWIFT_BACKTRACE=enable=no

# --- Build both first, so a broken build fails before any fuzzing.

# ld.gold warns about every ASan register thunk ("Cannot export local symbol");
# keep the build logs and show them only when a build fails.
if ! swiftc -sanitize=fuzzer,address -parse-as-library -O -g \
    -module-name IGMPWireFuzz \
    "$root"/Sources/IGMPWire/*.swift "$root/fuzz/IGMPDecodeFuzz.swift" \
    -o "$out/igmp-decode-fuzz" >"$out/build.log" 2>&1; then
    grep -v 'Cannot export local symbol' "$out/build.log" >&2
    exit 1
fi

started=$SECONDS
# --sanitize instruments the C targets (libyaml) and links libFuzzer; swiftc
# keeps only the last of the separate -sanitize= flags SwiftPM passes it (in
# no fixed order), so the combined flag goes last.
if ! swift build -c release --sanitize=fuzzer --sanitize=address -Xswiftc -sanitize=fuzzer,address \
    --package-path "$root/fuzz/ConfigFuzz" --scratch-path "$out/config-build" \
    >"$config/build.log" 2>&1; then
    grep -v 'Cannot export local symbol' "$config/build.log" >&2
    exit 1
fi
echo "config fuzzer built in $((SECONDS - started)) s"
config_fuzz="$out/config-build/release/ConfigParseFuzz"

# --- Seeds.

# Decoder: the scapy vectors and their layers; config: the YAML files and
# texts, and a dictionary of the config's words (fuzz/seeds.py says which).
python3 "$root/fuzz/seeds.py" decode "$root/Tests/IGMPWireTests/Vectors/scapy_vectors.json" "$out/seeds"
python3 "$root/fuzz/seeds.py" config "$root" "$config/seeds" "$config/config.dict"

# --- Run, one at a time (the machine has two cores).

status=0
# run NAME BINARY DIR [libFuzzer flags...]: fuzzes for $seconds with DIR's
# corpus/ (grown) and seeds/ (read), crash inputs into ARTIFACTS, log in LOG.
run() {
    local name=$1 binary=$2 corpus=$3 seeds=$4 artifacts=$5 log=$6
    shift 6
    local stamp rc
    stamp=$(mktemp)
    echo "== $name: $seconds s"
    set +e
    "$binary" -max_total_time="$seconds" -print_final_stats=1 \
        -artifact_prefix="$artifacts/" "$@" "$corpus" "$seeds" >"$log" 2>&1
    rc=$?
    set -e
    grep -E '^#[0-9]+[[:space:]]+DONE' "$log" || true
    grep -E '^Done [0-9]+ runs' "$log" || tail -n 20 "$log"
    grep -E '^(stat::number_of_executed_units|stat::average_exec_per_sec|stat::new_units_added|stat::peak_rss_mb)' "$log" || true
    echo "corpus: $(find "$corpus" -type f | wc -l) files"
    local crashes
    crashes=$(find "$artifacts" -type f -newer "$stamp" | wc -l)
    rm -f "$stamp"
    echo "crashes: $crashes (artifacts in $artifacts; log $log)"
    if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then status=1; fi
}

run decode "$out/igmp-decode-fuzz" "$out/corpus" "$out/seeds" "$out/artifacts" "$out/fuzz.log"
# -timeout: a parse taking a minute under ASan is a finding too.
run config "$config_fuzz" "$config/corpus" "$config/seeds" "$config/artifacts" "$config/fuzz.log" \
    -dict="$config/config.dict" -timeout=60
exit $status
