"""resolve: the DNS client of tests/integration/dns.sh.

Run as an app (the CMD of "netctl run"), as root, or under setpriv as some
other uid; always as "/usr/bin/python3 -c SOURCE", so it needs no file the
app's uid could not read. Needs nothing outside the standard library.

  resolve [-t SECONDS] [-j THREADS] OP...   run each OP; with -j, that many
                                            at once (output still in order)
  resolve agent                             long-running: one OP per stdin
                                            line, one answer line each

One-shot mode prints "OP RESULT [DETAIL...]" per OP, an agent "RESULT
[DETAIL...]" per line (first "READY UID"). The exit status is 0 unless the
usage was wrong: the caller judges the results.

OPs (the fields are separated by "/", so IPv6 addresses stay readable):

  gai/NAME/FAM          getaddrinfo(NAME) through /etc/resolv.conf, FAM 4, 6
                        or any: "OK ADDR,ADDR..." or the EAI_ name
  conn/NAME/FAM/PORT    getaddrinfo, then at once a TCP connect to the first
                        address and a "ping"/"echo ping" exchange:
                        "OK ADDR", "ERRNO ADDR" or the EAI_ name
  q/PROTO/SERVER/NAME/TYPE
                        one query (PROTO udp or tcp, TYPE A, AAAA, CNAME,
                        TXT, MX, ANY or a number) to SERVER port 53 with RD:
                        "RCODE RR..." where RR is TYPE=DATA@TTL (A, AAAA,
                        CNAME; SVCB and HTTPS: their ipv4hint and ipv6hint
                        addresses, comma-separated; other types TYPE@TTL);
                        or TIMEOUT, CLOSED,
                        BADID, BADREPLY, an errno name
  qe/PROTO/SERVER/NAME/TYPE
                        the same with an EDNS0 OPT record (UDP size 1232)
  multi/SERVER/NAME,NAME...
                        one TCP connection, every A query in one write (2-byte
                        length framing): "OK RCODE,RCODE..." in the order of
                        the names (matched by ID), else "CLOSED k" (k answers
                        before the close) or "TIMEOUT k"
  bad/PROTO/SERVER/KIND/NAME
                        a hostile message KIND (see BAD below), then on the
                        same socket or connection a normal A query for NAME:
                        "HOSTILE FOLLOWUP" where HOSTILE is the RCODE of a
                        reply to the hostile message, NOANSWER, or CLOSED
                        (TCP: then NAME is asked on a new connection), and
                        FOLLOWUP the RCODE for NAME (or TIMEOUT ...)
  fuzz/PROTO/SERVER/N/SEED/NAME
                        N broken variants of queries for NAME (seeded), sent
                        without waiting (TCP: 25 to a connection, then EOF,
                        read until the proxy closes), then a normal A query
                        for NAME: its RCODE
  open/LABEL/ADDR/PORT  (agent) TCP connect, exchange one line, keep it
  send/LABEL            (agent) one more line on a kept connection
  tcp/ADDR/PORT         a TCP connect and exchange: "OK" or an errno name
  uid                   "UID N"
  quit                  (agent) exit 0
"""
import errno
import os
import socket
import struct
import sys
import threading
import time

TIMEOUT = 2.0
FOLLOWUP_ID = 0xBEEF

TYPES = {"A": 1, "NS": 2, "CNAME": 5, "SOA": 6, "PTR": 12, "MX": 15,
         "TXT": 16, "AAAA": 28, "SRV": 33, "OPT": 41, "SVCB": 64,
         "HTTPS": 65, "ANY": 255}
TYPENAMES = {v: k for k, v in TYPES.items()}
RCODES = ["NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED",
          "YXDOMAIN", "YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE"]


def rcode_name(rc):
    return RCODES[rc] if rc < len(RCODES) else "RCODE%d" % rc


def errname(e):
    if isinstance(e, (TimeoutError, socket.timeout)):
        return "TIMEOUT"
    if isinstance(e, socket.gaierror):
        for n in dir(socket):
            if n.startswith("EAI_") and getattr(socket, n) == e.errno:
                return n
        return "EAI_%d" % e.errno
    if getattr(e, "errno", None) is not None:
        return errno.errorcode.get(e.errno, "E%d" % e.errno)
    return type(e).__name__


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


# --- wire format -----------------------------------------------------------

def encode_name(name):
    out = b""
    for label in name.rstrip(".").split("."):
        if label:
            out += bytes([len(label)]) + label.encode()
    return out + b"\0"


