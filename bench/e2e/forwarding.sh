#!/usr/bin/env bash
# forwarding.sh - issue 8: multicast data forwarding, xigmp (XDP and kernel
# MFC paths) against the kernel MFC driven by smcroute and by igmpproxy.
#
#   [U] uo 10.91.0.2 ── veth ── po 10.91.0.1 [R: router] pi1..pi4 ── veth ── h1..h4 [S: receivers]
#
# 1. Capacity: U blasts one (S,G) = (10.91.0.2, 232.1.1.1) stream of
#    64-byte-payload UDP frames flat out (bench/e2e/mcast_blast.c, compiled
#    here with cc: AF_PACKET, sendmmsg batches of 64, PACKET_QDISC_BYPASS;
#    one sender on CPU GEN_CPUS).  R forwards it through a static route to
#    1, 2 or 4 of pi1..pi4; S's kernel receives (and drops) it.  Counted from
#    interface counters over WINDOW s after WARMUP s (bench/e2e/forwarding.py
#    window): offered = uo tx_packets + tx_dropped, forwarded = the sum of
#    h1..hN rx_packets.  Configurations, rotated every round:
#      xdp_fanoutN      `xigmp run`, membership: track, forwarding: {mode: xdp},
#                       routes: [{group, source, out: [pi1..piN]}]
#      kernel_fanoutN   the same with forwarding: {mode: kernel} (the MFC)
#      smcroute_fanout1 Debian's smcrouted with `mroute from po source S group G to pi1`
#      none             nothing on R (the kernel drops the stream): the
#                       generator's own ceiling
# 2. Join to first forwarded packet: U sends a steady FIRST_PPS stream to
#    239.1.2.3; S joins it on h1 (`ip addr add G/32 dev h1 autojoin`),
#    REPS times (leave, wait until the data stops, join); per join the time
#    from the report leaving h1 to the first data frame arriving on h1, both
#    kernel timestamps of one AF_PACKET socket (forwarding.py firstpacket).
#      xigmp      membership: track, forwarding: {mode: xdp}, inside pi1
#      igmpproxy  Debian's igmpproxy (po upstream, pi1 downstream, quickleave)
#
# The forwarder gets a core of its own.  By default a veth delivers in the
# sender's softirq on the sender's core, so the rate would be
# 1 / (send + forward + receive) and the generator's cost would dilute every
# ratio.  Instead po runs threaded NAPI (GRO on, so the veth queues frames to
# its NAPI; TSO off on uo, or veth finds the frames ineligible and delivers
# them inline) and its kthread is pinned to FWD_CPU, the generator to
# GEN_CPUS: R's receive, the forwarding (XDP, generic on veth, or the MFC)
# and the receivers' stack all run on FWD_CPU, which saturates; the offered
# load is above what any forwarder here takes (`none`, nothing forwarding, is
# the generator's ceiling), and what a forwarder cannot take backs up into
# the generator (uo tx_dropped, counted as offered).  GRO on h1..h4 gives
# the receivers NAPI as well (what native XDP redirect into a veth needs).
#
# Needs root, cc, ethtool, smcroute and igmpproxy (scripts/deps.sh bench); a
# missing baseline is recorded as an error object.  One JSON object on stdout,
# progress on stderr.  Env: ROUNDS (3), WINDOW (s, 4), WARMUP (s, 1),
# GEN_CPUS (0), FWD_CPU (1), PAYLOAD (64), FIRST_PPS (10000), REPS (20),
# BENCH_QUICK=1 (1 round, 2 s windows, 6 joins).
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
XIGMP=${XIGMP:-.build/release/xigmp}
PY=${PY:-/usr/bin/python3}
CC=${CC:-cc}
IGMPPROXY=${IGMPPROXY:-$(command -v igmpproxy || echo /usr/sbin/igmpproxy)}
SMCROUTED=${SMCROUTED:-$(command -v smcrouted || echo /usr/sbin/smcrouted)}
if [ -n "${BENCH_QUICK:-}" ]; then
	ROUNDS=${ROUNDS:-1} WINDOW=${WINDOW:-2} REPS=${REPS:-6}
