#!/usr/bin/env python3
"""Count the JSON lines of a capture that match a condition.

usage: jsonl_count.py FILE CONDITION

FILE holds one JSON object a line (`xigmp dump --json`, igmp_sniff.py);
CONDITION is a Python expression over `d`, the line's object, written by
the test at the call (e.g. "d.get('type') == 'query' and
d.get('src') == '10.2.0.1'").  Prints how many lines it is true for.  Blank
lines and the {"ready": ...} line a sniffer prints when it listens are not
counted.
"""
import argparse
import json


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("file", metavar="FILE")
    ap.add_argument("condition", metavar="CONDITION")
    a = ap.parse_args()
    test = compile(a.condition, "CONDITION", "eval")
    n = 0
    for line in open(a.file):
        if not line.strip():
            continue
        d = json.loads(line)
        if isinstance(d, dict) and "ready" in d:
            continue
        if eval(test, {}, {"d": d}):
            n += 1
    print(n)


if __name__ == "__main__":
    main()
