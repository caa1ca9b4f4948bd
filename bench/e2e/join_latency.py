#!/usr/bin/env python3
"""Join propagation capture for bench/e2e/join_latency.sh.

`measure`: opens two AF_PACKET sockets with kernel receive timestamps
(SO_TIMESTAMPNS, CLOCK_REALTIME) in two network namespaces (setns(2) through
ctypes; a socket stays in the namespace it was made in): the host's inside
interface (its own outgoing reports) and the upstream namespace's interface
(what the proxy sends out). Then it makes the host's kernel join one group
at a time (`ip addr add G/32 dev IF autojoin`), spaced out, and reports per
group the time from the first report naming the group on the inside wire to
the first report naming it from the proxy on the outside wire.

`report`: one progress line on stderr from a run's file (propagated, p50, max).

`meta`: the run's settings and notes as the JSON object `summarize --meta`
takes.

`summarize`: folds the per-run files into the benchmark's JSON object.
"""
import argparse
import ctypes
import json
import math
import os
import select
import socket
import struct
import subprocess
import sys
import time

CLONE_NEWNET = 0x40000000
ETH_P_IP = 0x0800
ETH_P_ALL = 0x0003
SO_TIMESTAMPNS = 35
SCM_TIMESTAMPNS = SO_TIMESTAMPNS
SOL_PACKET = 263
PACKET_IGNORE_OUTGOING = 23
libc = ctypes.CDLL(None, use_errno=True)


def log(*a):
    print("join_latency:", *a, file=sys.stderr, flush=True)


def setns(path):
    fd = os.open(path, os.O_RDONLY)
    try:
        if libc.setns(fd, CLONE_NEWNET) != 0:
            e = ctypes.get_errno()
            raise OSError(e, f"setns {path}: {os.strerror(e)}")
    finally:
        os.close(fd)


def capture_socket(netns, ifname, outgoing):
    """AF_PACKET socket bound to ifname inside netns."""
    home = os.open("/proc/self/ns/net", os.O_RDONLY)
    try:
        setns(f"/run/netns/{netns}")
        # Outgoing frames reach only ETH_P_ALL taps (dev_queue_xmit_nit).
        proto = ETH_P_ALL if outgoing else ETH_P_IP
        s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(proto))
        s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4 << 20)
        if not outgoing:
            s.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
        s.bind((ifname, proto))
        s.setblocking(False)
        return s
    finally:
        if libc.setns(home, CLONE_NEWNET) != 0:
            raise OSError(ctypes.get_errno(), "setns back home")
        os.close(home)


def igmp_groups(pkt):
    """(source, [groups]) of an IGMP report/leave IPv4 packet, or None."""
    if len(pkt) < 28 or pkt[0] >> 4 != 4 or pkt[9] != 2:
        return None
    ihl = (pkt[0] & 0x0F) * 4
    src = socket.inet_ntoa(pkt[12:16])
    g = pkt[ihl:]
    if len(g) < 8:
        return None
    t = g[0]
    if t in (0x12, 0x16):
        return src, "report", [socket.inet_ntoa(g[4:8])]
    if t == 0x17:
        return src, "leave", [socket.inet_ntoa(g[4:8])]
    if t == 0x22:
        n = struct.unpack("!H", g[6:8])[0]
        off = 8
        joins, leaves = [], []
        for _ in range(n):
            if off + 8 > len(g):
                break
            rtype, aux, nsrc = g[off], g[off + 1], struct.unpack("!H", g[off + 2:off + 4])[0]
            grp = socket.inet_ntoa(g[off + 4:off + 8])
            # IS_EX, TO_EX: joins; ALLOW with sources: join; TO_IN{} / IS_IN{}: leaves
            if rtype in (2, 4) or (rtype in (1, 3, 5) and nsrc > 0):
                joins.append(grp)
            else:
                leaves.append(grp)
            off += 8 + 4 * nsrc + 4 * aux
        return src, "report", joins
    return None