fi
ROUNDS=${ROUNDS:-3}
WINDOW=${WINDOW:-4}
WARMUP=${WARMUP:-1}
GEN_CPUS=${GEN_CPUS:-0}
FWD_CPU=${FWD_CPU:-1}
PAYLOAD=${PAYLOAD:-64}
FIRST_PPS=${FIRST_PPS:-10000}
REPS=${REPS:-20}
SRC=10.91.0.2 GROUP=232.1.1.1 JGROUP=239.1.2.3
log() { echo "forwarding: $*" >&2; }
[ "$(id -u)" == 0 ] || { log "needs root (namespaces, XDP, multicast routing): sudo $0"; exit 1; }
[ -x "$XIGMP" ] || { log "$XIGMP missing: run make build"; exit 1; }
command -v ethtool >/dev/null || { log "ethtool missing (scripts/deps.sh bench installs it)"; exit 1; }

TAG=xgbf-$$
U=$TAG-u R=$TAG-r S=$TAG-s
TMP=$(mktemp -d /tmp/xigmp-fwd.XXXXXX)
NSS=()
DAEMON=
GENS=()
stop_gens() {
	local p
	for p in "${GENS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${GENS[@]}"; do wait "$p" 2>/dev/null; done
	GENS=()
}
stop_daemon() {
	[ -n "$DAEMON" ] || return 0
	kill -TERM "$DAEMON" 2>/dev/null
	for _ in $(seq 50); do kill -0 "$DAEMON" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$DAEMON" 2>/dev/null
	wait "$DAEMON" 2>/dev/null
	DAEMON=
}
cleanup() {
	stop_gens
	stop_daemon
	for ns in "${NSS[@]}"; do ip netns del "$ns" 2>/dev/null; done
	rm -rf "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

BLAST=$TMP/mcast_blast
$CC -O2 -o "$BLAST" bench/e2e/mcast_blast.c || { log "cannot compile bench/e2e/mcast_blast.c with $CC"; exit 1; }

for ns in $U $R $S; do
	ip netns add "$ns" || { log "cannot create netns $ns"; exit 1; }
	NSS+=("$ns")
	ip -n "$ns" link set lo up
	ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
done
ip -n "$U" link add uo type veth peer name po netns "$R"
ip -n "$U" addr add $SRC/24 dev uo
ip -n "$R" addr add 10.91.0.1/24 dev po
ip -n "$U" link set uo up; ip -n "$R" link set po up
for i in 1 2 3 4; do
	ip -n "$R" link add "pi$i" type veth peer name "h$i" netns "$S"
	ip -n "$R" addr add "10.92.$i.1/24" dev "pi$i"
	ip -n "$S" addr add "10.92.$i.2/24" dev "h$i"
	ip -n "$R" link set "pi$i" up; ip -n "$S" link set "h$i" up
done
# S's replies to the inside querier / igmpproxy's queries stay on v3 (the default).
ip netns exec "$R" sysctl -qw net.ipv4.igmp_max_memberships=64
# The forwarder on a core of its own (see the top): threaded NAPI on po.
ip netns exec "$U" ethtool -K uo tso off >/dev/null || { log "ethtool -K uo tso off failed"; exit 1; }
ip netns exec "$R" ethtool -K po gro on >/dev/null || { log "ethtool -K po gro on failed"; exit 1; }
for i in 1 2 3 4; do ip netns exec "$S" ethtool -K "h$i" gro on >/dev/null; done
NAPI_BEFORE=" $(pgrep -d ' ' '^napi/po-') "	# other namespaces' po, if any
ip netns exec "$R" sh -c 'echo 1 > /sys/class/net/po/threaded' || { log "cannot make po's NAPI threaded"; exit 1; }
pin_napi() { # pin our po's NAPI kthread(s) to FWD_CPU; prints how many
	local p n=0
	for p in $(pgrep '^napi/po-'); do
		case $NAPI_BEFORE in *" $p "*) continue ;; esac
		taskset -pc "$FWD_CPU" "$p" >/dev/null && n=$((n + 1))
	done
	echo "$n"
}
[ "$(pin_napi)" -ge 1 ] || { log "no NAPI kthread for po appeared; the kernel's veth has no threaded NAPI?"; exit 1; }

