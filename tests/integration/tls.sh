#!/bin/bash
# Integration test of netd's TLS gateway (include/netd_tls.h), in two
# throw-away network namespaces:
#
#   device ns  netd (own config, sockets and state in a temp dir): control
#      |       socket, TLS gateway socket ($T/tls.sock, mode 0666), CA
#      |       bundle = the test CA, device certificate chain and key
#      | veth  192.0.2.100/24, 2001:db8:1::100/64
#   inet ns    unbound on 192.0.2.53 serving data/tls/tls.zone (query log);
#              the TLS peers on lo, port 443:
#                198.51.100.10 good.test      s_server -rev (and -WWW :8443)
#                198.51.100.11 mismatch.test  s_server, cert for wrong.test
#                198.51.100.12 expired.test   s_server, expired cert
#                198.51.100.13 untrusted.test s_server, cert of another CA
#                198.51.100.14 mtls.test      s_server -Verify (device CA)
#                198.51.100.15 notlisted.test s_server, in no manifest
#                198.51.100.16 closed.test    nothing listens
#                198.51.100.17 sni.test       s_server, cert for sni.test only
#                                             to SNI sni.test (else wrong.test)
#                203.0.113.20  cut.test       server.py: dies mid-stream
#                203.0.113.21  many.test      server.py: concurrent echo
#                203.0.113.22  sink.test      server.py: stalls 0.4 s with a
#                                             4 KiB window, then answers the
#                                             SHA-256 of what reached it
#                2001:db8:2::10 v6only.test   s_server -rev, AAAA only
#                fallback.test: A 198.51.100.16 (closed), AAAA 2001:db8:2::10
#              and nft counters (table inet tlstest): SYNs to good.test,
#              any packet to notlisted.test
#
# The CAs and certificates are made at test time (tlslib.sh make_pki, with
# data/tls/openssl.cnf). Before netd starts, openssl s_client (as root in
# the device namespace) checks each peer fails or works as intended.
#
# The clients: data/tls/client.py (the raw protocol, run as an app with
# netctl run, as uid 65534, an unregistered app uid, root; and as an agent
# holding many sessions), netctl tls-connect, build/tls-example. The apps:
# data/tls/app.json (tls-app: most hosts), device.json (tls-device:
# DeviceAuthentication), cut.json, idle.json.
#
# Sections: 0 PKI, network, peers checked without netd; 1 device_key
# permissions, the gateway socket; 2 the raw protocol (each reason); 2b
# malformed requests; 3 netctl tls-connect; 3b bulk data (1 MiB each way,
# a stalled peer); 3c tls-example; 4 DeviceAuthentication (mTLS); 5
# not-an-app, and what a denied request leaves on the wire and upstream;
# 6 a peer dying mid-stream (event); 7 idle timeout; 8 100 concurrent
# sessions and both limits. About 10 s.
#
# Usage: tests/integration/tls.sh [BUILD_DIR]   (as root; default build)
# Prints "ok - ..." / "not ok - ..." per assertion and a last line
# "tls: N passed, N failed"; exits 1 when anything failed. Environment:
# TLS_WATCHDOG (seconds, default 60), TLS_KEEP_LOGS=DIR (keep netd's log,
# the peers' logs and unbound's query log).
set -u
shopt -s extglob

if [ "$(id -u)" != 0 ]; then
	echo "tls: SKIPPED (needs root)"
	exit 0
fi

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B=$(cd "${1:-$ROOT/build}" && pwd) || exit 2
NETD=$B/netd
NETCTL=$B/netctl
EXAMPLE=$B/tls-example
UNBOUND=${UNBOUND:-/usr/sbin/unbound}
DATA=$HERE/data/tls
DEV=netd-tls-dev-$$
INET=netd-tls-inet-$$
T=$(mktemp -d /tmp/netd-tls.XXXXXX) || exit 2
chmod 711 "$T"		# app uids must reach the sockets in it
SOCK=$T/control.sock
TSOCK=$T/tls.sock
P=$T/pki
UPSTREAM=192.0.2.53
ULOG=$T/unbound/query.log
IDLE=6			# tls_idle_timeout
START=$(date +%s.%N)
LISTEN=()

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
# shellcheck source=tests/integration/dnslib.sh
. "$HERE/dnslib.sh"
# shellcheck source=tests/integration/tlslib.sh
. "$HERE/tlslib.sh"

