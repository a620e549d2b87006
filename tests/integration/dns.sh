#!/bin/bash
# Integration test of netd's filtering DNS proxy, in two throw-away network
# namespaces:
#
#   device ns  netd (own config, socket and state in a temp dir), proxy on
#      |       127.0.0.53 and ::1; /etc/resolv.conf -> nameserver 127.0.0.53
#      | veth  192.0.2.100/24, 2001:db8:1::100/64
#   inet ns    unbound on 192.0.2.53 serving data/dns/test.zone with a
#              query log (log-queries: "what never arrived" is checked
#              there); TCP echo [::]:8080 on every address of the zone,
#              HTTPS hints included (on lo: 198.51.100.0/24, 203.0.113.0/24,
#              2001:db8:2::/64, 10.9.9.8 and 10.9.9.9)
#
# The zone is an unbound auth-zone, not local-data: local-data answers a
# CNAME alone, an auth-zone follows the chain inside the zone as a real
# authoritative server does. "test." needs "local-zone: nodefault" (unbound
# blocks the RFC 6761 names by default).
#
# The client is resolve.py, run as the app (netctl run), as root, or as
# uid 65534: getaddrinfo through /etc/resolv.conf (ip netns exec bind-mounts
# /etc/netns/DEV/resolv.conf, "nameserver 127.0.0.53"; a second one for ::1
# with unshare -m), raw queries over UDP and TCP, hostile messages, TCP echo.
#
# Usage: tests/integration/dns.sh [BUILD_DIR]   (as root; default build)
# Prints "ok - ..." / "not ok - ..." per assertion and a last line
# "dns: N passed, N failed"; exits 1 when anything failed. Environment:
# DNS_WATCHDOG (seconds, default 90), DNS_KEEP_LOGS=DIR (keep netd's log and
# unbound's query log), DNS_CONF_EXTRA (lines added to netd.conf: a key the
# test does not set, to see which assertions it breaks).
set -u
shopt -s extglob

if [ "$(id -u)" != 0 ]; then
	echo "dns: SKIPPED (needs root)"
	exit 0
fi

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B=$(cd "${1:-$ROOT/build}" && pwd) || exit 2
NETD=$B/netd
NETCTL=$B/netctl
UNBOUND=${UNBOUND:-/usr/sbin/unbound}
DATA=$HERE/data/dns
DEV=netd-dns-dev-$$
INET=netd-dns-inet-$$
T=$(mktemp -d /tmp/netd-dns.XXXXXX) || exit 2
chmod 711 "$T"		# app uids must reach the control socket in it
SOCK=$T/control.sock
UPSTREAM=192.0.2.53
ULOG=$T/unbound/query.log
ETC_NETNS=/etc/netns/$DEV
START=$(date +%s.%N)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
# shellcheck source=tests/integration/dnslib.sh
. "$HERE/dnslib.sh"

MADE_ETC_NETNS=
[ -d /etc/netns ] || MADE_ETC_NETNS=1
dns_cleanup() {
	cleanup
	rm -rf "$ETC_NETNS"
	[ -n "$MADE_ETC_NETNS" ] && rmdir /etc/netns 2>/dev/null
	return 0
}
summary() { echo "dns: $FW_PASS passed, $FW_FAIL failed"; }
on_signal() {
	trap - INT TERM
	fail "$1"
	summary
	exit "$2"
}
trap dns_cleanup EXIT
trap 'on_signal "interrupted (SIGINT)" 130' INT
trap 'on_signal "terminated (SIGTERM: killed, or the ${WATCHDOG}s watchdog)" 143' TERM
WATCHDOG=${DNS_WATCHDOG:-90}
"$PY" -c 'import os, sys, time
time.sleep(int(sys.argv[1])); os.kill(int(sys.argv[2]), 15)' "$WATCHDOG" $$ &
track $!

for f in "$NETD" "$NETCTL" "$UNBOUND"; do
	[ -x "$f" ] || { echo "dns: $f missing (make all; apt-get install unbound)"; exit 2; }
done

# section TITLE: a "# TITLE" line with the seconds since the start.
section() {
	printf '# %s  [%s s]\n' "$1" "$(awk -v s="$START" -v e="$(date +%s.%N)" \
	    'BEGIN { printf "%.1f", e - s }')"
}

fatal() {
	fail "$*"
	if [ -s "$T/netd.log" ]; then
		echo "# netd log:"
		diag <"$T/netd.log"
	fi
	summary
	exit 1
}

X4=192.0.2.1
X6=2001:db8:1::1
P=127.0.0.53			# the proxy
P6=::1