ERRORS=()	# label=reason, folded into the JSON
note_error() { ERRORS+=("$1=$2"); log "$1: $2"; }

outs_list() { local n=$1 i l=; for i in $(seq "$n"); do l+="${l:+, }pi$i"; done; echo "$l"; }

start_xigmp() { # start_xigmp MODE FANOUT|join LOG
	local routes=""
	[ "$2" = join ] || routes="routes:
  - {group: $GROUP, source: $SRC, out: [$(outs_list "$2")]}"
	rm -f "$TMP/xigmp.sock"
	cat >"$TMP/xigmp.yaml" <<YAML
interfaces: {outside: po, inside: pi1}
control: {socket: $TMP/xigmp.sock}
modes: {queryNotify: true}
membership: track
querier:
  inside: {queryInterval: 10s, queryResponseInterval: 1s, lastMemberQueryInterval: 200ms}
logLevel: notice
forwarding: {mode: $1}
$routes
YAML
	"$XIGMP" --netns "$R" run --config "$TMP/xigmp.yaml" >"$3" 2>&1 &
	DAEMON=$!
	for _ in $(seq 100); do [ -S "$TMP/xigmp.sock" ] && break; sleep 0.1; done
	[ -S "$TMP/xigmp.sock" ] || { log "xigmp ($1) did not start:"; tail -5 "$3" >&2; stop_daemon; return 1; }
	[ "$2" = join ] && return 0
	for _ in $(seq 50); do
		"$XIGMP" routes --socket "$TMP/xigmp.sock" --json 2>/dev/null | grep -q "$GROUP" && return 0
		sleep 0.1
	done
	log "xigmp ($1): the static route did not show up in xigmp routes"; stop_daemon; return 1
}
start_smcroute() { # start_smcroute FANOUT LOG
	local i to=""
	{
		echo "phyint po enable"
		for i in $(seq "$1"); do echo "phyint pi$i enable"; to+=" pi$i"; done
		echo "mroute from po source $SRC group $GROUP to$to"
	} >"$TMP/smcroute.conf"
	ip netns exec "$R" "$SMCROUTED" -n -N -f "$TMP/smcroute.conf" -u "$TMP/smcroute.sock" \
		-P "$TMP/smcroute.pid" -i "$TAG-smc" -l notice >"$2" 2>&1 &
	DAEMON=$!
	for _ in $(seq 50); do
		ip -n "$R" mroute show 2>/dev/null | grep -q "($SRC,$GROUP)" && return 0
		kill -0 "$DAEMON" 2>/dev/null || break
		sleep 0.1
	done
	log "smcrouted did not install the route:"; tail -5 "$2" >&2; stop_daemon; return 1
}
start_gens() { # start_gens GROUP SECONDS [PPS]: one sender per GEN_CPUS core (one if paced)
	local cpu cpus=$GEN_CPUS
	[ -n "${3:-}" ] && cpus=${GEN_CPUS%% *}
	for cpu in $cpus; do
		ip netns exec "$U" taskset -c "$cpu" "$BLAST" uo $SRC "$1" "$PAYLOAD" "$2" ${3:-} \
			>"$TMP/gen-$cpu.out" 2>>"$TMP/gen.err" &
		GENS+=($!)
	done
}

# ---- 1. capacity
CONFIGS=(xdp_fanout1 kernel_fanout1 smcroute_fanout1 xdp_fanout2 kernel_fanout2 xdp_fanout4 kernel_fanout4 none)
have_smcroute=1
if [ ! -x "$SMCROUTED" ]; then
	note_error smcroute_fanout1 "smcrouted not installed (scripts/deps.sh bench installs smcroute)"
	have_smcroute=0
