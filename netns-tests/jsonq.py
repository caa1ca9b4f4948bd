#!/usr/bin/env python3
"""Print or test values in JSON: the key-path queries of the shell tests,
the demos and the benchmarks (`xigmp ... --json`, sniffer summaries, ...).

usage: jsonq.py [-f FILE] [--lines first|last|all] [--first] [--default TEXT]
                [--join SEP] [--sort | --set] [--count | --sum | --pairs | --test]
                PATH...

Reads one JSON document from stdin or FILE; with --lines the input is JSON
lines (blank lines skipped) and the document is the first line, the last,
or the list of all of them.  Each PATH is components separated by '/':

  KEY         a member of an object, or an element of an array (0, 1, -1)
  *           every element of an array, every value of an object
  #           the length of the value
  [COND,...]  the elements of an array (an object: itself) that meet every
              COND: SUB=TEXT (equal), SUB^=TEXT (starts with), SUB~=TEXT
              (contains), or SUB alone (there, and not empty or false);
              SUB is a path from the element, met when any value it reaches
              matches (an empty SUB is the element itself)

A path may reach several values (through * and [...]), or none.  Values are
compared and printed as Python's str() shows them (True, None, 3.5,
['a', 'b']), the way the one-liners this replaces printed them.

Prints the values every PATH reaches, in order, joined by SEP (default a
space), on one line (--first: only each PATH's first value); a PATH that
reaches nothing prints TEXT in its place with --default, and otherwise
makes the exit status 1.  --sort sorts the values, --set also drops
repeats.  --count prints how many values there are, --sum their sum,
--pairs each object as "key=value key=value ...".  --test prints nothing
and exits 0 when the first value is true (not false, null, 0 or empty),
else 1.

examples:
  xigmp stats --json | jsonq.py interfaces/0/counters/v2_report
  xigmp doctor --json | jsonq.py --test capabilities/tcx
  xigmp routes --json | jsonq.py --default none 'routes/[source=*,group=239.1.1.1]/path'
  jsonq.py -f sniff.json --lines last --default 0 '10.1.0.1>239.1.1.1/count'
"""
import argparse
import json
import re
import sys

OPERATOR = re.compile(r"^(.*?)(\^=|~=|=)(.*)$", re.S)


def split_outside_brackets(text, sep):
    """Splits TEXT at SEP where it is not inside [...]."""
    parts, depth, cur = [], 0, ""
    for ch in text:
        if ch == "[":
            depth += 1
        elif ch == "]":
            depth -= 1
        if ch == sep and depth == 0:
            parts.append(cur)
            cur = ""
        else:
            cur += ch
    parts.append(cur)
    return parts


def components(path):
    return [c for c in split_outside_brackets(path, "/") if c != ""]


def condition(text):
    """A predicate on one element from 'SUB=TEXT', 'SUB^=TEXT', 'SUB~=TEXT' or 'SUB'."""
    m = OPERATOR.match(text)
    if not m:
        sub = components(text)
        return lambda x: any(walk([x], sub))
    sub, op, want = components(m.group(1)), m.group(2), m.group(3)
    test = {"=": lambda s: s == want, "^=": lambda s: s.startswith(want), "~=": lambda s: want in s}[op]
    return lambda x: any(test(str(v)) for v in walk([x], sub))


def step(values, comp):
    out = []
    if comp.startswith("[") and comp.endswith("]"):
        conds = [condition(c) for c in split_outside_brackets(comp[1:-1], ",")]
        for v in values:
            for x in v if isinstance(v, list) else [v]:
                if all(c(x) for c in conds):
                    out.append(x)
        return out
    for v in values:
        if comp == "*":
            if isinstance(v, list):
                out.extend(v)
            elif isinstance(v, dict):
                out.extend(v.values())
        elif comp == "#":
            if isinstance(v, (list, dict, str)):
                out.append(len(v))
        elif isinstance(v, dict):
            if comp in v:
                out.append(v[comp])
        elif isinstance(v, list):
            try:
                i = int(comp)
            except ValueError:
                continue
            if -len(v) <= i < len(v):
                out.append(v[i])
    return out


def walk(values, comps):
    for comp in comps:
        values = step(values, comp)
    return values


def load(a):
    text = open(a.file).read() if a.file else sys.stdin.read()
    if not a.lines:
        return json.loads(text)
    rows = [json.loads(l) for l in text.splitlines() if l.strip()]
    if a.lines == "all":
        return rows
    if not rows:
        raise ValueError("no JSON line in the input")
    return rows[0] if a.lines == "first" else rows[-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("paths", nargs="+", metavar="PATH")
    ap.add_argument("-f", "--file", help="read FILE instead of stdin")
    ap.add_argument("--lines", choices=("first", "last", "all"), help="the input is JSON lines")
    ap.add_argument("--first", action="store_true", help="only each PATH's first value")
    ap.add_argument("--default", help="printed for a PATH that reaches nothing")
    ap.add_argument("--join", default=" ", metavar="SEP", help="between values (default a space)")
    order = ap.add_mutually_exclusive_group()
    order.add_argument("--sort", action="store_true", help="sorted")
    order.add_argument("--set", action="store_true", help="sorted, without repeats")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--count", action="store_true", help="print how many values")
    mode.add_argument("--sum", action="store_true", help="print their sum")
    mode.add_argument("--pairs", action="store_true", help="print objects as key=value ...")
    mode.add_argument("--test", action="store_true", help="exit 0 when the first value is true")
    a = ap.parse_args()
    try:
        doc = load(a)
    except (OSError, ValueError) as e:
        sys.exit(f"jsonq: {e}")
    values, missing = [], False
    for path in a.paths:
        got = walk([doc], components(path))[:1 if a.first else None]
        if got:
            values.extend(got)
        elif a.default is not None:
            values.append(a.default)
        else:
            missing = True
    if a.test:
        sys.exit(0 if values and values[0] else 1)
    if a.count:
        print(len(values))
        return
    if a.sum:
        print(sum(values))
        return
    if a.set:
        values = list({str(v): v for v in values}.values())
    if a.sort or a.set:
        try:
            values = sorted(values)
        except TypeError:  # mixed types: by their text
            values = sorted(values, key=str)
    if a.pairs:
        print(a.join.join(" ".join(f"{k}={v}" for k, v in o.items()) for o in values if isinstance(o, dict)))
    else:
        print(a.join.join(str(v) for v in values))
    sys.exit(1 if missing else 0)


if __name__ == "__main__":
    main()
