# lib.sh - shared helpers for the namespace integration tests. Sourced.
#
# Every test makes its own namespaces with unique names (prefix + PID) and
# tears them down from an EXIT trap, pass or fail.  Traffic stays inside
# them; nothing touches the machine's own interfaces.
set -uo pipefail

XIGMP=${XIGMP:-.build/debug/xigmp}
PY=${PY:-/usr/bin/python3}   # Debian's python3-scapy lives there
T_DIR=$(dirname "${BASH_SOURCE[0]}")   # this directory: the Python tools beside lib.sh
T_FAILS=0
T_PASSES=0
T_SKIPS=0
# TIME_SCALE stretches the tests' waits and windows (sl, scaled) on a slow
# machine: make test-kernel's emulated guest runs them at 4.
TIME_SCALE=${TIME_SCALE:-1}
scaled() { awk -v a="$1" -v s="$TIME_SCALE" 'BEGIN { printf "%g", a * s }'; }
sl() { sleep "$(scaled "$1")"; }
# want SECTION: FWD_SECTIONS (space-separated) is unset or names SECTION.
want() { [ -z "${FWD_SECTIONS:-}" ] || [[ " $FWD_SECTIONS " == *" $1 "* ]]; }
T_NETNS=()

fail() { echo "  FAIL: $*"; T_FAILS=$((T_FAILS + 1)); }
pass() { echo "  ok: $*"; T_PASSES=$((T_PASSES + 1)); }
check() { # check DESCRIPTION COMMAND... : passes when the command succeeds
	local d=$1; shift
	if "$@"; then pass "$d"; else fail "$d"; fi
}
# skip REASON DESCRIPTION: a check that cannot run here, with the missing
# feature named (run.sh and the test summary count skips by REASON).
skip() { echo "  SKIP: $2 [$1]"; T_SKIPS=$((T_SKIPS + 1)); }
# has_feature KEY: the capability probe (`xigmp doctor --json`) says KEY
# (ip_mroute, tcx, clsact, ...) is present.
has_feature() { "$XIGMP" doctor --json | jsonq --test "capabilities/$1"; }
# jsonq [OPTIONS] PATH...: values at key paths of the JSON on stdin (jsonq.py).
jsonq() { $PY "$T_DIR/jsonq.py" "$@"; }
# jsonl_count FILE CONDITION: FILE's JSON lines for which CONDITION holds (jsonl_count.py).
jsonl_count() { $PY "$T_DIR/jsonl_count.py" "$@"; }
# num_cmp A OP B: A and B are numbers and A OP B (<, <=, >, >=, ==) holds;
# anything else ("none", "") fails.
num_cmp() {
	awk -v a="$1" -v op="$2" -v b="$3" 'BEGIN {
		n = "^[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)([eE][-+]?[0-9]+)?$"
		if (a !~ n || b !~ n) exit 1
		a += 0; b += 0
		exit !(op == "<" ? a < b : op == "<=" ? a <= b : op == ">" ? a > b : op == ">=" ? a >= b : op == "==" ? a == b : 0)
	}'
}
expect_eq() { # expect_eq DESCRIPTION EXPECTED ACTUAL
	if [ "$2" == "$3" ]; then pass "$1 ($3)"; else fail "$1: expected '$2', got '$3'"; fi
}

require_root() {
	if [ "$(id -u)" != 0 ]; then
		echo "FAIL: integration tests create namespaces and load XDP: run as root (sudo make test)" >&2
		exit 1
	fi
	[ -x "$XIGMP" ] || { echo "FAIL: $XIGMP not built: run make test" >&2; exit 1; }
	$PY "$T_DIR/has_module.py" scapy || { echo "FAIL: scapy missing for $PY: make test installs python3-scapy" >&2; exit 1; }
}

cleanup() {
	for ns in "${T_NETNS[@]}"; do
		"$XIGMP" --netns "$ns" unload --all --force >/dev/null 2>&1
		ip netns del "$ns" 2>/dev/null
	done
}
trap cleanup EXIT

