"""Sends N IGMP v2 reports to 239.7.7.7 as Ethernet frames (scapy), from varying sources: `send_reports.py N`."""
import sys
from scapy.all import Ether, IP, sendp, conf
from scapy.contrib.igmp import IGMP
from scapy.layers.inet import IPOption_Router_Alert
conf.verb = 0
n = int(sys.argv[1])
frames = [Ether(src='02:00:00:00:00:b2', dst='01:00:5e:07:07:07')/IP(src='10.9.1.%d' % (i % 250 + 1), dst='239.7.7.7', ttl=1,
          options=[IPOption_Router_Alert()])/IGMP(type=0x16, gaddr='239.7.7.7') for i in range(n)]
sendp(frames, iface='vb')