summary() { echo "tls: $FW_PASS passed, $FW_FAIL failed"; }
keep_logs() {
	[ -n "${TLS_KEEP_LOGS:-}" ] || return 0
	mkdir -p "$TLS_KEEP_LOGS" &&
	    cp "$T"/netd*.log "$T"/srv-*.log "$T"/servers.err "$ULOG" \
	    "$TLS_KEEP_LOGS/" 2>/dev/null
	return 0
}
on_signal() {
	trap - INT TERM
	fail "$1"
	keep_logs
	summary
	exit "$2"
}
trap cleanup EXIT
trap 'on_signal "interrupted (SIGINT)" 130' INT
trap 'on_signal "terminated (SIGTERM: killed, or the ${WATCHDOG}s watchdog)" 143' TERM
WATCHDOG=${TLS_WATCHDOG:-60}
"$PY" -c 'import os, sys, time
time.sleep(int(sys.argv[1])); os.kill(int(sys.argv[2]), 15)' "$WATCHDOG" $$ &
track $!

for f in "$NETD" "$NETCTL" "$UNBOUND" /usr/bin/openssl; do
	[ -x "$f" ] || { echo "tls: $f missing (make all; apt-get install unbound openssl)"; exit 2; }
done

section() {
	printf '# %s  [%s s]\n' "$1" "$(awk -v s="$START" -v e="$(date +%s.%N)" \
	    'BEGIN { printf "%.1f", e - s }')"
}

fatal() {
	fail "$*"
	if [ -s "$T/netd.log" ]; then
		echo "# netd log:"
		grep -v "^tls: .* via .*, TLSv" "$T/netd.log" | tail -n 40 | diag
	fi
	keep_logs
	summary
	exit 1
}

X4=192.0.2.1
X6=2001:db8:1::1
APP=$DATA/app.json		# tls-app: most hosts, no DeviceAuthentication
DEVAPP=$DATA/device.json	# tls-device: DeviceAuthentication
CUTAPP=$DATA/cut.json		# tls-cut: cut.test, many.test
IDLEAPP=$DATA/idle.json		# tls-idle: many.test

# --- topology ------------------------------------------------------------------
setup_net() {
	local ns a
	ip netns add "$DEV" && ip netns add "$INET" || return 1
	ip -n "$DEV" link add veth0 type veth peer name veth0 netns "$INET" ||
	    return 1
	for ns in "$DEV" "$INET"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		    net.ipv6.conf.default.accept_dad=0 || return 1
		ip -n "$ns" link set lo up && ip -n "$ns" link set veth0 up ||
		    return 1
	done
	ip -n "$DEV" addr add 192.0.2.100/24 dev veth0 &&
	ip -n "$DEV" addr add 2001:db8:1::100/64 dev veth0 nodad &&
	ip -n "$DEV" route add 198.51.100.0/24 via $X4 &&
	ip -n "$DEV" route add 203.0.113.0/24 via $X4 &&
	ip -n "$DEV" -6 route add 2001:db8:2::/64 via $X6 &&
	ip -n "$INET" addr add $X4/24 dev veth0 &&
	ip -n "$INET" addr add $UPSTREAM/24 dev veth0 &&
	ip -n "$INET" addr add $X6/64 dev veth0 nodad || return 1
	for a in 198.51.100.1{0,1,2,3,4,5,6,7} 203.0.113.2{0,1,2}; do
		ip -n "$INET" addr add "$a/32" dev lo || return 1
	done
	ip -n "$INET" addr add 2001:db8:2::10/128 dev lo nodad
}

start_peers() {
	local fd line
	mkdir -p "$T/www" && echo "tls-example token $$" >"$T/www/hello.txt" ||
	    return 1
	s_server good 198.51.100.10 443 good -rev
	S_DIR=$T/www s_server www 198.51.100.10 8443 good -WWW
	s_server mismatch 198.51.100.11 443 wrong -rev
	s_server expired 198.51.100.12 443 expired -rev
	s_server untrusted 198.51.100.13 443 untrusted -rev
	s_server mtls 198.51.100.14 443 mtls -rev -Verify 5 \
	    -verify_return_error -CAfile "$P/client/ca.pem"
	s_server notlisted 198.51.100.15 443 good -rev
	s_server sni 198.51.100.17 443 wrong -rev -servername sni.test \
	    -cert2 "$P/sni.pem" -key2 "$P/sni.key"
	s_server v6 2001:db8:2::10 443 v6 -rev
	mkfifo "$T/servers.out"
	exec {fd}<>"$T/servers.out"
	ip netns exec "$INET" "$PY" "$DATA/server.py" \
	    cut 203.0.113.20 443 "$P/many.pem" "$P/many.key" \
	    echo 203.0.113.21 443 "$P/many.pem" "$P/many.key" \
	    sink 203.0.113.22 443 "$P/many.pem" "$P/many.key" \
	    1>&"$fd" 2>"$T/servers.err" &
	track $!
	read -r -t 10 -u "$fd" line && [ "$line" = READY ] &&
	    wait_for 100 0.05 every_listener
}

