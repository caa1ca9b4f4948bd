#!/usr/bin/env bash
# Fan-out past the kernel MFC's 32-VIF limit (MAXVIFS): one static route to
# 40 interfaces, over the XDP path (generic XDP broadcast through the devmap)
# and the TC path (native XDP outside, veths without NAPI: one
# bpf_clone_redirect per egress). Every one of the 40 receives every packet.
# Needs no kernel multicast routing.
#
#   U (10.1.0.1) uo ── po [P: xigmp] pi ── hi (H, inside)
#                                    f0..f39 ── g0..g39 (R, counted)
cd "$(dirname "$0")/.." || exit 1
source netns-tests/lib.sh
require_root

N=40
U=xgt-fu-$$ P=xgt-fp-$$ H=xgt-fh-$$ R=xgt-fr-$$
for ns in $U $P $H $R; do new_ns "$ns"; done
veth_pair "$U" uo 10.1.0.1/24 "$P" po 10.1.0.2/24
veth_pair "$P" pi 10.2.0.1/24 "$H" hi 10.2.0.2/24
ip -n "$U" route add default via 10.1.0.2
outs=()
for i in $(seq 0 $((N - 1))); do
	ip -n "$P" link add "f$i" type veth peer name "g$i" netns "$R"
	ip -n "$P" link set "f$i" up; ip -n "$R" link set "g$i" up
	outs+=("f$i")
done
tmp_dir TMP
DAEMON_NS=$P
SOCK=$TMP/control.sock
TOOL=netns-tests/mcast_tool.py
rx() { # rx: the 40 receivers' rx_packets, space-separated
	local i out=()
	for i in $(seq 0 $((N - 1))); do out+=("$(ip netns exec "$R" cat "/sys/class/net/g$i/statistics/rx_packets")"); done
	echo "${out[*]}"
}
path_of() { # the path of the route for 232.40.40.40 and how many interfaces it goes out of
	"$XIGMP" routes --socket "$SOCK" --json |
		jsonq --first --default none 'routes/[group=232.40.40.40]/path' 'routes/[group=232.40.40.40]/out/#'
}
gained() { # gained BEFORE AFTER (rx() lists): how many gained >= 100, the least and the most gained
	awk -v b="$1" -v a="$2" 'BEGIN {
		n = split(b, x); split(a, y)
		for (i = 1; i <= n; i++) {
			d = y[i] - x[i]
			if (d >= 100) k++
			if (i == 1 || d < lo) lo = d
			if (i == 1 || d > hi) hi = d
		}
		print k + 0, lo, hi
	}'
}
list=$(IFS=,; echo "${outs[*]}")
for MODE in xdp tc; do
	echo "== fan-out $N over the $MODE path"
	cat >"$TMP/$MODE.yaml" <<EOF
interfaces: {outside: po, inside: pi}
control: {socket: $SOCK}
modes: {queryNotify: true}
membership: track
$([ $MODE = tc ] && echo "xdpMode: native")
forwarding: {mode: xdp}
routes:
  - {group: 232.40.40.40, out: [$list]}
EOF
	start_daemon "$TMP/$MODE.yaml" || exit 1
	sleep 1
	expect_eq "$MODE: one route out of all $N interfaces" "$MODE $N" "$(path_of)"
	before=$(rx)
	ip netns exec "$U" $PY $TOOL send 232.40.40.40 100
	sleep 1
	after=$(rx)
	got=$(gained "$before" "$after")
	expect_eq "$MODE: all $N receivers got the 100 packets (receivers, min, max)" "$N 100 100" "$got"
	stop_daemon
	check "$MODE: the daemon exits 0" test $? -eq 0
done
finish