def query(name, qtype, qid, flags=0x0100, edns=False):
    t = TYPES.get(qtype.upper()) if not qtype.isdigit() else int(qtype)
    msg = (struct.pack(">HHHHHH", qid, flags, 1, 0, 0, 1 if edns else 0) +
           encode_name(name) + struct.pack(">HH", t, 1))
    if edns:	# OPT: root name, type 41, UDP size 1232, no options
        msg += b"\0" + struct.pack(">HHIH", 41, 1232, 0, 0)
    return msg


def read_name(msg, off):
    """The name at off and the offset after it (pointers followed)."""
    labels, end, hops = [], None, 0
    while True:
        if off >= len(msg):
            raise ValueError("name past the end")
        n = msg[off]
        if n & 0xC0 == 0xC0:
            if off + 1 >= len(msg):
                raise ValueError("cut pointer")
            if end is None:
                end = off + 2
            hops += 1
            if hops > 32:
                raise ValueError("pointer loop")
            off = ((n & 0x3F) << 8) | msg[off + 1]
            continue
        if n & 0xC0:
            raise ValueError("bad label type")
        if n == 0:
            return ".".join(labels), (end if end is not None else off + 1)
        labels.append(msg[off + 1:off + 1 + n].decode("ascii", "replace"))
        off += 1 + n


def svcb_hints(rd):
    """The ipv4hint and ipv6hint addresses of SVCB/HTTPS rdata."""
    out = []
    _, off = read_name(rd, 2)	# priority, then an uncompressed target
    while off + 4 <= len(rd):
        key, ln = struct.unpack(">HH", rd[off:off + 4])
        val = rd[off + 4:off + 4 + ln]
        if key == 4:
            out += [socket.inet_ntop(socket.AF_INET, val[i:i + 4])
                    for i in range(0, len(val) - 3, 4)]
        elif key == 6:
            out += [socket.inet_ntop(socket.AF_INET6, val[i:i + 16])
                    for i in range(0, len(val) - 15, 16)]
        off += 4 + ln
    return out


def parse_reply(msg):
    """(id, rcode, [rr strings]); raises ValueError on a broken message."""
    if len(msg) < 12:
        raise ValueError("short")
    qid, flags, qd, an, _, _ = struct.unpack(">HHHHHH", msg[:12])
    off = 12
    for _ in range(qd):
        _, off = read_name(msg, off)
        off += 4
    rrs = []
    for _ in range(an):
        _, off = read_name(msg, off)
        if off + 10 > len(msg):
            raise ValueError("cut record")
        t, _, ttl, rdlen = struct.unpack(">HHIH", msg[off:off + 10])
        off += 10
        rd = msg[off:off + rdlen]
        if len(rd) != rdlen:
            raise ValueError("cut rdata")
        tn = TYPENAMES.get(t, str(t))
        if t == 1 and rdlen == 4:
            rrs.append("A=%s@%d" % (socket.inet_ntop(socket.AF_INET, rd),
                                    ttl))
        elif t == 28 and rdlen == 16:
            rrs.append("AAAA=%s@%d" % (socket.inet_ntop(socket.AF_INET6,
                                                          rd), ttl))
        elif t == 5:
            rrs.append("CNAME=%s@%d" % (read_name(msg, off)[0], ttl))
        elif t in (64, 65):
            rrs.append("%s=%s@%d" % (tn, ",".join(svcb_hints(rd)), ttl))
        else:
            rrs.append("%s@%d" % (tn, ttl))
        off += rdlen
    return qid, flags & 0xF, rrs


def recv_exact(s, n):
    buf = b""
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            return None
        buf += chunk
    return buf


def tcp_recv_msg(s):
    """One length-framed message, or None when the peer closed."""
    hdr = recv_exact(s, 2)
    if hdr is None:
        return None
    return recv_exact(s, struct.unpack(">H", hdr)[0])


def frame(msg):
    return struct.pack(">H", len(msg)) + msg


def describe(msg, want_id):
    try:
        qid, rc, rrs = parse_reply(msg)
    except ValueError:
        return "BADREPLY"
    if qid != want_id:
        return "BADID"
    return " ".join([rcode_name(rc)] + rrs)


