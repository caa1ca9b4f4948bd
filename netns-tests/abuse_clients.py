"""Clients that misbehave against the daemon's control socket and metrics
endpoint, and a check that a well-behaved one is still served.

usage: abuse_clients.py hangup SOCKET N           send a status request, close without reading, N times
       abuse_clients.py hold-unix SOCKET N SECONDS  N connections that send nothing, held open
       abuse_clients.py drip-unix SOCKET SECONDS     one client sending a byte every 0.5 s
       abuse_clients.py slowloris HOST PORT N SECONDS  N HTTP clients that send half a header, held
       abuse_clients.py scrape HOST PORT            GET /metrics; prints the seconds it took and the status line
"""
import socket, sys, time

cmd = sys.argv[1]
if cmd == "hangup":
    for _ in range(int(sys.argv[3])):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[2])
        s.sendall(b'{"cmd":"status"}\n')
        s.close()
        time.sleep(0.05)
elif cmd == "hold-unix":
    held = []
    for _ in range(int(sys.argv[3])):
        s = socket.socket(socket.AF_UNIX)
        s.connect(sys.argv[2])
        held.append(s)
    print("holding", len(held), flush=True)
    time.sleep(float(sys.argv[4]))
elif cmd == "drip-unix":
    s = socket.socket(socket.AF_UNIX)
    s.connect(sys.argv[2])
    print("dripping", flush=True)
    end = time.time() + float(sys.argv[3])
    msg = b'{"cmd":"status"}'
    i = 0
    while time.time() < end and i < len(msg):
        try:
            s.send(msg[i:i + 1])
        except OSError:
            break
        i += 1
        time.sleep(0.5)
elif cmd == "slowloris":
    held = []
    for _ in range(int(sys.argv[4])):
        s = socket.create_connection((sys.argv[2], int(sys.argv[3])))
        s.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n")
        held.append(s)
    print("holding", len(held), flush=True)
    time.sleep(float(sys.argv[5]))
elif cmd == "scrape":
    t0 = time.time()
    s = socket.create_connection((sys.argv[2], int(sys.argv[3])), timeout=5)
    s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    data = b""
    while True:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            break
        if not chunk:
            break
        data += chunk
    print("%.3f %s" % (time.time() - t0, data.split(b"\r\n", 1)[0].decode(errors="replace")))