# --- topology --------------------------------------------------------------
# Every A and AAAA of the zone, for the internet namespace's lo.
zone_addrs() {
	{
		awk '$1 !~ /^[;$]/ && ($3 == "A" || $3 == "AAAA") { print $4 }
		     $1 !~ /^[;$]/ && ($4 == "A" || $4 == "AAAA") { print $5 }' \
		    "$DATA/test.zone"
		grep -o 'ipv[46]hint=[^ ;]*' "$DATA/test.zone" | cut -d= -f2 |
		    tr , '\n'
	} | grep -v '^192\.0\.2\.' | sort -u
}

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
	ip -n "$DEV" route add 10.9.9.0/24 via $X4 &&
	ip -n "$DEV" route add 192.168.7.7/32 via $X4 &&
	ip -n "$DEV" -6 route add 2001:db8:2::/64 via $X6 &&
	ip -n "$DEV" -6 route add fd00::9/128 via $X6 &&
	ip -n "$INET" addr add $X4/24 dev veth0 &&
	ip -n "$INET" addr add $UPSTREAM/24 dev veth0 &&
	ip -n "$INET" addr add $X6/64 dev veth0 nodad || return 1
	for a in $(zone_addrs); do
		case $a in
		*:*) ip -n "$INET" addr add "$a/128" dev lo nodad ;;
		*) ip -n "$INET" addr add "$a/32" dev lo ;;
		esac || return 1
	done
	# What ip netns exec bind-mounts over /etc/resolv.conf in $DEV.
	mkdir -p "$ETC_NETNS" &&
	printf 'nameserver %s\noptions timeout:1 attempts:2\n' $P \
	    >"$ETC_NETNS/resolv.conf" &&
	printf 'nameserver %s\noptions timeout:1 attempts:2\n' $P6 \
	    >"$T/resolv6.conf"
}

start_servers() {
	local fd line
	mkfifo "$T/servers.out"
	exec {fd}<>"$T/servers.out"
	ip netns exec "$INET" "$PY" "$HERE/servers.py" 8080 8081 \
	    1>&"$fd" 2>"$T/servers.err" &
	track $!
	read -r -t 10 -u "$fd" line && [ "$line" = READY ]
}

write_conf() {
	cat >"$T/netd.conf" <<CONF
control_socket = $SOCK
tls_socket = $T/tls.sock
state_dir = $T/state
app_uid_range = 10000-59999
nflog_group = 100
upstream = $UPSTREAM
grace = 1
max_ttl = 600
max_addrs_per_name = 4
CONF
	printf '%s\n' "$@" >>"$T/netd.conf"
	# DNS_CONF_EXTRA: more lines, to see which assertions a setting breaks
	printf '%s\n' "${DNS_CONF_EXTRA:-}" >>"$T/netd.conf"
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
	nctl status >/dev/null 2>&1
}
netd_alive() { kill -0 "$NETD_PID" 2>/dev/null && nctl status >/dev/null 2>&1; }
stop_netd() {
	kill -TERM "$NETD_PID" 2>/dev/null
	wait_for 50 0.1 exited "$NETD_PID" && wait "$NETD_PID" 2>/dev/null
	return 0
}
# The proxy answers root (not an app: forwarded as it is).
proxy_answers() {
	res_root "$T/pa" -t 0.3 "q/udp/$P/root.test/A" &&
	    match "$(rof "$T/pa" "q/udp/$P/root.test/A")" "NOERROR A=198.51.100.70@*"
}

# Events of netctl events --json, as one JSON array, in $T/events.json.
events() { nctl events --json >"$T/events.json" 2>&1; }
# nevents JQ-FILTER: how many events match (select(...) over .events[]).
nevents() { jq "[.events[] | select($1)] | length" "$T/events.json" 2>/dev/null || echo -1; }
dns_event_seen() { events && [ "$(nevents "$1")" -ge 1 ]; }

has_both() { match "$1" "*$2*" && match "$1" "*$3*"; }
only_granted_to() { has_grant "$1" "$3" && no_grant "$2" "$3"; }
no_grants_left() { no_grant "$A" 198.51.100.10 && no_grant "$Bu" 203.0.113.20; }

check "network namespaces $DEV and $INET, veth, addresses, resolv.conf" \
    setup_net || fatal "cannot build the topology"
check "TCP echo servers ready in $INET (port 8080, every zone address)" \
    start_servers || { diag <"$T/servers.err"; fatal "servers did not start"; }
check "unbound answers on $UPSTREAM (ready.test A, polled, at most 5 s)" \
    start_unbound "$DATA/test.zone" ready.test "NOERROR A=198.51.100.72@300" || { diag <"$T/unbound/stderr"; diag <"$ULOG"; fatal "unbound did not start"; }
check "unbound's query log shows the query" ulog_has ready.test A ||
    diag <"$ULOG"
check "ip netns exec $DEV sees nameserver $P in /etc/resolv.conf" \
    grep -qx "nameserver $P" <(ip netns exec "$DEV" cat /etc/resolv.conf)

# Sanity, before netd: root in the device reaches the upstream and servers.
res_root "$T/pre" "q/tcp/$UPSTREAM/api.test/AAAA" "q/udp/$UPSTREAM/alias.test/A" \
    "q/udp/$UPSTREAM/many.cdn.test/A" "q/udp/$UPSTREAM/svc.cdn.test/HTTPS" \
    tcp/198.51.100.10/8080 tcp/198.51.100.45/8080 tcp/10.9.9.8/8080 \
    tcp/2001:db8:2::10/8080 tcp/203.0.113.31/8080 tcp/10.9.9.9/8080
expect_r "$T/pre" "q/tcp/$UPSTREAM/api.test/AAAA" "NOERROR AAAA=2001:db8:2::10@300" "root, no netd"
expect_r "$T/pre" "q/udp/$UPSTREAM/alias.test/A" \
    "NOERROR CNAME=mid.test@300 CNAME=end.test@300 A=203.0.113.31@300" "root, no netd"
