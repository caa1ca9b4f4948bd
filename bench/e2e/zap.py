#!/usr/bin/env python3
"""Measurements for bench/e2e/zap.sh (channel zapping).

Every data frame carries the CLOCK_MONOTONIC ns of its send (zap_tool.c
source: "XZAP", group index, sequence, stamp), and every instant here is a
kernel receive timestamp of an AF_PACKET socket (SO_TIMESTAMPNS, which is
CLOCK_REALTIME): the two clocks are related by REALTIME - MONOTONIC read
back to back (`offset()`), taken again before every join, so a frame counts
as "sent after the join" when stamp + offset >= the join's wire time.

`single`: one host H behind the forwarder.  One capture socket on H's
interface (ETH_P_ALL: H's own reports leaving, the data arriving) and one on
the upstream U's interface (what the forwarder sends upstream).  Per warm
repetition: wait until no data of the group has arrived for --quiet s; join
(IP_ADD_MEMBERSHIP on a socket made in H); join instant = the first report
leaving H's interface that joins the group; latency = arrival of the first
frame sent after that instant.  Then leave (IP_DROP_MEMBERSHIP); leave
instant = the first report leaving H that leaves the group (IGMPv3 TO_IN{}
or a v2 leave); leave_stop = the last frame of the group arriving at H
(data stopped: --quiet s without one) minus the leave instant;
leave_upstream = the first report heard on U's interface after the leave
instant that leaves the group (the forwarder's, or with the bridge the
host's own, forwarded to the router port) minus the leave instant.  Cold
repetitions join a fresh group of the upstream's --cold prefix each time:
zap_tool source starts sending it only when a report reaches U, so the
latency is report -> forwarder -> upstream -> first frame -> forwarder -> H.

`sample`: while --stop does not exist, every --every s: the forwarder's
routes (its control socket, one request line, one reply line; or `bridge
-j mdb show` in a namespace for the bridge) with the monotonic instants
just before and after, one JSON line each.

`cpusnap PID`: /proc/PID/stat utime+stime, /proc/stat's cpu line, and the
monotonic time, as JSON.

`storm`: folds zap_tool storm's output and log, the upstream's log, the
route samples and two cpusnaps into one configuration's storm figures.

`report-single`, `report-storm`: one progress line on stderr about a
`single` or `storm` output.

`meta`: the run's settings, what failed or is unavailable, the paths xigmp
took, how busy the machine was before each phase and the notes, as the JSON
object `summarize --meta` takes.

`summarize`: every configuration's files into the one JSON object.
"""
import argparse
import ctypes
import json
import os
import select
import socket
import struct
import subprocess
import sys
import time

from join_latency import capture_socket, doctor_capabilities, pairs, pct, setns, stamped_frames  # noqa: E402

PACKET_OUTGOING = 4
CLONE_NEWNET = 0x40000000
libc = ctypes.CDLL(None, use_errno=True)
NO_FAST_LEAVE = "this build has no querier.<role>.fastLeave"

NOTES = (
    "Instants are kernel timestamps (SO_TIMESTAMPNS) of AF_PACKET sockets: the join/leave instant is the "
    "host report (IGMPv3 TO_EX / TO_IN{}) leaving the host interface, seen by a socket on that interface; "
    "data arrival is the frame arriving there. Every data frame carries its CLOCK_MONOTONIC send time; only "
    "frames sent after the join count for join figures (stamp + (REALTIME - MONOTONIC) >= join instant). "
    "leave_stop = last frame arriving - leave instant (data stopped: 0.3 s without a frame). Fast leave off: "
    "group-specific queries every last_member_query_interval, count 2 (xigmp lastMemberQueryInterval; the "
    "bridge mcast_last_member_interval). xdp/tc = xigmp forwarding: xdp with xdpMode auto (generic XDP, xdp "
    "path) or native (tc path, the hosts' veths run no NAPI); paths = what xigmp routes --json said. "
    "bridge = the Linux bridge snooping on the same veths (po a permanent router port, the bridge querier, "
    "IGMPv3, fastleave per port). Storm: one veth per host on the forwarder, hosts in one namespace "
    "(IGMP state is per interface), one IP_DROP + IP_ADD per zap; upstream reports = IGMP messages heard on "
    "uo during the storm / zaps; cpu = the daemon process (percent of one core) and the machine (all cores) "
    "over the storm; routes = groups with an entry (bridge: mdb groups with a port), live = groups some host "
    "watched during the sample, stale = entries whose group no host watched within stale_slack_ms before it. "
    "foreign_cpu_pct = CPU of processes that are not the benchmark's (other work on the VM) during the storm; "
    "busy_pct_before = the machine's busy share just before each phase (it waits up to QUIET_WAIT s for <= QUIET_BUSY %).")


def log(*a):
    print("zap:", *a, file=sys.stderr, flush=True)


