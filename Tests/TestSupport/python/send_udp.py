"""Sends N UDP datagrams from SRC to GROUP:5000 with TTL 8: `send_udp.py SRC GROUP N`."""
import socket, sys
src, grp, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 8)
s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(src))
s.bind((src, 0))
for i in range(n):
    s.sendto(b"xigmp-kernel-routing" + bytes([i]), (grp, 5000))
