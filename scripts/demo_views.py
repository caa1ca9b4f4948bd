#!/usr/bin/env python3
"""What scripts/demo.sh prints from its captures.

usage: demo_views.py heard UP_JSON IN_JSON
       demo_views.py flows FLOWS_JSON NAME
       demo_views.py figures IGMP_JSONL FLOWS_JSON T_UP

heard:   act 1's side-by-side view: the IGMP heard upstream (UP_JSON) and
         inside (IN_JSON), both `xigmp dump --json` lines, one row per
         message in time order, upstream left, inside right.
flows:   act 2: per (source, group) flow of a netns-tests/mcast_tool.py
         sniff summary (its last line), the datagrams, TTLs and whether
         the IP checksums were valid, each line prefixed with NAME.
figures: act 3: from the container's IGMP (netns-tests/igmp_sniff.py) and
         data (mcast_tool.py sniff) captures and the instant T_UP (epoch s)
         the bridge came up: bridge up -> xigmp's first startup query, and
         the container's report -> the first 239.7.7.7 datagram.  Exits 1
         unless a query came and more than 1000 datagrams arrived.
"""
import argparse
import json
import sys
import time


def load_heard(path, side):
    out = []
    for line in open(path):
        d = json.loads(line)
        if "error" in d:
            what = "error: " + d["error"]
        elif d["type"] == "query":
            what = f"query v{d['version']} {d['group'] or 'general'} max {d['max_resp_s']}s"
        elif d["type"] == "v3_report":
            what = "v3 " + ", ".join(f"{r['type']} {r['group']}" for r in d["records"])
        else:
            what = f"{d['type']} {d['group']}"
        out.append((d["time"], side, f"{d['src']} > {d['dst']}: {what}"))
    return out


def heard(a):
    rows = sorted(load_heard(a.up, 0) + load_heard(a.inside, 1))
    for t, side, text in rows:
        clock = time.strftime("%H:%M:%S", time.gmtime(t)) + f".{int(t * 1000) % 1000:03d}"
        left, right = (text, "") if side == 0 else ("", text)
        print(f"{clock}  {left:<58.58} | {right}")


def flows(a):
    found = json.loads(open(a.flows).read().splitlines()[-1])
    for key, f in sorted(found.items()):
        print(f"   {a.name}: {key}: {f['count']} datagrams, TTL {f['ttls']}, "
              f"IP checksums {'valid' if f['checksums_ok'] else 'BAD'}")
    if not found:
        print(f"   {a.name}: nothing")


def figures(a):
    igmp = [json.loads(l) for l in open(a.igmp) if '"t"' in l]
    data = json.loads(open(a.flows).read().splitlines()[-1]).get("10.10.0.1>239.7.7.7")
    up = a.t_up
    q = next((d["t"] for d in igmp if d["type"] == 0x11 and d["src"] == "10.40.0.1"), None)
    r = next((d["t"] for d in igmp if d["type"] == 0x22 and "239.7.7.7" in d["groups"]), None)
    print(f"   bridge up -> first startup query from xigmp: {'%.1f ms' % ((q - up) * 1000) if q else 'none'}")
    print(f"   c4's report -> first 239.7.7.7 datagram forwarded to it: "
          f"{'%.1f ms' % ((data['first_t'] - r) * 1000) if data and r else 'none'}"
          f" ({data['count'] if data else 0} datagrams in 5 s)")
    sys.exit(0 if q and data and data["count"] > 1000 else 1)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    sub = ap.add_subparsers(dest="cmd", required=True)
    h = sub.add_parser("heard")
    h.add_argument("up", metavar="UP_JSON")
    h.add_argument("inside", metavar="IN_JSON")
    f = sub.add_parser("flows")
    f.add_argument("flows", metavar="FLOWS_JSON")
    f.add_argument("name", metavar="NAME")
    g = sub.add_parser("figures")
    g.add_argument("igmp", metavar="IGMP_JSONL")
    g.add_argument("flows", metavar="FLOWS_JSON")
    g.add_argument("t_up", type=float, metavar="T_UP")
    a = ap.parse_args()
    {"heard": heard, "flows": flows, "figures": figures}[a.cmd](a)


if __name__ == "__main__":
    main()
