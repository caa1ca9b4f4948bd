#!/usr/bin/env python3
"""Count the entries of one map of the XDP program on an interface.

usage: classifier_map.py IFACE NAME [--inner]

Run in the interface's namespace (`ip netns exec NS`): finds the XDP
program attached to IFACE (`bpftool net show dev IFACE`), among its maps the
one named NAME, and prints how many entries it holds; with --inner, how many
the map in its slot 0 holds (a map of maps), 0 when the slot is empty.
"""
import argparse
import json
import subprocess


def bpftool(*args):
    return json.loads(subprocess.check_output(["bpftool", *args, "-j"]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("iface", metavar="IFACE")
    ap.add_argument("name", metavar="NAME")
    ap.add_argument("--inner", action="store_true", help="count the map in its slot 0")
    a = ap.parse_args()
    prog = [x for e in bpftool("net", "show", "dev", a.iface) for x in e.get("xdp", [])][0]["id"]
    for m in bpftool("prog", "show", "id", str(prog))["map_ids"]:
        if bpftool("map", "show", "id", str(m))["name"] != a.name:
            continue
        if a.inner:
            rows = bpftool("map", "dump", "id", str(m))
            v = rows[0].get("inner_map_id", rows[0].get("value")) if rows else None
            inner = int.from_bytes(bytes(int(b, 16) for b in v), "little") if isinstance(v, list) else v
            print(len(bpftool("map", "dump", "id", str(inner))) if inner is not None else 0)
        else:
            print(len(bpftool("map", "dump", "id", str(m))))


if __name__ == "__main__":
    main()
