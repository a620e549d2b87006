#!/usr/bin/python3
"""Raw client of netd's TLS gateway (include/netd_tls.h) for
tests/integration/tls.sh, run as an app (netctl run), as another uid or as
root. Passed to python with -c: no uid needs to read this file.

Usage: client.py SOCKET OP...       one line "OP RESULT" per OP
       client.py SOCKET agent       commands on stdin, answers on stdout

OPs:
  req/HOST/PORT        CONNECT; the reply line, then close
  echo/HOST/PORT/TEXT  CONNECT; on OK send TEXT and a newline, shut down
                       our side, read to EOF: "REPLY :: RECEIVED" (newlines
                       in RECEIVED shown as |)
  raw/HEX              send these octets as the request; the reply line
                       (EOF: the gateway closed without a word)
  cut/HOST/PORT        CONNECT; send "GO", read to EOF: "EOF N intact|garbled
                       SECONDS" or "TIMEOUT N"
  idle/HOST/PORT       CONNECT; send nothing, wait for EOF: "EOF SECONDS"
  sink/HOST/PORT/N/C/K/MS
                       CONNECT; send "N" and N random octets to server.py's
                       sink: the first K octets C at a time, MS milliseconds
                       apart, the rest at once; then shut down our side. Its
                       answer must be N and their SHA-256: "INTACT N", else
                       "WRONG ANSWER" (the octets it got and their SHA-256)
  open/PATH            open PATH for reading: OK or the errno's name
Agent commands (one answer line each):
  open N HOST PORT     N sessions at once: "OPENED OK-COUNT REPLIES" where
                       REPLIES counts each distinct reply word (OK:97,ERR
                       limit:3); the OK sessions are kept
  one HOST PORT        one more session: its reply line (kept if OK)
  echo                 a distinct line through every kept session at once,
                       each must come back: "ECHO MATCHED KEPT"
  close                close every kept session: "CLOSED N"
  quit
"""
import collections
import errno
import os
import socket
import sys
import threading
import time

TIMEOUT = 15


def unix(path, timeout=TIMEOUT):
    """A connection to the gateway. connect() blocks while the listen queue
    is full, as a C client's would: with a timeout set, python makes the
    socket non-blocking and gets EAGAIN instead."""
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    try:
        s.connect(path)
    except OSError:
        s.close()
        raise
    s.settimeout(timeout)
    return s


def connect(path, host, port, timeout=TIMEOUT):
    """A session: (socket or None, reply line)."""
    try:
        s = unix(path, timeout)
    except OSError as e:
        return None, errname(e)
    try:
        try:
            s.sendall(("CONNECT %s %s\n" % (host, port)).encode())
        except (BrokenPipeError, ConnectionResetError):
            # netd refused at once (a limit) and closed before reading
            # the request: its reply is still there to read.
            pass
        line = readline(s)
    except OSError as e:
        s.close()
        return None, errname(e)
    if not line.startswith("OK "):
        s.close()
        return None, line
    return s, line


def errname(e):
    if isinstance(e, socket.timeout):
        return "TIMEOUT"
    return errno.errorcode.get(e.errno, str(e))


def readline(s):
    """One line, octet by octet: nothing after it is consumed."""
    b = b""
    while not b.endswith(b"\n"):
        d = s.recv(1)
        if not d:
            return "EOF" if not b else "PARTIAL " + b.decode("ascii", "replace")
        b += d
    return b[:-1].decode("ascii", "replace")


def read_all(s):
    buf = bytearray()
    while True:
        d = s.recv(65536)
        if not d:
            return bytes(buf)
        buf += d


