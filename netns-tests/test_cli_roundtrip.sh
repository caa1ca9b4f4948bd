#!/usr/bin/env bash
# The operator round trip on a veth pair between two namespaces: load,
# status, real IGMP from scapy counted exactly, verdicts with visible
# effects on the kernel's own IGMP stack, foreign programs left alone,
# unload leaves nothing behind.
cd "$(dirname "$0")/.." || exit 1
source netns-tests/lib.sh
require_root

A=xgt-a-$$   # runs xigmp
B=xgt-b-$$   # a host sending IGMP
new_ns "$A"; new_ns "$B"
veth_pair "$A" va 10.77.0.1/24 "$B" vb 10.77.0.2/24
X() { "$XIGMP" --netns "$A" "$@"; }

echo "== load, status"
out=$(X load --iface va 2>&1); rc=$?
expect_eq "load exits 0" 0 "$rc"
check "load reports the pin path" grep -q "pinned at /sys/fs/bpf/xigmp/@$A/va" <<<"$out"
st=$(X status --json)
expect_eq "status shows va pinned" "va True True" \
	"$(jsonq interfaces/0/ifname interfaces/0/pinned <<<"$st") $(num_cmp "$(jsonq interfaces/0/prog_id <<<"$st")" '>' 0 && echo True)"
check "the kernel reports an XDP program on va" bash -c "ip -n $A -d link show va | grep -q 'prog/xdp'"
check "pinned link survives the command" test -e "/sys/fs/bpf/xigmp/@$A/va/link"

echo "== errors"
out=$(X load --iface va 2>&1); rc=$?
expect_eq "second load refused" 1 "$rc"
check "second load names the fix" grep -q "already runs xigmp's classifier.*--force" <<<"$out"
out=$(X load --iface nosuch0 2>&1); rc=$?
expect_eq "unknown interface refused" 1 "$rc"
check "unknown interface message" grep -q "no interface named 'nosuch0'" <<<"$out"
out=$(ip netns exec "$A" "$XIGMP" load --iface va --force 2>&1); rc=$?
expect_eq "ip netns exec load refused (pins would vanish)" 1 "$rc"
check "ip netns exec message points to --netns" grep -q -- "--netns NAME" <<<"$out"
expect_exit "without root: says so and what to do" 1 "needs root \(missing CAP_BPF and CAP_PERFMON and CAP_NET_ADMIN\): run it with sudo" \
	ip netns exec "$A" setpriv --reuid 65534 --regid 65534 --clear-groups --inh-caps=-all "$XIGMP" load --iface va --force
check "refused load left the classifier in place" bash -c "$XIGMP --netns $A status --json | grep -q '\"ifname\":\"va\"'"

echo "== counters move by exactly what scapy sent"
before=$(counters "$A" va)
ip netns exec "$B" $PY netns-tests/scapy_send.py frames vb 10.77.0.2 \
	queryx3 query_noRAx1 v1_reportx1 v2_reportx2 v2_leavex1 v3_reportx2 malformedx1 udpx4
sleep 0.3
after=$(counters "$A" va)
expect_eq "counter deltas" \
	"malformed=+1 no_router_alert=+2 no_socket=+10 non_igmp=+4 passed=+10 query=+4 v1_report=+1 v2_leave=+1 v2_report=+2 v3_report=+2" \
	"$(delta "$before" "$after")"
lines=$(X stats --iface va --json --watch 0.2 --count 2 | wc -l)
expect_eq "stats --watch --count 2 prints 2 JSON lines" 2 "$lines"

echo "== verdicts act on the kernel: pass lets A's kernel answer a query, drop silences it"
ip -n "$A" addr add 239.9.9.9/32 dev va autojoin
answers() { # a general query from B; count A's reports for 239.9.9.9 seen on B
	ip netns exec "$B" $PY netns-tests/scapy_send.py answers vb 10.77.0.2 10.77.0.1 239.9.9.9
}
sleep 1   # let the join's own unsolicited reports go by
n=$(answers)
check "action redirect (no socket: passed): A's kernel answers the query ($n reports)" test "$n" -ge 1
X load --iface va --force --action drop >/dev/null
sleep 0.5
n=$(answers)
expect_eq "action drop: A's kernel never sees the query, no report" 0 "$n"
check "dropped counter moved" test "$(counter "$A" va dropped)" -ge 1

echo "== generic mode"
out=$(X load --iface va --force --mode generic 2>&1)
check "load --mode generic" grep -q "in generic mode" <<<"$out"
expect_eq "status reports generic" generic "$(X status --json | jsonq interfaces/0/mode)"

echo "== unload"
out=$(X unload --iface va 2>&1); rc=$?
expect_eq "unload exits 0" 0 "$rc"
check "nothing attached after unload" bash -c "! ip -n $A -d link show va | grep -q 'prog/xdp'"
check "pins removed" test ! -e "/sys/fs/bpf/xigmp/@$A"
out=$(X unload --iface va 2>&1); rc=$?
expect_eq "second unload reports nothing to do" 1 "$rc"
check "second unload message" grep -q "not attached to va" <<<"$out"

echo "== a foreign XDP program is never clobbered without --force"
if ip -n "$A" link set va xdpgeneric obj build/bpf/xdp_pass.bpf.o sec xdp 2>/dev/null; then
	out=$(X load --iface va 2>&1); rc=$?
	expect_eq "load refuses a foreign program" 1 "$rc"
	check "foreign message names it" grep -q "foreign XDP program 'xigmp_pass'" <<<"$out"
	out=$(X unload --iface va 2>&1); rc=$?
	expect_eq "unload refuses a foreign program" 1 "$rc"
	check "foreign program still attached" bash -c "ip -n $A -d link show va | grep -q 'prog/xdp'"
	out=$(X load --iface va --force 2>&1); rc=$?
	expect_eq "load --force replaces it" 0 "$rc"
	check "--force says what it replaced" grep -q "replaced a foreign XDP program" <<<"$out"
	X unload --all >/dev/null
	check "unload --all leaves nothing" bash -c "! ip -n $A -d link show va | grep -q 'prog/xdp'"
else
	fail "iproute2 could not attach the foreign test program (ip link set xdp obj ...)"
fi

finish
