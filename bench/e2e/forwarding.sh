#!/usr/bin/env bash
# forwarding.sh - multicast data forwarding, xigmp's two forwarding
# paths (XDP and TC, no kernel MFC) against what any kernel has (the Linux
# bridge, tc mirred) and, where the kernel routes multicast
# (CONFIG_IP_MROUTE), against the kernel MFC driven by xigmp, smcroute and
# igmpproxy.
#
#   [U] uo 10.91.0.2 ── veth ── po 10.91.0.1 [R: router] pi1..pi4 ── veth ── h1..h4 [S: receivers]
#
# 1. Capacity: U blasts one (S,G) = (10.91.0.2, 232.1.1.1) stream of
#    64-byte-payload UDP frames flat out (bench/e2e/mcast_blast.c, compiled
#    here with cc: AF_PACKET, sendmmsg batches of 64, PACKET_QDISC_BYPASS;
#    one sender on CPU GEN_CPUS).  R forwards it to 1, 2 or 4 of pi1..pi4;
#    S's kernel receives (and drops) it.  Counted from interface counters
#    over WINDOW s after WARMUP s (bench/e2e/forwarding.py window): offered =
#    uo tx_packets + tx_dropped, forwarded = the sum of h1..hN rx_packets.
#    Configurations, rotated every round:
#      xdp_fanoutN      `xigmp run`, membership: track, forwarding: {mode: xdp},
#                       routes: [{group, source, out: [pi1..piN]}], xdpMode
#                       auto (generic XDP on veth): the entry takes the "xdp"
#                       path (devmap redirect), checked in `xigmp routes --json`
#      tc_fanoutN       the same with xdpMode: native: the receivers' veths
#                       (h*) run no NAPI (GRO off, no XDP), so pi* cannot
#                       take XDP frames (no NDO_XMIT) and the entry takes the
#                       "tc" path (TC ingress on po, bpf_clone_redirect per
#                       egress), checked likewise
#      bridge_fanoutN   no xigmp: R puts po and pi1..pi4 in a Linux bridge
#                       (br0) with IGMP snooping on, the bridge as querier, and
#                       a permanent mdb entry for G on pi1..piN (what the
#                       hosts' joins would install, without making the
#                       receivers' kernels members): only those ports get the
#                       stream (h(N+1)..h4 are counted to check it; flooding,
#                       if it happened, is reported as bridge_forwarding)
#      mirred_fanoutN   no xigmp: a u32 filter on po's clsact ingress matching
#                       (S,G) with `action mirred egress mirror dev piK` for
#                       K < N and `mirred egress redirect dev piN` (plain tc
#                       from iproute2; no TTL decrement, no MAC rewrite)
#      kernel_fanoutN   xigmp with forwarding: {mode: kernel} (the MFC)     \  only with
#      smcroute_fanout1 Debian's smcrouted, `mroute from po source S group G to pi1` /  CONFIG_IP_MROUTE
#      none             nothing on R (the kernel drops the stream): the
#                       generator's own ceiling
#    Whether the kernel routes multicast is asked of `xigmp doctor --json`
#    (capabilities.ip_mroute, MRT_INIT tried), not guessed from its version;
#    without it the MFC figures (kernel_*, smcroute_*, igmpproxy's first
#    packet) are null with "<key>_reason": "kernel lacks CONFIG_IP_MROUTE".
# 2. Join to first forwarded packet: U sends a steady FIRST_PPS stream to
#    239.1.2.3; S joins it on h1 (`ip addr add G/32 dev h1 autojoin`),
#    REPS times (leave, wait until the data stops, join); per join the time
#    from the report leaving h1 to the first data frame arriving on h1, both
#    kernel timestamps of one AF_PACKET socket (forwarding.py firstpacket).
#      xigmp      membership: track, forwarding: {mode: xdp}, inside pi1
#      igmpproxy  Debian's igmpproxy (po upstream, pi1 downstream, quickleave);
#                 needs CONFIG_IP_MROUTE
#
# The forwarder gets a core of its own.  By default a veth delivers in the
# sender's softirq on the sender's core, so the rate would be
# 1 / (send + forward + receive) and the generator's cost would dilute every
# ratio.  Instead po runs threaded NAPI (GRO on, so the veth queues frames to
# its NAPI; TSO off on uo, or veth finds the frames ineligible and delivers
# them inline) and its kthread is pinned to FWD_CPU, the generator to
# GEN_CPUS: R's receive, the forwarding (XDP, TC, the bridge, mirred or the
# MFC) and the receivers' stack all run on FWD_CPU, which saturates; the
# offered load is above what any forwarder here takes (`none`, nothing
# forwarding, is the generator's ceiling), and what a forwarder cannot take
# backs up into the generator (uo tx_dropped, counted as offered).  GRO is
# RECEIVER_GRO (off) on h1..h4 in every configuration, so the receivers cost
# the same whatever forwards (and the tc_* entries take the TC path).
#
# Needs root, cc, ethtool, tc and bridge (iproute2); smcroute and igmpproxy
# where the kernel routes multicast (scripts/deps.sh bench): a baseline that
# is missing there is recorded as an error object.  One JSON object on
# stdout, progress on stderr.  Env: ROUNDS (3), WINDOW (s, 4), WARMUP (s, 1),
# GEN_CPUS (0), FWD_CPU (1), PAYLOAD (64), FIRST_PPS (10000), REPS (20),
# RECEIVER_GRO (off), FWD_CONFIGS (space-separated configurations to run
# instead of all, for trying things), BENCH_QUICK=1 (1 round, 2 s windows,
# 6 joins); REPS=0 skips the first-packet part.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 1
XIGMP=${XIGMP:-.build/release/xigmp}
source netns-tests/lib.sh   # namespaces, veths, the daemon, teardown at exit
RT=()
if command -v chrt >/dev/null && chrt -f 50 true 2>/dev/null; then RT=(chrt -f 50); fi
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
RECEIVER_GRO=${RECEIVER_GRO:-off}
SRC=10.91.0.2 GROUP=232.1.1.1 JGROUP=239.1.2.3
NO_MROUTE="kernel lacks CONFIG_IP_MROUTE"
log() { echo "forwarding: $*" >&2; }
[ "$(id -u)" == 0 ] || { log "needs root (namespaces, XDP, TC, bridges): sudo $0"; exit 1; }
[ -x "$XIGMP" ] || { log "$XIGMP missing: run make build"; exit 1; }
for t in ethtool tc bridge; do
	command -v $t >/dev/null || { log "$t missing (scripts/deps.sh bench installs ethtool; tc and bridge are iproute2's)"; exit 1; }
