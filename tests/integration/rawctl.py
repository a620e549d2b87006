"""rawctl: speak (or break) netd's control protocol by hand.

  rawctl.py SOCKET MODE [FILE]

MODE: random    send stdin's bytes as they are
      hugelen   a valid header (STATUS) announcing a 4 GiB - 1 body
      status    a well-formed STATUS request
      register  a REGISTER request carrying FILE as the manifest
Reads one reply and prints "type=T error=MESSAGE" (or "type=T ok"), or
"noreply REASON" when netd closed without a whole reply. Exit 0 when a
whole reply was read.
"""
import json
import socket
import struct
import sys

MAGIC = 0x6e657464
HDR = struct.Struct("=IHHI")	# packed: magic, version, type, len


def request(rtype, body):
    b = json.dumps(body).encode()
    return HDR.pack(MAGIC, 1, rtype, len(b)) + b


def main(path, mode, arg=None):
    if mode == "random":
        data = sys.stdin.buffer.read()
    elif mode == "hugelen":
        data = HDR.pack(MAGIC, 1, 2, 0xFFFFFFFF)
    elif mode == "status":
        data = request(2, {})
    elif mode == "register":
        with open(arg) as f:
            data = request(5, {"manifest": f.read(), "file": arg})
    else:
        print("usage")
        return 2
    s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    s.settimeout(5)
    s.connect(path)
    s.sendall(data)
    buf = b""
    need = HDR.size
    try:
        while len(buf) < need:
            chunk = s.recv(65536)
            if not chunk:
                break
            buf += chunk
            if need == HDR.size and len(buf) >= HDR.size:
                magic, ver, rtype, blen = HDR.unpack_from(buf)
                if magic != MAGIC or ver != 1:
                    print("noreply bad-magic-in-reply")
                    return 1
                need += blen
    except OSError as e:
        if len(buf) < need:
            print("noreply %s" % type(e).__name__)
            return 1
    if len(buf) < need:
        print("noreply short (%d of %d octets)" % (len(buf), need))
        return 1
    magic, ver, rtype, blen = HDR.unpack_from(buf)
    body = json.loads(buf[HDR.size:HDR.size + blen])
    if rtype == 1:
        print("type=1 error=%s" % body.get("error"))
    else:
        print("type=%d ok" % rtype)
    return 0


sys.exit(main(*sys.argv[1:]))
