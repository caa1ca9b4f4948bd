# lib.sh - shared helpers for the namespace integration tests, the demos
# and the benchmarks. Sourced.
#
# Every script makes its own namespaces with unique names (prefix + PID)
# and tears them down from the EXIT trap set here, pass or fail (also on
# Ctrl-C or SIGTERM).  Traffic stays inside them; nothing touches the
# machine's own interfaces.  What a script needs undone besides its
# namespaces, temporary directories (tmp_dir) and daemon (start_daemon) it
# adds to T_CLEANUP_HOOKS; never a trap of its own.
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
has_feature() { [ "$("$XIGMP" doctor --json | feature_state "$1")" = yes ]; }
# feature_state KEY: yes or no as the `xigmp doctor --json` output on stdin
# says this kernel has capability KEY; unknown when it does not say.
feature_state() {
	case $(jsonq "capabilities/$1" 2>/dev/null) in True) echo yes ;; False) echo no ;; *) echo unknown ;; esac
}
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

# T_CLEANUP_HOOKS: commands (a function, or a line eval'd) run at exit,
# the last added first, before the daemon is stopped and the namespaces and
# temporary directories go.
T_CLEANUP_HOOKS=()
T_TMPDIRS=()
cleanup() {
	set +e   # a script under set -e (the demos) still undoes everything
	local _i   # the hooks see the script's variables, not a local of ours
	for ((_i = ${#T_CLEANUP_HOOKS[@]} - 1; _i >= 0; _i--)); do eval "${T_CLEANUP_HOOKS[_i]}"; done
	stop_daemon 5
	del_ns "${T_NETNS[@]}"
	rm -rf "${T_TMPDIRS[@]}"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP   # the EXIT trap runs on these too

# tmp_dir VAR [TEMPLATE]: a new directory (mktemp -d TEMPLATE) in VAR,
# removed at exit.
tmp_dir() {
	local _tmp_dir
	_tmp_dir=$(mktemp -d ${2:+"$2"}) || { echo "FAIL: cannot make a temporary directory" >&2; exit 1; }
	T_TMPDIRS+=("$_tmp_dir")
	printf -v "$1" %s "$_tmp_dir"
}

# new_ns NAME: a namespace with lo up and IPv6 off (no ND/MLD noise).
new_ns() {
	ip netns add "$1" || { echo "FAIL: cannot create netns $1" >&2; exit 1; }
	T_NETNS+=("$1")
	ip -n "$1" link set lo up
	ip netns exec "$1" sysctl -qw net.ipv6.conf.all.disable_ipv6=1 net.ipv6.conf.default.disable_ipv6=1
}
# del_ns NAME...: those namespaces gone now (what xigmp pinned there
# unloaded first), no longer torn down at exit.
del_ns() {
	local ns n keep=()
	for ns in "$@"; do
		"$XIGMP" --netns "$ns" unload --all --force >/dev/null 2>&1
		ip netns del "$ns" 2>/dev/null
	done
	for n in "${T_NETNS[@]}"; do
		[[ " $* " == *" $n "* ]] || keep+=("$n")
	done
	T_NETNS=("${keep[@]}")
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

# The daemon: `xigmp run` in $DAEMON_NS with its control socket at $SOCK
# (the config's control.socket), logging to $DAEMON_LOG ($TMP/daemon.log
# by default); its pid in DAEMON. Scripts set DAEMON_NS, SOCK and TMP; one
# daemon at a time (stop_daemon, or the exit, ends it).
DAEMON=
# start_daemon CONFIG [WRAPPER...]: start it (under WRAPPER, e.g. taskset
# -c 0), and wait up to DAEMON_WAIT seconds (5) for its control socket;
# when it does not come up: its log on stderr, the daemon stopped, status 1.
start_daemon() {
	local config=$1 log=${DAEMON_LOG:-$TMP/daemon.log} i
	shift
	rm -f "$SOCK"   # a dead daemon's socket file must not pass for this one's
	"$@" "$XIGMP" --netns "$DAEMON_NS" run --config "$config" >"$log" 2>&1 &
	DAEMON=$!
	# DAEMON_WAIT seconds (5), stretched by TIME_SCALE: start-up attaches
	# programs to every interface, slow under the emulated guest.
	local tenths
	tenths=$(awk -v a="${DAEMON_WAIT:-5}" -v s="$TIME_SCALE" 'BEGIN { printf "%d", a * s * 10 }')
	for ((i = 0; i < tenths; i++)); do
		[ -S "$SOCK" ] && return 0
		kill -0 "$DAEMON" 2>/dev/null || break
		sleep 0.1
	done
	echo "daemon did not start:" >&2; cat "$log" >&2
	stop_daemon 5
	return 1
}
# stop_daemon [SECONDS]: SIGTERM to the daemon; its exit status (1 when
# there is none). With SECONDS, SIGKILL if it is still there after them.
stop_daemon() {
	[ -n "$DAEMON" ] || return 1
	stop_pid "$DAEMON" "$@"
	local rc=$?
	DAEMON=
	return $rc
}
# stop_pid PID [SECONDS]: SIGTERM to a child and its exit status (none to
# stop when PID is empty); with SECONDS, SIGKILL if it is still there after
# them.
stop_pid() {
	local i
	[ -n "$1" ] || return 0
	kill -TERM "$1" 2>/dev/null || return 1
	if [ -n "${2:-}" ]; then
		for ((i = 0; i < $2 * 10; i++)); do kill -0 "$1" 2>/dev/null || break; sleep 0.1; done
		kill -KILL "$1" 2>/dev/null
	fi
	wait "$1" 2>/dev/null
}

# listen NS IF SECONDS [NAME]: IGMP seen there (dump JSON lines), in the
# background into $TMP/NAME.json (NAME defaults to NS).
listen() { timeout "$3" "$XIGMP" --netns "$1" dump --iface "$2" --datapath kernel --json >"$TMP/${4:-$1}.json" 2>/dev/null & }
# seen NAME CONDITION: how many of those lines match (CONDITION: a Python
# expression over d, the line's object; jsonl_count.py).
seen() { jsonl_count "$TMP/$1.json" "$2"; }
