"""A multicast source behind an L3 uplink: makes tun device IFNAME with ADDR
in the calling namespace, waits DELAY seconds, writes COUNT UDP datagrams
(TTL 8) from SOURCE to GROUP into it (the kernel sees them arrive on
IFNAME), and keeps the device until HOLD seconds have passed.

usage: tun_source.py IFNAME ADDR/LEN SOURCE GROUP COUNT DELAY HOLD
"""
import fcntl, os, select, struct, subprocess, sys, time
from scapy.all import IP, UDP, raw

ifname, addr, source, group = sys.argv[1:5]
count, delay, hold = int(sys.argv[5]), float(sys.argv[6]), float(sys.argv[7])
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', ifname.encode(), IFF_TUN | IFF_NO_PI))
subprocess.run(['ip', 'addr', 'add', addr, 'dev', ifname], check=True)
subprocess.run(['ip', 'link', 'set', ifname, 'up'], check=True)
print('ready', flush=True)
start = time.time()
packet = lambda i: raw(IP(src=source, dst=group, ttl=8, id=i) / UDP(sport=4000, dport=5000) / (b'xigmp-data-%06d' % i))
sent = False
while time.time() - start < hold:
    # What the kernel sends out of the tun (xigmp's reports upstream) is read and dropped.
    if select.select([fd], [], [], 0.05)[0]:
        os.read(fd, 4096)
    if not sent and time.time() - start >= delay:
        for i in range(count):
            os.write(fd, packet(i))
        sent = True
        print('sent', count, flush=True)
