#!/usr/bin/python3
"""TLS peers for tests/integration/tls.sh that openssl s_server cannot play.

Usage: server.py ROLE ADDR PORT CERT KEY [ROLE ADDR PORT CERT KEY...]

Roles (each listener serves any number of connections at once, a thread
each):
  echo  echoes every byte back (binary-safe); answers the client's
        close_notify with its own, then closes.
  cut   reads one line, sends CUT_BYTES octets of a fixed pattern (the
        client was told to expect CUT_PROMISE), then closes the TCP
        connection without close_notify: a peer that dies mid-stream.
  sink  a stalling reader: with a small receive buffer (SO_RCVBUF
        SINK_RCVBUF) it reads a line "N", stops reading for SINK_STALL
        seconds (its sender meets a full TCP window: partial writes,
        WANT_WRITE), then opens its buffer and reads the N octets (or up
        to the client's close_notify); answers "OCTETS SHA256" of what it
        got, then exchanges close_notify.

Prints READY on stdout once every listener is bound; one line per event
on stderr ("ROLE ADDR accepted|handshake-failed|closed ...").
"""
import hashlib
import socket
import ssl
import sys
import threading
import time

CUT_BYTES = 65536
CUT_PROMISE = 1 << 20
SINK_STALL = 0.4
SINK_RCVBUF = 4096


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def pattern(n):
    block = bytes(range(256))
    return (block * (n // 256 + 1))[:n]


def echo(conn, name):
    total = 0
    while True:
        try:
            data = conn.recv(65536)
        except (ssl.SSLError, OSError) as e:
            log(name, "error", total, e)
            conn.close()
            return
        if not data:
            break
        conn.sendall(data)
        total += len(data)
    try:
        conn.unwrap().close()
    except (ssl.SSLError, OSError):
        conn.close()
    log(name, "closed", total)


def cut(conn, name):
    line = b""
    while not line.endswith(b"\n"):
        d = conn.recv(1)
        if not d:
            conn.close()
            return
        line += d
    conn.sendall(pattern(CUT_BYTES))
    # SSLSocket.shutdown() drops the TLS layer first: a FIN, no close_notify
    conn.shutdown(socket.SHUT_RDWR)
    conn.close()
    log(name, "cut", CUT_BYTES)


def sink(conn, name):
    h = hashlib.sha256()
    total = 0
    line = b""
    try:
        while not line.endswith(b"\n"):
            d = conn.recv(1)
            if not d:
                break
            line += d
        want = int(line or b"0")
        time.sleep(SINK_STALL)
        conn.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 1 << 20)
        while total < want:
            data = conn.recv(min(65536, want - total))
            if not data:
                break
            h.update(data)
            total += len(data)
    except (ssl.SSLError, OSError, ValueError) as e:
        log(name, "error", total, e)
        conn.close()
        return
    conn.sendall(("%d %s\n" % (total, h.hexdigest())).encode())
    try:
        conn.unwrap().close()
    except (ssl.SSLError, OSError):
        conn.close()
    log(name, "sank", total)


def serve(role, addr, port, cert, key):
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    fam = socket.AF_INET6 if ":" in addr else socket.AF_INET
    ls = socket.socket(fam, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if role == "sink":      # accepted sockets inherit it: a small window
        ls.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, SINK_RCVBUF)
    ls.bind((addr, port))
    ls.listen(256)
    fn = {"echo": echo, "cut": cut, "sink": sink}[role]
    name = "%s %s" % (role, addr)

    def one(raw):
        raw.settimeout(30)
        try:
            conn = ctx.wrap_socket(raw, server_side=True)
        except (ssl.SSLError, OSError) as e:
            log(name, "handshake-failed", e)
            raw.close()
            return
        log(name, "accepted")
        fn(conn, name)

    def loop():
        while True:
            raw, _ = ls.accept()
            threading.Thread(target=one, args=(raw,), daemon=True).start()
    return loop


def main():
    a = sys.argv[1:]
    if not a or len(a) % 5:
        sys.exit(__doc__)
    loops = [serve(a[i], a[i + 1], int(a[i + 2]), a[i + 3], a[i + 4])
             for i in range(0, len(a), 5)]
    for lp in loops:
        threading.Thread(target=lp, daemon=True).start()
    print("READY", flush=True)
    threading.Event().wait()


if __name__ == "__main__":
    main()
