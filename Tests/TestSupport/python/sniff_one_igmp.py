"""Captures one IGMP packet from SRC on IFACE (scapy) and prints it as JSON: `sniff_one_igmp.py IFACE SRC`."""
import json, sys
from scapy.all import sniff, IP
iface, src = sys.argv[1], sys.argv[2]
def csum_ok(b):
    if len(b) % 2: b += b"\0"
    s = sum(int.from_bytes(b[i:i+2], "big") for i in range(0, len(b), 2))
    while s >> 16: s = (s & 0xffff) + (s >> 16)
    return s == 0xffff
pkts = sniff(iface=iface, count=1, timeout=15,
             lfilter=lambda p: IP in p and p[IP].proto == 2 and p[IP].src == src,
             started_callback=lambda: print("ready", flush=True))
if pkts:
    ip = pkts[0][IP]
    b = bytes(ip)
    ihl = b[0] & 15
    total = int.from_bytes(b[2:4], "big")
    igmp = b[ihl*4:total]
    print(json.dumps({
        "ttl": b[8], "tos": b[1], "ihl": ihl, "total_length": total,
        "options": b[20:ihl*4].hex(),
        "scapy_option": type(ip.options[0]).__name__ if ip.options else None,
        "ip_checksum_ok": csum_ok(b[:ihl*4]), "igmp_checksum_ok": csum_ok(igmp),
        "dst": ip.dst, "igmp_type": igmp[0] if igmp else None,
    }), flush=True)
