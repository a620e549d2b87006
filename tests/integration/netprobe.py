"""netprobe: the client side of tests/integration/firewall.sh.

Run by the test as an app (the CMD of "netctl run"), as root, or under
setpriv as some other uid. Always started as "/usr/bin/python3 -c SOURCE",
so it needs no file the probing uid could not read.

  netprobe [-t SECONDS] TARGET...   probe each target once, in order
  netprobe agent                    long-running: one command per stdin line

TARGET is PROTO/ADDRESS/PORT (PROTO tcp, udp, tcpread or udpread; the
slashes keep IPv6 addresses readable). A tcp probe connects (timeout 2 s by
default), sends "ping" and reads "echo ping" back; a udp probe connects,
sends a datagram and waits for its echo; a tcpread probe connects and reads
one line, which must start with "served " (the agent's listener); a udpread
probe sends a datagram and waits for one starting with "served " (the
agent's UDP server). Each probe prints one line:

  TARGET RESULT SECONDS

RESULT is OK, or the errno name (ECONNREFUSED, EPERM, EHOSTUNREACH ...),
TIMEOUT, or BADREPLY. The exit status is 0 when every probe was OK, else 1.

Agent commands (each answered by one line "RESULT SECONDS" on stdout):
  probe TARGET          as above, on a new socket
  open NAME TARGET      tcp: connect, exchange one line, keep the socket;
                        udp: connect, exchange one datagram, keep it
  from LPORT TARGET     as probe (tcp or udp), from local port LPORT
  send NAME             one more line (datagram) on the kept socket
  listen PORT           a tcp listener on [::]:PORT (dual stack); every
                        connection it accepts gets "served PORT" and is closed
  userve PORT           a udp server on [::]:PORT (dual stack); every
                        datagram it gets is answered "served PORT"
  uid                   answers "UID uid"
  quit                  exits 0
The agent first prints "READY UID".
"""
import errno
import os
import socket
import sys
import threading
import time

TIMEOUT = 2.0


def family_of(addr):
    return socket.AF_INET6 if ":" in addr else socket.AF_INET


def errname(e):
    if isinstance(e, TimeoutError) or isinstance(e, socket.timeout):
        return "TIMEOUT"
    if getattr(e, "errno", None) is not None:
        return errno.errorcode.get(e.errno, "E%d" % e.errno)
    return type(e).__name__


def parse_target(t):
    proto, addr, port = t.split("/")
    if proto not in ("tcp", "udp", "tcpread", "udpread", "bcast"):
        raise ValueError("bad protocol in " + t)
    return proto, addr, int(port)


def readline(sock):
    buf = b""
    while not buf.endswith(b"\n"):
        chunk = sock.recv(256)
        if not chunk:
            break
        buf += chunk
    return buf


def exchange(sock, what):
    if sock.type == socket.SOCK_DGRAM:
        sock.send(what)
        return "OK" if sock.recv(2048) == b"echo " + what else "BADREPLY"
    sock.sendall(what + b"\n")
    reply = readline(sock)
    if reply != b"echo " + what + b"\n":
        return "BADREPLY"
    return "OK"


def sock_open(proto, addr, port, lport=0):
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM if proto == "udp"
                      else socket.SOCK_STREAM)
    s.settimeout(TIMEOUT)
    try:
        if lport:
            s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            s.bind(("::" if ":" in addr else "0.0.0.0", lport))
        s.connect((addr, port))
        r = exchange(s, b"ping")
    except OSError as e:
        s.close()
        return errname(e), None
    if r != "OK":
        s.close()
        return r, None
    return "OK", s


