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

# Decoder: every scapy vector as-is, its IPv4 and IGMP layers, and one pcap
# file of them all, so mutations start from well-formed structure at every
# entry point.
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

# Config: the YAML files (examples/, contrib/, the tests), every multi-line
# string literal of the config tests without interpolation (each a YAML text,
# dedented as Swift does), and a dictionary of the key names (from the
# reference table) and value words.
python3 - "$root" "$config/seeds" "$config/config.dict" <<'PY'
import glob, hashlib, os, re, sys
root, seeds, dict_path = sys.argv[1:]
texts = [open(p, "rb").read() for d in ("examples", "contrib", "Tests", "netns-tests")
         for p in sorted(glob.glob(os.path.join(root, d, "**", "*.y*ml"), recursive=True))]
escapes = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", '"': '"', "'": "'", "\\": "\\"}
def unescape(s):
    s = re.sub(r"\\u\{([0-9a-fA-F]+)\}", lambda m: chr(int(m.group(1), 16)), s)
    return re.sub(r"\\(.)", lambda m: escapes.get(m.group(1), m.group(0)), s)
for path in sorted(glob.glob(os.path.join(root, "Tests", "XigmpConfigTests", "*.swift"))):
    for m in re.finditer(r'"""\n(.*?)\n([ \t]*)"""', open(path, encoding="utf-8").read(), re.S):
        body, indent = m.group(1), m.group(2)
        if "\\(" in body:
            continue
        lines = [l[len(indent):] if l.startswith(indent) else l.lstrip() for l in body.split("\n")]
        texts.append(unescape("\n".join(lines) + "\n").encode())
for text in texts:
    name = hashlib.sha1(text).hexdigest()[:16] + ".yaml"
    open(os.path.join(seeds, name), "wb").write(text)
reference = open(os.path.join(root, "Sources", "XigmpConfig", "ConfigReference.swift"), encoding="utf-8").read()
words = set()
for key in re.findall(r'row\("([^"]+)"', reference):
    words.update(part for part in key.split(".") if part != "ROLE")
words.update(re.findall(r"`([A-Za-z][A-Za-z0-9]*)`", reference))
words.update(["true", "false", "~", "null", "inside", "outside", "alt", "125s", "100ms", "2m", "1h",
              "239.1.0.0/16", "232.1.1.1", "10.0.0.5", "127.0.0.1:9740", "/run/xigmp.sock",
              ": ", "- ", "[", "]", "{", "}", ", ", "\n  ", "---", "&a ", "*a", "!!str ", "<<: ", "'", "\"",
              "\\x", "\\u", "\\U", "\\N", "\\L", "\\P", "\\e", "\\0", "\\t", "|\n", ">-\n"])
with open(dict_path, "w") as f:
    for w in sorted(words):
        f.write('"' + w.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\x0A") + '"\n')
PY

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