def op(path, o):
    parts = o.split("/")
    kind = parts[0]
    try:
        if kind == "req":
            s, line = connect(path, parts[1], parts[2])
            if s:
                s.close()
            return line
        if kind == "echo":
            s, line = connect(path, parts[1], parts[2])
            if not s:
                return line
            s.sendall("/".join(parts[3:]).encode() + b"\n")
            s.shutdown(socket.SHUT_WR)
            data = read_all(s)
            s.close()
            return "%s :: %s" % (line, data.decode("utf-8", "replace")
                                 .replace("\n", "|"))
        if kind == "raw":
            s = unix(path)
            s.sendall(bytes.fromhex(parts[1]))
            line = readline(s)
            s.close()
            return line
        if kind == "cut":
            s, line = connect(path, parts[1], parts[2])
            if not s:
                return line
            t = time.monotonic()
            s.sendall(b"GO\n")
            buf = bytearray()
            try:
                while True:
                    d = s.recv(65536)
                    if not d:
                        break
                    buf += d
            except socket.timeout:
                return "TIMEOUT %d" % len(buf)
            block = bytes(range(256))
            want = (block * (len(buf) // 256 + 1))[:len(buf)]
            return "EOF %d %s %.2f" % (len(buf), "intact" if buf == want
                                       else "garbled", time.monotonic() - t)
        if kind == "sink":
            import hashlib
            s, line = connect(path, parts[1], parts[2])
            if not s:
                return line
            n, c, k, ms = (int(x) for x in parts[3:7])
            data = os.urandom(n)
            s.sendall(b"%d\n" % n)
            for i in range(0, k, c):
                s.sendall(data[i:min(i + c, k)])
                time.sleep(ms / 1000)
            s.sendall(data[k:])
            s.shutdown(socket.SHUT_WR)
            got = readline(s)
            want = "%d %s" % (n, hashlib.sha256(data).hexdigest())
            s.close()
            return ("INTACT %d" % n) if got == want else "WRONG " + got
        if kind == "idle":
            s, line = connect(path, parts[1], parts[2])
            if not s:
                return line
            s.settimeout(60)
            t = time.monotonic()
            d = s.recv(1)
            return "%s %.2f" % ("EOF" if not d else "DATA",
                                time.monotonic() - t)
        if kind == "open":
            with open("/" + "/".join(parts[1:]), "rb"):
                return "OK"
    except OSError as e:
        return errname(e)
    except Exception as e:     # a bug here: say so on the OP's line
        return "EXCEPTION %r" % e
    return "BADOP"


class Agent:
    def __init__(self, path):
        self.path = path
        self.kept = []

    def open(self, n, host, port):
        res = [None] * n
        go = threading.Barrier(n)

        def one(i):
            try:
                go.wait(TIMEOUT)
            except threading.BrokenBarrierError:
                pass
            res[i] = connect(self.path, host, port)
        th = [threading.Thread(target=one, args=(i,)) for i in range(n)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        words = collections.Counter()
        for s, line in res:
            w = line.split()
            words[" ".join(w[:2]) if w and w[0] == "ERR" else
                  (w[0] if w else "EMPTY")] += 1
            if s:
                self.kept.append(s)
        ok = sum(1 for s, _ in res if s)
        return "OPENED %d %s" % (ok, ",".join(
            "%s:%d" % kv for kv in sorted(words.items())))

    def echo(self):
        good = [0]
        lock = threading.Lock()

        def one(i, s):
            msg = ("session %d of pid %d\n" % (i, os.getpid())).encode()
            try:
                s.sendall(msg)
                got = b""
                while len(got) < len(msg):
                    d = s.recv(len(msg) - len(got))
                    if not d:
                        break
                    got += d
            except OSError:
                return
            if got == msg:
                with lock:
                    good[0] += 1
        th = [threading.Thread(target=one, args=(i, s))
              for i, s in enumerate(self.kept)]
        for t in th:
            t.start()
        for t in th:
            t.join()
        return "ECHO %d %d" % (good[0], len(self.kept))

    def run(self):
        print("READY %d" % os.getuid(), flush=True)
        for line in sys.stdin:
            w = line.split()
            if not w:
                continue
            if w[0] == "quit":
                break
            if w[0] == "open":
                out = self.open(int(w[1]), w[2], w[3])
            elif w[0] == "one":
                s, out = connect(self.path, w[1], w[2])
                if s:
                    self.kept.append(s)
            elif w[0] == "echo":
                out = self.echo()
            elif w[0] == "close":
                out = "CLOSED %d" % len(self.kept)
                for s in self.kept:
                    s.close()
                self.kept = []
            else:
                out = "BADCMD"
            print(out, flush=True)


def main():
    if len(sys.argv) < 3:
        sys.exit(__doc__)
    path = sys.argv[1]
    if sys.argv[2] == "agent":
        Agent(path).run()
        return
    for o in sys.argv[2:]:
        print(o, op(path, o), flush=True)


if __name__ == "__main__":
    main()
