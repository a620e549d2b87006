#!/bin/bash
# The netd demo: the manifest checker, then netd at work in two throw-away
# network namespaces: "internet" with a real DNS server (dnsmasq), web
# servers and a TLS server that requires a client certificate (openssl
# s_server), "device" with netd and two apps that resolve through netd's
# DNS proxy and reach TLS servers through netd's TLS gateway (netctl
# tls-connect), which holds the device key. A small PKI is made at the
# start. Everything it creates is removed on exit, on failure too.
# Usage: tests/demo.sh BUILD_DIR   (as root)
set -u
B=${1:?usage: $0 BUILD_DIR}
NETD=$B/netd
NETCTL=$B/netctl
EX=configs/examples
PY=/usr/bin/python3
DEV=netd-demo-dev-$$
NET=netd-demo-net-$$
DNS=192.0.2.53			# the DNS server in $NET
tmp=$(mktemp -d /tmp/netd-demo.XXXXXX)
chmod 755 "$tmp"
pids=()

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
die() { echo "demo: $*" >&2; exit 1; }
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$DEV" 2>/dev/null
	ip netns del "$NET" 2>/dev/null
	rm -rf "/etc/netns/$DEV" "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM
# await FIFO WHAT: a line on FIFO, written by a process that is ready.
# Opened read-write, so a writer that died cannot hang the demo.
await() {
	local fd line
	exec {fd}<>"$1"
	read -r -t 20 -u "$fd" line || die "no word from $2"
	exec {fd}<&-
}
# srv_read TEXT...: read the TLS server's output (fd $srv) until a line
# with each TEXT came, at most 5 s without a line; the lines in srv_lines.
srv_read() {
	local line i want=("$@")
	srv_lines=()
	while [ ${#want[@]} -gt 0 ]; do
		IFS= read -r -t 5 -u "$srv" line || return 1
		srv_lines+=("$line")
		for i in "${!want[@]}"; do
			[[ $line == *"${want[$i]}"* ]] && unset "want[$i]"
		done
	done
}
# release FIFO WHAT: tell a process waiting on FIFO to go on.
release() {
	timeout 20 sh -c 'echo go >"$1"' sh "$1" || die "$2 is not waiting"
}
# log_to FIFO FILE TEXT: copy FIFO to FILE; say ready once TEXT shows.
log_to() {
	mkfifo "$1"
	(
		said=
		while IFS= read -r line; do
			printf '%s\n' "$line" >>"$2"
			if [ -z "$said" ] && [[ $line == *"$3"* ]]; then
				echo ready >"$tmp/ready"
				said=1
			fi
		done
	) <"$1" &
	logger=$!
	pids+=("$logger")
}
for f in ready sa-done sa-exit up go; do mkfifo "$tmp/$f"; done
chmod 666 "$tmp"/*

step "netctl check $EX/*.json: what loads, what is refused and why"
"$NETCTL" check $EX/*.json
echo "(exit status $?: 0 all load, 1 one is refused)"
step "netctl check --print $EX/sensor-api.json: the compiled policy"
"$NETCTL" check --print $EX/sensor-api.json

if [ "$(id -u)" != 0 ]; then
	echo "the firewall part needs root: skipped"
	exit 0
fi

step "network: $NET (DNS server $DNS, web servers) <-veth-> $DEV (netd, apps)"
ip netns add "$NET" && ip netns add "$DEV" || exit 1
ip link add veth-d netns "$DEV" type veth peer name veth-n netns "$NET"
ip -n "$DEV" link set lo up
ip -n "$NET" link set lo up
ip -n "$DEV" addr add 192.0.2.100/24 dev veth-d
for a in 192.0.2.10/24 192.0.2.11/24 $DNS/24 198.51.100.20/24 \
    203.0.113.30/24 203.0.113.40/24; do
	ip -n "$NET" addr add "$a" dev veth-n
done
ip -n "$DEV" link set veth-d up
ip -n "$NET" link set veth-n up
ip -n "$DEV" route add 198.51.100.0/24 via 192.0.2.10
ip -n "$DEV" route add 203.0.113.0/24 via 192.0.2.10
# Everything in $DEV resolves through netd (ip netns exec bind-mounts it).
mkdir -p "/etc/netns/$DEV"
echo "nameserver 127.0.0.53" >"/etc/netns/$DEV/resolv.conf"

# The DNS server of the "internet": the names of both manifests, and one
# that no manifest lists. Its query log shows what reached it.
log_to "$tmp/dnsmasq.err" /dev/null "started, version"
ip netns exec "$NET" dnsmasq --no-daemon --no-resolv --no-hosts --port=53 \
    --listen-address=$DNS --bind-interfaces --pid-file= \
    --local=/example.com/ --local=/example.net/ --local=/example.org/ \
    --host-record=api.example.com,192.0.2.11 \
    --host-record=img.cdn.example.com,198.51.100.20 \
    --host-record=telemetry.example.net,203.0.113.40 \
    --host-record=tracker.example.org,203.0.113.30 \
    --local-ttl=60 --log-queries --log-facility="$tmp/dns.log" \
    2>"$tmp/dnsmasq.err" &
pids+=($!)
await "$tmp/ready" dnsmasq
printf '%s\n' "$DNS: api.example.com 192.0.2.11, img.cdn.example.com 198.51.100.20," \
    "    telemetry.example.net 203.0.113.40, tracker.example.org 203.0.113.30 (TTL 60)"

step "a small PKI in $tmp, and a TLS server at telemetry.example.net:443"
# ca: netd's ca_file, signs the server's certificate. devca: the device
# CA, which the server trusts for client certificates; signs the device's.
cat >"$tmp/openssl.cnf" <<'EOF'
[ req ]
distinguished_name	= dn
prompt			= no
[ dn ]
CN			= unused
[ root_ext ]
basicConstraints	= critical, CA:TRUE
keyUsage		= critical, keyCertSign, cRLSign
subjectKeyIdentifier	= hash
[ server_ext ]
basicConstraints	= critical, CA:FALSE
keyUsage		= critical, digitalSignature
extendedKeyUsage	= serverAuth
subjectAltName		= DNS:telemetry.example.net
subjectKeyIdentifier	= hash
authorityKeyIdentifier	= keyid:always
[ client_ext ]
basicConstraints	= critical, CA:FALSE
keyUsage		= critical, digitalSignature
extendedKeyUsage	= clientAuth
subjectKeyIdentifier	= hash
authorityKeyIdentifier	= keyid:always
EOF
newkey() {	# newkey NAME: $tmp/NAME.key, mode 0600
	(umask 077 && openssl genpkey -algorithm EC \
	    -pkeyopt ec_paramgen_curve:P-256 -out "$tmp/$1.key")
}
mkroot() {	# mkroot NAME CN: a self-signed CA, $tmp/NAME.pem
	newkey "$1" && openssl req -config "$tmp/openssl.cnf" -new -x509 \
	    -key "$tmp/$1.key" -subj "/CN=$2" -days 2 -extensions root_ext \
	    -out "$tmp/$1.pem"
}
mkcert() {	# mkcert CA NAME CN EXT SERIAL: $tmp/NAME.pem, signed by CA
	newkey "$2" && openssl req -config "$tmp/openssl.cnf" -new \
	    -key "$tmp/$2.key" -subj "/CN=$3" |
	openssl x509 -req -CA "$tmp/$1.pem" -CAkey "$tmp/$1.key" \
	    -set_serial "$5" -days 2 -extfile "$tmp/openssl.cnf" \
	    -extensions "$4" -out "$tmp/$2.pem"
}
{ mkroot ca "netd demo CA" && mkroot devca "netd demo device CA" &&
    mkcert ca server telemetry.example.net server_ext 1 &&
    mkcert devca device device-0001 client_ext 2; } 2>>"$tmp/openssl.log" ||
    { cat "$tmp/openssl.log" >&2; die "cannot make the PKI"; }
chown root:root "$tmp/device.key" && chmod 600 "$tmp/device.key"
for c in ca server devca device; do
	printf '  %-10s %s, issuer %s\n' "$c.pem" \
	    "$(openssl x509 -in "$tmp/$c.pem" -noout -subject -nameopt oneline)" \
	    "$(openssl x509 -in "$tmp/$c.pem" -noout -issuer -nameopt oneline |
	    sed 's/^issuer=//')"
done
echo "  device.key mode 0600, root's: netd's device_key"
# The server answers each line reversed (-rev), only to a client that
# shows a certificate of the device CA (-Verify 1). Its output, read
# here: ACCEPT once it listens, then what it saw of each client.
mkfifo "$tmp/tls-server.out"
ip netns exec "$NET" openssl s_server -accept 203.0.113.40:443 \
    -cert "$tmp/server.pem" -key "$tmp/server.key" -rev \
    -Verify 1 -verify_return_error -CAfile "$tmp/devca.pem" \
    >"$tmp/tls-server.out" 2>&1 </dev/null &
pids+=($!)
exec {srv}<"$tmp/tls-server.out"
srv_read ACCEPT || die "no word from the TLS server"
printf '%s\n' "203.0.113.40:443: openssl s_server -rev (answers each line reversed)" \
    "    -Verify 1 -CAfile devca.pem (requires a client certificate of the device CA)"

# A web server that says which address answered.
cat >"$tmp/web.py" <<'EOF'
import http.server, sys
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        b = ("hello from %s\n" % self.connection.getsockname()[0]).encode()
        self.send_response(200); self.end_headers(); self.wfile.write(b)
    def log_message(self, *a): pass
s = http.server.HTTPServer(("0.0.0.0", 80), H)
print("ready", flush=True)
s.serve_forever()
EOF
ip netns exec "$NET" $PY "$tmp/web.py" >"$tmp/ready" 2>/dev/null &
pids+=($!)
await "$tmp/ready" "the web server"

# The app: fetch each URL by name or address, say what happened.
# --up/--go FIFOs: say so and wait before; --done/--exit: after.
cat >"$tmp/app.py" <<'EOF'
import os, subprocess, sys, urllib.request
opt, args = {}, sys.argv[1:]
while args[0].startswith("--"):
    opt[args[0]], args = args[1], args[2:]
def say(f):
    with open(f, "w") as w: w.write("x\n")
def wait(f):
    with open(f) as r: r.read()
if "--up" in opt:
    say(opt["--up"]); wait(opt["--go"])
print("  app %s runs as uid %d" % (args[0], os.getuid()), flush=True)
def tls(url):
    # tls://HOST:PORT: netctl tls-connect (--netctl, --tls-socket) sends a
    # line, and shows what netctl said on stderr and the answer.
    host, port = url[6:].rsplit(":", 1)
    line = "hello from %s" % args[0]
    print("  $ echo '%s' | netctl tls-connect -t %s %s %s"
          % (line, opt["--tls-socket"], host, port), flush=True)
    try:
        r = subprocess.run([opt["--netctl"], "tls-connect", "-t",
                            opt["--tls-socket"], host, port],
                           input=(line + "\n").encode(), capture_output=True,
                           timeout=10)
    except subprocess.TimeoutExpired:
        print("  %-31s BLOCKED (no answer in 10 s)" % url, flush=True)
        return
    err = r.stderr.decode().strip().splitlines()
    for l in err:
        print("    " + l, flush=True)
    if r.returncode == 0:
        print("  %-31s PASSED  (%s)" % (url, r.stdout.decode().strip()),
              flush=True)
    else:
        why = err[-1].split(": ", 2)[-1] if err else "?"
        print("  %-31s BLOCKED (%s; exit %d)" % (url, why, r.returncode),
              flush=True)
for url in args[1:]:
    if url.startswith("tls://"):
        tls(url)
        continue
    try:
        body = urllib.request.urlopen(url, timeout=3).read().decode().strip()
        print("  %-30s PASSED  (%s)" % (url, body), flush=True)
    except Exception as e:
        r = getattr(e, "reason", e)
        print("  %-30s BLOCKED (%s)" % (url, r), flush=True)
if "--done" in opt:
    say(opt["--done"]); wait(opt["--exit"])
EOF
printf '%s\n' "control_socket = $tmp/ctl.sock" "state_dir = $tmp/state" \
    "upstream = $DNS" "tls_socket = $tmp/tls.sock" "ca_file = $tmp/ca.pem" \
    "device_cert = $tmp/device.pem" "device_key = $tmp/device.key" \
    >"$tmp/netd.conf"
step "netd starts in $DEV: table inet netd goes in, DNS proxy on 127.0.0.53, TLS gateway"
sed 's/^/  /' "$tmp/netd.conf"
log_to "$tmp/netd.err" "$tmp/netd.log" " started: "
netd_logger=$logger
ip netns exec "$DEV" "$NETD" -d -c "$tmp/netd.conf" 2>"$tmp/netd.err" &
netd=$!
pids+=("$netd")
await "$tmp/ready" netd
C=("$NETCTL" -s "$tmp/ctl.sock")
ip netns exec "$DEV" "${C[@]}" status

step "sensor-api: allowed api.example.com, *.cdn.example.com, 192.0.2.10"
echo "(192.0.2.11 is api.example.com: blocked until the app resolves the name)"
ip netns exec "$DEV" "${C[@]}" run --manifest $EX/sensor-api.json -- \
    $PY "$tmp/app.py" --done "$tmp/sa-done" --exit "$tmp/sa-exit" \
    sensor-api http://192.0.2.10/ http://192.0.2.11/ http://api.example.com/ \
    http://img.cdn.example.com/ http://tracker.example.org/ \
    http://203.0.113.30/ &
sa=$!
pids+=("$sa")
await "$tmp/sa-done" sensor-api
echo "(sensor-api keeps running: its grants live as long as it does)"

step "what reached the DNS server in $NET (its query log)"
grep -o 'query\[.*' "$tmp/dns.log" | sed 's/^/  /'
if ! grep -q 'query\[A\] api\.example\.com ' "$tmp/dns.log"; then
	echo "  api.example.com is not in the log: it proves nothing"
elif grep -q 'tracker\.example\.org' "$tmp/dns.log"; then
	echo "  tracker.example.org REACHED the DNS server"
else
	echo "  tracker.example.org never reached the DNS server: netd answered NXDOMAIN"
fi

step "telemetry-tls: allowed only telemetry.example.net (TLS, device auth)"
echo "(plain HTTP first; TLS with the device certificate comes below)"
ip netns exec "$DEV" "${C[@]}" run --manifest $EX/telemetry-tls.json -- \
    $PY "$tmp/app.py" telemetry-tls http://telemetry.example.net/ \
    http://api.example.com/ http://192.0.2.11/

step "an administrator grants telemetry-tls 192.0.2.11 for 30 s: an address, not a name"
# The app runs only once its rules are in: it says so, then waits.
ip netns exec "$DEV" "${C[@]}" run --manifest $EX/telemetry-tls.json -- \
    $PY "$tmp/app.py" --up "$tmp/up" --go "$tmp/go" telemetry-tls \
    http://192.0.2.11/ http://api.example.com/ &
app=$!
pids+=("$app")
await "$tmp/up" telemetry-tls
ip netns exec "$DEV" "${C[@]}" grant telemetry-tls 192.0.2.11 30
ip netns exec "$DEV" "${C[@]}" apps
release "$tmp/go" telemetry-tls
wait $app

step "netctl show sensor-api: its grants, and the names they came from"
ip netns exec "$DEV" "${C[@]}" show sensor-api
release "$tmp/sa-exit" sensor-api
wait $sa

step "the device key: root's, mode 0600; netd loaded it, no app can read it"
stat -c '  %A %U %n' "$tmp/device.key"
echo "  \$ cat $tmp/device.key    (as telemetry-tls, under netctl run)"
ip netns exec "$DEV" "${C[@]}" run --manifest $EX/telemetry-tls.json -- \
    cat "$tmp/device.key" 2>&1 | sed 's/^/    /'
echo "  (exit status ${PIPESTATUS[0]})"

step "telemetry-tls over TLS: netctl tls-connect through netd's gateway"
echo "(netd resolves, connects, verifies the server against ca_file, and"
echo " presents the device certificate: the manifest has DeviceAuthentication)"
TLS=(--netctl "$NETCTL" --tls-socket "$tmp/tls.sock")
ip netns exec "$DEV" "${C[@]}" run --manifest $EX/telemetry-tls.json -- \
    $PY "$tmp/app.py" "${TLS[@]}" telemetry-tls \
    tls://telemetry.example.net:443 tls://api.example.com:443

step "what the TLS server at 203.0.113.40:443 saw of that client"
if srv_read "Verification:" "CONNECTION CLOSED"; then
	printf '  %s\n' "${srv_lines[@]}" |
	    grep -E '^  (depth=|Protocol version|Ciphersuite|Peer certificate|Verification|CONNECTION)'
else
	printf '  %s\n' "${srv_lines[@]}"
	echo "  (nothing more from the server in 5 s)"
fi
exec {srv}<&-

step "sensor-api over TLS: telemetry.example.net is not in its manifest"
echo "(and it has no DeviceAuthentication: netd would never present the device certificate for it)"
ip netns exec "$DEV" "${C[@]}" run --manifest $EX/sensor-api.json -- \
    $PY "$tmp/app.py" "${TLS[@]}" sensor-api tls://telemetry.example.net:443

step "netctl events: what was refused, for which app, and why"
ip netns exec "$DEV" "${C[@]}" events

step "root and system uids are not touched: their queries go upstream unfiltered"
ip netns exec "$DEV" $PY "$tmp/app.py" root http://tracker.example.org/

step "netctl status, after both apps exited (their rules went with them)"
ip netns exec "$DEV" "${C[@]}" status
kill "$netd"
wait "$netd" "$netd_logger"
step "what netd logged"
sed 's/^/  /' "$tmp/netd.log"