expect_r "$T/pre" "q/udp/$UPSTREAM/many.cdn.test/A" "NOERROR A=*A=*A=*A=*A=*A=*" "root, no netd"
expect_r "$T/pre" "q/udp/$UPSTREAM/svc.cdn.test/HTTPS" \
    "NOERROR HTTPS=198.51.100.45,2001:db8:2::45@300" "root, no netd"
for t in tcp/198.51.100.10/8080 tcp/2001:db8:2::10/8080 tcp/203.0.113.31/8080 \
    tcp/10.9.9.9/8080 tcp/198.51.100.45/8080 tcp/10.9.9.8/8080; do
	expect_r "$T/pre" "$t" OK "root, no netd"
done

# --- 1. netd with its proxy --------------------------------------------------
section "1. netd starts, its proxy listens on $P and $P6"
write_conf
check "netd starts and answers netctl status" start_netd ||
    fatal "netd did not start"
check "the proxy answers root on $P (root.test, polled, at most 5 s)" \
    wait_for 50 0.1 proxy_answers ||
    { diag <"$T/pa"; fatal "no DNS proxy on $P: nothing else can pass"; }
check "... forwarded: unbound logged root.test" ulog_has root.test A
check "netd set net.ipv4.tcp_fwmark_accept=1 in its namespace" \
    test "$(ip netns exec "$DEV" sysctl -n net.ipv4.tcp_fwmark_accept)" = 1

# --- 2. one app, its names, and only its names -------------------------------
section "2. dns-alpha (api.test, *.cdn.test, alias.test, shared.test)"
check "agent dns-alpha running (netctl run ... resolve.py agent)" \
    da_start alpha "$DATA/alpha.json"
A=${DA_UID[alpha]:-x}
# getaddrinfo through /etc/resolv.conf, then at once a connect: the grant
# is in the kernel before the answer reaches the app.
da_expect alpha conn/api.test/4/8080 "OK 198.51.100.10"
da_expect alpha conn/api.test/6/8080 "OK 2001:db8:2::10"
da_expect alpha gai/x.y.cdn.test/any "OK *"
check "... both of x.y.cdn.test's addresses ($RES)" \
    has_both "$RES" 198.51.100.11 2001:db8:2::11
da_expect alpha conn/x.y.cdn.test/4/8080 "OK 198.51.100.11"
da_expect alpha conn/x.y.cdn.test/6/8080 "OK 2001:db8:2::11"
da_expect alpha gai/cdn.test/any EAI_NONAME
da_expect alpha gai/other.test/any EAI_NONAME
# The same, as raw queries over UDP and TCP to both listen addresses.
da_expect alpha q/udp/$P/api.test/A "NOERROR A=198.51.100.10@*"
da_expect alpha q/tcp/$P/api.test/AAAA "NOERROR AAAA=2001:db8:2::10@*"
da_expect alpha q/udp/$P6/api.test/AAAA "NOERROR AAAA=2001:db8:2::10@*"
da_expect alpha q/tcp/$P6/x.y.cdn.test/A "NOERROR A=198.51.100.11@*"
da_expect alpha q/udp/$P/API.Test/A "NOERROR A=198.51.100.10@*"
API_TTL=$(ttl_of "$RES" A=198.51.100.10)	# the last answer for api.test A
da_expect alpha q/udp/$P/X.Y.CDN.TEST/AAAA "NOERROR AAAA=2001:db8:2::11@*"
da_expect alpha qe/udp/$P/api.test/A "NOERROR A=198.51.100.10@*"
da_expect alpha qe/tcp/$P6/x.y.cdn.test/AAAA "NOERROR AAAA=2001:db8:2::11@*"
da_expect alpha qe/udp/$P/other.test/A NXDOMAIN
# A name asked only over TCP, then at once a connect: granted before the
# answer on this path too.
da_expect alpha q/tcp/$P/tcp.cdn.test/A "NOERROR A=198.51.100.44@*"
da_expect alpha tcp/198.51.100.44/8080 OK
da_expect alpha q/tcp/$P6/tcp6.cdn.test/AAAA "NOERROR AAAA=2001:db8:2::44@*"
da_expect alpha tcp/2001:db8:2::44/8080 OK
da_expect alpha q/udp/$P/other.test/A NXDOMAIN
da_expect alpha q/tcp/$P/other.test/AAAA NXDOMAIN
da_expect alpha q/udp/$P6/other.test/A NXDOMAIN
da_expect alpha q/tcp/$P6/other.test/A NXDOMAIN
da_expect alpha q/udp/$P/cdn.test/A NXDOMAIN
da_expect alpha q/tcp/$P/cdn.test/A NXDOMAIN
da_expect alpha q/udp/$P/xcdn.test/A NXDOMAIN
da_expect alpha q/udp/$P/api.test.other.test/A NXDOMAIN
# Several queries on one TCP connection, answered each by its ID.
da_expect alpha "multi/$P/api.test,other.test,x.y.cdn.test,cdn.test" \
    "OK NOERROR,NXDOMAIN,NOERROR,NXDOMAIN"
