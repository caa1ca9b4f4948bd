#!/usr/bin/python3
# SPDX-License-Identifier: MIT
"""Generate IGMP test vectors with scapy, an encoder nobody on this project wrote.

Writes Tests/IGMPWireTests/Vectors/scapy_vectors.json (or stdout with --stdout).
Each vector: name, layer ("ethernet" | "ipv4" | "igmp"), the bytes as hex, and either
"expect" (the fields a correct decoder reads) or "error" (the IGMPParseError case a
correct decoder throws). Well-formed vectors also say whether xigmp's encoder, given
the same fields, must produce byte-identical output ("identical") and, when not, why.
"timer_codes" records scapy's own IGMPv3 Max Resp Code encoder for many values.

Run with the system python (/usr/bin/python3), which has python3-scapy.
The output is deterministic; IGMPWireTests regenerates it and diffs.
"""
import json
import os
import sys

from scapy import VERSION as SCAPY_VERSION
from scapy.contrib.igmp import IGMP
from scapy.contrib.igmpv3 import IGMPv3, IGMPv3gr, IGMPv3mq, IGMPv3mr
from scapy.layers.inet import IP, UDP, IPOption_NOP, IPOption_Router_Alert
from scapy.layers.l2 import ARP, Dot1AD, Dot1Q, Ether, getmacbyip
from scapy.packet import Padding, Raw

HOST_MAC = "02:00:00:00:00:01"
HOST_IP = "192.0.2.10"
QUERIER_IP = "192.0.2.1"


def igmp_ip(dst, src=HOST_IP, ra=True, **kw):
    """IP header as IGMP wants it: TTL 1, TOS 0xc0, Router Alert, ID 0, no flags."""
    fields = dict(src=src, dst=dst, ttl=1, tos=0xC0, id=0, flags=0)
    fields.update(kw)
    if ra:
        fields["options"] = [IPOption_Router_Alert()]
    return IP(**fields)


def eth(dst_ip, src=HOST_MAC):
    # scapy's getmacbyip maps multicast IPs to 01:00:5e + low 23 bits on its own.
    return Ether(src=src, dst=getmacbyip(dst_ip))


def query(version, group="0.0.0.0", mrc=0, s=0, qrv=0, qqic=0, sources=()):
    d = dict(version=version, type=0x11, max_resp_code=mrc, group=group)
    if version == 3:
        d.update(s=s, qrv=qrv, qqic=qqic, sources=list(sources))
    return d


def v3query(group="0.0.0.0", mrc=100, s=0, qrv=2, qqic=125, sources=()):
    pkt = IGMPv3(type=0x11, mrcode=mrc) / IGMPv3mq(gaddr=group, s=s, qrv=qrv, qqic=qqic,
                                                  srcaddrs=list(sources))
    return pkt, query(3, group, mrc, s, qrv, qqic, sources)


