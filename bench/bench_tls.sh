#!/bin/sh
# bench_tls.sh: netd's TLS gateway beside an in-process mbedTLS client,
# measured in the same run. As root:
#
#   bench/bench_tls.sh [BUILDDIR [BENCH_TLS_OPTION...]]   (default build)
#
# (options for bench_tls, e.g. -x h for the handshakes alone, -k 500)
#
#   $P-srv  10.99.0.2   openssl s_server :4433 (handshakes),
#      | veth           bench/tls/peer.py :4444 (bulk, idle sessions),
#      |                dnsmasq :53 (tls.bench.example -> 10.99.0.2)
#   $P-dev  10.99.0.1   netd (upstream 10.99.0.2, its own config, sockets
#                       and state in a temp dir) and the app:
#                       netctl run --manifest -- BUILDDIR/bench_tls
#
# Both peers offer TLS 1.2 with ECDHE-RSA-AES128-GCM-SHA256 only (ECDHE on
# P-256), an RSA 2048 certificate for tls.bench.example and 10.99.0.2 made
# for the run by a throw-away CA, which is netd's ca_file and the
# in-process client's. bench_tls (see its top) prints the figures.
#
# Every namespace, process and file it creates is removed on exit, also on
# failure or interruption. Needs ip, ss, openssl, dnsmasq, python3, jq.

set -eu

