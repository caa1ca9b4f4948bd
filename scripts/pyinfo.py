#!/usr/bin/env python3
"""Print where the Python interpreter that runs this lives.

usage: pyinfo.py stdlib|executable

stdlib: its standard library directory (where Debian's EXTERNALLY-MANAGED
marker is, PEP 668); executable: the interpreter itself (not a pyenv shim).
scripts/kernel-guest.sh asks the python3 on PATH.
"""
import argparse
import sys
import sysconfig


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("what", choices=("stdlib", "executable"))
    a = ap.parse_args()
    print(sysconfig.get_path("stdlib") if a.what == "stdlib" else sys.executable)


if __name__ == "__main__":
    main()