da_expect alpha "multi/$P6/x.y.cdn.test,api.test" "OK NOERROR,NOERROR"
# 20 queries (more than the 16 in flight per connection), then a half
# close: every answer still comes.
HC=$(printf 'api.test,other.test,%.0s' $(seq 10)); HC=${HC%,}
da_expect alpha "multihc/$P/$HC" \
    "OK $(printf 'NOERROR,NXDOMAIN,%.0s' $(seq 10) | sed 's/,$//')"
never_upstream other.test "dns-alpha"
never_upstream cdn.test "dns-alpha"
never_upstream xcdn.test "dns-alpha"
never_upstream api.test.other.test "dns-alpha"

section "2b. getaddrinfo through nameserver $P6"
nctl_ns6() {
	# shellcheck disable=SC2016  # for sh, not for us
	ip netns exec "$DEV" unshare -m sh -c \
	    'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$T/resolv6.conf" \
	    "$NETCTL" -s "$SOCK" "$@"
}
nctl_ns6 run --manifest "$DATA/beta.json" -- "$PY" -c "$RESOLVE_SRC" \
    conn/onlyb.test/4/8080 conn/onlyb.test/6/8080 gai/api.test/any \
    >"$T/b6" 2>"$T/b6.err"
expect_r "$T/b6" conn/onlyb.test/4/8080 "OK 203.0.113.20" "dns-beta via $P6"
expect_r "$T/b6" conn/onlyb.test/6/8080 "OK 2001:db8:2::20" "dns-beta via $P6"
expect_r "$T/b6" gai/api.test/any EAI_NONAME "dns-beta via $P6"

section "2c. grants: what, for how long"
g=$(grant_secs "$A" 198.51.100.10)
check "api.test's 198.51.100.10 granted to uid $A for the last answer's TTL + grace (${API_TTL:-?}+1 <= ${g:-none} <= 301)" \
    test -n "$g" -a "$((${API_TTL:-999} + 1))" -le "${g:-0}" -a "${g:-999}" -le 301
g=$(grant_secs "$A" 2001:db8:2::10)
check "api.test's 2001:db8:2::10 granted to uid $A (290 <= ${g:-none} <= 301)" \
    test -n "$g" -a "${g:-0}" -ge 290 -a "${g:-999}" -le 301
check "x.y.cdn.test's 198.51.100.11 granted to uid $A" has_grant "$A" 198.51.100.11
check "nothing granted for cdn.test (198.51.100.12)" no_grant "$A" 198.51.100.12
check "nothing granted for other.test (198.51.100.99)" no_grant "$A" 198.51.100.99
da_expect alpha tcp/198.51.100.12/8080 ECONNREFUSED
da_expect alpha tcp/198.51.100.99/8080 ECONNREFUSED
da_expect alpha tcp/2001:db8:2::99/8080 ECONNREFUSED
check "the refusal of 198.51.100.99 (resolved by no app) is an event (polled)" \
    wait_for 30 0.1 dns_event_seen '.app == "dns-alpha" and
    .destination == "198.51.100.99"'
check "... without \"resolved\"" test "$(nevents '.app == "dns-alpha" and
    .destination == "198.51.100.99" and .resolved != null')" = 0

da_expect alpha q/udp/$P/long.cdn.test/A "NOERROR A=198.51.100.42@*"
t=$(ttl_of "$RES" A=198.51.100.42)
g=$(grant_secs "$A" 198.51.100.42)
check "long.cdn.test (TTL 3600): answer TTL ${t:-?} <= max_ttl 600" test "${t:-99999}" -le 600
check "... granted max_ttl+grace (601: ${g:-none})" match "${g:-x}" '60[01]'
check "... answer TTL not longer than the grant" test "${t:-99999}" -le "${g:-0}"

da_expect alpha q/udp/$P/ttl0.cdn.test/A "NOERROR A=198.51.100.40@0"
check "TTL 0 with min_ttl 0: nothing granted for 198.51.100.40" \
    no_grant "$A" 198.51.100.40
da_expect alpha tcp/198.51.100.40/8080 ECONNREFUSED

da_expect alpha q/udp/$P/many.cdn.test/A "NOERROR A=*"
n=$(grants_of "$A" 198.51.100.6)
check "many.cdn.test (6 addresses): 1 to max_addrs_per_name=4 granted (got $n)" \
    test "$n" -ge 1 -a "$n" -le 4 || dump_grants | diag

section "2d. CNAME chains"
da_expect alpha conn/alias.test/4/8080 "OK 203.0.113.31"
da_expect alpha q/udp/$P/alias.test/A "NOERROR*A=203.0.113.31@*"
check "... the chain is in the answer (alias -> mid -> end)" \
    match "$RES" "*CNAME=mid.test@*CNAME=end.test@*"
check "203.0.113.31 (reached through the CNAME chain) granted to uid $A" \
    has_grant "$A" 203.0.113.31
da_expect alpha q/udp/$P/end.test/A NXDOMAIN
da_expect alpha q/tcp/$P/mid.test/A NXDOMAIN
da_expect alpha gai/end.test/4 EAI_NONAME
never_upstream end.test "dns-alpha"
never_upstream mid.test "dns-alpha"