write_conf() {
	cat >"$T/netd.conf" <<CONF
control_socket = $SOCK
state_dir = $T/state
app_uid_range = 10000-59999
nflog_group = 100
upstream = $UPSTREAM
tls_socket = $TSOCK
ca_file = $P/ca.pem
device_cert = $P/device-chain.pem
device_key = ${1:-$P/device.key}
tls_max_sessions = 110
tls_max_per_app = 100
tls_idle_timeout = $IDLE
CONF
}

start_netd() {
	ip netns exec "$DEV" "$NETD" -f -c "$T/netd.conf" >>"$T/netd.log" 2>&1 &
	NETD_PID=$!
	track $NETD_PID
	wait_for 100 0.05 netd_answers
	netd_alive
}
netd_answers() {
	kill -0 "$NETD_PID" 2>/dev/null || return 0	# dead: stop waiting
	nctl status >/dev/null 2>&1 && [ -S "$TSOCK" ]
}
netd_alive() { kill -0 "$NETD_PID" 2>/dev/null && nctl status >/dev/null 2>&1; }

# refuses_key MODE: netd with a device_key of MODE exits (at most 5 s)
# with an error naming device_key, and binds no gateway socket.
refuses_key() {
	local mode=$1 key=$P/device-$1.key pid rc
	cp "$P/device.key" "$key" && chmod "$mode" "$key" || return 1
	write_conf "$key"
	: >"$T/netd-$mode.log"
	ip netns exec "$DEV" "$NETD" -f -c "$T/netd.conf" \
	    >>"$T/netd-$mode.log" 2>&1 &
	pid=$!
	track $pid
	if ! wait_for 50 0.1 exited "$pid"; then
		kill -TERM "$pid"
		wait "$pid" 2>/dev/null
		fail "netd with device_key mode $mode started (it should refuse)"
		rm -f "$TSOCK" "$SOCK"
		return 0
	fi
	wait "$pid"
	rc=$?
	if [ "$rc" != 0 ] && grep -q device_key "$T/netd-$mode.log" &&
	    [ ! -e "$TSOCK" ]; then
		pass "netd refuses device_key mode $mode (exit $rc: $(grep -m1 device_key "$T/netd-$mode.log"))"
	else
		fail "netd refuses device_key mode $mode (exit $rc, socket $( [ -e "$TSOCK" ] && echo left || echo none))"
		diag <"$T/netd-$mode.log"
	fi
}

# --- 0. the PKI, the network, the peers, checked without netd -------------------
section "0. test PKI, namespaces, unbound, TLS peers"
check "test PKI: 3 roots, an intermediate, 9 leaf certificates (openssl ca)" \
    make_pki || { diag <"$P/openssl.log"; fatal "cannot make the PKI"; }
check "network namespaces $DEV and $INET, veth, addresses" setup_net ||
    fatal "cannot build the topology"
check "unbound answers on $UPSTREAM (good.test A, polled, at most 5 s)" \
    start_unbound "$DATA/tls.zone" good.test "NOERROR A=198.51.100.10@300" || { diag <"$T/unbound/stderr"; fatal "unbound did not start"; }
check "counters in $INET (SYNs to 198.51.100.10:443, packets to 198.51.100.15)" \
    counters_setup || fatal "no nft counters"
check "TLS peers listen in $INET (9 s_server; server.py: cut, echo, sink)" \
    start_peers || { ip netns exec "$INET" ss -Hltn | diag;
    tail -n 3 "$T"/srv-*.log "$T/servers.err" | diag; fatal "peers did not start"; }

section "0b. the peers, as root with openssl s_client (no netd yet)"
res_root "$T/dns" "q/udp/$UPSTREAM/v6only.test/AAAA" "q/udp/$UPSTREAM/v6only.test/A" \
    "q/udp/$UPSTREAM/gone.test/A" "q/udp/$UPSTREAM/notlisted.test/A"
expect_r "$T/dns" "q/udp/$UPSTREAM/v6only.test/AAAA" "NOERROR AAAA=2001:db8:2::10@*" "upstream"
expect_r "$T/dns" "q/udp/$UPSTREAM/v6only.test/A" "NOERROR" "upstream (no A)"
expect_r "$T/dns" "q/udp/$UPSTREAM/gone.test/A" NXDOMAIN "upstream"
expect_r "$T/dns" "q/udp/$UPSTREAM/notlisted.test/A" "NOERROR A=198.51.100.15@*" "upstream"