def op_query(proto, server, name, qtype, edns=False):
    qid = int.from_bytes(os.urandom(2), "big") & 0x7FFF
    msg = query(name, qtype, qid, edns=edns)
    if proto == "udp":
        s = socket.socket(family_of(server), socket.SOCK_DGRAM)
    else:
        s = socket.socket(family_of(server), socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect((server, 53))
        if proto == "udp":
            s.send(msg)
            deadline = time.monotonic() + TIMEOUT
            while True:		# skip stray datagrams with another ID
                reply = s.recv(65535)
                r = describe(reply, qid)
                if r != "BADID" or time.monotonic() > deadline:
                    return r
        s.sendall(frame(msg))
        reply = tcp_recv_msg(s)
        return "CLOSED" if reply is None else describe(reply, qid)
    except OSError as e:
        return errname(e)
    finally:
        s.close()


def op_multi(server, names, halfclose=False):
    ids = {}
    out = b""
    for i, n in enumerate(names):
        qid = 0x1000 + i
        ids[qid] = i
        out += frame(query(n, "A", qid))
    s = socket.socket(family_of(server), socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    got = [None] * len(names)
    try:
        s.connect((server, 53))
        s.sendall(out)
        if halfclose:
            s.shutdown(socket.SHUT_WR)
        for k in range(len(names)):
            try:
                reply = tcp_recv_msg(s)
            except OSError as e:
                return "%s %d" % (errname(e), k)
            if reply is None:
                return "CLOSED %d" % k
            try:
                qid, rc, _ = parse_reply(reply)
            except ValueError:
                return "BADREPLY %d" % k
            if qid not in ids or got[ids[qid]] is not None:
                return "BADID %d" % k
            got[ids[qid]] = rcode_name(rc)
        return "OK " + ",".join(got)
    except OSError as e:
        return errname(e)
    finally:
        s.close()


# --- hostile messages ------------------------------------------------------

def hdr(qid=0x4242, flags=0x0100, qd=1, an=0, ns=0, ar=0):
    return struct.pack(">HHHHHH", qid, flags, qd, an, ns, ar)


QTAIL = struct.pack(">HH", 1, 1)
BAD = {
    # cut inside the header
    "short5": b"\x42\x42\x01\x00\x00",
    "empty": b"",
    # a header announcing a question that is not there
    "noquestion": hdr(),
    # QDCOUNT 0
    "qd0": hdr(qd=0),
    # the question's name is a pointer to itself
    "ptrloop": hdr() + b"\xc0\x0c" + QTAIL,
    # label "a", then a pointer back to the label: a.a.a.a... for ever
    "ptrloop2": hdr() + b"\x01a\xc0\x0c" + QTAIL,
    # a pointer forward, past the end
    "ptrfwd": hdr() + b"\xc0\xff" + QTAIL,
    # a label claiming 63 octets of which 3 exist
    "labelcut": hdr() + b"\x3fabc",
    # the question cut before its type and class
    "notype": hdr() + encode_name("api.test"),
    # absurd counts around one real question
    "qd65535": hdr(qd=65535) + encode_name("api.test") + QTAIL,
    "an65535": hdr(an=65535, ns=65535, ar=65535) + encode_name("api.test")
    + QTAIL,
    # a name of 5 x 63-octet labels: 321 octets, over the 255 limit
    "longname": hdr() + b"".join(b"\x3f" + b"x" * 63 for _ in range(5))
    + b"\x00" + QTAIL,
    # reserved label type 0x40 (EDNS0 extended label)
    "labeltype": hdr() + b"\x41abc\x00" + QTAIL,
    # a response (QR set) sent to the proxy
    "response": hdr(flags=0x8180) + encode_name("api.test") + QTAIL,
    # opcode 2 (STATUS)
    "opcode": hdr(flags=0x1100) + encode_name("api.test") + QTAIL,
}
# TCP only: broken framing (sent as is, not framed)
BAD_TCP_RAW = {
    "len0": b"\x00\x00",
    "len1": b"\x00\x01\x42",
    "lenlong": b"\xff\xff" + hdr() + encode_name("api.test") + QTAIL,
}


def mutants(n, seed, name):
    """n broken variants of queries for name: bit flips, cuts, junk."""
    import random
    rnd = random.Random(seed)
    base = [query(name, "A", 0x5000), query(name, "AAAA", 0x5001),
            query("x." + name, "A", 0x5002, edns=True)]
    out = []
    for _ in range(n):
        m = bytearray(rnd.choice(base))
        how = rnd.randrange(5)
        if how == 0:		# flip a few bits
            for _ in range(rnd.randint(1, 4)):
                m[rnd.randrange(len(m))] ^= 1 << rnd.randrange(8)
        elif how == 1:		# cut
            m = m[:rnd.randrange(len(m))]
        elif how == 2:		# random counts
            m[4:12] = bytes(rnd.randrange(256) for _ in range(8))
        elif how == 3:		# junk in the name
            i = rnd.randrange(12, len(m))
            m[i:i] = bytes(rnd.randrange(256) for _ in range(
                rnd.randint(1, 40)))
        else:			# pointer somewhere
            i = rnd.randrange(12, len(m) - 1)
            m[i] = 0xC0 | rnd.randrange(64)
            m[i + 1] = rnd.randrange(256)
        m[0:2] = b"\x50\x00"	# never the follow-up's ID
        out.append(bytes(m))
    return out


def op_fuzz(proto, server, n, seed, name):
    msgs = mutants(n, seed, name)
    fam = family_of(server)
    try:
        if proto == "udp":
            s = socket.socket(fam, socket.SOCK_DGRAM)
            s.connect((server, 53))
            for i, m in enumerate(msgs):
                s.send(m)
                if i % 50 == 49:	# do not just fill the socket buffer
                    time.sleep(0.005)
            s.close()
        else:
            for i in range(0, len(msgs), 25):
                s = socket.socket(fam, socket.SOCK_STREAM)
                s.settimeout(TIMEOUT)
                s.connect((server, 53))
                try:
                    s.sendall(b"".join(frame(m) for m in msgs[i:i + 25]))
                    s.shutdown(socket.SHUT_WR)
                    while s.recv(65535):	# until the proxy closes
                        pass
                except OSError:
                    pass
                s.close()
    except OSError as e:
        return "%s -" % errname(e)
    return op_query(proto, server, name, "A").split()[0]


def op_bad(proto, server, kind, name):
    if kind in BAD:
        hostile = BAD[kind]
    elif kind in BAD_TCP_RAW and proto == "tcp":
        hostile = None
    else:
        return "BADKIND"
    follow = query(name, "A", FOLLOWUP_ID)
    fam = family_of(server)
    if proto == "udp":
        s = socket.socket(fam, socket.SOCK_DGRAM)
        s.settimeout(TIMEOUT)
        try:
            s.connect((server, 53))
            s.send(hostile)
            s.send(follow)
            hostile_r, follow_r = "NOANSWER", "TIMEOUT"
            deadline = time.monotonic() + TIMEOUT
            while time.monotonic() < deadline:
                try:
                    reply = s.recv(65535)
                except socket.timeout:
                    break
                if len(reply) >= 2 and reply[:2] == b"\xbe\xef":
                    follow_r = describe(reply, FOLLOWUP_ID).split()[0]
                    if hostile_r != "NOANSWER":
                        break
                    # an error reply may still be on its way: a moment more
                    deadline = min(deadline, time.monotonic() + 0.2)
                    s.settimeout(0.2)
                else:
                    hostile_r = (rcode_name(reply[3] & 0xF)
                                 if len(reply) >= 12 else "BADREPLY")
            return "%s %s" % (hostile_r, follow_r)
        except OSError as e:
            return "%s -" % errname(e)
        finally:
            s.close()
    s = socket.socket(fam, socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect((server, 53))
        if hostile is None:
            # Broken framing: send it, say we are done, the proxy must
            # close (or answer FORMERR), not wait for ever.
            s.sendall(BAD_TCP_RAW[kind])
            s.shutdown(socket.SHUT_WR)
            try:
                reply = tcp_recv_msg(s)
                hostile_r = ("CLOSED" if reply is None else
                             rcode_name(reply[3] & 0xF) if len(reply) >= 12
                             else "BADREPLY")
            except socket.timeout:
                hostile_r = "NOANSWER"
            except OSError as e:
                hostile_r = errname(e)
            follow_r = None
        else:
            s.sendall(frame(hostile) + frame(follow))
            hostile_r, follow_r = "NOANSWER", None
            while follow_r is None:
                try:
                    reply = tcp_recv_msg(s)
                except socket.timeout:
                    break
                except OSError:
                    reply = None
                if reply is None:
                    if hostile_r == "NOANSWER":
                        hostile_r = "CLOSED"
                    break
                if len(reply) >= 2 and reply[:2] == b"\xbe\xef":
                    follow_r = describe(reply, FOLLOWUP_ID).split()[0]
                elif len(reply) >= 12:
                    hostile_r = rcode_name(reply[3] & 0xF)
                else:
                    hostile_r = "BADREPLY"
    except OSError as e:
        return "%s -" % errname(e)
    finally:
        s.close()
    if follow_r is None:	# the connection is gone: ask on a new one
        follow_r = op_query("tcp", server, name, "A").split()[0]
    return "%s %s" % (hostile_r, follow_r)


# --- TCP echo (servers.py) -------------------------------------------------

def readline(sock):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(256)
        if not chunk:
            break
        buf += chunk
    return buf


def exchange(sock, what):
    sock.sendall(what + b"\n")
    if readline(sock) != b"echo " + what + b"\n":
        return "BADREPLY"
    return "OK"


def tcp_open(addr, port):
    s = socket.socket(family_of(addr), socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect((addr, port))
        r = exchange(s, b"ping")
    except OSError as e:
        s.close()
        return errname(e), None
    if r != "OK":
        s.close()
        return r, None
    return "OK", s


FAMS = {"4": socket.AF_INET, "6": socket.AF_INET6, "any": socket.AF_UNSPEC}


def gai(name, fam):
    infos = socket.getaddrinfo(name, None, FAMS[fam], socket.SOCK_STREAM)
    seen = []
    for i in infos:
        if i[4][0] not in seen:
            seen.append(i[4][0])
    return seen


def run_op(op, kept=None):
    f = op.split("/")
    try:
        if f[0] == "gai" and len(f) == 3:
            try:
                return "OK " + ",".join(gai(f[1], f[2]))
            except OSError as e:
                return errname(e)
        if f[0] == "conn" and len(f) == 4:
            try:
                addrs = gai(f[1], f[2])
            except OSError as e:
                return errname(e)
            r, s = tcp_open(addrs[0], int(f[3]))
            if s is not None:
                s.close()
            return "%s %s" % (r, addrs[0])
        if f[0] in ("q", "qe") and len(f) == 5:
            return op_query(f[1], f[2], f[3], f[4], f[0] == "qe")
        if f[0] in ("multi", "multihc") and len(f) == 3:
            return op_multi(f[1], f[2].split(","), f[0] == "multihc")
        if f[0] == "fuzz" and len(f) == 6:
            return op_fuzz(f[1], f[2], int(f[3]), int(f[4]), f[5])
        if f[0] == "bad" and len(f) == 5:
            return op_bad(f[1], f[2], f[3], f[4])
        if f[0] == "tcp" and len(f) == 3:
            r, s = tcp_open(f[1], int(f[2]))
            if s is not None:
                s.close()
            return r
        if f[0] == "open" and len(f) == 4 and kept is not None:
            r, s = tcp_open(f[2], int(f[3]))
            if s is not None:
                kept[f[1]] = s
            return r
        if f[0] == "send" and len(f) == 2 and kept is not None:
            s = kept.get(f[1])
            if s is None:
                return "NOSOCKET"
            try:
                return exchange(s, b"again")
            except OSError as e:
                return errname(e)
        if f[0] == "uid":
            return "UID %d" % os.getuid()
    except (ValueError, IndexError, KeyError) as e:
        return "BADOP " + type(e).__name__
    return "BADOP"


def agent():
    kept = {}
    out = sys.stdout
    out.write("READY %d\n" % os.getuid())
    out.flush()
    for line in sys.stdin:
        op = line.strip()
        if not op:
            continue
        if op == "quit":
            return 0
        out.write(run_op(op, kept) + "\n")
        out.flush()
    return 0


def main(argv):
    global TIMEOUT
    if argv[:1] == ["agent"]:
        return agent()
    jobs = 1
    while argv[:1] in (["-t"], ["-j"]):
        if argv[0] == "-t":
            TIMEOUT = float(argv[1])
        else:
            jobs = int(argv[1])
        argv = argv[2:]
    if not argv:
        sys.stderr.write("usage: resolve [-t SECONDS] [-j N] OP... | "
                         "agent\n")
        return 2
    results = [None] * len(argv)
    nxt = [0]
    lock = threading.Lock()

    def worker():
        while True:
            with lock:
                i = nxt[0]
                nxt[0] += 1
            if i >= len(argv):
                return
            results[i] = run_op(argv[i])

    threads = [threading.Thread(target=worker) for _ in range(max(1, jobs))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    for op, r in zip(argv, results):
        print("%s %s" % (op, r), flush=True)
    return 0


sys.exit(main(sys.argv[1:]))
