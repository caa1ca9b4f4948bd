#!/usr/bin/env python3
"""Print the body of one HTTP GET (the daemon's /metrics).

usage: http_get.py URL [--timeout SECONDS]

Run inside the daemon's namespace (`ip netns exec NS`), where its metrics
listener is.  Exits non-zero with the error when the request fails.
"""
import argparse
import urllib.request


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("url", metavar="URL")
    ap.add_argument("--timeout", type=float, help="seconds (default: none)")
    a = ap.parse_args()
    kw = {} if a.timeout is None else {"timeout": a.timeout}
    print(urllib.request.urlopen(a.url, **kw).read().decode())


if __name__ == "__main__":
    main()
