"""Load and measurements for the soak test (test_soak.sh).

usage: soak_load.py source PPS GROUP...         UDP datagrams to GROUP:5000 (TTL 8), round
                                                 robin at PPS, until SIGTERM
       soak_load.py member PERIOD SEED GROUP...  a host whose kernel joins and leaves: every
                                                 PERIOD seconds one GROUP, picked at random,
                                                 is joined or left (GROUP@SOURCE: a
                                                 source-specific join); counts the datagrams
                                                 received on port 5000; on SIGTERM prints
                                                 {"joins", "leaves", "received"}
       soak_load.py held PID [FILE]              PID's descriptors and the BPF objects it holds
                                                 through them: prints "FDS PROGS LINKS MAPS";
                                                 FILE gets {"fds", "prog", "link", "map",
                                                 "prog_ids", "link_ids", "map_ids"}
       soak_load.py baseline                     the highest prog, link and map ids now
                                                 (`bpftool -j ... show`), as "PROG LINK MAP"
       soak_load.py ours PROG LINK MAP FILE      xigmp's programs (name xigmp_*), the links to
                                                 them and its maps, made after that baseline
                                                 and held by no live process and no pin: what
                                                 a dead daemon left in the kernel; prints "N
                                                 progs, N links, N maps", writes them to FILE
                                                 as {"prog": [[id, name, type]], "link": [[id,
                                                 type, prog_id]], "map": [[id, name]]}
       soak_load.py tally FILE...                what the members printed (missing files
                                                 skipped): "HOSTS RECEIVED JOINS LEAVES"
       soak_load.py same FILE FILE               whether two `held` files name the same
                                                 prog, link and map ids: "the same" or
                                                 "not the same"
       soak_load.py only-tc FILE                 exit 0 when an `ours` FILE lists no link and
                                                 only TC (sched_cls) programs: what a crash
                                                 leaves where TC programs are clsact filters

bpftool lists every object of the machine, not of one namespace: the ids
after the baseline, minus what a live process or a bpffs pin holds, keep
another test's daemon (or `xigmp load`'s pins) out of the count.
"""
import json, os, random, signal, socket, subprocess, sys, time

IP_ADD_SOURCE_MEMBERSHIP, IP_DROP_SOURCE_MEMBERSHIP = 39, 40


def source(pps, groups):
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 8)
    gap = 1.0 / pps
    i = 0
    nxt = time.monotonic()
    while True:
        try:
            s.sendto(b"xigmp-soak-%08d" % i + bytes(40), (groups[i % len(groups)], 5000))
        except OSError:
            pass  # no route for a moment: keep going
        i += 1
        nxt += gap
        time.sleep(max(0.0, nxt - time.monotonic()))


def member(period, seed, groups):
    rng = random.Random(seed)
    s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    s.bind(("0.0.0.0", 5000))
    s.settimeout(0.05)
    stats = {"joins": 0, "leaves": 0, "received": 0}
    joined = set()

    def done(*_):
        signal.signal(signal.SIGTERM, signal.SIG_IGN)
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        print(json.dumps(stats), flush=True)
        os._exit(0)

    signal.signal(signal.SIGTERM, done)
    signal.signal(signal.SIGINT, done)
    print(json.dumps({"ready": True}), flush=True)
    nxt = time.monotonic()
    while True:
        if time.monotonic() >= nxt:
            nxt += period
            g = rng.choice(groups)
            group, _, src = g.partition("@")
            any_if = socket.inet_aton("0.0.0.0")
            if src:
                req = socket.inet_aton(group) + any_if + socket.inet_aton(src)
                opt = IP_DROP_SOURCE_MEMBERSHIP if g in joined else IP_ADD_SOURCE_MEMBERSHIP
            else:
                req = socket.inet_aton(group) + any_if
                opt = socket.IP_DROP_MEMBERSHIP if g in joined else socket.IP_ADD_MEMBERSHIP
            try:
                s.setsockopt(socket.IPPROTO_IP, opt, req)
                if g in joined:
                    joined.discard(g)
                    stats["leaves"] += 1
                else:
                    joined.add(g)
                    stats["joins"] += 1
            except OSError as e:
                print(json.dumps({"error": f"{g}: {e}"}), file=sys.stderr, flush=True)
        try:
            s.recv(2048)
            stats["received"] += 1
        except socket.timeout:
            pass


def bpf_fds(pid):
    """(kind, id) per BPF descriptor of pid; kind prog, link or map."""
    out = []
    base = f"/proc/{pid}/fd"
    try:
        fds = os.listdir(base)
    except OSError:
        return None
    for fd in fds:
        try:
            target = os.readlink(f"{base}/{fd}")
        except OSError:
            continue
        kind = {"anon_inode:bpf-prog": "prog", "anon_inode:bpf_link": "link",
                "anon_inode:bpf-map": "map"}.get(target)
        if not kind:
            continue
        try:
            with open(f"/proc/{pid}/fdinfo/{fd}") as f:
                for line in f:
                    k, _, v = line.partition(":")
                    if k == f"{kind}_id":
                        out.append((kind, int(v)))
                        break
        except OSError:
            continue
    return out, len(fds)


