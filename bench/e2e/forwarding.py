#!/usr/bin/env python3
"""Measurements for bench/e2e/forwarding.sh (multicast data forwarding).

`window`: after --warmup seconds, snapshots the interface counters of the
namespaces named (`ip -n NS -s -j link`, 64-bit counters), waits --window
seconds, snapshots again and prints the deltas and rates of one
configuration as JSON: the generator's offered frames (its interface's
tx_packets + tx_dropped), what the router received, what every output
delivered to its receiver, and what the receivers that should get nothing
(--idle: ports without the group) received all the same.

`firstpacket`: join-to-first-forwarded-packet latency.  One AF_PACKET socket
(ETH_P_ALL, kernel receive timestamps SO_TIMESTAMPNS) on the host's interface
in the host's namespace sees both the host's own join report leaving and
the group's data arriving, on one clock.  Per repetition: wait until no
data of the group has arrived for --quiet seconds (the previous leave has
taken effect), `ip addr add G/32 dev IF autojoin`, then take the first
report naming G that left the interface and the first data frame of G that
arrived; then leave (`ip addr del`).

`report-window`, `report-first`: one progress line on stderr about a
`window` file (offered, forwarded, loss) or the `firstpacket` files of one
forwarder (samples, p50, max, failures).

`meta`: the run's settings, what failed or is unavailable, the paths xigmp
took and the notes, as the JSON object `summarize --meta` takes.

`summarize`: folds the per-configuration files into the one JSON object the
script prints (medians over rounds, ratios of medians, and every round).
A figure that cannot be measured on this kernel (the --meta's
"unavailable": {label: reason}, e.g. the kernel MFC without
CONFIG_IP_MROUTE) is null with "<key>_reason", as is every ratio to it; a
figure whose run failed is {"error": reason}.
"""
import argparse
import json
import select
import socket
import statistics
import subprocess
import sys
import time

# The namespace, capture and IGMP-parsing helpers are join_latency.py's.
from join_latency import capture_socket, doctor_capabilities, igmp_groups, pairs, pct, stamped_frames  # noqa: E402

PACKET_OUTGOING = 4

NOTES = (
    "pps = frames delivered per second summed over the outputs (h1..hN rx_packets); input_pps = that / fan-out; "
    "offered_pps = the generators' frames (uo tx_packets + tx_dropped); loss = 1 - delivered / (offered x fan-out). "
    "The generator runs on generator_cpus; po's threaded NAPI kthread (GRO on po, TSO off on uo) on "
    "forwarder_cpu, where R's receive, the forwarding and the receivers' stack run: pps is what that core "
    "forwards, the offered load is above it (none = no forwarder, the generator's ceiling) and the excess backs "
    "up into the generator (uo tx_dropped). GRO on the receivers h1..h4 is receiver_gro in every configuration. "
    "xdp = xigmp forwarding: xdp with xdpMode auto (generic XDP on veth, xdp_attach), entry on the xdp path "
    "(devmap redirect); tc = the same with xdpMode: native, where the receivers' veths run no NAPI, so the entry "
    "takes the tc path (TC ingress on po, bpf_clone_redirect per egress); paths = what xigmp routes --json said. "
    "bridge = no xigmp, po and pi1..pi4 in a Linux bridge with IGMP snooping, the bridge as querier and a permanent "
    "mdb entry for the group on pi1..piN (bridge_forwarding says whether only those got it: snooping, or all ports: "
    "flooding; <key>_nonmember_pps = what h(N+1)..h4 received). mirred = no xigmp, a u32 filter on po's clsact "
    "ingress with tc action mirred egress mirror to pi1..pi(N-1) and redirect to piN (no TTL decrement and no MAC "
    "rewrite, like the bridge; xigmp does both). "
    "kernel = xigmp forwarding: kernel (the MFC, with xigmp's XDP IGMP classifier still attached to po); "
    "smcroute = the MFC with no XDP program on po; both need CONFIG_IP_MROUTE (ip_mroute, from xigmp doctor "
    "--json), and are null with <key>_reason where the kernel lacks it. first_packet = host report leaving h1 -> "
    "first data frame of the group arriving on h1 (one socket, kernel timestamps); the stream period "
    "(1/first_packet_stream_pps) adds up to one period.")


def log(*a):
    print("forwarding:", *a, file=sys.stderr, flush=True)


# ---------------------------------------------------------------- window