done
case $RECEIVER_GRO in on | off) ;; *) log "RECEIVER_GRO is on or off, not '$RECEIVER_GRO'"; exit 1 ;; esac

TAG=xgbf-$$
U=$TAG-u R=$TAG-r S=$TAG-s
tmp_dir TMP /tmp/xigmp-fwd.XXXXXX
# The forwarder under test: xigmp, smcrouted or igmpproxy, one at a time (DAEMON).
DAEMON_NS=$R SOCK=$TMP/xigmp.sock DAEMON_WAIT=10
BASELINE=	# bridge / mirred while one is set up on R
GENS=()
stop_gens() {
	local p
	for p in "${GENS[@]}"; do kill -TERM "$p" 2>/dev/null; done
	for p in "${GENS[@]}"; do wait "$p" 2>/dev/null; done
	GENS=()
}
stop_baseline() { # takes down the bridge ports or the mirred filter
	case $BASELINE in
	bridge)
		for p in po pi1 pi2 pi3 pi4; do ip -n "$R" link set "$p" nomaster 2>/dev/null; done
		ip -n "$R" link set br0 type bridge mcast_querier 0 2>/dev/null ;;
	mirred) tc -n "$R" qdisc del dev po clsact 2>/dev/null ;;
	esac
	BASELINE=
}
T_CLEANUP_HOOKS+=(stop_baseline stop_gens)   # the generators first

BLAST=$TMP/mcast_blast
$CC -O2 -o "$BLAST" bench/e2e/mcast_blast.c || { log "cannot compile bench/e2e/mcast_blast.c with $CC"; exit 1; }

for ns in $U $R $S; do new_ns "$ns"; done

# What this kernel can do, asked in R (MRT_INIT is tried there, so the
# machine's own namespace is left alone).
if "$XIGMP" --netns "$R" doctor --json >"$TMP/doctor.json" 2>"$TMP/doctor.err"; then
	IP_MROUTE=$(feature_state ip_mroute <"$TMP/doctor.json")
else
	log "xigmp doctor --json failed ($(tail -1 "$TMP/doctor.err")): trying the MFC baselines anyway"
	echo '{}' >"$TMP/doctor.json"
	IP_MROUTE=unknown
