"""Send hand-specified IGMP frames with scapy (a peer xigmp did not write).

usage: scapy_send.py IFACE SRC KIND[xN] ...
kinds: query, query_noRA, v1_report, v2_report, v2_leave, v3_report,
       malformed, udp
"""
import sys
from scapy.all import Ether, IP, UDP, Raw, sendp, conf
from scapy.contrib.igmp import IGMP
from scapy.contrib.igmpv3 import IGMPv3, IGMPv3mr, IGMPv3gr
from scapy.layers.inet import IPOption_Router_Alert

conf.verb = 0
iface, src = sys.argv[1], sys.argv[2]
RA = [IPOption_Router_Alert()]


def eth(group):
    o = [int(x) for x in group.split('.')]
    return Ether(src='02:00:00:00:00:b1', dst='01:00:5e:%02x:%02x:%02x' % (o[1] & 0x7f, o[2], o[3]))


def frame(kind):
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


frames = []
for arg in sys.argv[3:]:
    kind, _, n = arg.partition('x')
    frames += [frame(kind)] * int(n or 1)
sendp(frames, iface=iface)