def offset():
    """CLOCK_REALTIME - CLOCK_MONOTONIC in ns, read back to back."""
    a = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    r = time.clock_gettime_ns(time.CLOCK_REALTIME)
    b = time.clock_gettime_ns(time.CLOCK_MONOTONIC)
    return r - (a + b) // 2


def igmp_records(pkt):
    """(joins, leaves) of an IGMP report/leave (IPv4 header first), or None."""
    if len(pkt) < 28 or pkt[0] >> 4 != 4 or pkt[9] != 2:
        return None
    ihl = (pkt[0] & 0x0F) * 4
    g = pkt[ihl:]
    if len(g) < 8:
        return None
    t = g[0]
    if t in (0x12, 0x16):
        return [socket.inet_ntoa(g[4:8])], []
    if t == 0x17:
        return [], [socket.inet_ntoa(g[4:8])]
    if t != 0x22:
        return None
    joins, leaves = [], []
    off = 8
    for _ in range(struct.unpack("!H", g[6:8])[0]):
        if off + 8 > len(g):
            break
        rtype, aux, nsrc = g[off], g[off + 1], struct.unpack("!H", g[off + 2:off + 4])[0]
        grp = socket.inet_ntoa(g[off + 4:off + 8])
        if rtype in (2, 4) or (rtype in (1, 3, 5) and nsrc > 0):
            joins.append(grp)
        elif rtype in (1, 3) and nsrc == 0:
            leaves.append(grp)
        off += 8 + 4 * nsrc + 4 * aux
    return joins, leaves


def data_stamp(pkt):
    """(group, send CLOCK_MONOTONIC ns) of a zap_tool data frame, or None."""
    if len(pkt) < 20 or pkt[0] >> 4 != 4 or pkt[9] != 17:
        return None
    ihl = (pkt[0] & 0x0F) * 4
    p = pkt[ihl + 8:]
    if len(p) < 24 or p[:4] != b"XZAP":
        return None
    return socket.inet_ntoa(pkt[16:20]), struct.unpack("q", p[16:24])[0]


