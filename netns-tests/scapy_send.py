#!/usr/bin/env python3
"""IGMP from a peer xigmp did not write, crafted with scapy.

usage: scapy_send.py frames IFACE SRC KIND[xN]...
       scapy_send.py spread IFACE GROUP PREFIX COUNT
       scapy_send.py answers IFACE SRC RESPONDER GROUP

frames: hand-specified frames from SRC, N of each KIND (default 1): query,
        query_noRA, v1_report, v2_report, v2_leave, v3_report, malformed, udp
spread: COUNT IGMPv2 reports for GROUP from PREFIX.1 .. PREFIX.COUNT, so that
        a multi-queue receiver hashes them over its RX queues
answers: one IGMPv2 general query (max response 0.5 s) from SRC; prints how
        many IGMP messages naming GROUP came back from RESPONDER within 1.5 s
"""
import argparse
import time

from scapy.all import Ether, IP, UDP, Raw, AsyncSniffer, sendp, conf
from scapy.contrib.igmp import IGMP
from scapy.contrib.igmpv3 import IGMPv3, IGMPv3mr, IGMPv3gr
from scapy.layers.inet import IPOption_Router_Alert

conf.verb = 0
RA = [IPOption_Router_Alert()]


def mac_of(group):
    o = [int(x) for x in group.split('.')]
    return '01:00:5e:%02x:%02x:%02x' % (o[1] & 0x7f, o[2], o[3])


def eth(group):
    return Ether(src='02:00:00:00:00:b1', dst=mac_of(group))


def frame(kind, src):
    if kind == 'query':
        return eth('224.0.0.1') / IP(src=src, dst='224.0.0.1', ttl=1, options=RA) / IGMP(type=0x11, mrcode=10, gaddr='0.0.0.0')
    if kind == 'query_noRA':
        return eth('224.0.0.1') / IP(src=src, dst='224.0.0.1', ttl=1) / IGMP(type=0x11, mrcode=10, gaddr='0.0.0.0')
    if kind == 'v1_report':
        return eth('239.1.1.1') / IP(src=src, dst='239.1.1.1', ttl=1) / IGMP(type=0x12, gaddr='239.1.1.1')
    if kind == 'v2_report':
        return eth('239.1.1.2') / IP(src=src, dst='239.1.1.2', ttl=1, options=RA) / IGMP(type=0x16, gaddr='239.1.1.2')
    if kind == 'v2_leave':
        return eth('224.0.0.2') / IP(src=src, dst='224.0.0.2', ttl=1, options=RA) / IGMP(type=0x17, gaddr='239.1.1.2')
    if kind == 'v3_report':
        rec = IGMPv3gr(rtype=4, maddr='239.1.1.3')
        return eth('224.0.0.22') / IP(src=src, dst='224.0.0.22', ttl=1, options=RA) / IGMPv3(type=0x22) / IGMPv3mr(records=[rec])
    if kind == 'malformed':
        # IPv4 says protocol 2 but the IGMP message is cut to 4 bytes.
        return eth('224.0.0.1') / IP(src=src, dst='224.0.0.1', ttl=1, proto=2) / Raw(b'\x11\x0a\x00\x00')
    if kind == 'udp':
        return eth('239.2.2.2') / IP(src=src, dst='239.2.2.2', ttl=8) / UDP(sport=5000, dport=5000) / Raw(b'data')
    raise SystemExit(f'unknown kind {kind}')


def frames(a):
    out = []
    for arg in a.kinds:
        kind, _, n = arg.partition('x')
        out += [frame(kind, a.src)] * int(n or 1)
    sendp(out, iface=a.iface)


def spread(a):
    sendp([Ether(dst=mac_of(a.group)) / IP(src='%s.%d' % (a.prefix, i), dst=a.group, ttl=1, options=RA) /
           IGMP(type=0x16, gaddr=a.group) for i in range(1, a.count + 1)], iface=a.iface)


def answers(a):
    s = AsyncSniffer(iface=a.iface, filter='igmp and src ' + a.responder)
    s.start()
    time.sleep(0.3)
    q = Ether(dst='01:00:5e:00:00:01') / IP(src=a.src, dst='224.0.0.1', ttl=1, options=RA) / IGMP(type=0x11, mrcode=5, gaddr='0.0.0.0')
    sendp(q, iface=a.iface)
    time.sleep(1.5)
    pk = s.stop()
    print(sum(1 for p in pk if p.haslayer(IGMP) and p[IGMP].gaddr == a.group))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    sub = ap.add_subparsers(dest="cmd", required=True)
    f = sub.add_parser("frames")
    f.add_argument("iface")
    f.add_argument("src")
    f.add_argument("kinds", nargs="+", metavar="KIND[xN]")
    s = sub.add_parser("spread")
    s.add_argument("iface")
    s.add_argument("group")
    s.add_argument("prefix")
    s.add_argument("count", type=int)
    w = sub.add_parser("answers")
    w.add_argument("iface")
    w.add_argument("src")
    w.add_argument("responder")
    w.add_argument("group")
    a = ap.parse_args()
    {"frames": frames, "spread": spread, "answers": answers}[a.cmd](a)


if __name__ == "__main__":
    main()
