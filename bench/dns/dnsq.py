"""dnsq.py: ask a DNS server a few questions over UDP and print the answers.

    python3 dnsq.py SERVER[:PORT] NAME/TYPE...

One line per question: NAME TYPE RCODE followed by the A and AAAA
addresses of the answer section as ADDR/TTL, or TIMEOUT after 2 s.
Standard library only (bench/bench_dns.sh runs it as an app uid with
/usr/bin/python3 -c, to check what a server answers before timing it).
"""
import random
import socket
import struct
import sys

TYPES = {"A": 1, "AAAA": 28}
RCODES = {0: "NOERROR", 1: "FORMERR", 2: "SERVFAIL", 3: "NXDOMAIN",
          4: "NOTIMP", 5: "REFUSED"}


def skip_name(msg, off):
    while True:
        n = msg[off]
        if n == 0:
            return off + 1
        if n & 0xC0 == 0xC0:
            return off + 2
        off += 1 + n


def ask(server, port, name, qtype):
    qid = random.randrange(65536)
    q = struct.pack(">HHHHHH", qid, 0x0100, 1, 0, 0, 0)
    for label in name.rstrip(".").split("."):
        q += bytes([len(label)]) + label.encode()
    q += b"\0" + struct.pack(">HH", TYPES[qtype], 1)
    fam = socket.AF_INET6 if ":" in server else socket.AF_INET
    s = socket.socket(fam, socket.SOCK_DGRAM)
    s.settimeout(2)
    s.sendto(q, (server, port))
    try:
        while True:
            msg = s.recv(4096)
            if len(msg) >= 12 and struct.unpack(">H", msg[:2])[0] == qid:
                break
    except socket.timeout:
        return "TIMEOUT"
    flags, qd, an = struct.unpack(">HHH", msg[2:8])
    off = 12
    for _ in range(qd):
        off = skip_name(msg, off) + 4
    out = [RCODES.get(flags & 15, str(flags & 15))]
    for _ in range(an):
        off = skip_name(msg, off)
        t, _c, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        rd = msg[off:off + rdlen]
        off += rdlen
        if t == 1:
            out.append("%s/%d" % (socket.inet_ntop(socket.AF_INET, rd), ttl))
        elif t == 28:
            out.append("%s/%d" % (socket.inet_ntop(socket.AF_INET6, rd), ttl))
    return " ".join(out)


def main():
    if len(sys.argv) < 3:
        sys.exit("usage: dnsq.py SERVER[:PORT] NAME/TYPE...")
    server, port = sys.argv[1], 53
    if server.count(":") == 1:
        server, p = server.split(":")
        port = int(p)
    for arg in sys.argv[2:]:
        name, qtype = arg.split("/")
        print(name, qtype, ask(server, port, name, qtype), flush=True)


main()