fi
FILES=()
declare -A FAILED=()
for round in $(seq "$ROUNDS"); do
	n=${#CONFIGS[@]}
	for k in $(seq 0 $((n - 1))); do
		cfg=${CONFIGS[$(((k + round - 1) % n))]}
		[ -n "${FAILED[$cfg]:-}" ] && continue
		fan=${cfg##*fanout}; [ "$cfg" = none ] && fan=1
		case $cfg in
		xdp_*) start_xigmp xdp "$fan" "$TMP/$cfg.log" || { FAILED[$cfg]=1; note_error "$cfg" "xigmp did not start: $(tail -1 "$TMP/$cfg.log" | cut -c1-160)"; continue; } ;;
		kernel_*) start_xigmp kernel "$fan" "$TMP/$cfg.log" || { FAILED[$cfg]=1; note_error "$cfg" "xigmp did not start: $(tail -1 "$TMP/$cfg.log" | cut -c1-160)"; continue; } ;;
		smcroute_*)
			[ $have_smcroute = 1 ] || continue
			start_smcroute "$fan" "$TMP/$cfg.log" || { FAILED[$cfg]=1; note_error "$cfg" "smcrouted did not install the route: $(tail -1 "$TMP/$cfg.log" | cut -c1-160)"; continue; } ;;
		none) ;;
		esac
		[ "$(pin_napi)" -ge 1 ] || log "warning: po's NAPI kthread is gone ($cfg)"
		outs=()
		[ "$cfg" = none ] || for i in $(seq "$fan"); do outs+=("$S:h$i"); done
		out=$TMP/run-$cfg-$round.json
		$PY bench/e2e/forwarding.py window --label "$cfg" --round "$round" --gen "$U:uo" --router "$R:po" \
			--out "${outs[@]}" --warmup "$WARMUP" --window "$WINDOW" >"$out" &
		win=$!
		for _ in $(seq 100); do grep -q ready "$out" && break; sleep 0.05; done
		start_gens $GROUP "$(awk -v a="$WARMUP" -v b="$WINDOW" 'BEGIN {print a + b + 1}')"
		wait "$win"
		stop_gens
		stop_daemon
		if [ "$(wc -l <"$out")" -ge 2 ]; then
			FILES+=("$out")
			$PY -c "import json,sys; r=json.load(open(sys.argv[1])); print(f\"forwarding: round $round $cfg: offered {r['offered_pps']/1e3:.0f} kpps, forwarded {r['forwarded_pps']/1e3:.0f} kpps (fan-out {r['fanout']}), loss {r['loss'] if r['loss'] is None else round(r['loss'],5)}\", file=sys.stderr)" <(tail -1 "$out")
		fi
		ip -n "$R" mroute show 2>/dev/null | grep -q . && log "warning: MFC entries left after $cfg: $(ip -n "$R" mroute show | head -2 | tr '\n' ' ')"
	done
done
xdp_mode=$(grep -o "auto mode: [a-z]* XDP on po[^)]*)" "$TMP/xdp_fanout1.log" 2>/dev/null | head -1)

