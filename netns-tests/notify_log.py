#!/usr/bin/env python3
"""Read what notify_listener.py recorded (one JSON line per datagram:
{"t", "pid", "msg"}) for test_systemd_notify.sh.

usage: notify_log.py count LOG TEXT
       notify_log.py facts LOG

count: how many datagrams are TEXT, or start with TEXT and a newline.
facts: one line per fact, "KEY VALUE": the order of READY=1, RELOADING=1
and STOPPING=1 (order), every sender's pid (senders), MAINPID= and STATUS=
of the first READY=1 (mainpid, status), whether RELOADING=1's
MONOTONIC_USEC= is the listener's CLOCK_MONOTONIC at the receipt, less up
to a second (monotonic), the WATCHDOG=1 pings before STOPPING=1 (pings),
the largest gap between them up to STOPPING=1 (maxgap) and from READY=1 to
the first (firstping), in seconds.
"""
import argparse
import json


def fields(msg):
    return dict(kv.split("=", 1) for kv in msg.split("\n") if "=" in kv)


def count(a):
    rows = [json.loads(l) for l in open(a.log)]
    print(sum(1 for r in rows if r["msg"] == a.text or r["msg"].startswith(a.text + "\n")))


def facts(a):
    rows = [json.loads(l) for l in open(a.log)]
    kinds = []
    for r in rows:
        f = fields(r["msg"])
        for k in ("READY", "RELOADING", "STOPPING"):
            if f.get(k) == "1":
                kinds.append(k)
    print("order", " ".join(kinds))
    print("senders", " ".join(sorted({str(r["pid"]) for r in rows})))
    ready = [r for r in rows if fields(r["msg"]).get("READY") == "1"]
    first = fields(ready[0]["msg"]) if ready else {}
    print("mainpid", first.get("MAINPID", "none"))
    print("status", first.get("STATUS", "none"))
    rel = [r for r in rows if fields(r["msg"]).get("RELOADING") == "1"]
    if rel:
        mono = int(fields(rel[0]["msg"]).get("MONOTONIC_USEC", "0")) / 1e6
        # CLOCK_MONOTONIC at the send, against the listener's at the receipt.
        print("monotonic", "ok" if 0 <= rel[0]["t"] - mono < 1 else f"off by {rel[0]['t'] - mono:.3f}s")
    else:
        print("monotonic", "no RELOADING")
    stop = [r["t"] for r in rows if fields(r["msg"]).get("STOPPING") == "1"]
    pings = [r["t"] for r in rows if r["msg"] == "WATCHDOG=1" and (not stop or r["t"] <= stop[0])]
    print("pings", len(pings))
    if pings and ready and stop:
        # From the first ping to STOPPING: the gaps between pings, and from the
        # last one to STOPPING (the loop keeps pinging until it is stopped).
        ts = pings + [stop[0]]
        print("maxgap", f"{max(b - a for a, b in zip(ts, ts[1:])):.3f}")
        print("firstping", f"{max(0.0, pings[0] - ready[0]['t']):.3f}")
    else:
        print("maxgap", "none")
        print("firstping", "none")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    sub = ap.add_subparsers(dest="cmd", required=True)
    c = sub.add_parser("count")
    c.add_argument("log", metavar="LOG")
    c.add_argument("text", metavar="TEXT")
    f = sub.add_parser("facts")
    f.add_argument("log", metavar="LOG")
    a = ap.parse_args()
    {"count": count, "facts": facts}[a.cmd](a)


if __name__ == "__main__":
    main()
