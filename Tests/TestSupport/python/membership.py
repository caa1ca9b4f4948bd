"""Joins and leaves groups on an interface through the kernel socket API: `membership.py IFNAME join:G|leave:G|sleep:S ...`."""
import socket, struct, sys, time
idx = socket.if_nametoindex(sys.argv[1])
held = {}
for step in sys.argv[2:]:
    op, arg = step.split(":")
    if op == "sleep":
        time.sleep(float(arg)); continue
    mreqn = struct.pack("4s4si", socket.inet_aton(arg), socket.inet_aton("0.0.0.0"), idx)
    if op == "join":
        held[arg] = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        held[arg].setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreqn)
    else:
        held.pop(arg).setsockopt(socket.IPPROTO_IP, socket.IP_DROP_MEMBERSHIP, mreqn)
    print(op, arg, flush=True)
print("done", flush=True)
