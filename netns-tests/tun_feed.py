"""Runs inside a test namespace: make a tun device, feed IGMP into it and
check that `xigmp dump --datapath auto` (which must choose the kernel path)
decodes it, then that `xigmp report` on the tun comes out of the tun fd.

usage: tun_feed.py XIGMP
"""
import fcntl, json, os, select, struct, subprocess, sys, time
from scapy.all import IP, raw
from scapy.contrib.igmp import IGMP
from scapy.contrib.igmpv3 import IGMPv3, IGMPv3mr, IGMPv3gr
from scapy.layers.inet import IPOption_Router_Alert

xigmp = sys.argv[1]
TUNSETIFF, IFF_TUN, IFF_NO_PI = 0x400454CA, 0x0001, 0x1000
fd = os.open('/dev/net/tun', os.O_RDWR)
fcntl.ioctl(fd, TUNSETIFF, struct.pack('16sH', b'xt0', IFF_TUN | IFF_NO_PI))
subprocess.run(['ip', 'addr', 'add', '10.66.0.1/24', 'dev', 'xt0'], check=True)
subprocess.run(['ip', 'link', 'set', 'xt0', 'up'], check=True)
time.sleep(0.3)
while select.select([fd], [], [], 0.2)[0]:
    os.read(fd, 2048)  # drop whatever the kernel sent when the link came up

ok = True
dump = subprocess.Popen([xigmp, 'dump', '--iface', 'xt0', '--json', '--count', '2'],
                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
time.sleep(1.5)
RA = [IPOption_Router_Alert()]
v2 = IP(src='10.66.0.2', dst='239.4.4.4', ttl=1, options=RA) / IGMP(type=0x16, gaddr='239.4.4.4')
v3 = IP(src='10.66.0.2', dst='224.0.0.22', ttl=1, options=RA) / IGMPv3(type=0x22) / IGMPv3mr(records=[IGMPv3gr(rtype=2, maddr='239.4.4.5')])
for p in (v2, v3):
    os.write(fd, raw(p))
try:
    out, err = dump.communicate(timeout=10)
except subprocess.TimeoutExpired:
    dump.kill(); out, err = dump.communicate()
print(err.strip())
lines = [json.loads(l) for l in out.splitlines() if l.strip()]
got = [(l.get('type'), l.get('group') or (l.get('records') or [{}])[0].get('group')) for l in lines]
print('dump on tun:', got)
if 'kernel datapath' not in err:
    print('FAIL: auto did not choose the kernel datapath on tun'); ok = False
if got != [('v2_report', '239.4.4.4'), ('v3_report', '239.4.4.5')]:
    print('FAIL: dump on tun did not decode both reports'); ok = False

r = subprocess.run([xigmp, 'report', '--iface', 'xt0', '--group', '239.4.4.6', '--igmp-version', '2'],
                   capture_output=True, text=True)
print(r.stdout.strip(), r.stderr.strip())
deadline, seen = time.time() + 3, None
while time.time() < deadline and seen is None:
    if select.select([fd], [], [], 0.2)[0]:
        pkt = IP(os.read(fd, 2048))
        if pkt.haslayer(IGMP) and pkt[IGMP].gaddr == '239.4.4.6':
            seen = pkt
if seen is None:
    print('FAIL: the report sent on tun never came out of the tun fd'); ok = False
else:
    chk_ip, chk_igmp = seen.chksum, seen[IGMP].chksum
    again = IP(raw(seen.__class__(raw(seen)).copy()))
    del seen.chksum; del seen[IGMP].chksum
    rebuilt = IP(raw(seen))
    good = (rebuilt.chksum == chk_ip and rebuilt[IGMP].chksum == chk_igmp and seen.ttl == 1 and seen.tos == 0xc0
            and any(o.option == 20 for o in seen.options))
    print('tun tx:', seen.summary(), 'ttl', seen.ttl, 'tos', hex(seen.tos), 'checksums ok' if good else 'BAD')
    ok = ok and good
print('tun ok' if ok else 'tun FAILED')
sys.exit(0 if ok else 1)