def in_netns(ns, fn):
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        setns(f"/run/netns/{ns}")
        return fn()
    finally:
        if libc.setns(home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back home")
        os.close(home)


# ------------------------------------------------------------------ single

class Host:
    """The host's interface (both directions) and the upstream's (incoming)."""

    def __init__(self, a):
        self.h = capture_socket(a.host_ns, a.host_if, outgoing=True)
        self.u = capture_socket(a.up_ns, a.up_if, outgoing=False)
        self.msock, self.ifindex = in_netns(
            a.host_ns, lambda: (socket.socket(socket.AF_INET, socket.SOCK_DGRAM), socket.if_nametoindex(a.host_if)))
        self.reset(None)

    def reset(self, group):
        self.group = group
        self.after = None           # the instant (realtime ns) reports must follow
        self.report = None          # H's report (join or leave) after `after`
        self.first = None           # first fresh data frame's arrival
        self.first_sent = None      # and its send stamp (realtime ns)
        self.transit = []           # later frames: arrival - send stamp (ns)
        self.last_data = None       # last data frame of the group (arrival ns)
        self.last_data_mono = None
        self.up = None              # the upstream's first report after `after`
        self.want = "join"
        self.off = offset()

    def membership(self, opt, group):
        mreq = struct.pack("4s4si", socket.inet_aton(group), b"\0\0\0\0", self.ifindex)
        self.msock.setsockopt(socket.IPPROTO_IP, opt, mreq)

    def drain(self):
        for ts, data, addr in stamped_frames(self.h):
            if ts is None:
                continue
            if addr[2] == PACKET_OUTGOING:
                r = igmp_records(data)
                if r and self.after is not None and ts >= self.after and self.report is None \
                        and self.group in (r[0] if self.want == "join" else r[1]):
                    self.report = ts
                continue
            d = data_stamp(data)
            if not d or d[0] != self.group:
                continue
            self.last_data, self.last_data_mono = ts, time.monotonic()
            if self.want == "join" and self.report is not None and d[1] + self.off >= self.report:
                if self.first is None:
                    self.first, self.first_sent = ts, d[1] + self.off
                elif len(self.transit) < 2000:
                    self.transit.append(ts - (d[1] + self.off))
        for ts, data, _ in stamped_frames(self.u):
            r = igmp_records(data)
            if r and ts is not None and self.after is not None and ts >= self.after and self.up is None \
                    and self.group in (r[0] if self.want == "join" else r[1]):
                self.up = ts

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.h, self.u], [], [], left)
            if r:
                self.drain()

    def quiet(self, quiet, timeout):
        """Waits until no frame of the group for `quiet` s; False on timeout."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self.pump(0.02)
            if self.last_data_mono is None or time.monotonic() - self.last_data_mono >= quiet:
                return True
        return False

    def wait(self, cond, timeout):
        deadline = time.monotonic() + timeout
        while not cond() and time.monotonic() < deadline:
            self.pump(0.005)
        return cond()


def one_cycle(h, a, group, out, tag, leave=True):
    """Join, first fresh frame; then (leave=True) leave, data stopped, upstream leave."""
    if not h.quiet(a.quiet, a.quiet_timeout):
        out["failures"].append(f"{tag}: {group} still arriving {a.quiet_timeout} s after the last leave")
        return False
    h.reset(group)
    h.after = time.clock_gettime_ns(time.CLOCK_REALTIME)
    h.membership(socket.IP_ADD_MEMBERSHIP, group)
    ok = h.wait(lambda: h.report is not None and h.first is not None and h.up is not None, a.timeout)
    if h.report is None:
        out["failures"].append(f"{tag}: no report joining {group} left the host")
    elif h.first is None:
        out["failures"].append(f"{tag}: no frame of {group} sent after the join arrived within {a.timeout} s")
    else:
        out["join_us"].append((h.first - h.report) / 1000)
        # Where the time went: the wait for the source's next frame after
        # the report, then that frame's own trip (send stamp -> arrival).
        out["join_wait_us"].append((h.first_sent - h.report) / 1000)
        out["join_transit_us"].append((h.first - h.first_sent) / 1000)
        if h.up is not None:
            out["join_upstream_us"].append((h.up - h.report) / 1000)
    if not ok and h.report is not None and h.first is not None:
        pass  # no upstream join seen: only its figure is missing
    h.pump(a.hold)
    if h.transit:
        out["steady_transit_us"].append(sorted(h.transit)[len(h.transit) // 2] / 1000)
    h.want, h.report, h.up = "leave", None, None
    h.after = time.clock_gettime_ns(time.CLOCK_REALTIME)
    h.membership(socket.IP_DROP_MEMBERSHIP, group)
    if not leave:
        return True
    h.wait(lambda: h.report is not None, a.timeout)
    if h.report is None:
        out["failures"].append(f"{tag}: no report leaving {group} left the host")
        return True
    if not h.quiet(a.quiet, a.quiet_timeout):
        out["failures"].append(f"{tag}: {group} still arriving {a.quiet_timeout} s after the leave")
        return False
    if h.last_data is not None:
        out["leave_stop_us"].append(max(0.0, (h.last_data - h.report) / 1000))
    h.wait(lambda: h.up is not None, a.timeout)
    if h.up is not None:
        out["leave_upstream_us"].append((h.up - h.report) / 1000)
    else:
        out["failures"].append(f"{tag}: no report leaving {group} reached the upstream within {a.timeout} s")
    return True


def single(a):
    h = Host(a)
    out = {"label": a.label, "join_us": [], "join_upstream_us": [], "leave_stop_us": [],
           "leave_upstream_us": [], "cold_join_us": [], "join_wait_us": [], "join_transit_us": [],
           "steady_transit_us": [], "failures": []}
    h.pump(0.2)
    for i in range(a.joins):
        if not one_cycle(h, a, a.warm_group, out, f"warm {i}"):
            break
    if a.cold_joins:
        base = list(map(int, a.cold_base.split(".")))
        cold = {"join_us": [], "join_upstream_us": [], "leave_stop_us": [], "leave_upstream_us": [],
                "join_wait_us": [], "join_transit_us": [], "steady_transit_us": [], "failures": []}
        for i in range(a.cold_joins):
            g = f"{base[0]}.{base[1]}.{base[2] + (base[3] + i) // 250}.{(base[3] + i) % 250 + 1}"
            if not one_cycle(h, a, g, cold, f"cold {i}"):
                break
        out["cold_join_us"] = cold["join_us"]
        out["cold_join_upstream_us"] = cold["join_upstream_us"]
        out["failures"] += cold["failures"]
    print(json.dumps(out))


# ------------------------------------------------------------------ sample

def control_request(path, cmd):
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(2)
    try:
        s.connect(path)
        s.sendall(json.dumps({"protocol": "1.1", "cmd": cmd}).encode() + b"\n")
        buf = b""
        while not buf.endswith(b"\n"):
            chunk = s.recv(1 << 16)
            if not chunk:
                break
            buf += chunk
        return json.loads(buf)
    finally:
        s.close()


def sample(a):
    with open(a.out, "w") as f:
        while not os.path.exists(a.stop):
            t0 = time.monotonic_ns()
            groups, paths, err = None, None, None
            try:
                if a.socket:
                    r = control_request(a.socket, "routes")
                    routes = (r.get("routes") or {}).get("routes", [])
                    groups = sorted({x["group"] for x in routes if x.get("out")})
                    paths = sorted({x.get("path", "?") for x in routes})
                else:
                    raw = subprocess.run(["bridge", "-n", a.bridge_ns, "-j", "mdb", "show"],
                                         capture_output=True, text=True, timeout=2).stdout
                    groups = set()
                    for dev in json.loads(raw or "[]"):
                        for e in dev.get("mdb", []):
                            if e.get("port") != e.get("dev"):
                                groups.add(e.get("grp"))
                    groups = sorted(groups)
            except (OSError, ValueError, subprocess.SubprocessError) as e:
                err = str(e)
            t1 = time.monotonic_ns()
            f.write(json.dumps({"t0": t0, "t1": t1, "groups": groups, "paths": paths, "error": err}) + "\n")
            f.flush()
            time.sleep(a.every)


OURS = {"zap_tool", "xigmp", "python3", "bash", "ip", "sleep", "timeout", "seq", "grep", "cat", "bridge", "tail",
        "awk", "sed", "rm", "touch", "mktemp", "cc", "cc1", "as", "ld", "collect2", "date", "sysctl", "tee", "perf"}
KTHREADS = ("ksoftirqd", "kworker", "rcu_", "migration", "napi/", "kdamond", "swapper", "cpuhp", "idle_inject")


def quiet(a):
    """Waits (at most --timeout s) until the machine is at most --busy % busy
    over a second; prints the last busy share.  Exit 0 when quiet, 1 if not."""
    deadline = time.monotonic() + a.timeout
    while True:
        with open("/proc/stat") as f:
            c0 = [int(x) for x in f.readline().split()[1:9]]
        time.sleep(1)
        with open("/proc/stat") as f:
            c1 = [int(x) for x in f.readline().split()[1:9]]
        tot = sum(c1) - sum(c0)
        busy = 100 * (1 - ((c1[3] + c1[4]) - (c0[3] + c0[4])) / tot) if tot else 0
        if busy <= a.busy or time.monotonic() >= deadline:
            print(round(busy, 1))
            sys.exit(0 if busy <= a.busy else 1)


def cpusnap(a):
    with open(f"/proc/{a.pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    proc = int(fields[11]) + int(fields[12])     # utime + stime (fields 14, 15)
    with open("/proc/stat") as f:
        cpu = [int(x) for x in f.readline().split()[1:]]
    idle = cpu[3] + (cpu[4] if len(cpu) > 4 else 0)
    procs = {}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    head, tail = f.read().rsplit(")", 1)
                t = tail.split()
                procs[d] = [head.split("(", 1)[1], int(t[11]) + int(t[12])]
            except (OSError, IndexError, ValueError):
                pass
    print(json.dumps({"mono": time.monotonic(), "pid": a.pid, "proc_ticks": proc, "cpu_total": sum(cpu[:8]),
                      "cpu_idle": idle, "cpu": cpu[:8], "hz": os.sysconf("SC_CLK_TCK"), "ncpu": os.cpu_count(),
                      "procs": procs}))


# ------------------------------------------------------------------- storm

def storm(a):
    res = {}
    try:
        tool = json.loads([l for l in open(a.tool_out).read().splitlines() if l.strip()][-1])
    except (OSError, ValueError, IndexError) as e:
        print(json.dumps({"label": a.label, "error": f"zap_tool storm printed no summary: {e}"}))
        return
    zaps = []
    for line in open(a.tool_log):
        p = line.split()
        if p and p[0] == "Z":
            zaps.append(dict(zip(("host", "zap", "old", "new", "join", "first", "leave", "old_last", "early"),
                                 map(int, p[1:]))))
    groups = a.groups.split(",")
    join_lat = [(z["first"] - z["join"]) / 1000 for z in zaps if z["join"] and z["first"]]
    join_miss = sum(1 for z in zaps if not z["join"] or not z["first"] or z["first"] - z["join"] > a.join_ms * 1e6)
    leave = [z for z in zaps if z["old"] >= 0 and z["leave"]]
    leave_lat = [max(0, z["old_last"] - z["leave"]) / 1000 for z in leave if z["old_last"]]
    leave_miss = sum(1 for z in leave if z["old_last"] > z["leave"] + a.leave_ms * 1e6)
    res.update({"label": a.label, "hosts": tool["hosts"], "channels": tool["groups"], "zaps": len(zaps),
                "join_misses": join_miss, "join_no_report": tool["join_no_report"],
                "join_no_data": tool["join_no_data"],
                "join_p50_us": round(pct(join_lat, 50), 1) if join_lat else None,
                "join_p99_us": round(pct(join_lat, 99), 1) if join_lat else None,
                "join_max_us": round(max(join_lat), 1) if join_lat else None,
                "leave_misses": leave_miss if a.fast_leave else None,
                "leave_checked": len(leave),
                "leave_stop_p50_us": round(pct(leave_lat, 50), 1) if leave_lat else None,
                "leave_stop_p99_us": round(pct(leave_lat, 99), 1) if leave_lat else None,
                "stray_frames": tool["stray_frames"], "data_frames": tool["data_frames"],
                "capture_drops": tool["capture_drops"], "fast_leave": a.fast_leave})
    # Reports heard upstream during the storm (its start to 0.3 s after its end).
    off = a.offset
    lo, hi = tool["start_mono"] + off, tool["end_mono"] + off + 300_000_000
    msgs = 0
    for line in open(a.up_log):
        p = line.split()
        if p and p[0] == "M" and lo <= int(p[1]) <= hi:
            msgs += 1
    res["upstream_reports"] = msgs
    res["upstream_reports_per_zap"] = round(msgs / len(zaps), 3) if zaps else None
    # CPU over the storm's window.
    try:
        c0, c1 = (json.loads(l) for l in open(a.cpu).read().splitlines()[:2])
        dt = c1["mono"] - c0["mono"]
        res["window_s"] = round(dt, 2)
        if a.daemon:
            res["daemon_cpu_pct"] = round(100 * (c1["proc_ticks"] - c0["proc_ticks"]) / c0["hz"] / dt, 2)
        tot = c1["cpu_total"] - c0["cpu_total"]
        res["machine_cpu_pct"] = round(100 * (1 - (c1["cpu_idle"] - c0["cpu_idle"]) / tot), 1) if tot else None
        # /proc/stat's ticks against the wall clock: on this VM it books far
        # fewer ticks than elapsed (0.5-0.8 of them) and most as idle, while
        # the processes' own times (scheduler runtime) add up to more busy
        # time than it shows: so also the machine's busy share as the sum
        # of every process's CPU (kernel threads included; softirq run on
        # an idle CPU is in neither).
        res["proc_stat_tick_coverage"] = round(tot / (dt * c0["hz"] * c0["ncpu"]), 3)
        if "procs" in c0:
            allp = sum(max(0, t - c0["procs"].get(p, [c, 0])[1]) for p, (c, t) in c1["procs"].items()) / c0["hz"]
            allp += tool.get("cpu_s") or 0	# the hosts' program, gone by the last snapshot
            res["machine_cpu_pct_processes"] = round(100 * allp / dt / c0["ncpu"], 1)
        if tot and "cpu" in c0:
            # /proc/stat's columns: where the machine's time went (percent of all cores)
            res["machine_cpu_split_pct"] = {
                name: round(100 * (c1["cpu"][i] - c0["cpu"][i]) / tot, 1)
                for i, name in enumerate(("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal"))
                if i < len(c0["cpu"])}
        # Who used the machine over the window (processes alive at its end;
        # one started inside it counts whole): the apparatus, the daemon,
        # and anything else running on the VM.
        if "procs" in c0:
            use = {}
            for pid, (comm, ticks) in c1["procs"].items():
                d = ticks - c0["procs"].get(pid, [comm, 0])[1]
                if str(c0.get("pid")) == pid:
                    comm = "xigmp"	# the daemon under test, whatever its binary is called
                elif comm.startswith("xigmp"):
                    comm += " (not ours)"	# another session's xigmp, tests or benchmark
                if d > 0:
                    use[comm] = use.get(comm, 0) + d
            res["top_processes_cpu_pct"] = {
                k: round(100 * v / c0["hz"] / dt, 1) for k, v in sorted(use.items(), key=lambda kv: -kv[1])[:6]}
            # Everything but the benchmark's own processes and the kernel's
            # threads: other work on the VM, which makes the run noisy.
            res["foreign_cpu_pct"] = round(sum(100 * v / c0["hz"] / dt for k, v in use.items()
                                               if k not in OURS and not k.startswith(KTHREADS)), 1)
        # the apparatus: the hosts' program (capture of every frame) over its
        # own run (it has exited by the last snapshot, so it is not in the list above)
        if tool.get("cpu_s") is not None and tool.get("seconds"):
            res["hosts_tool_cpu_pct"] = round(100 * tool["cpu_s"] / tool["seconds"], 1)
    except (OSError, ValueError) as e:
        res["cpu_error"] = str(e)
    if a.source_out:
        try:
            src = json.loads([l for l in open(a.source_out).read().splitlines() if l.strip()][-1])
            # its sends, and the forwarding and delivery the kernel does inline in them
            res["source_cpu_pct"] = round(100 * src["cpu_s"] / src["seconds"], 1)
        except (OSError, ValueError, IndexError, KeyError, ZeroDivisionError):
            pass
    # Route map against the live set.  Host h watches NEW from its zap to its
    # next; a route is stale when no host watched its group at any time in
    # [sample start - slack, sample end].
    per_host = {}
    for z in sorted(zaps, key=lambda z: z["zap"]):
        per_host.setdefault(z["host"], []).append(z)
    intervals = {}
    end = tool["end_mono"] + 300_000_000
    for hz in per_host.values():
        for i, z in enumerate(hz):
            stop = hz[i + 1]["zap"] if i + 1 < len(hz) else end
            intervals.setdefault(groups[z["new"]], []).append((z["zap"], stop))

    def watched(t0, t1):
        return {g for g, iv in intervals.items() if any(s <= t1 and e >= t0 for s, e in iv)}

    samples = []
    try:
        samples = [json.loads(l) for l in open(a.samples) if l.strip()]
    except (OSError, ValueError):
        pass
    in_storm = [s for s in samples if s.get("groups") is not None and tool["start_mono"] <= s["t0"] <= end]
    over, stale, routes_n, live_n = [], [], [], []
    for s in in_storm:
        live = watched(s["t0"], s["t1"])
        recent = watched(s["t0"] - int(a.slack_ms * 1e6), s["t1"])
        routes_n.append(len(s["groups"]))
        live_n.append(len(live))
        over.append(len(s["groups"]) - len(live))
        stale.append(len(set(s["groups"]) - recent))
    res["paths"] = ",".join(sorted({p for s in in_storm for p in (s.get("paths") or [])})) or "none"
    res.update({"route_samples": len(in_storm),
                "route_sample_errors": sum(1 for s in samples if s.get("error")),
                "routes_max": max(routes_n) if routes_n else None,
                "live_max": max(live_n) if live_n else None,
                "routes_minus_live_max": max(over) if over else None,
                "stale_routes_max": max(stale) if stale else None,
                "stale_slack_ms": a.slack_ms})
    print(json.dumps(res))


# --------------------------------------------------------------- summarize

# ------------------------------------------------- progress lines and meta

def report_single(a):
    r = json.load(open(a.file))

    def p50(v):
        return f"{sorted(v)[len(v) // 2]:.0f}" if v else "-"
    print(f"zap: {r['label']}: join p50 {p50(r['join_us'])} us ({len(r['join_us'])}), "
          f"cold p50 {p50(r['cold_join_us'])} us ({len(r['cold_join_us'])}), "
          f"leave stop p50 {p50(r['leave_stop_us'])} us, upstream leave p50 {p50(r['leave_upstream_us'])} us"
          + (f", failures: {r['failures'][:2]}" if r["failures"] else ""), file=sys.stderr)


def report_storm(a):
    r = json.load(open(a.file))
    print("zap: " + (r["label"] + ": " + r["error"] if "error" in r else
          f"{r['label']}: {r['zaps']} zaps, join misses {r['join_misses']}, leave misses {r['leave_misses']}, "
          f"join p50 {r['join_p50_us']} us, "
          f"{r['upstream_reports_per_zap']} upstream reports/zap, daemon cpu {r.get('daemon_cpu_pct')} %, "
          f"machine {r.get('machine_cpu_pct')} %, "
          f"routes max {r['routes_max']} live max {r['live_max']} stale max {r['stale_routes_max']}"), file=sys.stderr)


def meta(a):
    m = {"errors": pairs(a.errors), "unavailable": pairs(a.unavailable), "paths": pairs(a.paths),
         "impls": a.impls.split(), "kernel": a.kernel, "cpu": a.cpu, "capabilities": doctor_capabilities(a.doctor),
         "ip_mroute": {"yes": True, "no": False}.get(a.ip_mroute), "xigmp_fast_leave": a.fast_leave == "yes",
         "joins": a.joins, "cold_joins": a.cold_joins, "stream_pps": a.stream_pps,
         "last_member_query_interval": a.lmqi,
         "last_member_query_count": 2, "storm_seconds": a.storm_seconds, "storm_hosts": a.storm_hosts,
         "storm_channels": a.storm_channels, "storm_channel_pps": a.storm_pps,
         "storm_zaps_per_s_per_host": a.zaps_per_s,
         "storm_join_bound_ms": 50, "storm_leave_bound_ms": 5,
         "busy_pct_before": {k: float(v) for k, v in pairs(a.quiet).items()},
         "xigmp_binary": a.binary, "xigmp_sha256": a.sha256, "commit": a.commit,
         "notes": NOTES}
    if not a.fast_leave == "yes":
        m["fast_leave_reason"] = NO_FAST_LEAVE
    print(json.dumps(m))


def summarize(a):
    meta = json.loads(a.meta)
    out = {}
    by = {}
    for path in a.files:
        try:
            obj = json.loads([l for l in open(path).read().splitlines() if l.strip()][-1])
        except (OSError, ValueError, IndexError) as e:
            log(f"{path}: unreadable ({e})")
            continue
        by.setdefault(obj.get("label", "?"), []).append(obj)

    def r1(x):
        return None if x is None else round(x, 1)

    impls = meta.pop("impls")
    fl_reason = meta.get("fast_leave_reason")
    for impl in impls:
        single_off = by.get(f"{impl}-single-fl_off", [])
        single_on = by.get(f"{impl}-single-fl_on", [])
        # The join figures come from the fast-leave-off runs (every
        # configuration has one); the joins of the fast-leave-on runs are
        # kept apart (the bridge with fastleave on joins slower, measured).
        joins = [x for r in single_off for x in r.get("join_us", [])]
        cold = [x for r in single_off + single_on for x in r.get("cold_join_us", [])]
        out[f"{impl}_join_first_packet_p50_us"] = r1(pct(joins, 50))
        out[f"{impl}_join_first_packet_p99_us"] = r1(pct(joins, 99))
        out[f"{impl}_join_samples"] = len(joins)
        # The join figure taken apart: waiting for the source's next frame
        # after the report, that frame's trip, and the trip of the frames
        # after it (the path's own latency at this rate, join or not).
        for part in ("join_wait", "join_transit", "steady_transit"):
            vals = [x for r in single_off for x in r.get(f"{part}_us", [])]
            out[f"{impl}_{part}_p50_us"] = r1(pct(vals, 50))
        if single_on:
            j_on = [x for r in single_on for x in r.get("join_us", [])]
            out[f"{impl}_join_first_packet_fast_leave_on_p50_us"] = r1(pct(j_on, 50))
            out[f"{impl}_join_first_packet_fast_leave_on_p99_us"] = r1(pct(j_on, 99))
        for r in single_off + single_on:
            out.setdefault("samples_us", {})[r["label"]] = {
                k: [round(x, 1) for x in r.get(k, [])]
                for k in ("join_us", "cold_join_us", "leave_stop_us", "leave_upstream_us",
                          "join_wait_us", "join_transit_us", "steady_transit_us")}
        out[f"{impl}_cold_join_first_packet_p50_us"] = r1(pct(cold, 50))
        out[f"{impl}_cold_join_first_packet_p99_us"] = r1(pct(cold, 99))
        out[f"{impl}_cold_join_samples"] = len(cold)
        ups = [x for r in single_off + single_on for x in r.get("cold_join_upstream_us", [])]
        out[f"{impl}_cold_join_report_upstream_p50_us"] = r1(pct(ups, 50))
        for tag, runs in (("fast_leave_off", single_off), ("fast_leave_on", single_on)):
            stop = [x for r in runs for x in r.get("leave_stop_us", [])]
            up = [x for r in runs for x in r.get("leave_upstream_us", [])]
            if tag == "fast_leave_on" and not runs and impl != "bridge" and fl_reason:
                for k in ("leave_stop", "leave_upstream_stop"):
                    for p in ("p50", "p99"):
                        out[f"{impl}_{k}_{tag}_{p}_us"] = None
                        out[f"{impl}_{k}_{tag}_{p}_us_reason"] = fl_reason
                continue
            out[f"{impl}_leave_stop_{tag}_p50_us"] = r1(pct(stop, 50))
            out[f"{impl}_leave_stop_{tag}_p99_us"] = r1(pct(stop, 99))
            out[f"{impl}_leave_upstream_stop_{tag}_p50_us"] = r1(pct(up, 50))
            out[f"{impl}_leave_upstream_stop_{tag}_p99_us"] = r1(pct(up, 99))
            out[f"{impl}_leave_samples_{tag}"] = len(stop)
        fails = [f for r in single_off + single_on for f in r.get("failures", [])]
        if fails:
            out[f"{impl}_failures"] = fails[:8]
        if not single_off and not single_on:
            out[f"{impl}_join_first_packet_p50_us"] = {"error": meta.get("errors", {}).get(impl, "no run")}
        # Storms: one per fast-leave setting the configuration has; the
        # plain storm_* keys are the fast-leave-on storm's where there is
        # one (the leave-side bound is checked there), else the off one's.
        storms = {tag: by[f"{impl}-storm-fl_{tag}"][-1] for tag in ("on", "off") if by.get(f"{impl}-storm-fl_{tag}")}
        for tag, s in list(storms.items()) + ([("main", storms.get("on") or storms.get("off"))] if storms else []):
            pre = f"{impl}_storm" if tag == "main" else f"{impl}_storm_fast_leave_{tag}"
            if "error" in s:
                out[pre] = {"error": s["error"]}
                continue
            out[f"{pre}_misses"] = s["join_misses"] + (s["leave_misses"] or 0)
            out[f"{pre}_join_misses"] = s["join_misses"]
            out[f"{pre}_leave_misses"] = s["leave_misses"]
            if s["leave_misses"] is None:
                out[f"{pre}_leave_misses_reason"] = (
                    "the leave-side bound is checked with fast leave on only" +
                    (f" ({fl_reason})" if fl_reason and impl != "bridge" else ""))
            out[f"{pre}_join_p50_us"] = s["join_p50_us"]
            out[f"{pre}_join_p99_us"] = s["join_p99_us"]
            out[f"{pre}_upstream_reports_per_zap"] = s["upstream_reports_per_zap"]
            out[f"{pre}_cpu_pct"] = s.get("daemon_cpu_pct")
            if impl == "bridge":
                out[f"{pre}_cpu_pct_reason"] = "the bridge is the kernel's: no process of its own"
            out[f"{pre}_machine_cpu_pct"] = s.get("machine_cpu_pct")
            out[f"{pre}_machine_cpu_pct_processes"] = s.get("machine_cpu_pct_processes")
            out[f"{pre}_source_cpu_pct"] = s.get("source_cpu_pct")
            out[f"{pre}_foreign_cpu_pct"] = s.get("foreign_cpu_pct")
            out[f"{pre}_routes_max"] = s["routes_max"]
            out[f"{pre}_live_max"] = s["live_max"]
            out[f"{pre}_stale_routes_max"] = s["stale_routes_max"]
            if tag != "main":
                out[f"{pre}_detail"] = s
        if "on" not in storms and impl != "bridge" and fl_reason:
            for k in ("misses", "leave_misses"):
                out[f"{impl}_storm_fast_leave_on_{k}"] = None
                out[f"{impl}_storm_fast_leave_on_{k}_reason"] = fl_reason
    for k, why in meta.pop("unavailable", {}).items():
        out[k] = None
        out[k + "_reason"] = why
    out.update(meta)
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("single")
    s.add_argument("--label", required=True)
    s.add_argument("--host-ns", required=True)
    s.add_argument("--host-if", required=True)
    s.add_argument("--up-ns", required=True)
    s.add_argument("--up-if", required=True)
    s.add_argument("--warm-group", required=True)
    s.add_argument("--cold-base", default="239.3.0.0")
    s.add_argument("--joins", type=int, default=20)
    s.add_argument("--cold-joins", type=int, default=0)
    s.add_argument("--quiet", type=float, default=0.3)
    s.add_argument("--quiet-timeout", type=float, default=6.0)
    s.add_argument("--timeout", type=float, default=3.0)
    s.add_argument("--hold", type=float, default=0.3)
    p = sub.add_parser("sample")
    p.add_argument("--out", required=True)
    p.add_argument("--stop", required=True)
    p.add_argument("--socket")
    p.add_argument("--bridge-ns")
    p.add_argument("--every", type=float, default=0.1)
    c = sub.add_parser("cpusnap")
    c.add_argument("pid", type=int)
    t = sub.add_parser("storm")
    t.add_argument("--label", required=True)
    t.add_argument("--tool-out", required=True)
    t.add_argument("--tool-log", required=True)
    t.add_argument("--up-log", required=True)
    t.add_argument("--samples", required=True)
    t.add_argument("--cpu", required=True)
    t.add_argument("--groups", required=True)
    t.add_argument("--offset", type=int, required=True, help="REALTIME - MONOTONIC ns")
    t.add_argument("--source-out")
    t.add_argument("--fast-leave", action="store_true")
    t.add_argument("--daemon", action="store_true")
    t.add_argument("--join-ms", type=float, default=50)
    t.add_argument("--leave-ms", type=float, default=5)
    t.add_argument("--slack-ms", type=float, default=100)
    sub.add_parser("offset")
    q = sub.add_parser("quiet")
    q.add_argument("--busy", type=float, default=10)
    q.add_argument("--timeout", type=float, default=120)
    r = sub.add_parser("report-single")
    r.add_argument("file", help="a single run's output")
    r = sub.add_parser("report-storm")
    r.add_argument("file", help="a storm run's output")
    e = sub.add_parser("meta")
    e.add_argument("--errors", nargs="*", default=[], metavar="LABEL=REASON")
    e.add_argument("--unavailable", nargs="*", default=[], metavar="KEY=REASON")
    e.add_argument("--paths", nargs="*", default=[], metavar="LABEL=PATH")
    e.add_argument("--quiet", nargs="*", default=[], metavar="LABEL=BUSY_PCT")
    e.add_argument("--doctor", required=True, help="xigmp doctor --json's output")
    e.add_argument("--ip-mroute", default="unknown", help="yes, no or unknown")
    e.add_argument("--fast-leave", default="no", help="yes when this build has querier fastLeave")
    e.add_argument("--impls", required=True, help="space-separated")
    e.add_argument("--joins", type=int, required=True)
    e.add_argument("--cold-joins", type=int, required=True)
    e.add_argument("--stream-pps", type=int, required=True)
    e.add_argument("--lmqi", required=True)
    e.add_argument("--storm-seconds", type=float, required=True)
    e.add_argument("--storm-hosts", type=int, required=True)
    e.add_argument("--storm-channels", type=int, required=True)
    e.add_argument("--storm-pps", type=int, required=True)
    e.add_argument("--zaps-per-s", type=float, required=True)
    e.add_argument("--kernel", required=True)
    e.add_argument("--cpu", required=True)
    e.add_argument("--binary", required=True)
    e.add_argument("--sha256", required=True)
    e.add_argument("--commit", required=True)
    m = sub.add_parser("summarize")
    m.add_argument("--meta", default="{}")
    m.add_argument("files", nargs="*")
    a = ap.parse_args()
    if a.cmd == "offset":
        print(offset())
        return
    {"single": single, "sample": sample, "cpusnap": cpusnap, "storm": storm, "summarize": summarize,
     "quiet": quiet, "report-single": report_single, "report-storm": report_storm, "meta": meta}[a.cmd](a)


if __name__ == "__main__":
    main()
