#!/bin/bash
# netctl check: exit codes, messages on stderr, summary on stdout, --json,
# --print round trip; netctl tls-connect against a fake TLS gateway (a
# python3 unix socket server that answers by host name; no netd, no TLS).
# Usage: tests/netctl_check.sh path/to/netctl
set -u
NETCTL=${1:?usage: $0 NETCTL}
EX=configs/examples
tmp=$(mktemp -d /tmp/netctl-check.XXXXXX)
gwpid=
trap '[ -n "$gwpid" ] && kill "$gwpid" 2>/dev/null; exec 7>&- 2>/dev/null;
    rm -rf "$tmp"' EXIT
pass=0 fail=0

ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }

# run NAME WANT_RC CMD...: runs CMD, keeps stdout/stderr in $tmp/out, err
run() {
	local name=$1 want=$2 rc
	shift 2
	"$@" >"$tmp/out" 2>"$tmp/err"
	rc=$?
	if [ "$rc" -eq "$want" ]; then ok; else
		ko "$name: exit $rc, want $want"; sed 's/^/  | /' "$tmp/err"
	fi
}
has() {	# has NAME FILE TEXT: FILE contains the exact line TEXT
	if grep -qxF -- "$3" "$1"; then ok; else
		ko "$2: no line '$3' in:"; sed 's/^/  | /' "$1"
	fi
}

run "good files" 0 "$NETCTL" check $EX/sensor-api.json $EX/telemetry-tls.json
has "$tmp/out" "good summary" "$EX/sensor-api.json: ok"
has "$tmp/out" "good summary 2" "$EX/telemetry-tls.json: ok"
[ -s "$tmp/err" ] && ko "good files wrote to stderr" || ok

run "broken file" 1 "$NETCTL" check $EX/sensor-api.json $EX/broken.json
has "$tmp/out" "broken summary" "$EX/broken.json: refused: 5 errors"
has "$tmp/err" "url" "$EX/broken.json: Capabilities.AllowedConnections[0]: \"https://api.example.com/v1\": a URL, not a host: write only the host name ('api.example.com')"
has "$tmp/err" "space" "$EX/broken.json: Capabilities.AllowedConnections[1]: \"exa mple.com\": label contains white space"
has "$tmp/err" "cidr" "$EX/broken.json: Capabilities.AllowedConnections[2]: \"10.1.2.3/8\": host bits are set after /8: did you mean 10.0.0.0/8?"
has "$tmp/err" "placeholder" "$EX/broken.json: Capabilities.AllowedConnections[3]: \"<your hub>\": placeholder: replace it with the real host name or address"
has "$tmp/err" "port" "$EX/broken.json: Capabilities.AllowedTcpServerPorts[0]: 70000: port is out of range 1-65535"

run "missing file" 1 "$NETCTL" check "$tmp/nope.json"
has "$tmp/err" "missing" "$tmp/nope.json: cannot read: No such file or directory"

run "no args" 2 "$NETCTL" check
has "$tmp/err" "no args msg" "netctl check: no manifest given"
run "bad option" 2 "$NETCTL" check --bogus $EX/sensor-api.json
run "unknown command" 2 "$NETCTL" frobnicate
has "$tmp/err" "unknown msg" "netctl: unknown command 'frobnicate'"
run "no command" 2 "$NETCTL"
run "version" 0 "$NETCTL" --version
grep -q '^netctl [0-9]' "$tmp/out" && ok || ko "version output"

# --print: canonical form, and print -> load -> print is identical.
run "print" 0 "$NETCTL" check --print $EX/sensor-api.json
cp "$tmp/out" "$tmp/p1.json"
has "$tmp/p1.json" "print sorted" '      "*.cdn.example.com",'
run "reprint" 0 "$NETCTL" check --print "$tmp/p1.json"
cmp -s "$tmp/p1.json" "$tmp/out" && ok || ko "print round trip differs"

# --json: one document, ok flags, errors with path/value/reason.
run "json" 1 "$NETCTL" check --json $EX/sensor-api.json $EX/broken.json
/usr/bin/python3 - "$tmp/out" <<'PY' && ok || ko "json content"
import json, sys
d = json.load(open(sys.argv[1]))
assert d["ok"] is False
a, b = d["files"]
assert a["ok"] is True and a["errors"] == [] and "policy" not in a
assert b["ok"] is False and len(b["errors"]) == 5
e = b["errors"][2]
assert e["path"] == "Capabilities.AllowedConnections[2]", e
assert e["value"] == "10.1.2.3/8", e
assert e["reason"].startswith("host bits are set"), e
assert b["errors"][4]["value"] == 70000
PY
run "json print" 0 "$NETCTL" check --json --print $EX/telemetry-tls.json
/usr/bin/python3 - "$tmp/out" <<'PY' && ok || ko "json policy"
import json, sys
d = json.load(open(sys.argv[1]))
p = d["files"][0]["policy"]
assert p["Capabilities"]["DeviceAuthentication"] == "8d34f65c-532e-4dcf-a1d6-3e811c1e5c68"
assert p["Capabilities"]["AllowedConnections"] == ["telemetry.example.net"]
PY
printf '{"SchemaVersion": 1,,}' >"$tmp/bad.json"
run "json syntax" 1 "$NETCTL" check --json "$tmp/bad.json"
/usr/bin/python3 - "$tmp/out" <<'PY' && ok || ko "json syntax location"
import json, sys
e = json.load(open(sys.argv[1]))["files"][0]["errors"][0]
assert e["line"] == 1 and e["column"] > 0 and e["reason"].startswith("invalid JSON"), e
PY

