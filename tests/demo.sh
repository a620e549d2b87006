#!/bin/bash
# The netd demo: the manifest checker, then netd at work in two throw-away
# network namespaces: "internet" with a real DNS server (dnsmasq) and web
# servers, "device" with netd and two apps that resolve through netd's DNS
# proxy. Everything it creates is removed on exit, on failure too.
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
import os, sys, urllib.request
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
for url in args[1:]:
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
    "tls_socket = $tmp/tls.sock" "upstream = $DNS" >"$tmp/netd.conf"
step "netd starts in $DEV: table inet netd goes in, DNS proxy on 127.0.0.53"
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
echo "(plain HTTP reachability: the TLS gateway with the device key is not built yet)"
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

step "netctl events: what was refused, for which app, and why"
ip netns exec "$DEV" "${C[@]}" events

step "netctl show sensor-api: its grants, and the names they came from"
ip netns exec "$DEV" "${C[@]}" show sensor-api
release "$tmp/sa-exit" sensor-api
wait $sa

step "root and system uids are not touched: their queries go upstream unfiltered"
ip netns exec "$DEV" $PY "$tmp/app.py" root http://tracker.example.org/

step "netctl status, after both apps exited (their rules went with them)"
ip netns exec "$DEV" "${C[@]}" status
kill "$netd"
wait "$netd" "$netd_logger"
step "what netd logged"
sed 's/^/  /' "$tmp/netd.log"