B=${1:-build}
[ $# = 0 ] || shift
P=nbt$$				# namespace prefix
SRV=10.99.0.2
DEV=10.99.0.1
NAME=tls.bench.example
HSPORT=4433
BULKPORT=4444
APPUID=20001
HERE=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
NETD=""

die() {
	echo "bench_tls.sh: $*" >&2
	if [ -n "$NETD" ] && [ -s "$TMP/netd.log" ]; then
		echo "bench_tls.sh: netd's log (less the sessions that" \
		    "opened), and its last 3 lines:" >&2
		grep -v ' via .*, TLSv' "$TMP/netd.log" | tail -n 30 >&2
		tail -n 3 "$TMP/netd.log" >&2
	fi
	if [ -n "$TMP" ] && [ -s "$TMP/peer.log" ]; then
		echo "bench_tls.sh: peer.py's errors:" >&2
		tail -n 10 "$TMP/peer.log" >&2
	fi
	exit 1
}

# Wait up to 10 s for a condition (a shell command).
await() {
	n=0
	until eval "$1"; do
		n=$((n + 1))
		[ $n -lt 100 ] || die "timed out: $2"
		sleep 0.1
	done
}

# True once something listens on TCP port $1 in $P-srv.
listening() {
	[ -n "$(ip netns exec "$P-srv" ss -Hltn "sport = :$1")" ]
}

[ "$(id -u)" = 0 ] || die "must run as root"
for t in ip ss openssl dnsmasq python3 jq; do
	command -v $t >/dev/null || die "$t not found"
done
for f in "$B/bench_tls" "$B/netd" "$B/netctl"; do
	[ -x "$f" ] || die "$f not built"
done
B=$(cd "$B" && pwd)
TMP=$(mktemp -d /tmp/netd-bench-tls.XXXXXX)
chmod 755 "$TMP"		# the app uid reads the CA and the socket

# ---- certificates: a CA, and the peers' certificate it signs ----

openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=netd bench CA" \
    -addext basicConstraints=critical,CA:TRUE \
    -addext keyUsage=critical,keyCertSign,cRLSign \
    -keyout "$TMP/ca.key" -out "$TMP/ca.pem" 2>/dev/null ||
    die "openssl: the CA"
# mbedTLS 2.28 checks an IP literal against the DNS names: both forms.
printf '%s\n' "basicConstraints = CA:FALSE" \
    "keyUsage = critical,digitalSignature,keyEncipherment" \
    "extendedKeyUsage = serverAuth" \
    "subjectAltName = DNS:$NAME,DNS:$SRV,IP:$SRV" >"$TMP/srv.ext"
openssl req -new -newkey rsa:2048 -nodes -subj "/CN=$NAME" \
    -keyout "$TMP/srv.key" -out "$TMP/srv.csr" 2>/dev/null ||
    die "openssl: the server key"
openssl x509 -req -in "$TMP/srv.csr" -CA "$TMP/ca.pem" -CAkey "$TMP/ca.key" \
    -CAcreateserial -days 2 -extfile "$TMP/srv.ext" -out "$TMP/srv.pem" \
    2>/dev/null || die "openssl: the server certificate"
chmod 644 "$TMP/ca.pem"

# ---- namespaces ----

ns_add "$P-dev"
ns_add "$P-srv"
ip -n "$P-dev" link add veth0 type veth peer name veth0 netns "$P-srv"
ip -n "$P-dev" addr add $DEV/24 dev veth0
ip -n "$P-srv" addr add $SRV/24 dev veth0
ip -n "$P-dev" link set veth0 up
ip -n "$P-srv" link set veth0 up

# ---- the peers and the DNS server, in $P-srv ----

ip netns exec "$P-srv" dnsmasq --keep-in-foreground --no-resolv --no-hosts \
    --conf-file=/dev/null --pid-file= --port=53 --listen-address=$SRV \
    --bind-interfaces --local=/bench.example/ \
    --host-record=$NAME,$SRV --local-ttl=60 --log-queries \
    --log-facility="$TMP/dns.log" 2>"$TMP/dnsmasq.log" &
PIDS="$PIDS $!"
# -quiet: no output, and stdin's EOF is ignored.
ip netns exec "$P-srv" openssl s_server -quiet -accept $SRV:$HSPORT \
    -cert "$TMP/srv.pem" -key "$TMP/srv.key" -tls1_2 \
    -cipher ECDHE-RSA-AES128-GCM-SHA256 -groups P-256 -no_ticket \
    </dev/null >"$TMP/s_server.log" 2>&1 &
PIDS="$PIDS $!"
ip netns exec "$P-srv" python3 "$HERE/tls/peer.py" $SRV $BULKPORT \
    "$TMP/srv.pem" "$TMP/srv.key" >"$TMP/peer.out" 2>"$TMP/peer.log" &
PIDS="$PIDS $!"
await "listening $HSPORT" "openssl s_server on $SRV:$HSPORT"
await "listening $BULKPORT" "peer.py on $SRV:$BULKPORT"
await "listening 53" "dnsmasq on $SRV:53"

# ---- netd, in $P-dev ----

mkdir -p "$TMP/state"
cat >"$TMP/netd.conf" <<EOF
control_socket = $TMP/ctl.sock
tls_socket = $TMP/tls.sock
state_dir = $TMP/state
upstream = $SRV
ca_file = $TMP/ca.pem
tls_max_sessions = 256
tls_max_per_app = 256
EOF
# ip netns exec execs its command: $! is the daemon itself.
ip netns exec "$P-dev" "$B/netd" -d -c "$TMP/netd.conf" 2>"$TMP/netd.log" &
NETD=$!
PIDS="$PIDS $NETD"
await '{ [ -S "$TMP/ctl.sock" ] && [ -S "$TMP/tls.sock" ]; } ||
    ! kill -0 $NETD 2>/dev/null' "netd start"
kill -0 $NETD 2>/dev/null || die "netd exited"

cat >"$TMP/app.json" <<EOF
{
  "SchemaVersion": 1,
  "Name": "tlsbench",
  "ComponentId": "7d1c0b2a-5e4f-4a3b-9c8d-0e1f2a3b4c5d",
  "EntryPoint": "/bin/app",
  "Capabilities": { "AllowedConnections": [ "$NAME", "$SRV" ] }
}
EOF

# ---- the bench, as the app ----

echo "tls gateway: $B/netd (pid $NETD) in its own namespace; peers over" \
    "a veth in another; app uid $APPUID; load average" \
    "$(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) cores"
# In the background, so that a signal interrupts the wait at once.
ip netns exec "$P-dev" "$B/netctl" -s "$TMP/ctl.sock" run \
    --manifest "$TMP/app.json" --uid $APPUID -- \
    "$B/bench_tls" -s "$TMP/tls.sock" -c "$TMP/ca.pem" -a $SRV -n $NAME \
    -H $HSPORT -P $BULKPORT -p $NETD "$@" &
BENCH=$!
PIDS="$PIDS $BENCH"
rc=0
wait $BENCH || rc=$?
PIDS=${PIDS% "$BENCH"}
kill -0 $NETD 2>/dev/null || die "netd died during the bench"
[ $rc = 0 ] || die "bench_tls failed (exit $rc)"

echo
echo "netd tls counters: $(ip netns exec "$P-dev" "$B/netctl" \
    -s "$TMP/ctl.sock" status --json | jq -c '.tls | {requests, refused,
    established, clean, aborted, sessions}')"
# netd resolves each time: one A query per gateway request by name.
echo "dnsmasq answered $(grep -c "query\[A\] $NAME " "$TMP/dns.log" || true)" \
    "A queries for $NAME (the gateway's requests by name)"
if grep -q 'refused\|ended:' "$TMP/netd.log"; then
	echo "netd logged refusals or aborted sessions:"
	grep 'refused\|ended:' "$TMP/netd.log" | head -n 10
fi
if [ -s "$TMP/peer.log" ]; then
	echo "peer.py reported:"
	head -n 10 "$TMP/peer.log"
fi
stop_all