fi
log "kernel $(uname -r): ip_mroute $IP_MROUTE (xigmp doctor)$([ "$IP_MROUTE" = no ] && echo ": the kernel MFC, smcroute and igmpproxy figures are n/a")"

veth_pair "$U" uo $SRC/24 "$R" po 10.91.0.1/24
for i in 1 2 3 4; do veth_pair "$R" "pi$i" "10.92.$i.1/24" "$S" "h$i" "10.92.$i.2/24"; done
# The bridge baseline's bridge, ports added per run: IGMP snooping with the
# bridge as querier (without a querier a snooping bridge floods), a 1 s
# response interval so its start-up delay is over within the first run.
ip -n "$R" link add br0 type bridge mcast_snooping 1 mcast_query_response_interval 100 ||
	{ log "cannot create a bridge in $R"; exit 1; }
ip -n "$R" link set br0 up
# S's replies to the inside querier / igmpproxy's queries stay on v3 (the default).
ip netns exec "$R" sysctl -qw net.ipv4.igmp_max_memberships=64
# The forwarder on a core of its own (see the top): threaded NAPI on po.
ip netns exec "$U" ethtool -K uo tso off >/dev/null || { log "ethtool -K uo tso off failed"; exit 1; }
ip netns exec "$R" ethtool -K po gro on >/dev/null || { log "ethtool -K po gro on failed"; exit 1; }
for i in 1 2 3 4; do
	ip netns exec "$S" ethtool -K "h$i" gro "$RECEIVER_GRO" >/dev/null || { log "ethtool -K h$i gro $RECEIVER_GRO failed"; exit 1; }
done
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

ERRORS=()	# label=reason, folded into the JSON as {"error": reason}
note_error() { ERRORS+=("$1=$2"); log "$1: $2"; }
UNAVAILABLE=()	# label=reason, folded into the JSON as null + <key>_reason
note_unavailable() { UNAVAILABLE+=("$1=$2"); }
PATHS=()	# label=path, what `xigmp routes --json` said each xigmp run forwarded on

outs_list() { local n=$1 i l=; for i in $(seq "$n"); do l+="${l:+, }pi$i"; done; echo "$l"; }

start_xigmp() { # start_xigmp MODE FANOUT|join LOG [XDPMODE]
	local routes=""
	[ "$2" = join ] || routes="routes:
  - {group: $GROUP, source: $SRC, out: [$(outs_list "$2")]}"
	cat >"$TMP/xigmp.yaml" <<YAML
interfaces: {outside: po, inside: pi1}
control: {socket: $TMP/xigmp.sock}
modes: {queryNotify: true}
membership: track
querier:
  inside: {queryInterval: 10s, queryResponseInterval: 1s, lastMemberQueryInterval: 200ms}
logLevel: notice
xdpMode: ${4:-auto}
forwarding: {mode: $1}
$routes
YAML
	DAEMON_LOG=$3 start_daemon "$TMP/xigmp.yaml" || { log "xigmp ($1) did not start"; return 1; }
	[ "$2" = join ] && return 0
	for _ in $(seq 50); do
		"$XIGMP" routes --socket "$TMP/xigmp.sock" --json >"$TMP/routes.json" 2>/dev/null &&
			grep -q "$GROUP" "$TMP/routes.json" && return 0
		sleep 0.1
	done
	log "xigmp ($1): the static route did not show up in xigmp routes"; stop_daemon 5; return 1
}
route_path() { # the path(s) xigmp's entry for (SRC, GROUP) takes, from the last routes --json
	jsonq -f "$TMP/routes.json" --set --join , --default none "routes/[group=$GROUP]/path" \
		2>/dev/null || echo unknown
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
	log "smcrouted did not install the route:"; tail -5 "$2" >&2; stop_daemon 5; return 1
}
start_bridge() { # start_bridge FANOUT: po, pi1..pi4 in br0, G registered on pi1..piN
	local p i
	BASELINE=bridge
	for p in po pi1 pi2 pi3 pi4; do ip -n "$R" link set "$p" master br0 || return 1; done
	# The querier timer starts when mcast_querier is set: set it with the
	# ports in, and wait out the response interval (1 s) before the mdb
	# entries are used instead of flooding.
	ip -n "$R" link set br0 type bridge mcast_querier 1 || return 1
	for i in $(seq "$1"); do
		bridge -n "$R" mdb add dev br0 port "pi$i" grp $GROUP permanent || return 1
	done
	sleep 1.5
}
start_mirred() { # start_mirred FANOUT: (S,G) on po's ingress mirrored to pi1..pi(N-1), redirected to piN
	local i acts=()
	BASELINE=mirred
	for i in $(seq $(($1 - 1))); do acts+=(action mirred egress mirror dev "pi$i"); done
	acts+=(action mirred egress redirect dev "pi$1")
	tc -n "$R" qdisc add dev po clsact || return 1
	tc -n "$R" filter add dev po ingress protocol ip pref 10 u32 \
		match ip src $SRC/32 match ip dst $GROUP/32 "${acts[@]}" || return 1
}
start_gens() { # start_gens GROUP SECONDS [PPS]: one sender per GEN_CPUS core (one if paced)
	local cpu cpus=$GEN_CPUS rt=() rate=${3:-}
	if [ -n "$rate" ]; then
		cpus=${GEN_CPUS%% *}
		# The paced stream stands for another machine, as in zap.sh: real-
		# time priority so the forwarder's turn at a join cannot hold its
		# frames back, and 0.1 % slow so their phase to the tick that
		# releases the host's report varies from join to join.
		rt=("${RT[@]}")
		rate=$(awk -v r="$rate" 'BEGIN { printf "%.3f", r * 0.999 }')
	fi
	for cpu in $cpus; do
		ip netns exec "$U" "${rt[@]}" taskset -c "$cpu" "$BLAST" uo $SRC "$1" "$PAYLOAD" "$2" $rate \
			>"$TMP/gen-$cpu.out" 2>>"$TMP/gen.err" &
		GENS+=($!)
	done
}

