#!/usr/bin/env bash
# test-kernel.sh - `make test-kernel`: the tests that need what this
# machine's kernel may lack (kernel multicast routing, CONFIG_IP_MROUTE; the
# clsact fallback of kernels without tcx), run in Debian's own 6.1 kernel
# (which has the MFC and no tcx) under QEMU through scripts/kernel-guest.sh.
# In the guest nothing of these may be skipped: a skip there is a failure.
# Ends with the same closing line as `make test`.
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
if [ "${1:-}" != --in-guest ]; then
	scripts/kernel-guest.sh install || exit 1
	out=$(mktemp)
	scripts/kernel-guest.sh run -- scripts/test-kernel.sh --in-guest 2>&1 | tee "$out"
	rc=${PIPESTATUS[0]}
	# The guest's closing count, last (the guest's timing line came after it).
	total=$(grep -E '^total: [0-9]+ passed' "$out" | tail -1)
	rm -f "$out"
	echo "${total:-total: 0 passed, 1 failed (the guest printed no result)}"
	exit "$rc"
fi

# The guest's /dev has no tun node until the module is there.
modprobe tun 2>/dev/null
[ -e /dev/net/tun ] || { mkdir -p /dev/net && mknod /dev/net/tun c 10 200; }
logs=$(mktemp -d -p "$PWD" .test-kernel.XXXXXX)
trap 'rm -rf "$logs"' EXIT
XIGMP=${XIGMP:-.build/debug/xigmp}
echo "guest kernel $(uname -r)"
"$XIGMP" doctor | grep -E '^(kernel|tcx|clsact|ip_mroute)'
if ! "$XIGMP" doctor --json | /usr/bin/python3 netns-tests/jsonq.py --test ip_mroute; then
	echo "test-kernel: this guest kernel has no CONFIG_IP_MROUTE: nothing to test here" >&2
	exit 1
fi
# The kernel MFC (every KernelMulticastRouting case, the kernel port beside it
# included) and the egress filter on the clsact fallback.
# The test bundle runs directly: `swift test` would first evaluate every
# package manifest, minutes under emulation.
NO_COLOR=1 .build/debug/xigmpPackageTests.xctest --testing-library swift-testing \
	--filter 'KernelRoutingTests|EgressFilterTests' 2>&1 | tee "$logs/unit.log"
unit_rc=${PIPESTATUS[0]}
# End to end: forwarding.mode kernel and the tc path on clsact; then what
# kill -9 leaves where the kernel has no tcx (the soak's kill part only).
# Emulation is slow: the waits and windows stretch (TIME_SCALE).
tp=0 tf=0 ts=0 all=""
integration() { # integration ENV... SCRIPT: run it, add its counts to the totals
	local out rc line p f s
	out=$(env TIME_SCALE=4 XIGMP="$XIGMP" "$@" 2>&1); rc=$?
	echo "$out"
	all+="$out"$'\n'
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' <<<"$out" | tail -1)
	read -r p _ f _ s _ <<<"${line//,/}"
	[ "$rc" == 0 ] || f=$((${f:-0} + 1))
	tp=$((tp + ${p:-0})) tf=$((tf + ${f:-1})) ts=$((ts + ${s:-0}))
}
{
	integration FWD_MODES="tc kernel" FWD_SECTIONS="two-insides bridge" bash netns-tests/test_forwarding.sh
	integration SOAK_SECONDS=0 bash netns-tests/test_soak.sh
	grep -oE '^  SKIP: .*\[[^]]+\]$' <<<"$all" | sed -E 's/.*\[([^]]+)\]$/\1/' | sort | uniq -c |
		while read -r n why; do echo "integration skipped $n: $why"; done
	echo "integration: $tp passed, $tf failed, $ts skipped"
} 2>&1 | tee "$logs/integration.log"
summary=$(scripts/test-summary.sh "$logs/unit.log" "$logs/integration.log")
echo "$summary"
# What needs the MFC must run here, not be skipped.
if grep -q 'CONFIG_IP_MROUTE' <<<"$summary"; then
	echo "test-kernel: tests that need CONFIG_IP_MROUTE were skipped in a kernel that has it" >&2
	exit 1
fi
[ "$unit_rc" == 0 ] && ! grep -qE ' [1-9][0-9]* failed' <<<"$(tail -1 <<<"$summary")"
