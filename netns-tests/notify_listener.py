#!/usr/bin/env python3
"""A stand-in for systemd's notify socket (sd_notify(3)).

notify_listener.py ADDRESS OUT [SECONDS]

Binds a SOCK_DGRAM AF_UNIX socket at ADDRESS (a path, or '@name' for an
abstract name), prints "listening" once bound, and appends one JSON line per
datagram to OUT: {"t": CLOCK_MONOTONIC seconds, "pid": the sender's pid
(SCM_CREDENTIALS, what systemd checks for NotifyAccess=main), "msg": text}.
Ends on SIGTERM or after SECONDS (default 120).
"""
import json
import os
import signal
import socket
import struct
import sys
import time


def main():
    address, out = sys.argv[1], sys.argv[2]
    seconds = float(sys.argv[3]) if len(sys.argv) > 3 else 120.0
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_PASSCRED, 1)
    if address.startswith("@"):
        s.bind("\0" + address[1:])
    else:
        try:
            os.unlink(address)
        except FileNotFoundError:
            pass
        s.bind(address)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    print("listening", flush=True)
    deadline = time.monotonic() + seconds
    cred_size = struct.calcsize("iII")
    with open(out, "a") as f:
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return
            s.settimeout(left)
            try:
                data, ancdata, _, _ = s.recvmsg(4096, socket.CMSG_SPACE(cred_size))
            except socket.timeout:
                return
            t = time.monotonic()
            pid = None
            for level, kind, payload in ancdata:
                if level == socket.SOL_SOCKET and kind == socket.SCM_CREDENTIALS:
                    pid = struct.unpack("iII", payload[:cred_size])[0]
            f.write(json.dumps({"t": t, "pid": pid, "msg": data.decode(errors="replace")}) + "\n")
            f.flush()


if __name__ == "__main__":
    main()