sane_ok() {	# NAME HOST:PORT SNI [ARGS...]
	local name=$1
	shift
	sclient "$T/sc-$name" "$@"
	local rc=$?
	if [ $rc = 0 ] && grep -qx ytinas "$T/sc-$name"; then
		pass "s_client $2 at $1: verified, \"sanity\" came back reversed"
	else
		fail "s_client $2 at $1: wanted a verified echo (exit $rc)"
		diag <"$T/sc-$name.err"
	fi
}
sane_bad() {	# NAME HOST:PORT SNI TEXT [ARGS...]
	local name=$1 hp=$2 nm=$3 text=$4
	shift 4
	sclient "$T/sc-$name" "$hp" "$nm" "$@"
	local rc=$?
	if [ $rc != 0 ] && grep -qF -- "$text" "$T/sc-$name.err" &&
	    ! grep -q ytinas "$T/sc-$name"; then
		pass "s_client $nm at $hp${SC_SNI:+ (SNI: $SC_SNI)} fails: $text"
	else
		fail "s_client $nm at $hp: wanted a failure with \"$text\" (exit $rc)"
		diag <"$T/sc-$name.err"
	fi
}
sane_ok good 198.51.100.10:443 good.test
sane_ok wild 198.51.100.10:443 api.wild.test
sane_ok notlisted 198.51.100.15:443 notlisted.test
sane_ok v6 "[2001:db8:2::10]:443" v6only.test
sane_ok mtls 198.51.100.14:443 mtls.test -cert "$P/device.pem" \
    -cert_chain "$P/devca.pem" -key "$P/device.key"
sane_ok sni 198.51.100.17:443 sni.test
sane_bad mismatch 198.51.100.11:443 mismatch.test "hostname mismatch"
SC_SNI=no sane_bad sni-none 198.51.100.17:443 sni.test "hostname mismatch"
sane_bad expired 198.51.100.12:443 expired.test "certificate has expired"
sane_bad untrusted 198.51.100.13:443 untrusted.test "unable to get local issuer certificate"
sane_bad mtls-nocert 198.51.100.14:443 mtls.test "alert handshake failure" -tls1_2
sane_bad mtls-leafonly 198.51.100.14:443 mtls.test "alert unknown ca" -tls1_2 \
    -cert "$P/device.pem" -key "$P/device.key"
check "s_server at mtls.test verified the device chain (its log: Peer certificate: CN = device-0001, Verification: OK)" \
    test "$(srv_count mtls "Peer certificate: CN = device-0001")" = 1 -a \
    "$(srv_count mtls "Verification: OK")" = 1
r=$(pyssl 203.0.113.21 443 many.test echo)
check "python ssl: many.test echoes (\"$r\")" test "$r" = sanity
r=$(pyssl 203.0.113.22 443 sink.test sink)
check "python ssl: sink.test answers the SHA-256 of 100000 octets ($r)" \
    match "$r" "100000 * good"
r=$(pyssl 203.0.113.20 443 cut.test cut)
check "python ssl: cut.test sends 65536 octets, then cuts ($r)" test "$r" = 65536
r=$(printf 'GET /hello.txt HTTP/1.0\r\n\r\n' | ip netns exec "$DEV" timeout 5 \
    openssl s_client -connect 198.51.100.10:8443 -servername good.test \
    -verify_hostname good.test -CAfile "$P/ca.pem" -verify_return_error \
    -quiet 2>/dev/null | tail -1)
check "s_server -WWW at good.test:8443 serves hello.txt ($r)" \
    test "$r" = "tls-example token $$"
if ip netns exec "$DEV" timeout 5 openssl s_client -connect 198.51.100.16:443 \
    </dev/null >/dev/null 2>&1; then
	fail "nothing listens at closed.test (198.51.100.16:443)"
else
	pass "nothing listens at closed.test (198.51.100.16:443)"
fi
TO15_0=$(counter to15)
SYN10_0=$(counter syn10)
NL_0=$(srv_count notlisted "CONNECTION ESTABLISHED")
check "the counters count: $SYN10_0 SYNs to good.test, $TO15_0 packets to notlisted.test so far" \
    test "$SYN10_0" -ge 2 -a "$TO15_0" -ge 3
# From here on the query log shows only what netd (and ulog_sync) asked.
check "unbound's query log is in step (a marker query shows in it)" ulog_sync
UL_0=$(wc -l <"$ULOG")
# ulog_new NAME [TYPE]: unbound logged a query for NAME (of TYPE) since UL_0
ulog_new() { tail -n +"$((UL_0 + 1))" "$ULOG" | grep -qiF " $1. ${2:-}"; }
ulog_never() { ! ulog_new "$@"; }

# --- 1. netd refuses a device key others can read -----------------------------------
section "1. netd and the device key"
refuses_key 640
refuses_key 604
write_conf
check "netd starts (device_key 0600 root) and answers netctl status; $TSOCK exists" \
    start_netd || fatal "netd did not start"
check "the gateway socket is a socket, mode 0666 ($(stat -c '%a %U' "$TSOCK" 2>&1))" \
    test -S "$TSOCK" -a "$(stat -c %a "$TSOCK" 2>/dev/null)" = 666
