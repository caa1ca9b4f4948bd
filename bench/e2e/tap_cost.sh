#!/usr/bin/env bash
# SPDX-License-Identifier: (GPL-2.0-only OR BSD-2-Clause)
# tap_cost.sh - what the kernel datapath's AF_PACKET IGMP tap costs the
# host's other traffic.  A namespace A blasts UDP (not IGMP) at B over a
# veth (bench/e2e/mcast_blast.c, flat out); B's IP layer counts what it
# received (IpInReceives).  Rounds alternate between nothing on B's veth and
# `xigmp dump --datapath kernel` holding the tap there (its classic BPF
# filter runs on every IPv4 frame of the interface and keeps only protocol
# 2).  Prints one JSON object: packets/s into B's IP layer with and without
# the tap, per round and as medians, and their ratio.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
XIGMP=${XIGMP:-.build/release/xigmp}
source netns-tests/lib.sh   # namespaces, veths, teardown at exit
CC=${CC:-cc}
ROUNDS=${ROUNDS:-5}
[ -n "${BENCH_QUICK:-}" ] && ROUNDS=2
SECS=${SECS:-3}
A=xbench-$$-tapa B=xbench-$$-tapb
tmp_dir TMP /tmp/xigmp-tap.XXXXXX
DUMP=0
T_CLEANUP_HOOKS+=('[ "$DUMP" = 0 ] || stop_pid "$DUMP"')
log() { echo "tap_cost: $*" >&2; }
[ -x "$XIGMP" ] || { log "$XIGMP not built"; exit 1; }
$CC -O2 -o "$TMP/blast" bench/e2e/mcast_blast.c || { log "cannot compile mcast_blast.c"; exit 1; }
new_ns "$A"; new_ns "$B"
veth_pair "$A" va 10.77.0.1/24 "$B" vb 10.77.0.2/24
# B joins the group, so the frames climb its IP stack to UDP (NoPorts).
ip -n "$B" addr add 239.77.7.7/32 dev vb autojoin
inreceives() { ip netns exec "$B" awk '/^Ip: [0-9]/ {print $4}' /proc/net/snmp; }  # Forwarding DefaultTTL InReceives
round() { # round: packets/s into B's IP layer over SECS
	local before after
	before=$(inreceives)
	ip netns exec "$A" "$TMP/blast" va 10.77.0.1 239.77.7.7 64 "$SECS" >/dev/null 2>&1
	after=$(inreceives)
	echo $(( (after - before) / SECS ))
}
off=() on=()
for r in $(seq "$ROUNDS"); do
	log "round $r/$ROUNDS"
	off+=("$(round)")
	"$XIGMP" --netns "$B" dump --iface vb --datapath kernel --json >/dev/null 2>&1 &
	DUMP=$!
	sleep 0.5
	kill -0 "$DUMP" 2>/dev/null || { log "xigmp dump did not start"; exit 1; }
	on+=("$(round)")
	kill "$DUMP"; wait "$DUMP" 2>/dev/null; DUMP=0
done
$PY bench/e2e/tap_cost.py "${off[*]}" "${on[*]}"
