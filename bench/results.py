#!/usr/bin/env python3
"""The results files of bench/run.sh.

usage: results.py section NAME STATUS LIMIT TMP
       results.py collect --tmp TMP --out FILE --kernel K --cores N --date D
                          --cpu MODEL --virt V --commit C --swift S
                          --seconds N [--quick]

section: one section's result from what its command left in TMP: NAME.out
         (stdout), NAME.err (stderr) and its exit STATUS (124 or 137: it
         outlived LIMIT seconds).  The result is the last JSON object it
         printed (an e2e script may wrap its figures in its section name),
         or {"error": "..."} saying why there is none; written to
         TMP/NAME.json.  Exits 1 for an error.
collect: every section's TMP/NAME.json and the machine (TMP/doctor.json
         from `xigmp doctor --json`, and the options) into FILE, the
         suite's latest.json.  A missing section becomes {"error": ...}.
"""
import argparse
import json
import sys

SECTIONS = ("classifier", "throughput", "translation", "join_latency", "forwarding", "control_plane", "tap_cost",
            "zap")


def section(a):
    name, status, limit, tmp = a.name, a.status, a.limit, a.tmp
    out = open(f"{tmp}/{name}.out", errors="replace").read()
    err = [l for l in open(f"{tmp}/{name}.err", errors="replace").read().splitlines() if l.strip()]
    obj = None
    for line in reversed([l for l in out.splitlines() if l.strip()]):
        try:
            obj = json.loads(line)
            break
        except ValueError:
            continue
    if obj is None:
        try:
            obj = json.loads(out)
        except ValueError:
            pass
    if status == 124 or status == 137:
        result = {"error": f"timed out after {limit} s"}
    elif status != 0 or not isinstance(obj, dict):
        why = err[-1] if err else "no output"
        result = {"error": f"exit {status}: {why}" if status else f"printed no JSON object: {why}"}
    else:
        # An e2e script may wrap its figures in its section name.
        result = obj[name] if len(obj) == 1 and isinstance(obj.get(name), dict) else obj
    json.dump(result, open(f"{tmp}/{name}.json", "w"))
    sys.exit(0 if "error" not in result else 1)


def collect(a):
    try:
        doctor = json.load(open(f"{a.tmp}/doctor.json"))
    except (OSError, ValueError):
        doctor = {}
    caps = doctor.get("capabilities")
    results = {"machine": {"kernel": a.kernel, "cpu": a.cpu, "cores": a.cores, "date": a.date,
                           "capabilities": caps if isinstance(caps, dict) else None,
                           "cpu_model": a.cpu, "virtualization": a.virt, "commit": a.commit, "swift": a.swift,
                           "suite_seconds": a.seconds}}
    if not isinstance(caps, dict):
        results["machine"]["capabilities_error"] = "xigmp doctor --json gave no capabilities"
    if a.quick:
        results["machine"]["quick"] = True
    for name in SECTIONS:
        try:
            results[name] = json.load(open(f"{a.tmp}/{name}.json"))
        except (OSError, ValueError) as e:
            results[name] = {"error": f"no result: {e}"}
    with open(a.out, "w") as f:
        json.dump(results, f, indent=2)
        f.write("\n")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    sub = ap.add_subparsers(dest="cmd", required=True)
    s = sub.add_parser("section")
    s.add_argument("name", metavar="NAME")
    s.add_argument("status", type=int, metavar="STATUS")
    s.add_argument("limit", metavar="LIMIT")
    s.add_argument("tmp", metavar="TMP")
    c = sub.add_parser("collect")
    c.add_argument("--tmp", required=True)
    c.add_argument("--out", required=True)
    c.add_argument("--kernel", required=True)
    c.add_argument("--cores", type=int, required=True)
    c.add_argument("--date", required=True)
    c.add_argument("--cpu", required=True)
    c.add_argument("--virt", required=True)
    c.add_argument("--commit", required=True)
    c.add_argument("--swift", required=True)
    c.add_argument("--seconds", type=int, required=True)
    c.add_argument("--quick", action="store_true", help="a BENCH_QUICK run")
    a = ap.parse_args()
    {"section": section, "collect": collect}[a.cmd](a)


if __name__ == "__main__":
    main()