# ---- 1. capacity
if [ -n "${FWD_CONFIGS:-}" ]; then
	read -ra CONFIGS <<<"$FWD_CONFIGS"
else
	CONFIGS=()
	for f in 1 2 4; do
		CONFIGS+=(xdp_fanout$f tc_fanout$f bridge_fanout$f mirred_fanout$f kernel_fanout$f)
		[ $f = 1 ] && CONFIGS+=(smcroute_fanout1)
	done
	CONFIGS+=(none)
fi
if [ "$IP_MROUTE" = no ]; then	# the MFC baselines cannot run: n/a, not errors
	kept=()
	for cfg in "${CONFIGS[@]}"; do
		case $cfg in kernel_* | smcroute_*) note_unavailable "$cfg" "$NO_MROUTE" ;; *) kept+=("$cfg") ;; esac
	done
	CONFIGS=("${kept[@]}")
elif [ ! -x "$SMCROUTED" ]; then
	kept=()
	for cfg in "${CONFIGS[@]}"; do
		case $cfg in
		smcroute_*) note_error "$cfg" "smcrouted not installed (scripts/deps.sh bench installs smcroute)" ;;
		*) kept+=("$cfg") ;;
		esac
	done
	CONFIGS=("${kept[@]}")
fi
log "capacity: ${#CONFIGS[@]} configurations x $ROUNDS rounds of ${WARMUP}+${WINDOW} s: ${CONFIGS[*]}"
FILES=()
declare -A FAILED=()
for round in $(seq "$ROUNDS"); do
	n=${#CONFIGS[@]}
	for k in $(seq 0 $((n - 1))); do
		cfg=${CONFIGS[$(((k + round - 1) % n))]}
		[ -n "${FAILED[$cfg]:-}" ] && continue
		fan=${cfg##*fanout}; [ "$cfg" = none ] && fan=1
		want=
		case $cfg in
		xdp_*) want=xdp; start_xigmp xdp "$fan" "$TMP/$cfg.log" auto ;;
		tc_*) want=tc; start_xigmp xdp "$fan" "$TMP/$cfg.log" native ;;
		kernel_*) want=kernel; start_xigmp kernel "$fan" "$TMP/$cfg.log" ;;
		smcroute_*) start_smcroute "$fan" "$TMP/$cfg.log" ;;
		bridge_*) start_bridge "$fan" 2>"$TMP/$cfg.log" ;;
		mirred_*) start_mirred "$fan" 2>"$TMP/$cfg.log" ;;
		none) true ;;
		*) false ;;
		esac || {
			FAILED[$cfg]=1
			case $cfg in
			xdp_* | tc_* | kernel_*) why="xigmp did not start" ;;
			smcroute_*) why="smcrouted did not install the route" ;;
			none) why="?" ;;
			*) why="unknown configuration" ;;
			esac
			note_error "$cfg" "$why: $(tail -1 "$TMP/$cfg.log" 2>/dev/null | cut -c1-160)"
			stop_daemon 5; stop_baseline
			continue
		}
		if [ -n "$want" ]; then	# which path xigmp put the entry on
			path=$(route_path)
			[ "$round" = 1 ] && PATHS+=("$cfg=$path")
			if [ "$path" != "$want" ]; then
				FAILED[$cfg]=1
				note_error "$cfg" "xigmp routes --json says path $path, not $want (the figure would be mislabelled)"
				stop_daemon 5
				continue
			fi
		fi
		[ "$(pin_napi)" -ge 1 ] || log "warning: po's NAPI kthread is gone ($cfg)"
		outs=() idle=()
		for i in 1 2 3 4; do
			if [ "$cfg" != none ] && [ "$i" -le "$fan" ]; then outs+=("$S:h$i"); else idle+=("$S:h$i"); fi
		done
		out=$TMP/run-$cfg-$round.json
		$PY bench/e2e/forwarding.py window --label "$cfg" --round "$round" --gen "$U:uo" --router "$R:po" \
			--out "${outs[@]}" --idle "${idle[@]}" --warmup "$WARMUP" --window "$WINDOW" >"$out" &
		win=$!
		for _ in $(seq 100); do grep -q ready "$out" && break; sleep 0.05; done
		start_gens $GROUP "$(awk -v a="$WARMUP" -v b="$WINDOW" 'BEGIN {print a + b + 1}')"
		wait "$win"
		stop_gens
		stop_daemon 5
		stop_baseline
		if [ "$(wc -l <"$out")" -ge 2 ]; then
			FILES+=("$out")
			$PY bench/e2e/forwarding.py report-window "$out"
		fi
		ip -n "$R" mroute show 2>/dev/null | grep -q . && log "warning: MFC entries left after $cfg: $(ip -n "$R" mroute show | head -2 | tr '\n' ' ')"
	done
