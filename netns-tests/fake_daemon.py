"""Both ends of the control protocol, played by hand, for the CLI's and the
daemon's version checks.

usage: fake_daemon.py serve SOCKET REPLY|--silent   answer every request with REPLY (one line), or read and never answer
       fake_daemon.py ask SOCKET REQUEST            send one request line, print the reply line;
                                                    exit 1 when it is a refusal ("ok":false)
"""
import os, socket, sys, threading, time

cmd, path = sys.argv[1], sys.argv[2]
if cmd == "serve":
    reply = sys.argv[3]
    try:
        os.unlink(path)
    except FileNotFoundError:
        pass
    srv = socket.socket(socket.AF_UNIX)
    srv.bind(path)
    srv.listen(8)
    print("serving", flush=True)
    held = []

    def serve(c):
        c.recv(4096)
        if reply == "--silent":
            held.append(c)
        else:
            c.sendall(reply.encode() + b"\n")
            c.close()

    while True:
        c, _ = srv.accept()
        threading.Thread(target=serve, args=(c,), daemon=True).start()
elif cmd == "ask":
    s = socket.socket(socket.AF_UNIX)
    s.settimeout(5)
    s.connect(path)
    s.sendall(sys.argv[3].encode() + b"\n")
    data = b""
    while not data.endswith(b"\n"):
        chunk = s.recv(65536)
        if not chunk:
            break
        data += chunk
    sys.stdout.write(data.decode())
    sys.exit(1 if b'"ok":false' in data else 0)
else:
    sys.exit(__doc__)