# tls-connect: usage errors and an unreachable gateway, no daemon needed.
# tls ARGS: tls-connect on the test's gateway socket; tlst: within 20 s.
tls() { "$NETCTL" tls-connect --tls-socket "$tmp/tls.sock" "$@"; }
tlst() { timeout 20 "$NETCTL" tls-connect --tls-socket "$tmp/tls.sock" "$@"; }
run "tls no args" 2 "$NETCTL" tls-connect
has "$tmp/err" "tls usage" "usage: netctl tls-connect [--quiet] [--tls-socket PATH] HOST PORT"
run "tls one arg" 2 "$NETCTL" tls-connect example.com
run "tls extra arg" 2 "$NETCTL" tls-connect example.com 443 x
run "tls bad option" 2 "$NETCTL" tls-connect --bogus example.com 443
run "tls help" 0 "$NETCTL" tls-connect --help
has "$tmp/out" "tls help out" "usage: netctl tls-connect [--quiet] [--tls-socket PATH] HOST PORT"
for p in 0 65536 x 44x -1 ""; do
	run "tls port '$p'" 2 tls -- example.com "$p"
	has "$tmp/err" "tls port '$p' msg" "netctl tls-connect: '$p' is not a port (1-65535)"
done
run "tls host space" 2 tls "exa mple.com" 443
has "$tmp/err" "tls host space msg" "netctl tls-connect: exa mple.com:443: invalid host: contains white space or a control character"
run "tls host empty" 2 tls "" 443
has "$tmp/err" "tls host empty msg" "netctl tls-connect: :443: invalid host: empty"
run "tls host long" 2 tls "$(printf 'a%.0s' $(seq 254))" 443
grep -q 'invalid host: longer than 253 octets$' "$tmp/err" && ok || ko "tls host long msg"
run "tls no socket" 3 tls example.com 443 </dev/null
has "$tmp/err" "tls no socket msg" "netctl tls-connect: example.com:443: cannot reach netd at $tmp/tls.sock: No such file or directory"
[ -s "$tmp/out" ] && ko "tls no socket wrote to stdout" || ok
NETD_TLS_SOCKET=$tmp/env.sock run "tls env socket" 3 "$NETCTL" tls-connect 2001:db8::1 443
has "$tmp/err" "tls env msg" "netctl tls-connect: [2001:db8::1]:443: cannot reach netd at $tmp/env.sock: No such file or directory"
: >"$tmp/file.sock"
run "tls not a socket" 3 "$NETCTL" tls-connect -t "$tmp/file.sock" example.com 443
has "$tmp/err" "tls not a socket msg" "netctl tls-connect: example.com:443: cannot reach netd at $tmp/file.sock: Connection refused"
# -s is the control socket: it does not reach the gateway.
NETD_TLS_SOCKET=$tmp/env.sock run "tls -s ignored" 3 "$NETCTL" -s "$tmp/file.sock" tls-connect example.com 443
grep -q "at $tmp/env.sock:" "$tmp/err" && ok || ko "tls -s ignored msg"

# The fake gateway: logs each request line, then acts on the host; any
# other host gets OK and an echo until our EOF.
cat >"$tmp/gw.py" <<'PY'
import os, socket, sys, threading
OK = b"OK 192.0.2.1 443 TLSv1.3 TLS_AES_128_GCM_SHA256\n"
REPLY = {
    "denied.example": b"ERR denied denied.example is not in the manifest of sensor-api\n",
    "untrusted.example": b"ERR untrusted certificate chain of untrusted.example: unknown CA\n",
    "limit.example": b"ERR limit\n",
    "future.example": b"ERR new-reason something netctl does not know\n",
    "badreq.example": b"ERR bad-request host is not a name or an address\n",
    "garbled.example": b"HELLO\n",
    "ctrl.example": b"ERR denied a\x01b\n",
    "short.example": b"OK 192.0.2.1 443\n",
    "badport.example": b"OK 192.0.2.1 http TLSv1.3 X\n",
    "long.example": b"x" * 600,
    "silent.example": b"",
    "banner.example": OK + b"banner line\n",
}
def serve(c):
    with c:
        req = b""
        while not req.endswith(b"\n") and len(req) < 600:
            b = c.recv(1)
            if not b:
                return
            req += b
        with open(sys.argv[2], "ab") as f:
            f.write(req)
        host = req.split(b" ")[1].decode()
        if host in REPLY:
            c.sendall(REPLY[host])
            return
        c.sendall(OK)
        if host == "flood.example":
            c.sendall(b"y" * 4194303 + b"\n")
        n = 0
        while True:
            b = c.recv(65536)
            if not b:
                break
            n += len(b)
            if host not in ("count.example", "flood.example"):
                c.sendall(b)
        if host in ("count.example", "flood.example"):
            c.sendall(b"%d\n" % n)
        c.shutdown(socket.SHUT_WR)