def record(rtype, group, sources=(), aux=b""):
    gr = IGMPv3gr(rtype=rtype, maddr=group, srcaddrs=list(sources), auxdlen=len(aux) // 4)
    if aux:
        gr = gr / Raw(aux)
    return gr, dict(type=rtype, group=group, sources=list(sources), aux=aux.hex())


def v3report(recs):
    built = [r[0] for r in recs]
    pkt = IGMPv3(type=0x22, mrcode=0) / IGMPv3mr(records=built)
    return pkt, dict(type=0x22, max_resp_code=0, records=[r[1] for r in recs])


def simple(t, group, mrc=0):
    return IGMP(type=t, mrcode=mrc, gaddr=group), dict(type=t, max_resp_code=mrc, group=group)


def ip_expect(ip_pkt):
    p = IP(bytes(ip_pkt))
    ra = any(isinstance(o, IPOption_Router_Alert) for o in p.options)
    return dict(src=p.src, dst=p.dst, ttl=p.ttl, tos=p.tos, ihl=p.ihl, id=p.id,
                router_alert=ra, total_length=p.len)


vectors = []


def add(name, layer, pkt, igmp=None, error=None, identical=True, note="", pad=False):
    raw = bytes(pkt)
    v = dict(name=name, layer=layer, hex=raw.hex())
    if error:
        v["error"] = error
    else:
        expect = dict(igmp=igmp)
        if layer in ("ethernet", "ipv4"):
            expect["ip"] = ip_expect(pkt[IP])
        if layer == "ethernet":
            e = pkt[Ether]
            vlans = []
            layer_ = e.payload
            while isinstance(layer_, (Dot1Q, Dot1AD)):
                vlans.append(dict(tpid=0x88A8 if isinstance(layer_, Dot1AD) else 0x8100,
                                  vid=layer_.vlan, pcp=layer_.prio))
                layer_ = layer_.payload
            expect["eth"] = dict(dst=e.dst, src=e.src, vlans=vlans)
        if layer == "igmp":
            igmp["length"] = len(raw)
        else:
            igmp["length"] = expect["ip"]["total_length"] - expect["ip"]["ihl"] * 4
        v["expect"] = expect
        v["identical"] = identical
        v["pad"] = pad
        if note:
            v["note"] = note
    vectors.append(v)


def frame(msg, dst, layer="ethernet", src_ip=HOST_IP, **ipkw):
    ip = igmp_ip(dst, src=src_ip, **ipkw) / msg
    return eth(dst) / ip if layer == "ethernet" else ip


# --- queries, every version and kind --------------------------------------------
m, f = simple(0x11, "0.0.0.0", 0); f["version"] = 1
add("v1_general_query", "ethernet", frame(m, "224.0.0.1", src_ip=QUERIER_IP), f)
m, f = simple(0x11, "0.0.0.0", 100); f["version"] = 2
add("v2_general_query", "ethernet", frame(m, "224.0.0.1", src_ip=QUERIER_IP), f)
m, f = simple(0x11, "239.1.2.3", 10); f["version"] = 2
add("v2_group_specific_query", "ethernet", frame(m, "239.1.2.3", src_ip=QUERIER_IP), f)
m, f = v3query()
add("v3_general_query", "ethernet", frame(m, "224.0.0.1", src_ip=QUERIER_IP), f)
m, f = v3query(group="239.1.2.3", mrc=10, qrv=3, qqic=60)
add("v3_group_specific_query", "ethernet", frame(m, "239.1.2.3", src_ip=QUERIER_IP), f)
m, f = v3query(group="232.1.1.1", mrc=10, s=1, qrv=2,
               sources=["10.1.1.1", "10.1.1.2", "198.51.100.7"])
add("v3_group_and_source_specific_query", "ethernet",
    frame(m, "232.1.1.1", src_ip=QUERIER_IP), f)
m, f = v3query(mrc=0x8F, qrv=7, qqic=0xFF)
add("v3_query_float_codes", "ethernet", frame(m, "224.0.0.1", src_ip=QUERIER_IP), f)

# --- v1/v2 reports and leave ------------------------------------------------------
m, f = simple(0x12, "239.1.1.1")
add("v1_report", "ethernet", frame(m, "239.1.1.1"), f)
m, f = simple(0x16, "239.2.2.2")
add("v2_report", "ethernet", frame(m, "239.2.2.2"), f)
m, f = simple(0x17, "239.2.2.2")
add("v2_leave", "ethernet", frame(m, "224.0.0.2"), f)

# --- v3 reports: each record type, several records, aux data, none ----------------
names = {1: "is_in", 2: "is_ex", 3: "to_in", 4: "to_ex", 5: "allow", 6: "block"}
for rtype, short in names.items():
    srcs = [] if rtype in (3, 4) else ["10.0.0.%d" % rtype, "10.0.1.%d" % rtype]
    m, f = v3report([record(rtype, "239.3.0.%d" % rtype, srcs)])
    add("v3_report_%s" % short, "ethernet", frame(m, "224.0.0.22"), f)
m, f = v3report([record(3, "239.3.1.1", ["10.0.0.1"]),
                 record(4, "239.3.1.2"),
                 record(5, "232.3.1.3", ["10.0.0.2", "10.0.0.3", "10.0.0.4"]),
                 record(1, "232.3.1.4", ["10.0.0.5"], aux=bytes(range(1, 9))),
                 record(6, "232.3.1.3", ["10.0.0.2"])])
add("v3_report_multi_aux", "ethernet", frame(m, "224.0.0.22"), f)
m, f = v3report([])
add("v3_report_empty", "ethernet", frame(m, "224.0.0.22"), f)

# --- VLAN tags --------------------------------------------------------------------
m, f = simple(0x16, "239.4.4.4")
add("v2_report_vlan", "ethernet",
    Ether(src=HOST_MAC, dst=getmacbyip("239.4.4.4")) / Dot1Q(vlan=100, prio=6)
    / igmp_ip("239.4.4.4") / m, f)
m, f = v3report([record(4, "239.4.4.5")])
add("v3_report_qinq", "ethernet",
    Ether(src=HOST_MAC, dst=getmacbyip("224.0.0.22")) / Dot1AD(vlan=10) / Dot1Q(vlan=20)
    / igmp_ip("224.0.0.22") / m, f)

# --- other layers -----------------------------------------------------------------
m, f = v3report([record(5, "232.5.5.5", ["10.5.5.5"])])
add("ipv4_v3_report", "ipv4", frame(m, "224.0.0.22", layer="ipv4"), f)
m, f = simple(0x16, "239.6.6.6")
add("igmp_v2_report", "igmp", m, f)
m, f = v3query(group="232.6.6.6", mrc=20, sources=["10.6.6.6"])
add("igmp_v3_gss_query", "igmp", m, f)

# --- well-formed but not what our encoder would emit -------------------------------
m, f = simple(0x16, "239.7.7.7")
add("v2_report_no_router_alert", "ethernet",
    eth("239.7.7.7") / igmp_ip("239.7.7.7", ra=False, tos=0) / m, f)
m, f = simple(0x16, "239.7.7.8")
add("v2_report_ethernet_padded", "ethernet",
    eth("239.7.7.8") / igmp_ip("239.7.7.8") / m / Padding(b"\x00" * 14), f, pad=True)
m, f = simple(0x17, "239.7.7.9")
add("v2_leave_router_alert_after_nop", "ethernet",
    eth("224.0.0.2") / igmp_ip("224.0.0.2", ra=False,
                               options=[IPOption_NOP(), IPOption_Router_Alert()]) / m,
    f, identical=False,
    note="Router Alert after a NOP, IHL 7; our encoder always puts it first (IHL 6)")
m = IGMP(type=0x16, gaddr="239.7.7.10")
add("v2_report_scapy_defaults", "ethernet",
    Ether(src=HOST_MAC, dst=getmacbyip("239.7.7.10")) / IP(src=HOST_IP, dst="239.7.7.10") / m,
    dict(type=0x16, max_resp_code=20, group="239.7.7.10"), identical=False,
    note="scapy's defaults: IP id 1, TOS 0, no Router Alert, and Max Resp Code 20 in a "
         "report, which RFC 2236 says is 0 and receivers ignore; we always send 0")
m, f = v3report([record(2, "239.7.7.11", ["10.7.7.7"])])
add("v3_report_trailing_data", "ethernet",
    eth("224.0.0.22") / igmp_ip("224.0.0.22") / (m / Raw(b"\xde\xad\xbe\xef")), f,
    identical=False,
    note="4 bytes after the last record: covered by the checksum, otherwise ignored "
         "(RFC 3376 4.2.11); we never append them")

# --- malformed --------------------------------------------------------------------
add("bad_igmp_checksum", "ethernet",
    frame(IGMP(type=0x16, mrcode=0, gaddr="239.8.8.8", chksum=0xDEAD), "239.8.8.8"),
    error="badIGMPChecksum")
add("bad_ip_checksum", "ethernet",
    eth("239.8.8.8") / igmp_ip("239.8.8.8", chksum=0x1234) / IGMP(type=0x16, mrcode=0,
                                                                  gaddr="239.8.8.8"),
    error="badIPChecksum")
add("query_10_bytes", "ethernet",
    frame(IGMP(type=0x11, mrcode=100) / Raw(b"\x00\x00"), "224.0.0.1"),
    error="queryLengthInvalid")
add("igmp_7_bytes", "ipv4", igmp_ip("224.0.0.1", proto=2) / Raw(b"\x11\x64\x00\x00\x00\x00\x00"),
    error="igmpTooShort")
add("v3_query_sources_past_end", "ethernet",
    frame(IGMPv3(type=0x11, mrcode=100) / IGMPv3mq(numsrc=4, srcaddrs=["10.9.9.9"]),
          "224.0.0.1"), error="querySourcesPastEnd")
add("v3_report_records_past_end", "ethernet",
    frame(IGMPv3(type=0x22, mrcode=0) / IGMPv3mr(numgrp=3, records=[record(4, "239.9.9.9")[0]]),
          "224.0.0.22"), error="reportRecordsPastEnd")
add("v3_record_sources_past_end", "ethernet",
    frame(IGMPv3(type=0x22, mrcode=0)
          / IGMPv3mr(records=[IGMPv3gr(rtype=1, maddr="239.9.9.9", numsrc=5,
                                       srcaddrs=["10.9.9.9"])]), "224.0.0.22"),
    error="recordSourcesPastEnd")
add("v3_record_aux_past_end", "ethernet",
    frame(IGMPv3(type=0x22, mrcode=0)
          / IGMPv3mr(records=[IGMPv3gr(rtype=1, maddr="239.9.9.9", auxdlen=2)]), "224.0.0.22"),
    error="recordAuxDataPastEnd")
add("unknown_type_0x13", "ethernet", frame(IGMP(type=0x13, mrcode=0), "224.0.0.4"),
    error="unknownType")
add("ip_fragment", "ethernet",
    eth("239.8.8.8") / igmp_ip("239.8.8.8", flags="MF") / IGMP(type=0x16, mrcode=0,
                                                               gaddr="239.8.8.8"),
    error="fragment")
add("not_igmp_udp", "ethernet",
    eth("239.8.8.8") / IP(src=HOST_IP, dst="239.8.8.8") / UDP(sport=1, dport=2),
    error="notIGMP")
add("not_ipv4_arp", "ethernet", Ether(src=HOST_MAC, dst="ff:ff:ff:ff:ff:ff") / ARP(),
    error="notIPv4")
add("ip_total_length_too_big", "ethernet",
    eth("239.8.8.8") / igmp_ip("239.8.8.8", len=100) / IGMP(type=0x16, mrcode=0,
                                                            gaddr="239.8.8.8"),
    error="totalLengthMismatch")
add("truncated_ethernet", "ethernet", Raw(bytes(eth("239.8.8.8"))[:10]), error="truncated")

# scapy's own IGMPv3 Max Resp Code encoder (IGMPv3.encode_maxrespcode), as a second
# opinion on IGMPTimerCode.encode: every value to 1100, then a sweep past the maximum.
values = list(range(0, 1100)) + list(range(1100, 33000, 37)) + [31743, 31744, 31745, 65535]
timer_codes = []
for value in values:
    q = IGMPv3(mrcode=value)
    q.encode_maxrespcode()
    timer_codes.append([value, q.mrcode])

out = dict(generator="scripts/make_vectors.py", scapy_version=SCAPY_VERSION,
           vectors=vectors, timer_codes=timer_codes)
text = json.dumps(out, indent=1, sort_keys=True) + "\n"
if "--stdout" in sys.argv:
    sys.stdout.write(text)
else:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    path = os.path.join(root, "Tests", "IGMPWireTests", "Vectors", "scapy_vectors.json")
    with open(path, "w") as fh:
        fh.write(text)
    print("wrote %d vectors, %d timer codes to %s" % (len(vectors), len(timer_codes), path))