def held(pid, path=None):
    r = bpf_fds(pid)
    if r is None:
        sys.exit(f"no process {pid}")
    objs, nfds = r
    d = {"fds": nfds}
    for kind in ("prog", "link", "map"):
        ids = sorted(i for k, i in objs if k == kind)
        d[kind] = len(ids)
        d[kind + "_ids"] = ids
    if path:
        with open(path, "w") as f:
            json.dump(d, f)
    print(d["fds"], d["prog"], d["link"], d["map"])


def bpftool(kind):
    out = subprocess.run(["bpftool", "-j", "-f", kind, "show"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"bpftool {kind} show: {out.stderr.strip()}")
    return json.loads(out.stdout or "[]")


def baseline():
    print(*(max([o["id"] for o in bpftool(k)], default=0) for k in ("prog", "link", "map")))


def unheld(base_prog, base_link, base_map):
    """xigmp objects after the baseline that no live process and no pin holds."""
    # Listed before the processes are read: an object made in between
    # belongs to a process that is then seen holding it.
    progs = {p["id"]: p for p in bpftool("prog")}
    links = bpftool("link")
    maps = bpftool("map")
    live = set()
    for pid in os.listdir("/proc"):
        if pid.isdigit() and int(pid) != os.getpid():
            r = bpf_fds(pid)
            if r:
                live.update(r[0])
    mine = {i for i, p in progs.items() if i > base_prog and p.get("name", "").startswith("xigmp_")}
    # A program a live process holds, or one a live/pinned link holds, is not left over.
    kept = {i for k, i in live if k == "prog"}
    kept |= {i for i, p in progs.items() if p.get("pinned")}
    for l in links:
        if ("link", l["id"]) in live or l.get("pinned"):
            kept.add(l.get("prog_id"))
    left_links = [(l["id"], l.get("type"), l.get("prog_id")) for l in links
                  if l["id"] > base_link and l.get("prog_id") in mine and l.get("prog_id") not in kept
                  and ("link", l["id"]) not in live and not l.get("pinned")]
    left_progs = [(i, progs[i].get("name"), progs[i].get("type")) for i in sorted(mine - kept)]
    # Maps of ours that no live process holds and no kept program uses.
    used = {m for i in kept if i in progs for m in progs[i].get("map_ids", [])}
    left_maps = [(m["id"], m.get("name")) for m in maps
                 if m["id"] > base_map and m.get("name", "").startswith("xigmp_")
                 and ("map", m["id"]) not in live and m["id"] not in used and not m.get("pinned")]
    return left_progs, left_links, left_maps


def ours(base_prog, base_link, base_map, path):
    left = unheld(base_prog, base_link, base_map)
    if any(left):
        # What another process was just closing (a concurrent test's, say)
        # is freed a moment later; what was left over stays.
        time.sleep(0.5)
        again = unheld(base_prog, base_link, base_map)
        left = tuple([o for o in a if o in b] for a, b in zip(left, again))
    progs, links, maps = left
    with open(path, "w") as f:
        json.dump({"prog": progs, "link": links, "map": maps}, f)
    print(f"{len(progs)} progs, {len(links)} links, {len(maps)} maps")


def tally(paths):
    rows = []
    for path in paths:
        try:
            rows += [json.loads(l) for l in open(path) if "received" in l]
        except OSError:
            continue
    print(len(rows), *(sum(r[k] for r in rows) for k in ("received", "joins", "leaves")))


def same(a_path, b_path):
    a, b = (json.load(open(p)) for p in (a_path, b_path))
    print("the same" if all(a[k] == b[k] for k in ("prog_ids", "link_ids", "map_ids")) else "not the same")


def only_tc(path):
    d = json.load(open(path))
    sys.exit(0 if not d["link"] and all(p[2] == "sched_cls" for p in d["prog"]) else 1)


if __name__ == "__main__":
    cmd = sys.argv[1]
    if cmd == "source":
        source(float(sys.argv[2]), sys.argv[3:])
    elif cmd == "member":
        member(float(sys.argv[2]), sys.argv[3], sys.argv[4:])
    elif cmd == "held":
        held(sys.argv[2], sys.argv[3] if len(sys.argv) > 3 else None)
    elif cmd == "baseline":
        baseline()
    elif cmd == "ours":
        ours(*(int(a) for a in sys.argv[2:5]), sys.argv[5])
    elif cmd == "tally":
        tally(sys.argv[2:])
    elif cmd == "same":
        same(sys.argv[2], sys.argv[3])
    elif cmd == "only-tc":
        only_tc(sys.argv[2])
    else:
        sys.exit(__doc__)
