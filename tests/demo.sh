#!/bin/bash
# The netd demo: the manifest checker, then the firewall at work in two
# throw-away network namespaces ("internet" with web servers, "device"
# with netd and two apps). Everything it creates is removed on exit.
# Usage: tests/demo.sh BUILD_DIR   (as root)
set -u
B=${1:?usage: $0 BUILD_DIR}
NETD=$B/netd
NETCTL=$B/netctl
EX=configs/examples
PY=/usr/bin/python3
DEV=netd-demo-dev-$$
NET=netd-demo-net-$$
tmp=$(mktemp -d /tmp/netd-demo.XXXXXX)
chmod 755 "$tmp"
pids=()

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
cleanup() {
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
	wait 2>/dev/null
	ip netns del "$DEV" 2>/dev/null
	ip netns del "$NET" 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

step "netctl check $EX/*.json: what loads, what is refused and why"
"$NETCTL" check $EX/*.json
echo "(exit status $?: 0 all load, 1 one is refused)"
step "netctl check --print $EX/sensor-api.json: the compiled policy"
"$NETCTL" check --print $EX/sensor-api.json

if [ "$(id -u)" != 0 ]; then
	echo "the firewall part needs root: skipped"
	exit 0
fi

step "network: $NET (web servers on 192.0.2.10 and 198.51.100.20) <-veth-> $DEV (netd)"
ip netns add "$NET" && ip netns add "$DEV" || exit 1
ip link add veth-d netns "$DEV" type veth peer name veth-n netns "$NET"
ip -n "$DEV" link set lo up
ip -n "$NET" link set lo up
ip -n "$DEV" addr add 192.0.2.100/24 dev veth-d
ip -n "$NET" addr add 192.0.2.10/24 dev veth-n
ip -n "$NET" addr add 198.51.100.20/24 dev veth-n
ip -n "$DEV" link set veth-d up
ip -n "$NET" link set veth-n up
ip -n "$DEV" route add 198.51.100.0/24 via 192.0.2.10

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
mkfifo "$tmp/ready"
ip netns exec "$NET" $PY "$tmp/web.py" >"$tmp/ready" 2>/dev/null &
pids+=($!)
read -r _ <"$tmp/ready"

# The app: fetch each URL, say what happened.
cat >"$tmp/app.py" <<'EOF'
import os, socket, sys, urllib.request
print("  app %s runs as uid %d" % (sys.argv[1], os.getuid()))
for url in sys.argv[2:]:
    try:
        body = urllib.request.urlopen(url, timeout=3).read().decode().strip()
        print("  %-28s PASSED  (%s)" % (url, body))
    except Exception as e:
        r = getattr(e, "reason", e)
        print("  %-28s BLOCKED (%s)" % (url, r))
EOF
printf 'control_socket = %s/ctl.sock\nstate_dir = %s/state\n' "$tmp" "$tmp" \
    >"$tmp/netd.conf"
step "netd starts in $DEV: table inet netd goes in, one transaction"
ip netns exec "$DEV" "$NETD" -d -c "$tmp/netd.conf" 2>"$tmp/netd.log" &
pids+=($!)
for _ in $(seq 100); do [ -S "$tmp/ctl.sock" ] && break; sleep 0.05; done
C=("$NETCTL" -s "$tmp/ctl.sock")
ip netns exec "$DEV" "${C[@]}" status

step "sensor-api: allowed 192.0.2.10 (and names, which need the DNS proxy)"
ip netns exec "$DEV" "${C[@]}" run --manifest $EX/sensor-api.json -- \
    $PY "$tmp/app.py" sensor-api http://192.0.2.10/ http://198.51.100.20/

step "telemetry-tls: allowed only telemetry.example.net, a name"
ip netns exec "$DEV" "${C[@]}" run --manifest $EX/telemetry-tls.json -- \
    $PY "$tmp/app.py" telemetry-tls http://192.0.2.10/ http://198.51.100.20/

step "an administrator grants telemetry-tls 198.51.100.20 for 30 s"
mkfifo "$tmp/go" "$tmp/up"
chmod 666 "$tmp/go" "$tmp/up"
# The command runs only once its rules are in: it says so, then waits.
ip netns exec "$DEV" "${C[@]}" run --manifest $EX/telemetry-tls.json -- \
    sh -c "echo up >$tmp/up; read x <$tmp/go; exec $PY $tmp/app.py \
    telemetry-tls http://192.0.2.10/ http://198.51.100.20/" &
app=$!
pids+=($app)
read -r _ <"$tmp/up"
ip netns exec "$DEV" "${C[@]}" grant telemetry-tls 198.51.100.20 30
ip netns exec "$DEV" "${C[@]}" apps
echo go >"$tmp/go"
wait $app

step "netctl events: what was refused, and for which app"
ip netns exec "$DEV" "${C[@]}" events

step "root and system uids are not touched"
ip netns exec "$DEV" $PY "$tmp/app.py" root http://198.51.100.20/

step "netctl status, after both apps exited (their rules went with them)"
ip netns exec "$DEV" "${C[@]}" status
step "what netd logged"
sed 's/^/  /' "$tmp/netd.log"