def snapshot(nss):
    """{ns: {ifname: stats64}} for every namespace, and the mid time."""
    t0 = time.monotonic()
    out = {}
    for ns in nss:
        raw = subprocess.run(["ip", "-n", ns, "-s", "-j", "link", "show"], check=True,
                             capture_output=True, text=True).stdout
        out[ns] = {l["ifname"]: l.get("stats64", {}) for l in json.loads(raw)}
    return (t0 + time.monotonic()) / 2, out


def window(a):
    gen_ns, gen_if = a.gen.split(":")
    rtr_ns, rtr_if = a.router.split(":")
    outs = [o.split(":") for o in a.out]
    idle = [o.split(":") for o in a.idle]
    nss = [gen_ns, rtr_ns] + sorted({ns for ns, _ in outs + idle} - {gen_ns, rtr_ns})
    # Started before the generators: the totals from here to their end give
    # the exact loss; the timed window in between gives the rates.
    _, s0 = snapshot(nss)
    print(json.dumps({"ready": True}), flush=True)
    time.sleep(a.warmup)
    t1, s1 = snapshot(nss)
    time.sleep(a.window)
    t2, s2 = snapshot(nss)
    dt = t2 - t1
    # Wait for the generators to stop (their tx counter still), then drain.
    prev = None
    while True:
        _, s3 = snapshot([gen_ns])
        cur = s3[gen_ns][gen_if]["tx"]["packets"]
        if cur == prev:
            break
        prev = cur
        time.sleep(0.3)
    time.sleep(0.2)
    _, s3 = snapshot(nss)

    def d(b, e, ns, ifname, direction, key):
        return e[ns][ifname][direction][key] - b[ns][ifname][direction][key]

    def offered(b, e):
        return d(b, e, gen_ns, gen_if, "tx", "packets") + d(b, e, gen_ns, gen_if, "tx", "dropped")

    per_out = [d(s1, s2, ns, ifname, "rx", "packets") for ns, ifname in outs]
    per_idle = [d(s1, s2, ns, ifname, "rx", "packets") for ns, ifname in idle]
    delivered = sum(per_out)
    total_offered = offered(s0, s3)
    total_delivered = sum(d(s0, s3, ns, ifname, "rx", "packets") for ns, ifname in outs)
    expected = total_offered * len(outs)
    print(json.dumps({
        "label": a.label, "round": a.round, "fanout": len(outs), "seconds": round(dt, 4),
        "offered_pps": offered(s1, s2) / dt,
        "router_rx_pps": d(s1, s2, rtr_ns, rtr_if, "rx", "packets") / dt,
        "per_output_pps": [n / dt for n in per_out],
        "forwarded_pps": delivered / dt,
        "input_pps_forwarded": (delivered / len(outs)) / dt if outs else 0,
        # receivers that should get nothing (a bridge that floods, a route too wide)
        "idle_pps": sum(per_idle) / dt,
        "per_idle_pps": [n / dt for n in per_idle],
        # whole run, generators' start to end (exact: no read skew)
        "total_offered": total_offered,
        "total_delivered": total_delivered,
        "router_rx_dropped": d(s0, s3, rtr_ns, rtr_if, "rx", "dropped"),
        "generator_tx_dropped": d(s0, s3, gen_ns, gen_if, "tx", "dropped"),
        # clamped at 0: the outputs also carry a few IGMP queries (xigmp's inside querier)
        "loss": max(0.0, 1 - total_delivered / expected) if expected else None,
    }))


# ----------------------------------------------------------- firstpacket

def report_groups(pkt):
    """Groups an IGMP membership report joins (v1/v2/v3), or []."""
    parsed = igmp_groups(pkt)
    return parsed[2] if parsed and parsed[1] == "report" else []


class Capture:
    def __init__(self, ns, ifname, group):
        self.sock = capture_socket(ns, ifname, outgoing=True)
        self.group = socket.inet_aton(group)
        self.group_s = group
        self.last_data = None       # monotonic time of the last data frame of G seen
        self.first_report = None    # kernel ns of the first outgoing report naming G
        self.first_data = None      # kernel ns of the first incoming data frame of G
        self.armed = False

    def drain(self):
        for ts, data, addr in stamped_frames(self.sock):
            if ts is None or len(data) < 20 or data[0] >> 4 != 4:
                continue
            outgoing = addr[2] == PACKET_OUTGOING
            if not outgoing and data[9] == 17 and data[16:20] == self.group:
                self.last_data = time.monotonic()
                if self.armed and self.first_data is None:
                    self.first_data = ts
            elif outgoing and self.armed and self.first_report is None \
                    and self.group_s in report_groups(data):
                self.first_report = ts

    def pump(self, seconds):
        end = time.monotonic() + seconds
        while True:
            left = end - time.monotonic()
            if left <= 0:
                return
            r, _, _ = select.select([self.sock], [], [], left)
            if r:
                self.drain()