# new_ns NAME: a namespace with lo up and IPv6 off (no ND/MLD noise).
new_ns() {
	ip netns add "$1" || { echo "FAIL: cannot create netns $1" >&2; exit 1; }
	T_NETNS+=("$1")
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}

# veth_pair NS1 IF1 ADDR1 NS2 IF2 [ADDR2]: both ends up (IF2 without an
# address when ADDR2 is empty or left out).
veth_pair() {
	ip -n "$1" link add "$2" type veth peer name "$5" netns "$4"
	ip -n "$1" addr add "$3" dev "$2"
	[ -z "${6:-}" ] || ip -n "$4" addr add "$6" dev "$5"
	ip -n "$1" link set "$2" up
	ip -n "$4" link set "$5" up
}

# bridge_port NS BRIDGE PORT IF_NS IF ADDR/LEN: a veth from IF (in IF_NS,
# with ADDR) to PORT, a port of BRIDGE in NS; both ends up.
bridge_port() {
	veth_pair "$4" "$5" "$6" "$1" "$3"
	ip -n "$1" link set "$3" master "$2"
}

# counter NS IFACE KEY: one counter from `xigmp stats --json`.
counter() { "$XIGMP" --netns "$1" stats --iface "$2" --json | jsonq "interfaces/0/counters/$3"; }

# counters NS IFACE: all counters as "key=value ..." sorted.
counters() { "$XIGMP" --netns "$1" stats --iface "$2" --json | jsonq --pairs interfaces/0/counters; }

# delta BEFORE AFTER: the counters that changed, "key=+n ...".
delta() {
	local -A was=()
	local kv k out=()
	for kv in $1; do was[${kv%%=*}]=${kv#*=}; done
	for kv in $2; do
		k=${kv%%=*}
		[ "${kv#*=}" -ne "${was[$k]}" ] && out+=("$k=+$((${kv#*=} - was[$k]))")
	done
	echo "${out[*]}"
}

finish() {
	echo "$T_PASSES passed, $T_FAILS failed, $T_SKIPS skipped"
	[ "$T_FAILS" == 0 ]
}

# expect_exit DESC RC PATTERN CMD...: CMD exits with RC and prints PATTERN (ERE).
expect_exit() {
	local d=$1 rc=$2 pat=$3 out got
	shift 3
	out=$("$@" 2>&1); got=$?
	if [ "$got" == "$rc" ] && grep -qE -- "$pat" <<<"$out"; then pass "$d"; else fail "$d: exit $got, output: $out"; fi
}

# The daemon under test: run in $DAEMON_NS with its control socket at $SOCK,
# logging to $TMP/daemon.log. Scripts set DAEMON_NS, SOCK and TMP, and call
# stop_daemon from their EXIT trap.
DAEMON=
start_daemon() { # start_daemon CONFIG: run it, wait for its control socket
	"$XIGMP" --netns "$DAEMON_NS" run --config "$1" >"$TMP/daemon.log" 2>&1 &
	DAEMON=$!
	for _ in $(seq 50); do [ -S "$SOCK" ] && return 0; sleep 0.1; done
	echo "daemon did not start:"; cat "$TMP/daemon.log"; return 1
}
stop_daemon() { [ -n "$DAEMON" ] && kill -TERM "$DAEMON" 2>/dev/null && wait "$DAEMON"; local rc=$?; DAEMON=; return $rc; }

# listen NS IF SECONDS [NAME]: IGMP seen there (dump JSON lines), in the
# background into $TMP/NAME.json (NAME defaults to NS).
listen() { timeout "$3" "$XIGMP" --netns "$1" dump --iface "$2" --datapath kernel --json >"$TMP/${4:-$1}.json" 2>/dev/null & }
# seen NAME CONDITION: how many of those lines match (CONDITION: a Python
# expression over d, the line's object; jsonl_count.py).
seen() { jsonl_count "$TMP/$1.json" "$2"; }
