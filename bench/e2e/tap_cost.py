#!/usr/bin/env python3
"""Fold bench/e2e/tap_cost.sh's rounds into its JSON object.

usage: tap_cost.py OFF ON

OFF and ON are the rounds' packets/s into the receiving namespace's IP
layer (IpInReceives) without and with `xigmp dump --datapath kernel`'s
AF_PACKET tap, space-separated.  Prints one JSON object: the medians, their
ratio and every round.
"""
import argparse
import json
import statistics


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    ap.add_argument("off", metavar="OFF", help="packets/s per round without the tap")
    ap.add_argument("on", metavar="ON", help="packets/s per round with it")
    a = ap.parse_args()
    off = [int(x) for x in a.off.split()]
    on = [int(x) for x in a.on.split()]
    mo, mn = statistics.median(off), statistics.median(on)
    print(json.dumps({"no_tap_pps": mo, "tap_pps": mn, "tap_over_no_tap": round(mn / mo, 3) if mo else None,
                      "no_tap_rounds": off, "tap_rounds": on,
                      "method": "UDP flat out over a veth, IpInReceives of the receiving namespace, rounds alternating"}))


if __name__ == "__main__":
    main()