# ---- 2. join to first forwarded packet
first() { # first LABEL [COUNT [SUFFIX]]: COUNT joins against a steady stream
	local n=${2:-$REPS} f=$TMP/first-$1${3:-}.json
	start_gens $JGROUP $((n * 4 + 30)) "$FIRST_PPS"
	sleep 0.5
	timeout $((n * 10 + 20)) $PY bench/e2e/forwarding.py firstpacket --label "$1" --ns "$S" --ifname h1 \
		--group $JGROUP --count "$n" >"$f" || log "$1: firstpacket failed"
	stop_gens
	[ -s "$f" ] && FILES+=("$f")
}
first_report() { # first_report LABEL: one line on stderr
	$PY -c "import json,sys
v, fails = [], []
for p in sys.argv[1:]:
    r = json.load(open(p)); v += r['latencies_us']; fails += r['failures']
v.sort()
print(f\"forwarding: $1 first packet: {len(v)} samples\" + (f\", p50 {v[len(v)//2]:.0f} us, max {v[-1]:.0f} us\" if v else '') + (f\", failures: {fails[:2]}\" if fails else ''), file=sys.stderr)" "$TMP"/first-"$1"*.json
}
log "first packet: xigmp (track, forwarding xdp), $REPS joins, stream $FIRST_PPS pps"
if start_xigmp xdp join "$TMP/xigmp-join.log"; then
	first xigmp
	stop_daemon
	first_report xigmp
else
	note_error xigmp "xigmp did not start: $(tail -1 "$TMP/xigmp-join.log" | cut -c1-160)"
fi
if [ ! -x "$IGMPPROXY" ]; then
	note_error igmpproxy "igmpproxy not installed (scripts/deps.sh bench installs it)"
else
	log "first packet: igmpproxy, $REPS joins, a fresh igmpproxy each"
	cat >"$TMP/igmpproxy.conf" <<CONF
quickleave
phyint po upstream ratelimit 0 threshold 1
altnet 10.91.0.0/24
phyint pi1 downstream ratelimit 0 threshold 1
phyint pi2 disabled
phyint pi3 disabled
phyint pi4 disabled
phyint lo disabled
CONF
	# igmpproxy keeps the MFC entry after a leave until its route ages out
	# at a general query (minutes), so each join gets a fresh igmpproxy; the
	# stream starts 0.5 s before the join (its upcall leaves an unresolved
	# MFC entry, as on a live router).
	for rep in $(seq "$REPS"); do
		ip netns exec "$R" "$IGMPPROXY" -n -d -v "$TMP/igmpproxy.conf" >"$TMP/igmpproxy.log" 2>&1 &
		DAEMON=$!
		sleep 1.5
		if ! kill -0 "$DAEMON" 2>/dev/null; then
			note_error igmpproxy "igmpproxy exited at start: $(tail -1 "$TMP/igmpproxy.log" | cut -c1-160)"
			DAEMON=
			break
		fi
		first igmpproxy 1 "-$rep"
		stop_daemon
	done
	first_report igmpproxy
fi

errors_json=$($PY -c "import json,sys; print(json.dumps(dict(a.split('=',1) for a in sys.argv[1:])))" "${ERRORS[@]}")
meta=$($PY -c "
import json, sys
errors, rounds, window, warmup, cpus, payload, fpps, reps, mode, smc, ipx, fwd = sys.argv[1:13]
print(json.dumps({'errors': json.loads(errors), 'rounds_n': int(rounds), 'window_s': float(window),
  'warmup_s': float(warmup), 'generator_cpus': cpus.split(), 'forwarder_cpu': int(fwd), 'payload_bytes': int(payload),
  'frame_bytes': 14 + 20 + 8 + int(payload), 'first_packet_stream_pps': int(fpps), 'first_packet_joins': int(reps),
  'xdp_attach': mode or 'unknown', 'smcroute_version': smc, 'igmpproxy_version': ipx,
  'notes': 'pps = frames delivered per second summed over the outputs (h1..hN rx_packets); input_pps = that / fan-out; '
           'offered_pps = the generators\' frames (uo tx_packets + tx_dropped); loss = 1 - delivered / (offered x fan-out). '
           'The generator runs on generator_cpus; po\'s threaded NAPI kthread (GRO on po and h*, TSO off on uo) on '
           'forwarder_cpu, where R\'s receive, the forwarding and the receivers\' stack run: pps is what that core '
           'forwards, the offered load is above it (none = no forwarder, the generator\'s ceiling) and the excess backs '
           'up into the generator (uo tx_dropped). kernel = xigmp forwarding: kernel (the MFC, with xigmp\'s XDP IGMP '
           'classifier still attached to po); smcroute = the MFC with no XDP program on po. xigmp attaches its XDP program with auto, which picks generic XDP on veth '
           '(xdp_attach); XDP redirects therefore run on skbs. first_packet = host report leaving h1 -> first data frame '
           'of the group arriving on h1 (one socket, kernel timestamps); the stream period (1/first_packet_stream_pps) '
           'adds up to one period.'}))" \
	"$errors_json" "$ROUNDS" "$WINDOW" "$WARMUP" "$GEN_CPUS" "$PAYLOAD" "$FIRST_PPS" "$REPS" "$xdp_mode" \
	"$(dpkg-query -W -f='${Version}' smcroute 2>/dev/null || echo none)" \
	"$(dpkg-query -W -f='${Version}' igmpproxy 2>/dev/null || echo none)" "$FWD_CPU")
$PY bench/e2e/forwarding.py summarize --meta "$meta" "${FILES[@]}"
