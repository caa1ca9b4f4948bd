"""Multicast data for the forwarding tests.

  mcast_tool.py send GROUP COUNT [SOURCE|-] [INTERVAL]
                                               UDP datagrams to GROUP:5000, TTL 8,
                                               from SOURCE (an address of this host),
                                               INTERVAL s apart (default 0.002)
  mcast_tool.py sniff IFACE SECONDS [STOP]    every IPv4 UDP multicast datagram seen on
                                               IFACE (AF_PACKET, either direction), as
                                               one JSON summary: per (source, group) the
                                               count, the TTLs, whether every IP header
                                               checksum was valid, the source MACs, and
                                               when the first one arrived (first_t, epoch s);
                                               with STOP (a file name) it listens at least
                                               SECONDS and until STOP exists, plus 0.2 s
  mcast_tool.py hold GROUP SOURCE SECONDS [IFADDR]
                                               an IGMPv3 source-specific join held open,
                                               on the interface with address IFADDR (by
                                               default the one the route to GROUP takes)
  mcast_tool.py report IFACE SRC v2|v3 GROUP... one join per group, sent once, written
                                               byte by byte on AF_PACKET (Router Alert,
                                               TTL 1): v2 reports, or one v3 report of
                                               TO_EX {} records; no retransmission, no
                                               membership left behind in this host
"""
import json
import os, socket, struct, sys, time


def send(group, count, source=None, interval=0.002):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 8)
    if source:
        s.bind((source, 0))
        s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(source))
    for i in range(count):
        s.sendto(b"xigmp-data-%06d" % i + bytes(50), (group, 5000))
        time.sleep(interval)


def checksum_ok(header):
    total = sum(struct.unpack("!%dH" % (len(header) // 2), header))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return total == 0xFFFF


def sniff(iface, seconds, stop_file=None):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x0003))
    s.bind((iface, 0x0003))
    s.settimeout(0.1)
    flows = {}
    print(json.dumps({"ready": True}), flush=True)
    end = time.time() + seconds
    cap = end + 60
    while True:
        now = time.time()
        if stop_file is None:
            if now >= end:
                break
        elif os.path.exists(stop_file):
            # The test says its senders are done: linger a moment for what is in flight.
            end = max(end, os.path.getmtime(stop_file) + 0.2)
            if now >= end:
                break
        elif now >= cap:
            break
        try:
            frame = s.recv(4096)
        except socket.timeout:
            continue
        if len(frame) < 34 or frame[12:14] != b"\x08\x00":
            continue
        ip = frame[14:]
        ihl = (ip[0] & 0x0F) * 4
        if ip[9] != 17 or ip[16] >> 4 != 0xE or ip[16:19] == b"\xe0\x00\x00":
            continue
        key = socket.inet_ntoa(ip[12:16]) + ">" + socket.inet_ntoa(ip[16:20])
        f = flows.setdefault(key, {"count": 0, "ttls": [], "checksums_ok": True, "src_macs": [], "first_t": time.time()})
        f["count"] += 1
        payload = ip[ihl + 8:ihl + 8 + 17]
        if payload.startswith(b"xigmp-data-"):
            seq = int(payload[11:17])
            f.setdefault("first_seq", seq)
            f["last_seq"] = seq
        if ip[8] not in f["ttls"]:
            f["ttls"].append(ip[8])
        f["checksums_ok"] &= checksum_ok(ip[:ihl])
        mac = frame[6:12].hex(":")
        if mac not in f["src_macs"]:
            f["src_macs"].append(mac)
    print(json.dumps(flows), flush=True)


def hold(group, source, seconds, ifaddr="0.0.0.0"):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    mreq = socket.inet_aton(group) + socket.inet_aton(ifaddr) + socket.inet_aton(source)
    s.setsockopt(socket.IPPROTO_IP, 39, mreq)  # IP_ADD_SOURCE_MEMBERSHIP: imr_multiaddr, imr_interface, imr_sourceaddr
    time.sleep(float(seconds))


def inet_checksum(data):
    if len(data) % 2:
        data += b"\0"
    total = sum(struct.unpack("!%dH" % (len(data) // 2), data))
    while total >> 16:
        total = (total & 0xFFFF) + (total >> 16)
    return ~total & 0xFFFF


def igmp_frame(iface, src, dst, igmp):
    mac = bytes.fromhex(open("/sys/class/net/%s/address" % iface).read().strip().replace(":", ""))
    d = socket.inet_aton(dst)
    dmac = bytes([0x01, 0x00, 0x5E, d[1] & 0x7F, d[2], d[3]])
    igmp = igmp[:2] + struct.pack("!H", inet_checksum(igmp)) + igmp[4:]
    ra = bytes([0x94, 0x04, 0, 0])
    ip = struct.pack("!BBHHHBBH4s4s", 0x46, 0xC0, 24 + len(igmp), 0, 0, 1, 2, 0, socket.inet_aton(src), d) + ra
    ip = ip[:10] + struct.pack("!H", inet_checksum(ip)) + ip[12:]
    return dmac + mac + b"\x08\x00" + ip + igmp


def report(iface, src, version, groups):
    s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
    s.bind((iface, 0))
    if version == "v2":
        for g in groups:
            s.send(igmp_frame(iface, src, g, struct.pack("!BBH4s", 0x16, 0, 0, socket.inet_aton(g))))
    else:
        for i in range(0, len(groups), 100):
            chunk = groups[i:i + 100]
            recs = b"".join(struct.pack("!BBH4s", 4, 0, 0, socket.inet_aton(g)) for g in chunk)
            s.send(igmp_frame(iface, src, "224.0.0.22", struct.pack("!BBHHH", 0x22, 0, 0, 0, len(chunk)) + recs))


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "send":
        send(sys.argv[2], int(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 and sys.argv[4] != "-" else None,
             float(sys.argv[5]) if len(sys.argv) > 5 else 0.002)
    elif cmd == "sniff":
        sniff(sys.argv[2], float(sys.argv[3]), sys.argv[4] if len(sys.argv) > 4 else None)
    elif cmd == "hold":
        hold(*sys.argv[2:6])
    elif cmd == "report":
        report(sys.argv[2], sys.argv[3], sys.argv[4], sys.argv[5:])