check "device_key is mode 0600, owned by root ($(stat -c '%a %U' "$P/device.key"))" \
    test "$(stat -c '%a %U' "$P/device.key")" = "600 root"
tc_app "$DEVAPP" "$T/key" "open$P/device.key" "open$P/device-chain.pem"
expect_r "$T/key" "open$P/device.key" EACCES "tls-device (DeviceAuthentication) opens the device key"
expect_r "$T/key" "open$P/device-chain.pem" OK "tls-device opens the device certificate (a control)"

# Idle sessions end after tls_idle_timeout: one in the background, checked
# in section 7, before the limits are.
tc_app "$IDLEAPP" "$T/idle" idle/many.test/443 &
IDLE_PID=$!
track $IDLE_PID

# --- 2. the raw protocol, as tls-app --------------------------------------------
section "2. tls-app, raw protocol: verified peers work, the rest is refused"
OPS=(req/good.test/443 echo/good.test/443/hello-gateway
    echo/api.wild.test/443/wildcard echo/v6only.test/443/six
    echo/fallback.test/443/fallback echo/many.test/443/plain-echo
    echo/sni.test/443/sni
    req/mismatch.test/443 req/198.51.100.10/443 req/expired.test/443
    req/untrusted.test/443 req/mtls.test/443 req/gone.test/443
    req/closed.test/443 req/good.test/444 req/notlisted.test/443
    req/198.51.100.15/443 req/NOTLISTED.test/443 req/2001:db8:2::10/443)
tc_app "$APP" "$T/raw" "${OPS[@]}"
W="tls-app"
expect_r "$T/raw" req/good.test/443 \
    "OK 198.51.100.10 443 TLSv1.[23] +([A-Za-z0-9_-])" "$W"
expect_r "$T/raw" echo/good.test/443/hello-gateway \
    "OK 198.51.100.10 443 * :: yawetag-olleh|" "$W"
expect_r "$T/raw" echo/api.wild.test/443/wildcard \
    "OK 198.51.100.10 443 * :: dracdliw|" "$W (*.wild.test)"
expect_r "$T/raw" echo/v6only.test/443/six "OK 2001:db8:2::10 443 * :: xis|" \
    "$W (AAAA only)"
expect_r "$T/raw" echo/fallback.test/443/fallback \
    "OK 2001:db8:2::10 443 * :: kcabllaf|" "$W (A refused, then the AAAA)"
expect_r "$T/raw" echo/many.test/443/plain-echo \
    "OK 203.0.113.21 443 * :: plain-echo|" "$W"
expect_r "$T/raw" echo/sni.test/443/sni "OK 198.51.100.17 443 * :: ins|" \
    "$W (sends SNI: the server has sni.test's certificate only for it)"
expect_r "$T/raw" req/mismatch.test/443 "ERR name-mismatch *" "$W"
expect_r "$T/raw" req/198.51.100.10/443 "ERR name-mismatch *" \
    "$W (an IP literal its manifest lists; the certificate names good.test)"
expect_r "$T/raw" req/expired.test/443 "ERR expired *" "$W"
expect_r "$T/raw" req/untrusted.test/443 "ERR untrusted *" "$W"
expect_r "$T/raw" req/mtls.test/443 "ERR handshake *" "$W (no DeviceAuthentication)"
expect_r "$T/raw" req/gone.test/443 "ERR resolve *" "$W (NXDOMAIN)"
expect_r "$T/raw" req/closed.test/443 "ERR connect *" "$W (TCP reset)"
expect_r "$T/raw" req/good.test/444 "ERR connect *" "$W (closed port)"
expect_r "$T/raw" req/notlisted.test/443 "ERR denied *" "$W"
expect_r "$T/raw" req/198.51.100.15/443 "ERR denied *" "$W (IP literal)"
expect_r "$T/raw" req/NOTLISTED.test/443 "ERR denied *" "$W"
expect_r "$T/raw" req/2001:db8:2::10/443 "ERR denied *" "$W (IPv6 literal, not listed)"
check "s_server at mtls.test saw no certificate from tls-app (still 1 peer certificate)" \
    test "$(srv_count mtls "Peer certificate: CN = device-0001")" = 1

section "2b. malformed requests: ERR bad-request"
hex() { printf '%s' "$1" | od -An -v -tx1 | tr -d ' \n'; }
long=$(printf 'a%.0s' $(seq 600))
host254=$(printf 'b%.0s' $(seq 250)).test
BAD=("HELLO good.test 443" "CONNECT good.test" "CONNECT good.test 0"
    "CONNECT good.test 65536" "CONNECT good.test http" "CONNECT good.test 443 extra"
    "CONNECT [2001:db8:2::10] 443" "CONNECT $host254 443" "CONNECT $long 443")