def firstpacket(a):
    cap = Capture(a.ns, a.ifname, a.group)
    ip = ["ip", "-n", a.ns, "addr"]
    lat, failures = [], []
    cap.pump(0.2)
    for i in range(a.count):
        # 1. quiet: no data of G for a.quiet s (the last leave took effect)
        deadline = time.monotonic() + a.quiet_timeout
        while True:
            cap.pump(0.05)
            if cap.last_data is None or time.monotonic() - cap.last_data >= a.quiet:
                break
            if time.monotonic() > deadline:
                break
        if cap.last_data is not None and time.monotonic() - cap.last_data < a.quiet:
            failures.append(f"rep {i}: data of {a.group} still arriving {a.quiet_timeout} s after the leave")
            break
        # 2. join, and wait for the report and the first data frame
        cap.first_report = cap.first_data = None
        cap.armed = True
        subprocess.run(ip + ["add", f"{a.group}/32", "dev", a.ifname, "autojoin"], check=True)
        deadline = time.monotonic() + a.timeout
        while (cap.first_report is None or cap.first_data is None) and time.monotonic() < deadline:
            cap.pump(0.01)
        cap.armed = False
        if cap.first_report is None:
            failures.append(f"rep {i}: no report seen leaving {a.ifname}")
        elif cap.first_data is None:
            failures.append(f"rep {i}: no data within {a.timeout} s of the join")
        else:
            lat.append((cap.first_data - cap.first_report) / 1000)
        # 3. leave
        subprocess.run(ip + ["del", f"{a.group}/32", "dev", a.ifname], check=True)
        cap.pump(a.spacing)
    print(json.dumps({"label": a.label, "latencies_us": lat, "failures": failures}))


# ------------------------------------------------- progress lines and meta

def last_line(path):
    with open(path) as f:
        return json.loads([l for l in f.read().splitlines() if l.strip()][-1])


def report_window(a):
    r = last_line(a.file)
    loss = r["loss"] if r["loss"] is None else round(r["loss"], 5)
    print(f"forwarding: round {r['round']} {r['label']}: offered {r['offered_pps'] / 1e3:.0f} kpps, "
          f"forwarded {r['forwarded_pps'] / 1e3:.0f} kpps (fan-out {r['fanout']}), loss {loss}"
          + (f", to non-members {r['idle_pps']:.0f} pps" if r.get("idle_pps") else ""), file=sys.stderr)


def report_first(a):
    v, fails = [], []
    for p in a.files:
        r = json.load(open(p))
        v += r["latencies_us"]
        fails += r["failures"]
    v.sort()
    print(f"forwarding: {a.label} first packet: {len(v)} samples"
          + (f", p50 {v[len(v) // 2]:.0f} us, max {v[-1]:.0f} us" if v else "")
          + (f", failures: {fails[:2]}" if fails else ""), file=sys.stderr)


def meta(a):
    print(json.dumps({
        "errors": pairs(a.errors), "unavailable": pairs(a.unavailable),
        "kernel": a.kernel, "cpu": a.cpu,
        "capabilities": doctor_capabilities(a.doctor), "ip_mroute": {"yes": True, "no": False}.get(a.ip_mroute),
        "paths": pairs(a.paths), "receiver_gro": a.receiver_gro,
        "rounds_n": a.rounds, "window_s": a.window,
        "warmup_s": a.warmup, "generator_cpus": a.generator_cpus.split(), "forwarder_cpu": a.forwarder_cpu,
        "payload_bytes": a.payload,
        "frame_bytes": 14 + 20 + 8 + a.payload, "first_packet_stream_pps": a.first_pps, "first_packet_joins": a.reps,
        "xdp_attach": a.xdp_attach or "unknown", "tc_xdp_attach": "xdpMode: native",
        "smcroute_version": a.smcroute_version, "igmpproxy_version": a.igmpproxy_version,
        "notes": NOTES}))


# ------------------------------------------------------------- summarize