s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
s.bind(sys.argv[1] + ".tmp")
s.listen(16)
os.rename(sys.argv[1] + ".tmp", sys.argv[1])
while True:
    c, _ = s.accept()
    threading.Thread(target=serve, args=(c,), daemon=True).start()
PY
/usr/bin/python3 "$tmp/gw.py" "$tmp/tls.sock" "$tmp/gw.log" &
gwpid=$!
for _ in $(seq 100); do [ -S "$tmp/tls.sock" ] && break; sleep 0.05; done
[ -S "$tmp/tls.sock" ] && ok || ko "fake gateway did not start"

printf 'hello\nworld\n' >"$tmp/in"
run "tls echo" 0 tlst echo.example 443 <"$tmp/in"
cmp -s "$tmp/in" "$tmp/out" && ok || ko "tls echo: output differs"
has "$tmp/err" "tls connected" "connected to 192.0.2.1 port 443, TLSv1.3 TLS_AES_128_GCM_SHA256"
has "$tmp/gw.log" "tls request line" "CONNECT echo.example 443"
run "tls quiet" 0 tlst -q echo.example 8443 <"$tmp/in"
cmp -s "$tmp/in" "$tmp/out" && ok || ko "tls quiet: output differs"
[ -s "$tmp/err" ] && ko "tls quiet wrote to stderr" || ok
has "$tmp/gw.log" "tls request port" "CONNECT echo.example 8443"
NETD_TLS_SOCKET=$tmp/tls.sock run "tls env" 0 timeout 20 "$NETCTL" tls-connect -q 2001:db8::1 443 <"$tmp/in"
cmp -s "$tmp/in" "$tmp/out" && ok || ko "tls env: output differs"
has "$tmp/gw.log" "tls ipv6 request" "CONNECT 2001:db8::1 443"
# 4 MiB each way at once: no stall when the peer echoes while we send.
head -c 4194304 /dev/urandom >"$tmp/big"
run "tls big echo" 0 tlst -q echo.example 443 <"$tmp/big"
cmp -s "$tmp/big" "$tmp/out" && ok || ko "tls big echo: output differs"
# A peer that sends 4 MiB before it reads while we send 4 MiB: we keep
# reading while our sending waits.
run "tls flood" 0 tlst -q flood.example 443 <"$tmp/big"
[ "$(head -c 4194303 "$tmp/out" | tr -d y | wc -c)" -eq 0 ] && ok || ko "tls flood: data"
[ "$(tail -n 1 "$tmp/out")" = 4194304 ] && ok || ko "tls flood: count"
# Half-close: our EOF reaches the peer, its answer still reaches us.
run "tls half-close" 0 tlst -q count.example 443 <"$tmp/big"
has "$tmp/out" "tls half-close count" "4194304"
run "tls empty input" 0 tlst -q count.example 443 </dev/null
has "$tmp/out" "tls empty input count" "0"
# Data in the same segment as OK is the peer's; the peer's EOF ends the
# session although standard input is still open.
mkfifo "$tmp/fifo"
exec 7<>"$tmp/fifo"
run "tls banner" 0 tlst banner.example 443 <&7
exec 7>&-
has "$tmp/out" "tls banner data" "banner line"
[ "$(wc -l <"$tmp/out")" -eq 1 ] && ok || ko "tls banner: extra output"

# tlserr NAME HOST WANT_RC MESSAGE: netd's answer, on stderr, exit code.
tlserr() {
	run "tls $1" "$3" tlst "$2" 443 </dev/null
	has "$tmp/err" "tls $1 msg" "netctl tls-connect: $2:443: $4"
	[ -s "$tmp/out" ] && ko "tls $1 wrote to stdout" || ok
}
tlserr denied denied.example 1 "denied: denied.example is not in the manifest of sensor-api"
tlserr untrusted untrusted.example 1 "untrusted: certificate chain of untrusted.example: unknown CA"
tlserr limit limit.example 1 "limit"
tlserr "unknown reason" future.example 1 "new-reason: something netctl does not know"
tlserr bad-request badreq.example 1 "bad-request: host is not a name or an address"
tlserr garbled garbled.example 3 "garbled reply from netd: 'HELLO'"
tlserr control ctrl.example 3 "garbled reply from netd: a control character"
tlserr "short OK" short.example 3 "garbled reply from netd: OK with 2 words, not 4"
tlserr "bad port" badport.example 3 "garbled reply from netd: port 'http'"
tlserr "long line" long.example 3 "garbled reply from netd: longer than 512 octets"
tlserr "no reply" silent.example 3 "netd closed the connection"
kill "$gwpid" 2>/dev/null
wait "$gwpid" 2>/dev/null
gwpid=

echo "netctl_check: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