bops=()
for b in "${BAD[@]}"; do
	bops+=("raw/$(hex "$b")0a")
done
tc_app "$APP" "$T/bad" "${bops[@]}"
for i in "${!BAD[@]}"; do
	r=$(rof "$T/bad" "${bops[$i]}")
	d=${BAD[$i]}
	[ ${#d} -gt 40 ] && d="${d:0:30}... (${#d} octets)"
	check "$W: \"$d\" -> ERR bad-request ($r)" match "$r" "ERR bad-request *"
done

# --- 3. netctl tls-connect ------------------------------------------------------------
section "3. netctl tls-connect as tls-app"
ncon "$APP" "$T/nc" good.test 443 --tls-socket "$TSOCK" <<<"hello netctl"
check "tls-connect good.test 443: exit 0 ($NCON_RC), the line came back reversed" \
    test "$NCON_RC" = 0 -a "$(cat "$T/nc")" = "ltcten olleh" || diag <"$T/nc.err"
NCON_ENV=("NETD_TLS_SOCKET=$TSOCK")
ncon "$APP" "$T/nc" v6only.test 443 <<<"via env"
NCON_ENV=()
check "tls-connect v6only.test 443 (socket from NETD_TLS_SOCKET): exit 0 ($NCON_RC), \"vne aiv\"" \
    test "$NCON_RC" = 0 -a "$(cat "$T/nc")" = "vne aiv" || diag <"$T/nc.err"
ncon_refused "$W" "$APP" notlisted.test 443 denied
ncon_refused "$W" "$APP" mismatch.test 443 name-mismatch
ncon_refused "$W" "$APP" expired.test 443 expired
ncon_refused "$W" "$APP" untrusted.test 443 untrusted
ncon_refused "$W" "$APP" mtls.test 443 handshake
ncon_refused "$W" "$APP" gone.test 443 resolve
ncon_refused "$W" "$APP" closed.test 443 connect
ncon "$APP" "$T/nc" good.test 443 --tls-socket "$T/nothing.sock" </dev/null
check "tls-connect with no gateway at --tls-socket: exit 3 ($NCON_RC)" \
    test "$NCON_RC" = 3 || diag <"$T/nc.err"

section "3b. 1 MiB each way, intact"
"$PY" -c 'import sys
sys.stdout.write("".join("%063x\n" % (i * 2654435761 % 2**64) for i in range(16384)))' \
    >"$T/text.in"
rev <"$T/text.in" >"$T/text.want"
head -c 1048576 /dev/urandom >"$T/bin.in"
t0=$(date +%s.%N)
ncon "$APP" "$T/text.out" good.test 443 --tls-socket "$TSOCK" <"$T/text.in"
t1=$(date +%s.%N)
secs=$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.2f", b - a }')
check "good.test (s_server -rev): 1 MiB of lines up, 1 MiB reversed down in ${secs}s, sha256 matches (exit $NCON_RC, $(stat -c %s "$T/text.out") octets)" \
    test "$NCON_RC" = 0 -a "$(sha256sum <"$T/text.out")" = "$(sha256sum <"$T/text.want")" ||
    diag <"$T/text.out.err"
ncon "$APP" "$T/bin.out" many.test 443 --tls-socket "$TSOCK" <"$T/bin.in"
check "many.test (echo): 1 MiB of random octets each way, sha256 matches (exit $NCON_RC, $(stat -c %s "$T/bin.out") octets)" \
    test "$NCON_RC" = 0 -a "$(sha256sum <"$T/bin.out")" = "$(sha256sum <"$T/bin.in")" ||
    diag <"$T/bin.out.err"
check "... and server.py counted 1048576 octets echoed on a clean close (polled)" \
    wait_for 30 0.1 grep -q "closed 1048576\$" "$T/servers.err"
# sink.test stops reading for 0.4 s with a 4 KiB receive buffer: netd
# meets a full TCP window on the way up (mbedtls_ssl_write: WANT_WRITE)
# while the app keeps sending. The peer answers the count and SHA-256 of
# what reached it.
{ echo 4194304; cat "$T/bin.in" "$T/bin.in" "$T/bin.in" "$T/bin.in"; } >"$T/sink.in"
want="4194304 $(tail -c 4194304 "$T/sink.in" | sha256sum | cut -d' ' -f1)"
ncon "$APP" "$T/sink.out" sink.test 443 --tls-socket "$TSOCK" <"$T/sink.in"
check "sink.test (stalls, then reads): 4 MiB up in one go arrive intact, by the peer's SHA-256 (exit $NCON_RC: $(cut -c1-20 "$T/sink.out")...)" \
    test "$NCON_RC" = 0 -a "$(cat "$T/sink.out")" = "$want" ||
    { echo "#   wanted $want"; diag <"$T/sink.out.err"; }
# The app sends in small pieces while the window is full: each write that
# netd could not finish must be retried with the same data.
SINKOPS=(sink/sink.test/443/1048576/1000/262144/1 sink/sink.test/443/1048576/4096/65536/0)
tc_app "$APP" "$T/sink" "${SINKOPS[@]}"
expect_r "$T/sink" "${SINKOPS[0]}" "INTACT 1048576" \
    "tls-app, 1 MiB to the stalled sink.test, the first 256 KiB in 1000-octet writes 1 ms apart"
expect_r "$T/sink" "${SINKOPS[1]}" "INTACT 1048576" \
    "tls-app, 1 MiB to the stalled sink.test, the first 64 KiB in 4096-octet writes"

section "3c. tls-example (HTTP GET through netd_tls_connect())"
if [ -x "$EXAMPLE" ]; then
	ip netns exec "$DEV" "$NETCTL" -s "$SOCK" run --manifest "$APP" -- \
	    /usr/bin/env NETD_TLS_SOCKET="$TSOCK" "$EXAMPLE" good.test 8443 \
	    /hello.txt >"$T/ex" 2>"$T/ex.err"
	rc=$?
	check "tls-example good.test 8443 /hello.txt: exit 0 ($rc), HTTP 200 and the file" \
	    test $rc = 0 -a "$(head -1 "$T/ex" | tr -d '\r')" = "HTTP/1.0 200 ok" -a \
	    "$(tail -1 "$T/ex")" = "tls-example token $$" || { diag <"$T/ex"; diag <"$T/ex.err"; }
	ip netns exec "$DEV" "$NETCTL" -s "$SOCK" run --manifest "$APP" -- \
	    /usr/bin/env NETD_TLS_SOCKET="$TSOCK" "$EXAMPLE" notlisted.test 443 \
	    >"$T/ex" 2>"$T/ex.err"
	rc=$?
	ex_denied() { [ "$rc" = 1 ] && [ ! -s "$T/ex" ] && grep -q denied "$T/ex.err"; }
	check "tls-example notlisted.test 443: exit 1 ($rc), \"denied\" on stderr, nothing on stdout" \
	    ex_denied || diag <"$T/ex.err"
else
	fail "$EXAMPLE missing (make all should build it)"
fi

# --- 4. DeviceAuthentication ---------------------------------------------------------
section "4. tls-device (DeviceAuthentication) presents the device chain"
tc_app "$DEVAPP" "$T/dev" echo/mtls.test/443/device echo/good.test/443/plain \
    req/mismatch.test/443 req/expired.test/443
W=tls-device
expect_r "$T/dev" echo/mtls.test/443/device "OK 198.51.100.14 443 * :: ecived|" \
    "$W (the server requires a client certificate)"
check "s_server at mtls.test verified the device chain from netd (2 verified peer certificates now)" \
    test "$(srv_count mtls "Peer certificate: CN = device-0001")" = 2 -a \
    "$(srv_count mtls "Verification: OK")" = 2 || tail -n 20 "$T/srv-mtls.log" | diag
expect_r "$T/dev" echo/good.test/443/plain "OK 198.51.100.10 443 * :: nialp|" \
    "$W (no client certificate asked)"
expect_r "$T/dev" req/mismatch.test/443 "ERR denied *" "$W (not in its manifest)"
expect_r "$T/dev" req/expired.test/443 "ERR denied *" "$W (not in its manifest)"
ncon "$DEVAPP" "$T/nc" mtls.test 443 --tls-socket "$TSOCK" <<<"netctl device"
check "$W: netctl tls-connect mtls.test 443: exit 0 ($NCON_RC), \"ecived ltcten\"" \
    test "$NCON_RC" = 0 -a "$(cat "$T/nc")" = "ecived ltcten" || diag <"$T/nc.err"

# --- 5. who is not an app; what never left ------------------------------------------------
section "5. not-an-app, and denied requests leave nothing on the wire"
tc_uid 65534 "$T/nobody" req/good.test/443 req/notlisted.test/443
expect_r "$T/nobody" req/good.test/443 "ERR not-an-app *" "uid 65534"
expect_r "$T/nobody" req/notlisted.test/443 "ERR not-an-app *" "uid 65534"
tc_uid 59999 "$T/unreg" req/good.test/443
expect_r "$T/unreg" req/good.test/443 "ERR not-an-app *" "uid 59999 (app range, no app)"
tc_root "$T/root" req/good.test/443
expect_r "$T/root" req/good.test/443 "ERR not-an-app *" "root"
n=$(counter to15)
check "no packet reached notlisted.test's address (counter $TO15_0 -> $n)" \
    test "$n" = "$TO15_0"
check "s_server at notlisted.test accepted no connection since the sanity check" \
    test "$(srv_count notlisted "CONNECTION ESTABLISHED")" = "$NL_0"
n=$(counter syn10)
check "the SYN counter at good.test counts netd's connections ($SYN10_0 -> $n)" \
    test "$n" -gt "$SYN10_0"
ulog_sync
check "netd resolved good.test through the upstream (query log)" ulog_new good.test
check "... and v6only.test AAAA" ulog_new v6only.test AAAA
check "notlisted.test never reached the upstream (query log since netd started)" \
    ulog_never notlisted.test || tail -n +"$((UL_0 + 1))" "$ULOG" | grep -iF notlisted | diag
check "an event: kind tls, tls-app, notlisted.test, reason denied" \
    tls_event '.app == "tls-app" and .host == "notlisted.test" and .reason == "denied"'
check "an event: kind tls, tls-app, mismatch.test, reason name-mismatch" \
    tls_event '.app == "tls-app" and .host == "mismatch.test" and .reason == "name-mismatch"'

# --- 6. a peer that dies mid-stream ----------------------------------------------------
section "6. cut.test sends 64 KiB of a promised 1 MiB, then closes without close_notify"
tc_app "$CUTAPP" "$T/cut" cut/cut.test/443
expect_r "$T/cut" cut/cut.test/443 "EOF 65536 intact *" "tls-cut (the 64 KiB, then EOF)"
check "an event: kind tls, tls-cut, cut.test, with a reason (polled)" \
    wait_for 30 0.1 tls_event '.app == "tls-cut" and .host == "cut.test" and
    (.reason | type) == "string" and .reason != ""' ||
    jq -c '.events[] | select(.kind == "tls")' "$T/events.json" | tail -5 | diag
echo "#   event: $(cat "$T/tlsev.json")"
check "... it counts the 65536 octets that reached the app" \
    test "$(jq '.bytes_down // .octets_down // .down // -1' "$T/tlsev.json")" = 65536
check "netd logged it" grep -q "cut.test" "$T/netd.log"

# --- 7. idle timeout -----------------------------------------------------------------
section "7. an idle session ends after tls_idle_timeout ($IDLE s)"
wait "$IDLE_PID"
r=$(rof "$T/idle" idle/many.test/443)
s=${r#EOF }
idle_ok() { match "$r" "EOF *" &&
    awk -v s="$s" -v i=$IDLE 'BEGIN { exit !(s >= i - 1 && s <= i + 4) }'; }
check "tls-idle's silent session to many.test: EOF after $s s (wanted $((IDLE - 1))..$((IDLE + 4)))" \
    idle_ok || diag <"$T/idle.err"

# --- 8. 100 sessions at once; the limits ---------------------------------------------------
section "8. 100 concurrent sessions; tls_max_per_app 100, tls_max_sessions 110"
check "agent tls-app running (client.py agent)" ta_start app "$APP"
check "agent tls-device running" ta_start dev "$DEVAPP"
ta_expect app "open 100 many.test 443" "OPENED 100 OK:100"
ta_expect app echo "ECHO 100 100"
ta_expect app "one many.test 443" "ERR limit *"
ta_expect dev "open 10 many.test 443" "OPENED 10 OK:10"
ta_expect dev "one many.test 443" "ERR limit *"
ta_expect app echo "ECHO 100 100"
ta_expect dev echo "ECHO 10 10"
ta_expect app close "CLOSED 100"
dev_one_ok() { ta dev "one many.test 443"; match "$RES" "OK *"; }
check "tls-device gets a session once tls-app's are closed (polled, at most 5 s)" \
    wait_for 50 0.1 dev_one_ok || echo "#   last: $RES"
ta_expect dev echo "ECHO 11 11"
ta_expect dev close "CLOSED 11"
ta_expect app "open 100 many.test 443" "OPENED 100 OK:100"
ta_expect app echo "ECHO 100 100"
ta_quit app
ta_quit dev

check "netd still alive and answering at the end" netd_alive
if [ "$FW_FAIL" -gt 0 ]; then
	echo "# netd log (last 60 lines, without the sessions that worked):"
	grep -v "^tls: .* via .*, TLSv" "$T/netd.log" | tail -n 60 | diag
fi

# --- cleanup ---------------------------------------------------------------------------
keep_logs
cleanup
left=$(ip netns list | grep -E "^($DEV|$INET)( |\$)")
check "no namespace of ours left (ip netns list)" test -z "$left"
check "temp dir removed" test ! -e "$T"
printf "# took %s s\n" "$(awk -v s="$START" -v e="$(date +%s.%N)" "BEGIN { printf \"%.1f\", e - s }")"
summary
[ "$FW_FAIL" = 0 ]