def stamped_frames(sock):
    """Every frame waiting on a non-blocking capture socket, as (kernel
    receive time in ns or None, bytes, sockaddr_ll tuple)."""
    while True:
        try:
            data, anc, _, addr = sock.recvmsg(2048, socket.CMSG_SPACE(16))
        except BlockingIOError:
            return
        ts = None
        for level, kind, payload in anc:
            if level == socket.SOL_SOCKET and kind == SCM_TIMESTAMPNS and len(payload) >= 16:
                sec, nsec = struct.unpack("qq", payload[:16])
                ts = sec * 1_000_000_000 + nsec
        yield ts, data, addr


def drain(sock, side, events):
    for ts, data, _ in stamped_frames(sock):
        if ts is None:
            ts = time.time_ns()
        parsed = igmp_groups(data)
        if parsed:
            src, kind, groups = parsed
            events.append((ts, side, src, kind, groups))


def pump(socks, events, until):
    while True:
        left = until - time.monotonic()
        if left <= 0:
            return
        r, _, _ = select.select([s for s, _ in socks], [], [], left)
        for s, side in socks:
            if s in r:
                drain(s, side, events)


def measure(a):
    inside = capture_socket(a.inside_ns, a.inside_if, outgoing=True)
    outside = capture_socket(a.outside_ns, a.outside_if, outgoing=False)
    socks = [(inside, "in"), (outside, "out")]
    events = []
    base = list(map(int, a.group_base.split(".")))
    groups = []
    for i in range(a.count):
        v = (base[0] << 24 | base[1] << 16 | base[2] << 8 | base[3]) + i
        groups.append(socket.inet_ntoa(struct.pack("!I", v)))
    pump(socks, events, time.monotonic() + 0.3)
    events.clear()
    failures = []
    next_at = time.monotonic()
    for g in groups:
        pump(socks, events, next_at)
        r = subprocess.run(["ip", "-n", a.inside_ns, "addr", "add", f"{g}/32", "dev", a.inside_if, "autojoin"],
                           capture_output=True, text=True)
        if r.returncode != 0:
            failures.append(f"{g}: {r.stderr.strip()}")
        next_at = time.monotonic() + a.spacing
    pump(socks, events, time.monotonic() + a.settle)
    first_in, first_out = {}, {}
    for ts, side, src, kind, gs in sorted(events):
        if kind != "report":
            continue
        if side == "in" and src == a.inside_src:
            for g in gs:
                first_in.setdefault(g, ts)
        elif side == "out" and src == a.outside_src:
            for g in gs:
                if g in first_in and ts >= first_in[g]:
                    first_out.setdefault(g, ts)
    lat = {g: (first_out[g] - first_in[g]) / 1000 for g in groups if g in first_in and g in first_out}
    out = {
        "label": a.label, "groups": len(groups), "joined_on_host": len(groups) - len(failures),
        "seen_inside": sum(1 for g in groups if g in first_in), "propagated": len(lat),
        "latencies_us": [lat[g] for g in groups if g in lat],
        "missing": [g for g in groups if g not in lat][:10],
        "host_join_failures": failures[:3],
        "inside_reports": sum(1 for e in events if e[1] == "in"),
        "outside_packets": sum(1 for e in events if e[1] == "out"),
        "outside_reports": sum(1 for e in events if e[1] == "out" and e[2] == a.outside_src),
    }
    json.dump(out, sys.stdout)
    print()
    inside.close()
    outside.close()


def pct(v, p):
    if not v:
        return None
    v = sorted(v)
    k = max(1, min(len(v), math.ceil(p / 100 * len(v))))
    return v[k - 1]


def pairs(items):
    """{"label": "text"} from LABEL=TEXT arguments (a script's ERRORS, PATHS, ... arrays)."""
    return dict(x.split("=", 1) for x in items)


def doctor_capabilities(path):
    """The capabilities of a saved `xigmp doctor --json`; {} when it is missing or unreadable."""
    try:
        doc = json.load(open(path))
    except (OSError, ValueError):
        doc = {}
    return doc.get("capabilities", {})


def report(a):
    r = json.load(open(a.file))
    v = sorted(r["latencies_us"])
    print(f"join_latency:   {r['propagated']}/{r['groups']} propagated"
          + (f", p50 {v[len(v) // 2]:.1f} us, max {v[-1]:.1f} us" if v else ""), file=sys.stderr)