section "2e. rebinding protection (default on)"
da_expect alpha q/udp/$P/rebind.cdn.test/A "NOERROR*A=198.51.100.50@*"
check "... without the private 10.9.9.9" nomatch "$RES" "*10.9.9.9*"
da_expect alpha q/udp/$P/rebind.cdn.test/AAAA "NOERROR*AAAA=2001:db8:2::50@*"
check "... without the private fd00::9" nomatch "$RES" "*fd00::9*"
check "10.9.9.9 not granted" no_grant "$A" 10.9.9.9
check "fd00::9 not granted" no_grant "$A" fd00::9
da_expect alpha tcp/10.9.9.9/8080 ECONNREFUSED
da_expect alpha gai/rebind.cdn.test/4 "OK 198.51.100.50"
da_expect alpha q/udp/$P/priv.cdn.test/A "*"
check "priv.cdn.test (192.168.7.7 only): no address in the answer" \
    nomatch "$RES" "*A=*"
check "192.168.7.7 not granted" no_grant "$A" 192.168.7.7

section "2f. HTTPS records: their address hints are granted too (design 4)"
da_expect alpha q/udp/$P/svc.cdn.test/HTTPS \
    "NOERROR HTTPS=198.51.100.45,2001:db8:2::45@*"
check "ipv4hint 198.51.100.45 granted to uid $A" has_grant "$A" 198.51.100.45
check "ipv6hint 2001:db8:2::45 granted to uid $A" has_grant "$A" 2001:db8:2::45
da_expect alpha tcp/198.51.100.45/8080 OK
da_expect alpha tcp/2001:db8:2::45/8080 OK
da_expect alpha q/udp/$P/svcpriv.cdn.test/HTTPS "NOERROR*"
check "an HTTPS record with the private hint 10.9.9.8 is not passed on" \
    nomatch "$RES" "*10.9.9.8*"
check "10.9.9.8 not granted" no_grant "$A" 10.9.9.8
da_expect alpha tcp/10.9.9.8/8080 ECONNREFUSED
da_expect alpha q/udp/$P/svc.test/HTTPS NXDOMAIN

section "2g. DNS straight to the upstream is blocked"
da_expect alpha q/udp/$UPSTREAM/direct.cdn.test/A "E*"
da_expect alpha q/tcp/$UPSTREAM/direct.cdn.test/A ECONNREFUSED
da_expect alpha q/udp/$X4/direct.cdn.test/A "E*"
never_upstream direct.cdn.test "dns-alpha straight to $UPSTREAM"

section "2h. denied queries are events"
events
check "netctl events --json: kind dns, dns-alpha uid $A, other.test, type A" \
    test "$(nevents '.kind == "dns" and .app == "dns-alpha" and
    .uid == '"$A"' and .name == "other.test" and .type == "A"')" -ge 1 ||
    { jq -c '.events[] | select(.kind == "dns")' "$T/events.json" | head -5 | diag; }
check "... and one for other.test type AAAA" \
    test "$(nevents '.kind == "dns" and .app == "dns-alpha" and
    .name == "other.test" and .type == "AAAA"')" -ge 1
check "... and one for end.test (a CNAME target)" \
    test "$(nevents '.kind == "dns" and .app == "dns-alpha" and
    .name == "end.test"')" -ge 1
check "... none for api.test (allowed to dns-alpha)" \
    test "$(nevents '.kind == "dns" and .app == "dns-alpha" and
    .name == "api.test"')" = 0

# --- 3. a second app: addresses are per app ----------------------------------
section "3. dns-beta (onlyb.test, shared.test) next to dns-alpha"
check "agent dns-beta running" da_start beta "$DATA/beta.json"
Bu=${DA_UID[beta]:-y}
da_expect beta q/udp/$P/api.test/A NXDOMAIN
da_expect beta tcp/198.51.100.10/8080 ECONNREFUSED
da_expect alpha q/udp/$P/onlyb.test/A NXDOMAIN
da_expect beta conn/onlyb.test/4/8080 "OK 203.0.113.20"
check "203.0.113.20 granted to beta (uid $Bu)" has_grant "$Bu" 203.0.113.20
check "... not to alpha (uid $A)" no_grant "$A" 203.0.113.20
da_expect alpha tcp/203.0.113.20/8080 ECONNREFUSED
da_expect alpha tcp/2001:db8:2::20/8080 ECONNREFUSED
check "alpha's refusal to 203.0.113.20 names who resolved it (polled)" \
    wait_for 30 0.1 dns_event_seen '.app == "dns-alpha" and
    .destination == "203.0.113.20" and .resolved != null'
r=$(jq -c '[.events[] | select(.app == "dns-alpha" and
    .destination == "203.0.113.20")][-1].resolved' "$T/events.json" 2>/dev/null)
check "... resolved = {name onlyb.test, app dns-beta, uid $Bu, expired false} ($r)" \
    test "$(jq -r '"\(.name) \(.app) \(.uid) \(.expired)"' <<<"${r:-null}" 2>/dev/null)" \
    = "onlyb.test dns-beta $Bu false"

# The same name for both: each gets its own grant, the second from cache.
da_expect alpha q/udp/$P/shared.test/A "NOERROR A=203.0.113.21@*"
check "203.0.113.21 granted to alpha, not (yet) to beta" \
    only_granted_to "$A" "$Bu" 203.0.113.21
