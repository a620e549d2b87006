#!/usr/bin/python3
"""The TLS peer of bench/bench_tls.sh for bulk transfers and idle sessions
(openssl s_server serves one connection at a time and cannot sink or send
100 MiB on command).

Usage: peer.py ADDR PORT CERT KEY

TLS 1.2 only, one ciphersuite (ECDHE-RSA-AES128-GCM-SHA256), ECDHE on
P-256, no session tickets: the same for the gateway and the in-process
client. Python's ssl module is OpenSSL, whose AES-GCM is several times
faster than mbedTLS's, so the peer is not what limits a transfer.

Every connection gets a thread; after the handshake it reads command
lines until the client closes, then answers close_notify and closes:

  SINK n   read n octets, check them against the pattern, then reply
           "DONE n ok" (or "DONE n bad AT")
  SEND n   send n octets of the pattern
  ECHO n   read n octets and send each back as it arrives

The pattern: octet i of a stream is PAT[i % P], P = 65521 (prime, so a
lost or repeated 16 KiB record shows), PAT[j] = (131 j + (j >> 8)) & 255;
bench/bench_tls.c makes the same.

Prints READY on stdout once listening; errors on stderr.
"""
import socket
import ssl
import sys
import threading

P = 65521
PAT = bytes(((j * 131) + (j >> 8)) & 255 for j in range(P))
BIG = PAT * 17			# > 1 MiB, a whole number of periods
CHUNK = P * 16
CIPHER = "ECDHE-RSA-AES128-GCM-SHA256"


def log(*a):
    print("peer.py:", *a, file=sys.stderr, flush=True)


def readline(conn, pend):
    while b"\n" not in pend[0]:
        d = conn.recv(4096)
        if not d:
            return None
        pend[0] += d
    line, pend[0] = pend[0].split(b"\n", 1)
    return line.decode()


def sink(conn, n, pend):
    buf = bytearray(65536)
    off, bad = 0, -1
    if pend[0]:
        d, pend[0] = pend[0][:n], pend[0][n:]
        if bad < 0 and d != BIG[:len(d)]:
            bad = 0
        off = len(d)
    while off < n:
        k = conn.recv_into(buf, min(len(buf), n - off))
        if k == 0:
            raise EOFError("EOF after %d of %d octets" % (off, n))
        if bad < 0:
            o = off % P
            if buf[:k] != BIG[o:o + k]:
                bad = off
        off += k
    conn.sendall(("DONE %d %s\n" % (n, "ok" if bad < 0 else
                                    "bad %d" % bad)).encode())


def send(conn, n):
    view = memoryview(BIG)
    while n > 0:
        k = min(n, CHUNK)
        conn.sendall(view[:k])
        n -= k


def echo(conn, n, pend):
    if pend[0]:
        d, pend[0] = pend[0][:n], pend[0][n:]
        conn.sendall(d)
        n -= len(d)
    while n > 0:
        d = conn.recv(min(n, 65536))
        if not d:
            raise EOFError("EOF with %d octets to echo" % n)
        conn.sendall(d)
        n -= len(d)


def serve(raw, ctx):
    try:
        conn = ctx.wrap_socket(raw, server_side=True)
    except (ssl.SSLError, OSError) as e:
        log("handshake:", e)
        raw.close()
        return
    pend = [b""]
    try:
        while True:
            line = readline(conn, pend)
            if line is None:
                break
            cmd, _, arg = line.partition(" ")
            n = int(arg)
            if cmd == "SINK":
                sink(conn, n, pend)
            elif cmd == "SEND":
                send(conn, n)
            elif cmd == "ECHO":
                echo(conn, n, pend)
            else:
                raise ValueError("unknown command %r" % line)
        conn.unwrap().close()
    except (ssl.SSLError, OSError, EOFError, ValueError) as e:
        log(e)
        conn.close()


def main():
    addr, port, cert, key = sys.argv[1:5]
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    ctx.set_ciphers(CIPHER)
    ctx.set_ecdh_curve("prime256v1")
    ctx.options |= ssl.OP_NO_TICKET
    ctx.load_cert_chain(cert, key)
    ls = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.bind((addr, int(port)))
    ls.listen(512)
    print("READY", flush=True)
    while True:
        raw, _ = ls.accept()
        threading.Thread(target=serve, args=(raw, ctx), daemon=True).start()


if __name__ == "__main__":
    main()
