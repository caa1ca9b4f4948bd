#!/usr/bin/env python3
"""Seed corpora for fuzz/run.sh's two fuzzers.

usage: seeds.py decode VECTORS SEEDS
       seeds.py config ROOT SEEDS DICT

decode: every scapy vector of VECTORS (Tests/IGMPWireTests/Vectors/
        scapy_vectors.json) as-is, its IPv4 and IGMP layers, and one pcap
        file of them all, into the directory SEEDS, so that mutations start
        from well-formed structure at every entry point of the decoder.
config: the YAML files under ROOT's examples/, contrib/, Tests/ and
        netns-tests/, and every multi-line string literal of
        Tests/XigmpConfigTests without interpolation (each a YAML text,
        dedented as Swift does), into SEEDS, one file each named by its
        hash; and into DICT a libFuzzer dictionary of the config's key names
        (from Sources/XigmpConfig/ConfigReference.swift's table) and value
        words.
"""
import argparse
import glob
import hashlib
import json
import os
import re
import struct

ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", '"': '"', "'": "'", "\\": "\\"}
VALUE_WORDS = ["true", "false", "~", "null", "inside", "outside", "alt", "125s", "100ms", "2m", "1h",
               "239.1.0.0/16", "232.1.1.1", "10.0.0.5", "127.0.0.1:9740", "/run/xigmp.sock",
               ": ", "- ", "[", "]", "{", "}", ", ", "\n  ", "---", "&a ", "*a", "!!str ", "<<: ", "'", "\"",
               "\\x", "\\u", "\\U", "\\N", "\\L", "\\P", "\\e", "\\0", "\\t", "|\n", ">-\n"]


def decode(a):
    vectors = json.load(open(a.vectors))["vectors"]
    pcap = struct.pack("<IHHiIII", 0xA1B2C3D4, 2, 4, 0, 0, 262144, 1)
    for v in vectors:
        data = bytes.fromhex(v["hex"])
        open(os.path.join(a.seeds, v["name"]), "wb").write(data)
        if v["layer"] == "ethernet" and "expect" in v:
            off = 14 + 4 * len(v["expect"]["eth"]["vlans"])
            open(os.path.join(a.seeds, v["name"] + ".ip"), "wb").write(data[off:])
            ihl = (data[off] & 0x0F) * 4
            open(os.path.join(a.seeds, v["name"] + ".igmp"), "wb").write(data[off + ihl:])
        pcap += struct.pack("<IIII", 1, 0, len(data), len(data)) + data
    open(os.path.join(a.seeds, "all.pcap"), "wb").write(pcap)


def unescape(s):
    """A Swift string literal's escapes, resolved."""
    s = re.sub(r"\\u\{([0-9a-fA-F]+)\}", lambda m: chr(int(m.group(1), 16)), s)
    return re.sub(r"\\(.)", lambda m: ESCAPES.get(m.group(1), m.group(0)), s)


def config(a):
    root = a.root
    texts = [open(p, "rb").read() for d in ("examples", "contrib", "Tests", "netns-tests")
             for p in sorted(glob.glob(os.path.join(root, d, "**", "*.y*ml"), recursive=True))]
    for path in sorted(glob.glob(os.path.join(root, "Tests", "XigmpConfigTests", "*.swift"))):
        for m in re.finditer(r'"""\n(.*?)\n([ \t]*)"""', open(path, encoding="utf-8").read(), re.S):
            body, indent = m.group(1), m.group(2)
            if "\\(" in body:
                continue
            lines = [l[len(indent):] if l.startswith(indent) else l.lstrip() for l in body.split("\n")]
            texts.append(unescape("\n".join(lines) + "\n").encode())
    for text in texts:
        name = hashlib.sha1(text).hexdigest()[:16] + ".yaml"
        open(os.path.join(a.seeds, name), "wb").write(text)
    reference = open(os.path.join(root, "Sources", "XigmpConfig", "ConfigReference.swift"), encoding="utf-8").read()
    words = set()
    for key in re.findall(r'row\("([^"]+)"', reference):
        words.update(part for part in key.split(".") if part != "ROLE")
    words.update(re.findall(r"`([A-Za-z][A-Za-z0-9]*)`", reference))
    words.update(VALUE_WORDS)
    with open(a.dict, "w") as f:
        for w in sorted(words):
            f.write('"' + w.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\x0A") + '"\n')


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n\n", 2)[2])
    sub = ap.add_subparsers(dest="cmd", required=True)
    d = sub.add_parser("decode")
    d.add_argument("vectors", metavar="VECTORS")
    d.add_argument("seeds", metavar="SEEDS")
    c = sub.add_parser("config")
    c.add_argument("root", metavar="ROOT")
    c.add_argument("seeds", metavar="SEEDS")
    c.add_argument("dict", metavar="DICT")
    a = ap.parse_args()
    {"decode": decode, "config": config}[a.cmd](a)


if __name__ == "__main__":
    main()
