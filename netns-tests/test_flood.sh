#!/usr/bin/env bash
# A report flood against the daemon: one inside host sends IGMPv3
# reports for 65,536 different groups as fast as AF_XDP lets it (at least
# 100k/s) for 10 s. The daemon's memory must stay bounded, the counters must
# show the drops (the XDP per-source token bucket and the per-host group cap),
# and a legitimate host's join during the flood must reach the outside within
# 100 ms.
#
#   U uo ── po [P: xigmp, track] pi ── si [S: br0] ── sf ── hf (F, the flooder)
#                                                 └── sl ── hl (L, a Linux host)
cd "$(dirname "$0")/.." || exit 1
source netns-tests/lib.sh
require_root
GEN=${GEN:-$(dirname "$XIGMP")/xigmp-gen}
[ -x "$GEN" ] || { echo "FAIL: $GEN not built: run make test" >&2; exit 1; }

U=xgt-fu-$$ P=xgt-fp-$$ S=xgt-fs-$$ F=xgt-ff-$$ L=xgt-fl-$$
for ns in $U $P $S $F $L; do new_ns "$ns"; done
veth_pair "$U" uo 10.1.0.1/24 "$P" po 10.1.0.2/24
ip -n "$S" link add br0 type bridge
bridge_port "$S" br0 si "$P" pi 10.2.0.10/24
bridge_port "$S" br0 sf "$F" hf 10.2.0.66/24
bridge_port "$S" br0 sl "$L" hl 10.2.0.7/24
ip -n "$S" link set br0 up
ip netns exec "$S" bridge link set dev si mcast_router 2
ip netns exec "$L" sysctl -qw net.ipv4.conf.hl.force_igmp_version=3

tmp_dir TMP
DAEMON_NS=$P
# KEEP=1: what the run left in $TMP, daemon log complete, to /tmp/flood-debug.
[ -z "${KEEP:-}" ] || T_CLEANUP_HOOKS+=('stop_daemon; cp -r "$TMP" /tmp/flood-debug')
SOCK=$TMP/control.sock
cat >"$TMP/flood.yaml" <<EOF
interfaces: {outside: po, inside: pi}
control: {socket: $SOCK}
modes: {queryNotify: true}
membership: track
limits:
  maxGroupsPerHost: 512
EOF
# NO_XDP_LIMIT=1 floods the daemon itself (no token bucket): the table caps
# alone must hold.
[ -n "${NO_XDP_LIMIT:-}" ] || printf '  reportsPerSecondPerHost: 2000\n  reportBurst: 200\n' >>"$TMP/flood.yaml"
start_daemon "$TMP/flood.yaml" || exit 1
sleep 1
rss() { awk '/^VmRSS/ {print $2}' "/proc/$DAEMON/status"; }
rss_before=$(rss)

echo "== flood: 10 s of reports for 65,536 groups from one host"
"$GEN" send --netns "$F" --iface hf --to 224.0.0.22 --dst-mac 01:00:5e:00:00:16 --method xdp \
	--rate 0 --duration 10 --groups 65536 --group-base 239.100.0.0 >"$TMP/gen.json" 2>"$TMP/gen.err" &
GENPID=$!
peak=$rss_before
for _ in $(seq 8); do sleep 0.5; r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; done
# A legitimate join in the middle of the flood, timed on the wire at both ends.
ip netns exec "$S" $PY netns-tests/igmp_sniff.py sl 4 239.77. >"$TMP/l.json" &
SNIFF1=$!
ip netns exec "$U" $PY netns-tests/igmp_sniff.py uo 4 239.77. >"$TMP/u.json" &
SNIFF2=$!
# Python starts slowly on two cores busy with the flood: join only once both
# sniffers listen.
for _ in $(seq 300); do grep -q ready "$TMP/l.json" 2>/dev/null && grep -q ready "$TMP/u.json" 2>/dev/null && break; sleep 0.05; done
ip -n "$L" addr add 239.77.0.1/32 dev hl autojoin
for _ in $(seq 12); do sleep 0.5; r=$(rss); [ "$r" -gt "$peak" ] && peak=$r; done
wait $GENPID $SNIFF1 $SNIFF2
sleep 1
rss_after=$(rss)

sent=$(jsonq -f "$TMP/gen.json" --default 0 sent 2>/dev/null || echo 0)
secs=$(jsonq -f "$TMP/gen.json" --default 10 seconds 2>/dev/null || echo 10)
rate=$(awk -v n="$sent" -v s="$secs" 'BEGIN { printf "%d\n", n / (s > 1e-9 ? s : 1e-9) }')
echo "  flood: $sent reports sent, $rate/s; daemon RSS ${rss_before} kB before, ${peak} kB peak, ${rss_after} kB after"
check "the flood reached at least 100k reports/s ($rate/s)" test "$rate" -ge 100000
check "the daemon's memory stayed bounded (peak $peak kB ≤ before $rss_before kB + 32 MiB)" test "$peak" -le $((rss_before + 32768))
check "the daemon is still running" kill -0 "$DAEMON"

first_seen() { # first_seen FILE SRC-PREFIX: when the first report naming 239.77.0.1 from there was captured
	jsonq -f "$1" --lines all --first "[groups/*=239.77.0.1,src^=$2]/t"
}
# In ms with at most two decimals (12.3, 12.05), or none.
seen_l=$(first_seen "$TMP/l.json" 10.2.0.7)
seen_u=$(first_seen "$TMP/u.json" 10.1.0.2)
[ -n "$seen_l" ] || echo "  (L's own report was not captured on hl)"
[ -n "$seen_u" ] || echo "  (no report of 239.77.0.1 from xigmp was captured on uo)"
latency=$(awk -v l="$seen_l" -v u="$seen_u" 'BEGIN {
	if (l == "" || u == "") { print "none"; exit }
	x = sprintf("%.2f", (u - l) * 1000); sub(/0$/, "", x); print x
}')
echo "  legitimate join: L's report → xigmp's report upstream: $latency ms"
check "the legitimate join reached the outside within 100 ms during the flood ($latency ms)" \
	num_cmp "$latency" '<' 100

"$XIGMP" groups --socket "$SOCK" --json >"$TMP/groups.json"
# (A file, not an argument: 512 groups with their hosts pass 128 KiB.)
field() { jsonq -f "$TMP/groups.json" "$@"; }
echo "  counters: $(field counters)"
[ -n "${NO_XDP_LIMIT:-}" ] || check "the XDP token bucket dropped the flood (xdp_rate_limited > 0)" \
	test "$(field --default 0 counters/pi/xdp_rate_limited)" -gt 0
check "the per-host group cap bit (dropped_host_group_limit > 0)" \
	test "$(field --default 0 counters/pi/dropped_host_group_limit)" -gt 0
check "the table holds at most 512 flood groups plus L's" \
	test "$(field 'interfaces/0/groups/#')" -le 513
check "L's group is in the table" test "$(field --count 'interfaces/0/groups/[group=239.77.0.1]')" -eq 1
stop_daemon
check "the daemon exits 0 after the flood" test $? -eq 0

finish