def meta(a):
    print(json.dumps({"igmpproxy_notes": a.igmpproxy_notes, "host_igmp_max_memberships": a.host_max_memberships,
                      "spacing_s": a.spacing, "proxy_default_igmp_max_memberships": a.proxy_default_max_memberships,
                      "ip_mroute": {"yes": True, "no": False}.get(a.ip_mroute),
                      "unavailable": {"igmpproxy": a.igmpproxy_unavailable} if a.igmpproxy_unavailable else {}}))


def summarize(a):
    runs = {}
    for f in a.files:
        try:
            r = json.load(open(f))
        except (OSError, ValueError):
            continue
        runs[r["label"]] = r
    meta = json.loads(a.meta) if a.meta else {}
    out = {}
    headline = {"xigmp": "xigmp-xdp", "igmpproxy": "igmpproxy"}
    for key, label in headline.items():
        r = runs.get(label)
        v = r["latencies_us"] if r else []
        out[f"{key}_p50_us"] = round(pct(v, 50), 1) if v else None
        out[f"{key}_p99_us"] = round(pct(v, 99), 1) if v else None
    out["groups"] = runs.get("xigmp-xdp", {}).get("groups")
    if out["xigmp_p50_us"] and out["igmpproxy_p50_us"]:
        out["igmpproxy_vs_xigmp_p50"] = round(out["igmpproxy_p50_us"] / out["xigmp_p50_us"], 1)
    for label, r in runs.items():
        v = r["latencies_us"]
        k = label.replace("-", "_")
        out[f"{k}_propagated"] = f'{r["propagated"]}/{r["groups"]}'
        if v:
            out[f"{k}_p50_us"] = round(pct(v, 50), 1)
            out[f"{k}_p99_us"] = round(pct(v, 99), 1)
            out[f"{k}_min_us"] = round(min(v), 1)
            out[f"{k}_max_us"] = round(max(v), 1)
    unavailable = meta.pop("unavailable", {})
    for who, why in unavailable.items():  # figures this kernel cannot measure: null + reason
        for k in ("p50_us", "p99_us"):
            if out.get(f"{who}_{k}") is None:
                out[f"{who}_{k}_reason"] = why
        if who == "igmpproxy":
            out["igmpproxy_vs_xigmp_p50"] = None
            out["igmpproxy_vs_xigmp_p50_reason"] = why
    out.update(meta)
    print(json.dumps(out))
    if out["xigmp_p50_us"] is None:
        sys.exit(1)


def main():
    ap = argparse.ArgumentParser()
    sub = ap.add_subparsers(dest="cmd", required=True)
    m = sub.add_parser("measure")
    m.add_argument("--label", required=True)
    m.add_argument("--inside-ns", required=True)
    m.add_argument("--inside-if", required=True)
    m.add_argument("--inside-src", required=True)
    m.add_argument("--outside-ns", required=True)
    m.add_argument("--outside-if", required=True)
    m.add_argument("--outside-src", required=True)
    m.add_argument("--group-base", required=True)
    m.add_argument("--count", type=int, default=60)
    m.add_argument("--spacing", type=float, default=0.15)
    m.add_argument("--settle", type=float, default=1.0)
    r = sub.add_parser("report")
    r.add_argument("file")
    t = sub.add_parser("meta")
    t.add_argument("--igmpproxy-notes", default="")
    t.add_argument("--host-max-memberships", type=int, required=True)
    t.add_argument("--spacing", type=float, required=True)
    t.add_argument("--proxy-default-max-memberships", type=int, required=True)
    t.add_argument("--ip-mroute", default="unknown", help="yes, no or unknown (xigmp doctor)")
    t.add_argument("--igmpproxy-unavailable", default="", help="why igmpproxy could not run here")
    s = sub.add_parser("summarize")
    s.add_argument("--meta")
    s.add_argument("files", nargs="*")
    a = ap.parse_args()
    {"measure": measure, "report": report, "meta": meta, "summarize": summarize}[a.cmd](a)


if __name__ == "__main__":
    main()