done
xdp_mode=$(grep -ho "auto mode: [a-z]* XDP on po[^)]*)" "$TMP"/xdp_fanout*.log 2>/dev/null | head -1)

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
	$PY bench/e2e/forwarding.py report-first "$1" "$TMP"/first-"$1"*.json
}
if [ "$REPS" -gt 0 ]; then
	log "first packet: xigmp (track, forwarding xdp), $REPS joins, stream $FIRST_PPS pps"
	if start_xigmp xdp join "$TMP/xigmp-join.log"; then
		first xigmp
		stop_daemon 5
		first_report xigmp
	else
		note_error xigmp "xigmp did not start: $(tail -1 "$TMP/xigmp-join.log" | cut -c1-160)"
	fi
fi
if [ "$REPS" -le 0 ]; then
	true
elif [ "$IP_MROUTE" = no ]; then
	note_unavailable igmpproxy "$NO_MROUTE"
	log "first packet: igmpproxy: n/a ($NO_MROUTE)"
elif [ ! -x "$IGMPPROXY" ]; then
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
phyint br0 disabled
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
		stop_daemon 5
	done
	first_report igmpproxy
fi

cpu=$(awk -F': ' '/^model name/ {print $2; exit}' /proc/cpuinfo)
meta=$($PY bench/e2e/forwarding.py meta --errors "${ERRORS[@]}" --unavailable "${UNAVAILABLE[@]}" --paths "${PATHS[@]}" \
	--doctor "$TMP/doctor.json" --ip-mroute "$IP_MROUTE" --rounds "$ROUNDS" --window "$WINDOW" --warmup "$WARMUP" \
	--generator-cpus "$GEN_CPUS" --forwarder-cpu "$FWD_CPU" --payload "$PAYLOAD" --first-pps "$FIRST_PPS" \
	--reps "$REPS" --xdp-attach "$xdp_mode" --receiver-gro "$RECEIVER_GRO" --kernel "$(uname -r)" --cpu "$cpu" \
	--smcroute-version "$(dpkg-query -W -f='${Version}' smcroute 2>/dev/null || echo none)" \
	--igmpproxy-version "$(dpkg-query -W -f='${Version}' igmpproxy 2>/dev/null || echo none)")
$PY bench/e2e/forwarding.py summarize --meta "$meta" "${FILES[@]}"
