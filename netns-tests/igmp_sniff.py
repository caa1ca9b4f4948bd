"""Prints one JSON line per IGMP frame seen on an interface, with the kernel's
receive timestamp (AF_PACKET + SO_TIMESTAMPNS): works on bridge ports, where
an IP socket sees nothing.

usage: igmp_sniff.py IFACE SECONDS [GROUP-PREFIX]
Only reports naming a group that starts with GROUP-PREFIX are printed when
it is given (a flood on the same wire stays out of the output).
"""
import json, socket, struct, sys, time

iface, seconds = sys.argv[1], float(sys.argv[2])
prefix = sys.argv[3] if len(sys.argv) > 3 else None
SO_TIMESTAMPNS = 35
# Every protocol (ETH_P_ALL): a bridge port hands its frames to the bridge
# before protocol-specific taps run, so only an all-protocol tap sees them.
# SOCK_DGRAM strips the link header; IPv4 is picked by the address's protocol.
s = socket.socket(socket.AF_PACKET, socket.SOCK_DGRAM, socket.htons(0x0003))
s.bind((iface, 0x0003))  # Python converts the protocol to network order here
s.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 8 << 20)
s.settimeout(0.2)
end = time.time() + seconds
print(json.dumps({"ready": True}), flush=True)
def handle(data, anc, address, until=None):
    if address[1] != 0x0800 or len(data) < 20 or data[9] != 2:
        return
    ts = None
    for level, kind, value in anc:
        if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
            sec, nsec = struct.unpack("qq", value[:16])
            ts = sec + nsec / 1e9
    if until is not None and (ts is None or ts > until):
        return  # after the window: not this capture's
    ihl = (data[0] & 0x0F) * 4
    igmp = data[ihl:]
    src = socket.inet_ntoa(data[12:16])
    kind = igmp[0]
    groups = []
    if kind == 0x22 and len(igmp) >= 8:
        n = struct.unpack("!H", igmp[6:8])[0]
        off = 8
        for _ in range(n):
            if off + 8 > len(igmp):
                break
            aux, nsrc = igmp[off + 1], struct.unpack("!H", igmp[off + 2:off + 4])[0]
            groups.append(socket.inet_ntoa(igmp[off + 4:off + 8]))
            off += 8 + 4 * nsrc + 4 * aux
    elif len(igmp) >= 8:
        groups.append(socket.inet_ntoa(igmp[4:8]))
    if prefix and not any(g.startswith(prefix) for g in groups):
        return
    print(json.dumps({"t": ts, "src": src, "type": kind, "groups": groups}), flush=True)


while time.time() < end:
    try:
        data, anc, _, address = s.recvmsg(2048, socket.CMSG_SPACE(16))
    except socket.timeout:
        continue
    except OSError as e:
        if e.errno != 100:  # ENETDOWN: the interface is down for now; watch on
            raise
        time.sleep(0.05)
        continue
    handle(data, anc, address)
# What the kernel queued before the deadline is reported too: on a machine
# busy enough (a flood on two cores) this process can be scheduled again
# only after its window ended, with the frames it was waiting for queued.
s.setblocking(False)
while True:
    try:
        data, anc, _, address = s.recvmsg(2048, socket.CMSG_SPACE(16))
    except (BlockingIOError, InterruptedError):
        break
    except OSError:
        break
    handle(data, anc, address, until=end)