da_expect beta tcp/203.0.113.21/8080 ECONNREFUSED
nctl status --json >"$T/st1.json" 2>&1
da_expect beta conn/shared.test/4/8080 "OK 203.0.113.21"
nctl status --json >"$T/st2.json" 2>&1
check "beta's shared.test came from the cache (unbound saw it once: $(ulog_count shared.test A))" \
    test "$(ulog_count shared.test A)" = 1
c1=$(jnum "$T/st1.json" .dns.cache_hits) c2=$(jnum "$T/st2.json" .dns.cache_hits)
check "netctl status --json .dns.cache_hits went up ($c1 -> $c2)" \
    test "$c1" -ge 0 -a "$c2" -gt "$c1" || diag <"$T/st2.json"
check "a cached answer grants too: 203.0.113.21 granted to beta" \
    has_grant "$Bu" 203.0.113.21

# --- 4. TTLs: expiry, open connections, refresh ------------------------------
section "4. short TTL (2 s, grace 1): expiry closes new connections only"
da_expect alpha q/udp/$P/short.cdn.test/A "NOERROR A=198.51.100.41@*"
t=$(ttl_of "$RES" A=198.51.100.41)
g=$(grant_secs "$A" 198.51.100.41)
check "short.cdn.test: answer TTL ${t:-?} <= 2, granted ${g:-none} (TTL+grace 3)" \
    test "${t:-9}" -le 2 -a -n "$g" -a "${g:-0}" -le 3 -a "${t:-9}" -le "${g:-0}"
da_expect alpha open/c1/198.51.100.41/8080 OK
check "the grant of 198.51.100.41 expires (polled, at most 8 s)" \
    wait_for 80 0.1 no_grant "$A" 198.51.100.41
da_expect alpha tcp/198.51.100.41/8080 ECONNREFUSED
da_expect alpha send/c1 OK
check "the refusal names short.cdn.test, resolved by dns-alpha, expired (polled)" \
    wait_for 30 0.1 dns_event_seen '.app == "dns-alpha" and
    .destination == "198.51.100.41" and .resolved.name == "short.cdn.test"
    and .resolved.app == "dns-alpha" and .resolved.expired == true' ||
    jq -c '.events[] | select(.destination == "198.51.100.41")' \
    "$T/events.json" | diag
da_expect alpha conn/short.cdn.test/4/8080 "OK 198.51.100.41"
check "resolving again granted it again" has_grant "$A" 198.51.100.41

section "4b. an answer from the cache refreshes the grant"
da_expect alpha q/udp/$P/cache.cdn.test/A "NOERROR A=198.51.100.43@*"
g=$(grant_secs "$A" 198.51.100.43)
check "cache.cdn.test granted (${g:-none}: TTL 60 + grace 1)" match "${g:-x}" '6[01]'
# Take the grant away behind netd's back, as if it had expired.
ip netns exec "$DEV" nft delete element inet netd allow4 \
    "{ $A . 198.51.100.43 }" 2>"$T/nftdel.err"
check "grant deleted by hand (nft delete element)" no_grant "$A" 198.51.100.43 ||
    diag <"$T/nftdel.err"
da_expect alpha tcp/198.51.100.43/8080 ECONNREFUSED
da_expect alpha q/udp/$P/cache.cdn.test/A "NOERROR A=198.51.100.43@*"
t=$(ttl_of "$RES" A=198.51.100.43)
check "... from the cache (unbound saw cache.cdn.test once: $(ulog_count cache.cdn.test A)), TTL $t <= 60" \
    test "$(ulog_count cache.cdn.test A)" = 1 -a "${t:-99}" -le 60
g=$(grant_secs "$A" 198.51.100.43)
check "... and it granted the address again, for its TTL + grace ($t+1 <= ${g:-none} <= 61)" \
    test -n "$g" -a "$((${t:-99} + 1))" -le "${g:-0}" -a "${g:-99}" -le 61
da_expect alpha tcp/198.51.100.43/8080 OK

da_quit alpha
da_quit beta
check "the agents exited; their grants left with them (polled)" \
    wait_for 50 0.1 no_grants_left