def probe(target):
    proto, addr, port = parse_target(target)
    if proto == "tcpread":
        s = socket.socket(family_of(addr), socket.SOCK_STREAM)
        s.settimeout(TIMEOUT)
        try:
            s.connect((addr, port))
            line = readline(s)
            return "OK" if line.startswith(b"served ") else "BADREPLY"
        except OSError as e:
            return errname(e)
        finally:
            s.close()
    if proto == "bcast":
        # UDP to a broadcast address: sent (OK) or refused by the rules.
        s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        try:
            s.sendto(b"ping", (addr, port))
            return "OK"
        except OSError as e:
            return errname(e)
        finally:
            s.close()
    if proto == "tcp":
        r, s = sock_open(proto, addr, port)
        if s is not None:
            s.close()
        return r
    s = socket.socket(family_of(addr), socket.SOCK_DGRAM)
    s.settimeout(TIMEOUT)
    try:
        s.connect((addr, port))
        s.send(b"ping")
        reply = s.recv(2048)
        if proto == "udpread":
            return "OK" if reply.startswith(b"served ") else "BADREPLY"
        return "OK" if reply == b"echo ping" else "BADREPLY"
    except OSError as e:
        return errname(e)
    finally:
        s.close()


def timed(fn, *args):
    t0 = time.monotonic()
    r = fn(*args)
    return r, time.monotonic() - t0


def serve_forever(ls, port):
    while True:
        try:
            c, _ = ls.accept()
        except OSError:
            return
        try:
            c.sendall(b"served %d\n" % port)
        except OSError:
            pass
        c.close()


def userve_forever(us, port):
    while True:
        try:
            _, peer = us.recvfrom(2048)
            us.sendto(b"served %d" % port, peer)
        except OSError:
            pass


def agent():
    kept = {}
    out = sys.stdout
    out.write("READY %d\n" % os.getuid())
    out.flush()
    stdin = sys.stdin.buffer
    while True:
        line = stdin.readline()
        if not line:
            return 0
        words = line.decode().split()
        if not words:
            continue
        t0 = time.monotonic()
        cmd = words[0]
        try:
            if cmd == "probe" and len(words) == 2:
                r = probe(words[1])
            elif cmd == "open" and len(words) == 3:
                proto, addr, port = parse_target(words[2])
                r, s = sock_open(proto, addr, port)
                if s is not None:
                    kept[words[1]] = s
            elif cmd == "from" and len(words) == 3:
                proto, addr, port = parse_target(words[2])
                r, s = sock_open(proto, addr, port, int(words[1]))
                if s is not None:
                    s.close()
            elif cmd == "send" and len(words) == 2:
                s = kept.get(words[1])
                if s is None:
                    r = "NOSOCKET"
                else:
                    try:
                        r = exchange(s, b"again")
                    except OSError as e:
                        r = errname(e)
            elif cmd in ("listen", "userve") and len(words) == 2:
                port = int(words[1])
                tcp = cmd == "listen"
                ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM
                                   if tcp else socket.SOCK_DGRAM)
                ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
                ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
                ls.bind(("::", port))
                if tcp:
                    ls.listen(16)
                threading.Thread(target=serve_forever if tcp
                                 else userve_forever, args=(ls, port),
                                 daemon=True).start()
                r = "OK"
            elif cmd == "uid":
                r = "UID %d" % os.getuid()
            elif cmd == "quit":
                return 0
            else:
                r = "BADCOMMAND"
        except (OSError, ValueError) as e:
            r = "ERROR:" + errname(e)
        out.write("%s %.3f\n" % (r, time.monotonic() - t0))
        out.flush()


def main(argv):
    global TIMEOUT
    if argv[:1] == ["agent"]:
        return agent()
    if argv[:1] == ["-t"]:
        TIMEOUT = float(argv[1])
        argv = argv[2:]
    if not argv:
        sys.stderr.write("usage: netprobe [-t SECONDS] TARGET... | agent\n")
        return 2
    bad = 0
    for t in argv:
        r, dt = timed(probe, t)
        print("%s %s %.3f" % (t, r, dt), flush=True)
        if r != "OK":
            bad = 1
    return bad


sys.exit(main(sys.argv[1:]))
