#!/usr/bin/env bash
# translation.sh - unicast translation, AF_XDP datapath
# versus kernel datapath, side by side.
#
#   [G] gi 10.71.0.2 ── veth ── pi 10.71.0.1 [P: xigmp run] po 10.72.0.1 ── veth ── si 10.72.0.2 [S]
#
# Two such topologies are built, one per datapath, each with its own daemon
# (`modes: {unicastProxyInToOut: true}`), and the measurements alternate
# between them so machine noise hits both alike. xigmp-gen sends IGMPv3
# reports unicast to the proxy's inside address from G (AF_XDP TX, frames
# addressed to pi's MAC); the proxy re-sends each as multicast to 224.0.0.22
# on po; xigmp-gen receive counts them in S with kernel timestamps. See
# bench/e2e/translation.py for what is measured. A third topology, the
# floor, has no daemon: an XDP program on pi translates in the kernel
# (bench/e2e/floor_xdp.bpf.c), to show what the packets alone cost.
#
# Needs root. Prints progress on stderr and one JSON object on stdout.
# Env: XIGMP, GEN (binaries), PIN=0 to let the scheduler place everything
# (default: proxy on CPU 0, generator and sink on CPU 1), QUICK=1 for a
# shorter run.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
XIGMP=${XIGMP:-.build/release/xigmp}
GEN=${GEN:-.build/release/xigmp-gen}
source netns-tests/lib.sh   # namespaces, veths, the daemons, teardown at exit
log() { echo "translation: $*" >&2; }
[ "$(id -u)" == 0 ] || { log "needs root (namespaces, XDP, AF_XDP): sudo $0"; exit 1; }
for b in "$XIGMP" "$GEN"; do [ -x "$b" ] || { log "$b missing: run make build"; exit 1; }; done

TAG=xgbt-$$
tmp_dir TMP /tmp/xigmp-translation.XXXXXX
PIDS=()   # both daemons run at once: each start_daemon's DAEMON moves here
T_CLEANUP_HOOKS+=('for p in "${PIDS[@]}"; do kill -TERM "$p" 2>/dev/null; done; for p in "${PIDS[@]}"; do wait "$p" 2>/dev/null; done')
mac_of() { ip -n "$1" -j link show "$2" | jsonq 0/address; }

NCPU=$(nproc)
PIN=${PIN:-1}
[ "$NCPU" -ge 2 ] || PIN=0
PROXY_CPU=0 LOAD_CPU=1

# The floor (bench/e2e/floor_xdp.bpf.c): a third topology with no daemon,
# where an XDP program on pi does the translation in the kernel. The
# machine-wide CPU per message there is what the packets cost without any
# datapath, so kernel path / floor bounds what any datapath could reach.
CLANG=${CLANG:-$(command -v clang)}
MULTIARCH=$(gcc -print-multiarch 2>/dev/null || echo x86_64-linux-gnu)
FLOOR=1
[ -n "$CLANG" ] || { log "no clang: the floor topology is left out"; FLOOR=0; }

ARGS=()
for dp in xdp kernel floor; do
	[ "$dp" == floor ] && [ "$FLOOR" == 0 ] && continue
	G=$TAG-g-$dp P=$TAG-p-$dp S=$TAG-s-$dp
	for ns in $G $P $S; do new_ns "$ns"; done
	veth_pair "$G" gi 10.71.0.2/24 "$P" pi 10.71.0.1/24
	veth_pair "$P" po 10.72.0.1/24 "$S" si 10.72.0.2/24
	if [ "$PIN" == 1 ]; then
		# The sink's receive processing (softirq) would otherwise run in the
		# proxy's context when it transmits and be charged to it: steer it
		# (RPS) to the load CPU.
		ip netns exec "$S" sh -c "for q in /sys/class/net/si/queues/rx-*; do echo $(printf %x $((1 << LOAD_CPU))) > \$q/rps_cpus; done"
	fi
	if [ "$dp" == floor ]; then
		hex() { local IFS=.; set -- $1; printf '0x%02x%02x%02x%02x' "$1" "$2" "$3" "$4"; }
		pomac=0x$(mac_of "$P" po | tr -d :)
		poidx=$(ip -n "$P" -j link show po | jsonq 0/ifindex)
		if "$CLANG" -O2 -g -target bpf -Wall -Werror -I/usr/include/"$MULTIARCH" \
			-DIN_ADDR="$(hex 10.71.0.1)" -DOUT_ADDR="$(hex 10.72.0.1)" -DOUT_IFINDEX="$poidx" -DOUT_MAC="${pomac}ULL" \
			-c bench/e2e/floor_xdp.bpf.c -o "$TMP/floor.o" 2>"$TMP/floor.err" &&
			ip -n "$P" link set dev pi xdpgeneric obj "$TMP/floor.o" sec xdp 2>>"$TMP/floor.err"; then
			log "floor: in-kernel translation (XDP on pi, no daemon) in $P"
			ARGS+=(--topology "floor,$G,$P,$S,$(mac_of "$P" pi),0")
		else
			log "floor: left out, the XDP program did not load: $(tail -3 "$TMP/floor.err" | tr '\n' ' ')"
		fi
		continue
	fi
	cat >"$TMP/$dp.yaml" <<YAML
interfaces: {outside: po, inside: pi}
datapath: $dp
modes: {unicastProxyInToOut: true}
control: {socket: $TMP/$dp.sock}
metrics: {listen: "127.0.0.1:19750"}
logLevel: warning
YAML
	wrap=()
	[ "$PIN" == 1 ] && wrap=(taskset -c $PROXY_CPU)
	DAEMON_NS=$P SOCK=$TMP/$dp.sock DAEMON_LOG=$TMP/$dp.log DAEMON_WAIT=10 start_daemon "$TMP/$dp.yaml" "${wrap[@]}" ||
		{ log "the $dp daemon did not start"; exit 1; }
	pid=$DAEMON
	PIDS+=("$pid")
	DAEMON=
	log "$dp: daemon pid $pid in $P ($(ip -n "$P" -d link show pi | grep -o 'prog/xdp[a-z]*' | head -1 || echo no-xdp) on pi)"
	ARGS+=(--topology "$dp,$G,$P,$S,$(mac_of "$P" pi),$pid")
done

[ "$PIN" == 1 ] && ARGS+=(--load-cpu $LOAD_CPU --proxy-cpu $PROXY_CPU)
[ "${QUICK:-0}" == 1 ] && ARGS+=(--quick)
$PY bench/e2e/translation.py --gen "$GEN" --tmp "$TMP" "${ARGS[@]}"
rc=$?
for dp in xdp kernel; do
	if grep -qiE "error|warn" "$TMP/$dp.log"; then log "$dp daemon log:"; sed 's/^/  /' "$TMP/$dp.log" | tail -20 >&2; fi
done
exit $rc
