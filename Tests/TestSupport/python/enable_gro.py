"""Turns GRO on for an interface through the ethtool ioctl: `enable_gro.py IFNAME`."""
import ctypes, fcntl, socket, struct, sys
name = sys.argv[1].encode()
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
def ethtool(cmd, data):
    ev = ctypes.create_string_buffer(struct.pack("II", cmd, data))
    fcntl.ioctl(s.fileno(), 0x8946, struct.pack("16sP16x", name, ctypes.addressof(ev)))
    return struct.unpack("II", ev.raw[:8])[1]
ethtool(0x2c, 1)          # ETHTOOL_SGRO
print(ethtool(0x2b, 0))   # ETHTOOL_GGRO