def summarize(a):
    meta = json.loads(a.meta)
    runs, first = [], {}
    for path in a.files:
        try:
            with open(path) as f:
                lines = [l for l in f.read().splitlines() if l.strip()]
            obj = json.loads(lines[-1])
        except (OSError, ValueError, IndexError) as e:
            log(f"{path}: unreadable ({e})")
            continue
        if "latencies_us" in obj:
            f = first.setdefault(obj["label"], {"latencies_us": [], "failures": []})
            f["latencies_us"] += obj["latencies_us"]
            f["failures"] += obj["failures"]
        else:
            runs.append(obj)
    out = {}
    by = {}
    for r in runs:
        by.setdefault(r["label"], []).append(r)

    def med(label, key):
        v = [r[key] for r in by.get(label, []) if r.get(key) is not None]
        return statistics.median(v) if v else None

    def key(label, name):
        """xdp_fanout1 + pps -> xdp_pps_fanout1; none + pps -> none_pps."""
        impl, _, fan = label.partition("_")
        return f"{impl}_{name}_{fan}" if fan else f"{label}_{name}"

    errors = meta.pop("errors", {})
    unavailable = meta.pop("unavailable", {})
    for label in sorted(by):
        for field, name in (("forwarded_pps", "pps"), ("offered_pps", "offered_pps"),
                            ("input_pps_forwarded", "input_pps"), ("loss", "loss")):
            if label == "none" and field != "offered_pps":
                continue
            v = med(label, field)
            if v is not None:
                out[key(label, name)] = round(v, 5) if name == "loss" else round(v)
        if label.startswith("bridge_") and any(r.get("per_idle_pps") for r in by[label]):
            v = med(label, "idle_pps")
            if v is not None:
                out[key(label, "nonmember_pps")] = round(v)
    for label, why in errors.items():
        if label not in ("xigmp", "igmpproxy") and key(label, "pps") not in out:
            out[key(label, "pps")] = {"error": why}
    for label, why in unavailable.items():
        if label not in ("xigmp", "igmpproxy"):
            out[key(label, "pps")] = None
            out[key(label, "pps") + "_reason"] = why

    # Ratios of medians, and the same ratio per round (the rounds rotate the
    # configurations, so one round's pair ran minutes apart at most).
    def ratio(num, den, f):
        name = f"{num}_over_{den}_fanout{f}"
        x, k = out.get(f"{num}_pps_fanout{f}"), out.get(f"{den}_pps_fanout{f}")
        if f"{den}_fanout{f}" in unavailable or f"{num}_fanout{f}" in unavailable:
            out[name] = None
            out[name + "_reason"] = unavailable.get(f"{den}_fanout{f}") or unavailable.get(f"{num}_fanout{f}")
        elif isinstance(x, (int, float)) and isinstance(k, (int, float)) and k:
            out[name] = round(x / k, 3)
            rx = {r["round"]: r["forwarded_pps"] for r in by.get(f"{num}_fanout{f}", [])}
            rk = {r["round"]: r["forwarded_pps"] for r in by.get(f"{den}_fanout{f}", [])}
            out[name + "_rounds"] = [round(rx[i] / rk[i], 3) for i in sorted(rx) if rk.get(i)]

    for num, den, fans in (("xdp", "bridge", (1, 2, 4)), ("tc", "bridge", (1, 2, 4)),
                           ("xdp", "mirred", (1, 2, 4)), ("tc", "mirred", (1, 2, 4)),
                           ("xdp", "kernel", (1, 2, 4)), ("tc", "kernel", (1, 2, 4)),
                           ("xdp", "smcroute", (1,))):
        for f in fans:
            ratio(num, den, f)
    # Did the bridge send the group to the registered ports only?  Fan-out 1
    # and 2 leave ports without it; a flooding bridge gives them as much as
    # the members.
    checks = [(r["idle_pps"], r["forwarded_pps"] / r["fanout"]) for label in by if label.startswith("bridge_")
              for r in by[label] if r.get("per_idle_pps") and r["fanout"]]
    if checks:
        worst = max(i / m if m else 0 for i, m in checks)
        out["bridge_forwarding"] = "snooping" if worst < 0.01 else "flooding"
        out["bridge_nonmember_share"] = round(worst, 4)
    elif any(label.startswith("bridge_") for label in by):
        out["bridge_forwarding"] = "unknown (no bridge run left a port out)"

    for who in ("xigmp", "igmpproxy"):
        r = first.get(who)
        if r is None:
            continue
        v = r["latencies_us"]
        if v:
            out[f"{who}_first_packet_us"] = round(pct(v, 50), 1)
            out[f"{who}_first_packet_p90_us"] = round(pct(v, 90), 1)
            out[f"{who}_first_packet_max_us"] = round(max(v), 1)
        else:
            out[f"{who}_first_packet_us"] = {"error": "; ".join(r["failures"][:2]) or "no samples"}
        out[f"{who}_first_packet_samples"] = len(v)
        if r["failures"]:
            out[f"{who}_first_packet_failures"] = r["failures"][:5]
    for label, why in errors.items():
        if label in ("xigmp", "igmpproxy") and f"{label}_first_packet_us" not in out:
            out[f"{label}_first_packet_us"] = {"error": why}
    for label, why in unavailable.items():
        if label in ("xigmp", "igmpproxy"):
            for k in ("first_packet_us", "first_packet_p90_us"):
                out[f"{label}_{k}"] = None
                out[f"{label}_{k}_reason"] = why
    xf, i_f = out.get("xigmp_first_packet_us"), out.get("igmpproxy_first_packet_us")
    if "igmpproxy" in unavailable:
        out["xigmp_over_igmpproxy_first_packet"] = None
        out["xigmp_over_igmpproxy_first_packet_reason"] = unavailable["igmpproxy"]
    elif isinstance(xf, (int, float)) and isinstance(i_f, (int, float)) and i_f:
        out["xigmp_over_igmpproxy_first_packet"] = round(xf / i_f, 3)
    out["rounds"] = sorted(runs, key=lambda r: (r["round"], r["label"]))
    out["first_packet_latencies_us"] = {k: [round(x, 1) for x in v["latencies_us"]] for k, v in first.items()}
    out.update(meta)
    print(json.dumps(out))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    w = sub.add_parser("window")
    w.add_argument("--label", required=True)
    w.add_argument("--round", type=int, default=0)
    w.add_argument("--gen", required=True, help="NS:IF of the generator")
    w.add_argument("--router", required=True, help="NS:IF where the router receives")
    w.add_argument("--out", nargs="*", default=[], help="NS:IF of every receiver")
    w.add_argument("--idle", nargs="*", default=[], help="NS:IF of receivers that should get nothing")
    w.add_argument("--warmup", type=float, default=1.0)
    w.add_argument("--window", type=float, default=5.0)
    f = sub.add_parser("firstpacket")
    f.add_argument("--label", required=True)
    f.add_argument("--ns", required=True)
    f.add_argument("--ifname", required=True)
    f.add_argument("--group", required=True)
    f.add_argument("--count", type=int, default=20)
    f.add_argument("--quiet", type=float, default=0.3)
    f.add_argument("--quiet-timeout", type=float, default=8.0)
    f.add_argument("--timeout", type=float, default=3.0)
    f.add_argument("--spacing", type=float, default=0.2)
    r = sub.add_parser("report-window")
    r.add_argument("file", help="a window run's output")
    r = sub.add_parser("report-first")
    r.add_argument("label")
    r.add_argument("files", nargs="*", help="that forwarder's firstpacket outputs")
    m = sub.add_parser("meta")
    m.add_argument("--errors", nargs="*", default=[], metavar="LABEL=REASON")
    m.add_argument("--unavailable", nargs="*", default=[], metavar="LABEL=REASON")
    m.add_argument("--paths", nargs="*", default=[], metavar="LABEL=PATH")
    m.add_argument("--doctor", required=True, help="xigmp doctor --json's output")
    m.add_argument("--ip-mroute", default="unknown", help="yes, no or unknown")
    m.add_argument("--rounds", type=int, required=True)
    m.add_argument("--window", type=float, required=True)
    m.add_argument("--warmup", type=float, required=True)
    m.add_argument("--generator-cpus", required=True, help="space-separated")
    m.add_argument("--forwarder-cpu", type=int, required=True)
    m.add_argument("--payload", type=int, required=True)
    m.add_argument("--first-pps", type=int, required=True)
    m.add_argument("--reps", type=int, required=True)
    m.add_argument("--xdp-attach", default="")
    m.add_argument("--smcroute-version", default="none")
    m.add_argument("--igmpproxy-version", default="none")
    m.add_argument("--receiver-gro", required=True)
    m.add_argument("--kernel", required=True)
    m.add_argument("--cpu", required=True)
    s = sub.add_parser("summarize")
    s.add_argument("--meta", default="{}")
    s.add_argument("files", nargs="*")
    a = ap.parse_args()
    {"window": window, "firstpacket": firstpacket, "report-window": report_window, "report-first": report_first,
     "meta": meta, "summarize": summarize}[a.cmd](a)


if __name__ == "__main__":
    main()
