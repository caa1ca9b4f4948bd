#!/usr/bin/env python3
"""Exit 0 when every named Python module imports in this interpreter.

usage: has_module.py MODULE...

What a script needs before it starts (scapy for the namespace tests,
matplotlib for the benchmark's plot); the caller names the package that
provides it.  Prints nothing.
"""
import argparse
import importlib
import sys


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("modules", nargs="+", metavar="MODULE")
    for name in ap.parse_args().modules:
        try:
            importlib.import_module(name)
        except ImportError:
            sys.exit(1)


if __name__ == "__main__":
    main()
