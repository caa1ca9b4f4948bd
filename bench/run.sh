#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# bench/run.sh - xigmp's benchmark suite in one go (`make bench` runs it after
# `make build`): classifier cost, veth throughput and control-plane cost from
# xigmp-bench, then the end-to-end scripts bench/e2e/translation.sh,
# bench/e2e/join_latency.sh, bench/e2e/forwarding.sh and bench/e2e/zap.sh when present.  Each prints one JSON object; a
# section that is missing or fails is recorded as {"error": "..."} and the
# run goes on.  A figure the kernel cannot give (the kernel MFC, smcroute and
# igmpproxy without CONFIG_IP_MROUTE) is not a failure: the section records
# it as null with "<key>_reason" and the table says "n/a (reason)".  Writes
# bench/results/latest.json and latest.png, prints the table, and exits
# non-zero if any section failed (after writing).  latest.json's "machine"
# says where the run was made: kernel, cpu (/proc/cpuinfo's model name),
# cores, and `xigmp doctor --json`'s capabilities (ip_mroute, tcx, ...).
#
# Needs root: it loads BPF programs, creates network namespaces (xbench-PID-*,
# deleted on exit, also on Ctrl-C) and counts allocations with uprobes.  It
# never touches the machine's own interfaces.
#
# Environment: XIGMP_BENCH (default .build/release/xigmp-bench), XIGMP
# (.build/release/xigmp), BENCH_QUICK=1 (fewer rounds, for trying the script
# out; not for results).
set -uo pipefail
cd "$(dirname "$0")/.."

BENCH=${XIGMP_BENCH:-.build/release/xigmp-bench}
XIGMP=${XIGMP:-.build/release/xigmp}
export XIGMP
RESULTS=bench/results
PY=/usr/bin/python3	# Debian's, with python3-matplotlib (not a pyenv one)
source netns-tests/lib.sh   # the doctor's namespace, teardown at exit

die() { echo "bench/run.sh: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "needs root (loads BPF programs, creates network namespaces, counts allocations with uprobes): run \`sudo make bench\`"
[ -x "$BENCH" ] || die "$BENCH not found: run \`make build\` first (or \`make bench\`, which does)"
[ -x "$XIGMP" ] || die "$XIGMP not found: run \`make build\` first (or \`make bench\`, which does)"
[ -x "$PY" ] && "$PY" netns-tests/has_module.py matplotlib ||
	die "Debian's python3 with matplotlib is missing: run \`scripts/deps.sh bench\` (or \`make bench\`)"

tmp_dir tmp /tmp/xigmp-bench.XXXXXX
child=0
doctor_ns=xbench-$$-doctor

# Deletes namespaces left by xigmp-bench processes that are gone (it deletes
# its own on exit and on SIGINT/SIGTERM; this catches a SIGKILL).
sweep_namespaces() {
	local ns pid
	for ns in $(ip netns list 2>/dev/null | awk '{print $1}'); do
		case $ns in xbench-*) ;; *) continue ;; esac
		pid=${ns#xbench-}; pid=${pid%%-*}
		kill -0 "$pid" 2>/dev/null || ip netns del "$ns" 2>/dev/null
	done
	# Pins of a `xigmp load` interrupted between its load and unload.
	for d in /sys/fs/bpf/xigmp/@xbench-*; do
		[ -d "$d" ] || continue
		pid=${d#*/@xbench-}; pid=${pid%%-*}
		kill -0 "$pid" 2>/dev/null || rm -rf "$d"
	done
}
# At exit: the running section first, then what it may have left.
T_CLEANUP_HOOKS+=(sweep_namespaces '[ "$child" = 0 ] || stop_pid "$child"')
trap 'echo "bench/run.sh: interrupted" >&2; exit 130' INT TERM HUP

if [ -n "${BENCH_QUICK:-}" ]; then
	classifier_args=(--rounds 3 --repeat 1000000)
	throughput_args=(--rounds 2 --window 1)
	control_args=(--rounds 3)
	export QUICK=1	# bench/e2e/translation.sh's own switch (the others read BENCH_QUICK)
else
	classifier_args=(--rounds 7 --repeat 2000000)
	throughput_args=(--rounds 10 --window 1)
	control_args=(--rounds 7)
fi

failed=()

# run_section NAME TIMEOUT CMD... : runs CMD with stderr shown, keeps the last
# JSON object it printed on stdout as $tmp/NAME.json, or an error object.
run_section() {
	local name=$1 limit=$2 status
	shift 2
	echo "== $name: $*" >&2
	local start=$SECONDS
	timeout -k 10 "$limit" "$@" >"$tmp/$name.out" 2> >(tee "$tmp/$name.err" >&2) &
	child=$!
	wait "$child"
	status=$?
	child=0
	sleep 0.2	# let tee write the last stderr lines
	"$PY" bench/results.py section "$name" "$status" "$limit" "$tmp"
	local ok=$?
	echo "== $name: $([ $ok = 0 ] && echo done || echo FAILED) in $((SECONDS - start)) s" >&2
	[ $ok = 0 ] || failed+=("$name")
}

run_e2e() { # run_e2e NAME [TIMEOUT]
	local name=$1 script=bench/e2e/$1.sh
	if [ -x "$script" ]; then
		run_section "$name" "${2:-240}" "$script"
	else
		echo "== $name: $script is missing or not executable" >&2
		printf '{"error": "%s is missing or not executable"}' "$script" >"$tmp/$name.json"
		failed+=("$name")
	fi
}

sweep_namespaces
total_start=$SECONDS
# What this kernel can do (xigmp doctor --json), asked in a namespace of the
# run's own so that its MRT_INIT probe never touches the machine's.
new_ns "$doctor_ns"
"$XIGMP" --netns "$doctor_ns" doctor --json >"$tmp/doctor.json" 2>"$tmp/doctor.err" ||
	echo "bench/run.sh: xigmp doctor --json failed: $(tail -1 "$tmp/doctor.err")" >&2
del_ns "$doctor_ns"
run_section classifier 180 "$BENCH" classifier "${classifier_args[@]}"
run_section throughput 300 "$BENCH" throughput "${throughput_args[@]}"
run_section control_plane 180 "$BENCH" control-plane "${control_args[@]}"
run_e2e translation
run_e2e join_latency
run_e2e forwarding 900
run_e2e tap_cost 120
run_e2e zap 1500	# ~7 min of work, plus up to 60 s per phase waiting for a quiet VM

mkdir -p "$RESULTS"
cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
"$PY" bench/results.py collect --tmp "$tmp" --out "$RESULTS/latest.json" --kernel "$(uname -r)" \
	--cores "$(nproc)" --date "$(date -u +%Y-%m-%dT%H:%M:%SZ)" --cpu "$cpu" \
	--virt "$(systemd-detect-virt 2>/dev/null || echo unknown)" \
	--commit "$(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo -dirty)" \
	--swift "$(swift --version 2>/dev/null | head -1)" --seconds "$((SECONDS - total_start))" ${BENCH_QUICK:+--quick}
echo
"$PY" bench/plot.py "$RESULTS/latest.json" --table --png "$RESULTS/latest.png" ||
	failed+=("plot")
echo
echo "wrote $RESULTS/latest.json and $RESULTS/latest.png in $((SECONDS - total_start)) s"
if ((${#failed[@]})); then
	echo "bench/run.sh: failed: ${failed[*]} (recorded as errors in $RESULTS/latest.json)" >&2
	exit 1
fi