# --- 5. counters ---------------------------------------------------------------
section "5. netctl show/status count queries"
nctl status --json >"$T/st3.json" 2>&1
check "agent dns-stats running (stats.test)" da_start stats "$DATA/stats.json"
da_expect stats q/udp/$P/stats.test/A "NOERROR A=203.0.113.40@*"
da_expect stats q/tcp/$P/stats.test/A "NOERROR A=203.0.113.40@*"
da_expect stats q/udp/$P/other.test/A NXDOMAIN
nctl show dns-stats --json >"$T/show.json" 2>&1
nctl status --json >"$T/st4.json" 2>&1
for kv in queries=3 allowed=2 denied=1; do
	k=${kv%=*} v=${kv#*=}
	check "netctl show dns-stats --json: .dns.$k = $v (got $(jnum "$T/show.json" ".dns.$k"))" \
	    test "$(jnum "$T/show.json" ".dns.$k")" = "$v" || diag <"$T/show.json"
	a=$(jnum "$T/st3.json" ".dns.$k") b=$(jnum "$T/st4.json" ".dns.$k")
	check "netctl status --json: .dns.$k went up by $v ($a -> $b)" \
	    test "$a" -ge 0 -a "$((b - a))" = "$v"
done
check "stats.test reached the upstream once (the second from the cache)" \
    test "$(ulog_count stats.test A)" = 1
da_quit stats

# --- 6. two apps at once -------------------------------------------------------
section "6. dns-alpha and dns-beta query at the same time"
ops=()
for _ in 1 2 3; do
	for s in udp/$P tcp/$P udp/$P6 tcp/$P6; do
		for n in api.test onlyb.test shared.test x.y.cdn.test; do
			ops+=("q/$s/$n/A")
		done
	done
done
res_app "$DATA/alpha.json" "$T/ca" -j 4 "${ops[@]}" &
pa=$!
res_app "$DATA/beta.json" "$T/cb" -j 4 "${ops[@]}" &
pb=$!
wait $pa
wait $pb
# count FILE NAME GLOB: lines for NAME whose result matches GLOB
count() {
	local op res n=0
	while read -r op res; do
		case $op in */"$2"/A) match "$res" "$3" && n=$((n + 1)) ;; esac
	done <"$1"
	echo $n
}
want=${#ops[@]}
want=$((want / 4))
for spec in "ca api.test NOERROR?A=198.51.100.10@*" "ca onlyb.test NXDOMAIN" \
    "ca shared.test NOERROR?A=203.0.113.21@*" "ca x.y.cdn.test NOERROR?A=198.51.100.11@*" \
    "cb api.test NXDOMAIN" "cb onlyb.test NOERROR?A=203.0.113.20@*" \
    "cb shared.test NOERROR?A=203.0.113.21@*" "cb x.y.cdn.test NXDOMAIN"; do
	read -r f n glob <<<"$spec"
	who=dns-alpha
	[ "$f" = cb ] && who=dns-beta
	got=$(count "$T/$f" "$n" "$glob")
	check "$who, 4 threads, beside the other app: $n -> ${glob%%\?*} ($got of $want)" \
	    test "$got" = "$want" || { grep -F "/$n/" "$T/$f" | sort | uniq -c | diag; diag <"$T/$f.err"; }
done

# --- 7. hostile messages ---------------------------------------------------------
section "7. malformed queries: FORMERR or nothing, and the proxy keeps serving"
KINDS=(short5 empty noquestion qd0 ptrloop ptrloop2 ptrfwd labelcut notype
    qd65535 an65535 longname labeltype response opcode)
bad=()
for k in "${KINDS[@]}"; do
	bad+=("bad/udp/$P/$k/api.test")
	[ "$k" != empty ] && bad+=("bad/tcp/$P/$k/api.test")
done
bad+=("bad/tcp/$P/len0/api.test" "bad/tcp/$P/len1/api.test"
    "bad/tcp/$P/lenlong/api.test" "bad/udp/$P6/ptrloop/api.test"
    "bad/tcp/$P6/an65535/api.test")
res_app "$DATA/alpha.json" "$T/bad" -t 1.5 "${bad[@]}"
for op in "${bad[@]}"; do
	case $op in
	*/opcode/*) ok='@(FORMERR|NOTIMP|REFUSED|NOANSWER|CLOSED) NOERROR' ;;
	*) ok='@(FORMERR|NOANSWER|CLOSED) NOERROR' ;;
	esac
	expect_r "$T/bad" "$op" "$ok" "dns-alpha (hostile, then api.test)"
done
res_root "$T/badroot" -t 1.5 "${bad[@]//api.test/root.test}"
for op in "${bad[@]//api.test/root.test}"; do
	case $op in
	*/opcode/*) ok='@(FORMERR|NOTIMP|REFUSED|NOANSWER|CLOSED) NOERROR' ;;
	*) ok='@(FORMERR|NOANSWER|CLOSED) NOERROR' ;;
	esac
	expect_r "$T/badroot" "$op" "$ok" "root (hostile, then root.test)"
done
# Seeded mutants of real queries: the proxy keeps answering.
fz=("fuzz/udp/$P/600/1/api.test" "fuzz/tcp/$P/200/2/api.test"
    "fuzz/udp/$P6/300/3/x.y.cdn.test")
res_app "$DATA/alpha.json" "$T/fuzz" "${fz[@]}"
for op in "${fz[@]}"; do
	expect_r "$T/fuzz" "$op" NOERROR "dns-alpha (mutated queries, then a real one)"
done
check "netd still alive and answering netctl status" netd_alive
res_app "$DATA/alpha.json" "$T/after" conn/api.test/4/8080 "q/tcp/$P/other.test/A"
expect_r "$T/after" conn/api.test/4/8080 "OK 198.51.100.10" "dns-alpha after the hostile messages"
expect_r "$T/after" "q/tcp/$P/other.test/A" NXDOMAIN "dns-alpha after the hostile messages"

# --- 8. root and other uids outside the range --------------------------------------
section "8. queries from root and uid 65534 are forwarded unfiltered"
res_root "$T/root" gai/root.test/4 "q/tcp/$P/root.test/A" "q/udp/$P6/other.test/A"
expect_r "$T/root" gai/root.test/4 "OK 198.51.100.70" root
expect_r "$T/root" "q/tcp/$P/root.test/A" "NOERROR A=198.51.100.70@*" root
expect_r "$T/root" "q/udp/$P6/other.test/A" "NOERROR A=198.51.100.99@*" root
res_uid 65534 "$T/nobody" gai/nobody.test/4 "q/tcp/$P6/nobody.test/A"
expect_r "$T/nobody" gai/nobody.test/4 "OK 198.51.100.71" "uid 65534"
expect_r "$T/nobody" "q/tcp/$P6/nobody.test/A" "NOERROR A=198.51.100.71@*" "uid 65534"
check "unbound logged nobody.test (forwarded)" ulog_has nobody.test A

# --- 9. another configuration ----------------------------------------------------
section "9. deny_rcode=refused, refuse_non_app_queries=yes, min_ttl=30, rebind_allow, cache_size=0"
stop_netd
write_conf "deny_rcode = refused" "refuse_non_app_queries = yes" \
    "min_ttl = 30" "rebind_allow = rebind.cdn.test" "cache_size = 0"
check "netd restarts with the new configuration" start_netd ||
    fatal "netd did not restart"
check "agent dns-alpha running again" da_start alpha "$DATA/alpha.json"
A=${DA_UID[alpha]:-x}
ready_refused() { da alpha "q/udp/$P/refused.test/A"; match "$RES" REFUSED; }
check "dns-alpha: refused.test -> REFUSED (polled, at most 5 s)" \
    wait_for 50 0.1 ready_refused || echo "#   last: $RES"
da_expect alpha q/tcp/$P6/cdn.test/AAAA REFUSED
da_expect alpha gai/refused.test/4 "EAI_*"
da_expect alpha conn/api.test/4/8080 "OK 198.51.100.10"
never_upstream refused.test "dns-alpha (refused)"
n0=$(ulog_count api.test A)
da_expect alpha q/udp/$P/api.test/A "NOERROR A=198.51.100.10@*"
da_expect alpha q/tcp/$P/api.test/A "NOERROR A=198.51.100.10@*"
ulog_sync
check "cache_size = 0: each api.test query reached the upstream ($n0 -> $(ulog_count api.test A))" \
    test "$(ulog_count api.test A)" = $((n0 + 2))
events
check "the REFUSED query is an event too (kind dns, cdn.test, AAAA)" \
    test "$(nevents '.kind == "dns" and .app == "dns-alpha" and
    .name == "cdn.test" and .type == "AAAA"')" -ge 1

da_expect alpha q/udp/$P/ttl0.cdn.test/A "NOERROR A=198.51.100.40@*"
t=$(ttl_of "$RES" A=198.51.100.40)
g=$(grant_secs "$A" 198.51.100.40)
check "TTL 0 with min_ttl 30: granted min_ttl+grace (31: ${g:-none})" match "${g:-x}" '3[01]'
check "... answer TTL ${t:-?} not longer than the grant" test "${t:-99}" -le "${g:-0}"
da_expect alpha tcp/198.51.100.40/8080 OK

da_expect alpha q/udp/$P/rebind.cdn.test/A "NOERROR*A=10.9.9.9@*"
check "rebind_allow rebind.cdn.test: 10.9.9.9 in the answer, beside 198.51.100.50" \
    match "$RES" "*A=198.51.100.50@*"
check "... and granted" has_grant "$A" 10.9.9.9
da_expect alpha tcp/10.9.9.9/8080 OK
da_expect alpha q/udp/$P/rebind.cdn.test/AAAA "NOERROR*AAAA=fd00::9@*"
da_expect alpha q/udp/$P/priv.cdn.test/A "*"
check "priv.cdn.test (not in rebind_allow) still has no 192.168.7.7" \
    nomatch "$RES" "*192.168.7.7*"

res_root "$T/root2" "q/udp/$P/rootref.test/A" "q/tcp/$P6/rootref.test/A" gai/rootref.test/4
expect_r "$T/root2" "q/udp/$P/rootref.test/A" REFUSED "root, refuse_non_app_queries"
expect_r "$T/root2" "q/tcp/$P6/rootref.test/A" REFUSED "root, refuse_non_app_queries"
expect_r "$T/root2" gai/rootref.test/4 "EAI_*" "root, refuse_non_app_queries"
res_uid 65534 "$T/nobody2" "q/udp/$P/rootref.test/A"
expect_r "$T/nobody2" "q/udp/$P/rootref.test/A" REFUSED "uid 65534, refuse_non_app_queries"
never_upstream rootref.test "root and uid 65534 (refused)"
da_quit alpha

check "netd still alive and answering at the end" netd_alive
if [ "$FW_FAIL" -gt 0 ]; then
	echo "# netd log:"
	tail -n 60 "$T/netd.log" | diag
fi

# --- cleanup ---------------------------------------------------------------------
# DNS_KEEP_LOGS=DIR: keep netd's log and unbound's query log
if [ -n "${DNS_KEEP_LOGS:-}" ]; then
	mkdir -p "$DNS_KEEP_LOGS" && cp "$T/netd.log" "$ULOG" "$DNS_KEEP_LOGS/"
fi
dns_cleanup
left=$(ip netns list | grep -E "^($DEV|$INET)( |\$)")
check "no namespace of ours left (ip netns list)" test -z "$left"
check "/etc/netns/$DEV removed" test ! -e "$ETC_NETNS"
check "temp dir removed" test ! -e "$T"
printf "# took %s s\n" "$(awk -v s="$START" -v e="$(date +%s.%N)" "BEGIN { printf \"%.1f\", e - s }")"
summary
[ "$FW_FAIL" = 0 ]
