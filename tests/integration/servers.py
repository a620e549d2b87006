"""servers: the "internet" side of tests/integration/firewall.sh.

  servers.py TCPPORT UDPPORT ADDRESS...

One TCP server on [::]:TCPPORT (dual stack) that answers every line L with
"echo L", a connection per thread; and a UDP echo ("echo " + datagram) on
each ADDRESS:UDPPORT (one socket per address, so that the reply leaves from
the address the client sent to). Prints "READY" on stdout once every socket
listens, then serves until killed.
"""
import selectors
import socket
import sys
import threading


def handle(c):
    buf = b""
    try:
        while True:
            chunk = c.recv(4096)
            if not chunk:
                break
            buf += chunk
            while b"\n" in buf:
                line, buf = buf.split(b"\n", 1)
                c.sendall(b"echo " + line + b"\n")
    except OSError:
        pass
    finally:
        c.close()


def main(argv):
    tcpport, udpport, addrs = int(argv[0]), int(argv[1]), argv[2:]
    sel = selectors.DefaultSelector()
    ls = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    ls.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    ls.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    ls.bind(("::", tcpport))
    ls.listen(64)
    sel.register(ls, selectors.EVENT_READ, "tcp")
    for a in addrs:
        fam = socket.AF_INET6 if ":" in a else socket.AF_INET
        u = socket.socket(fam, socket.SOCK_DGRAM)
        u.bind((a, udpport))
        sel.register(u, selectors.EVENT_READ, "udp")
    print("READY", flush=True)
    while True:
        for key, _ in sel.select():
            s = key.fileobj
            if key.data == "tcp":
                c, _ = s.accept()
                threading.Thread(target=handle, args=(c,), daemon=True).start()
            else:
                data, peer = s.recvfrom(2048)
                s.sendto(b"echo " + data, peer)


main(sys.argv[1:])
