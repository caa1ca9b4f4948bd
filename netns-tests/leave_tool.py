"""Receivers and leaves for the fast-leave test (netns-tests/test_fast_leave.sh).

  leave_tool.py watch IFACE GROUP SECONDS [LEAVE_AT]
      joins GROUP on UDP port 5000 (the kernel's own IGMP sends the reports),
      prints {"ready": true} once joined and listening, and watches IFACE's
      wire for SECONDS (AF_PACKET, kernel receive timestamps); with LEAVE_AT
      (seconds after the join) drops the membership then. Prints one JSON
      summary: data frames to GROUP seen, the largest gap between two before
      the leave (ms, from the first on), the longest run of the sender's
      sequence numbers missing before the leave (datagrams lost), and the
      last one after the leave's report left IFACE (ms after that report;
      null when none came after it).
  leave_tool.py spoof IFACE SRC_IP SRC_MAC GROUP
      one IGMPv3 report TO_IN({}) for GROUP (a leave) from SRC_IP and SRC_MAC,
      made with scapy (a peer xigmp did not write).
"""
import json
import socket
import struct
import sys
import time


SO_TIMESTAMPNS = 35
PACKET_OUTGOING = 4


def watch(iface, group, seconds, leave_at):
    raw = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    raw.bind((iface, 0x0003))
    raw.setsockopt(socket.SOL_SOCKET, SO_TIMESTAMPNS, 1)
    raw.settimeout(0.005)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 5000))
    mreq = socket.inet_aton(group) + socket.inet_aton("0.0.0.0")
    s.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
    g = socket.inet_aton(group)
    start = time.monotonic()
    print(json.dumps({"ready": True}), flush=True)
    arrivals = []       # kernel timestamps (s) of data frames to GROUP
    dropped = False
    leave_wire = None   # kernel timestamp of the first report out after the drop
    seqs = []           # sequence numbers (mcast_tool send) seen before the leave
    while time.monotonic() < start + seconds:
        if leave_at is not None and not dropped and time.monotonic() - start >= leave_at:
            s.setsockopt(socket.IPPROTO_IP, socket.IP_DROP_MEMBERSHIP, mreq)
            dropped = True
        try:
            frame, ancillary, _, address = raw.recvmsg(2048, 64)
        except socket.timeout:
            continue
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            continue
        stamp = None
        for level, kind, data in ancillary:
            if level == socket.SOL_SOCKET and kind == SO_TIMESTAMPNS:
                sec, nsec = struct.unpack("qq", data[:16])
                stamp = sec + nsec / 1e9
        if stamp is None:
            stamp = time.time()
        ip = frame[14:]
        if ip[9] == 2 and address[2] == PACKET_OUTGOING:
            if dropped and leave_wire is None:
                leave_wire = stamp
        elif ip[9] == 17 and ip[16:20] == g and address[2] != PACKET_OUTGOING:
            arrivals.append(stamp)
            ihl = (ip[0] & 0x0F) * 4
            payload = ip[ihl + 8:ihl + 8 + 17]
            if payload.startswith(b"xigmp-data-") and (leave_wire is None):
                seqs.append(int(payload[11:17]))
    before = [t for t in arrivals if leave_wire is None or t < leave_wire]
    gaps = [b - a for a, b in zip(before, before[1:])]
    after = [t for t in arrivals if leave_wire is not None and t >= leave_wire]
    print(json.dumps({
        "packets": len(arrivals),
        "packets_before_leave": len(before),
        "max_gap_ms": round(max(gaps) * 1000, 3) if gaps else None,
        "left": leave_wire is not None,
        "last_after_leave_ms": round((after[-1] - leave_wire) * 1000, 3) if after else None,
        "packets_after_leave": len(after),
        # The longest run of the sender's datagrams that never arrived (from
        # the first seen to the last before the leave): losses, not the
        # sender's own pauses.
        "max_missing_run": max((b - a - 1 for a, b in zip(sorted(set(seqs)), sorted(set(seqs))[1:])), default=None),
    }), flush=True)


def spoof(iface, src_ip, src_mac, group):
    from scapy.all import Ether, IP, sendp, conf
    from scapy.contrib.igmpv3 import IGMPv3, IGMPv3mr, IGMPv3gr
    from scapy.layers.inet import IPOption_Router_Alert
    conf.verb = 0
    frame = (Ether(src=src_mac, dst="01:00:5e:00:00:16")
             / IP(src=src_ip, dst="224.0.0.22", ttl=1, options=[IPOption_Router_Alert()])
             / IGMPv3(type=0x22) / IGMPv3mr(records=[IGMPv3gr(rtype=3, maddr=group)]))
    sendp(frame, iface=iface)


if __name__ == "__main__":
    if sys.argv[1] == "watch":
        watch(sys.argv[2], sys.argv[3], float(sys.argv[4]), float(sys.argv[5]) if len(sys.argv) > 5 else None)
    elif sys.argv[1] == "spoof":
        spoof(*sys.argv[2:6])
    else:
        sys.exit(__doc__)
