#!/bin/bash
# Integration test of netd's firewall, in two throw-away network namespaces:
#
#   device ns  netd (own config, socket and state in a temp dir), the apps
#      | veth  192.0.2.100/24, 2001:db8:1::100/64
#   inet ns    TCP echo [::]:8080, UDP echo :8081 on 192.0.2.1, 192.0.2.2,
#              198.51.100.1, 2001:db8:1::1, 2001:db8:2::1
#
# Usage: tests/integration/firewall.sh [BUILD_DIR]   (as root; default build)
# Prints "ok - ..." / "not ok - ..." per assertion and a last line
# "firewall: N passed, N failed"; exits 1 when anything failed.
set -u

if [ "$(id -u)" != 0 ]; then
	echo "firewall: SKIPPED (needs root)"
	exit 0
fi

HERE=$(cd "$(dirname "$0")" && pwd)
ROOT=$(cd "$HERE/../.." && pwd)
B=$(cd "${1:-$ROOT/build}" && pwd) || exit 2
NETD=$B/netd
NETCTL=$B/netctl
DATA=$HERE/data
DEV=netd-fw-dev-$$
INET=netd-fw-inet-$$
T=$(mktemp -d /tmp/netd-fw.XXXXXX) || exit 2
chmod 711 "$T"		# uid 65534 must reach the control socket in it
SOCK=$T/control.sock
START=$(date +%s.%N)

# shellcheck source=tests/integration/lib.sh
. "$HERE/lib.sh"
# Interrupted or out of time: say so, summarize, and let EXIT clean up.
on_signal() {
	trap - INT TERM
	fail "$1"
	echo "firewall: $FW_PASS passed, $FW_FAIL failed"
	exit "$2"
}
trap cleanup EXIT
trap 'on_signal "interrupted (SIGINT)" 130' INT
trap 'on_signal "terminated (SIGTERM: killed, or the ${WATCHDOG}s watchdog)" 143' TERM
# A broken daemon can turn every probe into a 2 s timeout: bound the run.
WATCHDOG=${FW_WATCHDOG:-120}
"$PY" -c 'import os, sys, time
time.sleep(int(sys.argv[1])); os.kill(int(sys.argv[2]), 15)' "$WATCHDOG" $$ &
track $!

for f in "$NETD" "$NETCTL"; do
	[ -x "$f" ] || { echo "firewall: $f missing (make all)"; exit 2; }
done

# Addresses on the internet side, and what the probes aim at.
X4=192.0.2.1			# in alpha's manifest
P6=2001:db8:1::1		# in alpha's 2001:db8:1::/64
OTHER4A=192.0.2.2
OTHER4B=198.51.100.1
OTHER6=2001:db8:2::1
ALLOWED=("tcp/$X4/8080" "tcp/$P6/8080" "udp/$X4/8081" "udp/$P6/8081")
DENIED_TCP=("tcp/$OTHER4A/8080" "tcp/$OTHER4B/8080" "tcp/$OTHER6/8080")
DENIED_UDP=("udp/$OTHER4A/8081" "udp/$OTHER4B/8081" "udp/$OTHER6/8081")
ALL=("${ALLOWED[@]}" "${DENIED_TCP[@]}" "${DENIED_UDP[@]}")

fatal() {
	fail "$*"
	echo "firewall: $FW_PASS passed, $FW_FAIL failed"
	exit 1
}

# --- topology --------------------------------------------------------------
setup_net() {
	ip netns add "$DEV" && ip netns add "$INET" || return 1
	ip -n "$DEV" link add veth0 type veth peer name veth0 netns "$INET" ||
	    return 1
	local ns
	for ns in "$DEV" "$INET"; do
		ip netns exec "$ns" sysctl -qw net.ipv6.conf.all.accept_dad=0 \
		    net.ipv6.conf.default.accept_dad=0 || return 1
		ip -n "$ns" link set lo up && ip -n "$ns" link set veth0 up ||
		    return 1
	done
	ip -n "$DEV" addr add 192.0.2.100/24 dev veth0 &&
	ip -n "$DEV" addr add 2001:db8:1::100/64 dev veth0 nodad &&
	ip -n "$DEV" route add 198.51.100.0/24 via $X4 &&
	ip -n "$DEV" route add 255.255.255.255/32 dev veth0 &&
	ip -n "$DEV" -6 route add 2001:db8:2::/64 via $P6 &&
	ip -n "$INET" addr add $X4/24 dev veth0 &&
	ip -n "$INET" addr add $OTHER4A/24 dev veth0 &&
	ip -n "$INET" addr add $OTHER4B/24 dev veth0 &&
	ip -n "$INET" addr add $P6/64 dev veth0 nodad &&
	ip -n "$INET" addr add $OTHER6/64 dev veth0 nodad
}

# The device namespace tracks no connection: nothing switched conntrack on.
no_conntrack() {
	local f=/proc/sys/net/netfilter/nf_conntrack_count
	ip netns exec "$DEV" sh -c "[ ! -e $f ] || [ \$(cat $f) = 0 ]"
}

start_servers() {
	local fd line
	mkfifo "$T/servers.out"
	exec {fd}<>"$T/servers.out"
	ip netns exec "$INET" "$PY" "$HERE/servers.py" 8080 8081 \
	    $X4 $OTHER4A $OTHER4B $P6 $OTHER6 1>&"$fd" 2>"$T/servers.err" &
	track $!
	read -r -t 10 -u "$fd" line && [ "$line" = READY ]
}

start_netd() {
	ip netns exec "$DEV" "$NETD" -f -c "$T/netd.conf" >>"$T/netd.log" 2>&1 &
	NETD_PID=$!
	track $NETD_PID
	# Ready when it answers (bounded: 5 s), or failed when it died.
	wait_for 100 0.05 netd_answers
	netd_alive
}
netd_answers() {
	kill -0 "$NETD_PID" 2>/dev/null || return 0	# dead: stop waiting
	nctl status >/dev/null 2>&1
}
has_table() { ip netns exec "$DEV" nft list table inet netd >/dev/null 2>&1; }
netd_alive() { kill -0 "$NETD_PID" 2>/dev/null && nctl status >/dev/null 2>&1; }

check "network namespaces $DEV and $INET with veth and addresses" setup_net ||
    fatal "cannot build the topology"
check "servers ready in $INET (tcp 8080, udp 8081)" start_servers ||
    { diag <"$T/servers.err"; fatal "servers did not start"; }
# Sanity: the network works at all, before netd exists.
probe_root "$T/pre" "${ALL[@]}"
check "without netd, root reaches every server" test $? = 0 ||
    { diag <"$T/pre"; fatal "network broken without netd"; }

cat >"$T/netd.conf" <<CONF
control_socket = $SOCK
tls_socket = $T/tls.sock
state_dir = $T/state
app_uid_range = 10000-59999
nflog_group = 100
CONF
check "netd starts and answers netctl status" start_netd ||
    { diag <"$T/netd.log"; fatal "netd did not start"; }
check "table inet netd exists" has_table

# --- 1. alpha: manifest allows 192.0.2.1 and 2001:db8:1::/64 ---------------
echo "# 1. app alpha reaches its manifest's addresses, nothing else"
probe_app "$DATA/alpha.json" "$T/a1" "${ALLOWED[@]}"
rc=$?
check "alpha (netctl run, probes as CMD) exits 0: all allowed probes OK" \
    test $rc = 0
for t in "${ALLOWED[@]}"; do expect "$T/a1" "$t" ok alpha; done
probe_app "$DATA/alpha.json" "$T/a2" "${DENIED_TCP[@]}" "${DENIED_UDP[@]}"
rc=$?
check "alpha with only denied probes exits 1 (netctl run itself worked)" \
    test $rc = 1
for t in "${DENIED_TCP[@]}"; do expect "$T/a2" "$t" refused alpha; done
for t in "${DENIED_UDP[@]}"; do expect "$T/a2" "$t" rejected alpha; done
check "alpha's rules left with its process (no apps registered)" no_apps

# UDP broadcast is an IP literal like any other: no DNS needed.
probe_app "$DATA/bcast.json" "$T/bc" bcast/255.255.255.255/8081 \
    tcp/$X4/8080
expect "$T/bc" bcast/255.255.255.255/8081 ok "bcast (255.255.255.255 listed)"
expect "$T/bc" tcp/$X4/8080 refused "bcast (255.255.255.255 listed)"
probe_app "$DATA/alpha.json" "$T/bc2" bcast/255.255.255.255/8081
expect "$T/bc2" bcast/255.255.255.255/8081 rejected "alpha (no broadcast listed)"

# --- 1b. denials are events ------------------------------------------------
echo "# 1b. what was refused shows in netctl events"
nctl events --json >"$T/events.json" 2>&1
check "netctl events lists alpha's refused tcp to $OTHER4A port 8080" \
    test "$(jq '[.events[] | select(.app == "fw-alpha" and .kind == "deny"
    and .protocol == "tcp" and .destination == "'"$OTHER4A"'"
    and .port == 8080)] | length' "$T/events.json")" -ge 1 ||
    diag <"$T/events.json"
check "... and its refused udp to $OTHER6 port 8081" \
    test "$(jq '[.events[] | select(.app == "fw-alpha" and
    .protocol == "udp" and .destination == "'"$OTHER6"'"
    and .port == 8081)] | length' "$T/events.json")" -ge 1
check "... and nothing it was allowed ($X4)" \
    test "$(jq '[.events[] | select(.app == "fw-alpha" and
    .destination == "'"$X4"'")] | length' "$T/events.json")" = 0
# A follower sees the next denials as they happen.
nctl events --follow --json >"$T/follow.json" 2>&1 &
FOLLOW_PID=$!
track $FOLLOW_PID
followed() { grep -q "\"app\":\"$1\"" "$T/follow.json"; }

# --- 2. two apps at once: beta reaches none of alpha's addresses -----------
echo "# 2. a second registered app, different ComponentId"
check "agent alpha running (netctl run ... netprobe agent)" \
    agent_start alpha "$DATA/alpha.json"
check "agent beta running" agent_start beta "$DATA/beta.json"
check "alpha and beta have different uids (${AG_UID[alpha]:-?} vs ${AG_UID[beta]:-?})" \
    test "${AG_UID[alpha]:-x}" != "${AG_UID[beta]:-x}"
for t in "${ALLOWED[@]}" "${DENIED_TCP[@]}"; do
	case $t in tcp/*) m=refused ;; *) m=rejected ;; esac
	agent_expect beta "$t" $m
done
agent_expect alpha tcp/$X4/8080 ok
agent_expect alpha tcp/$P6/8080 ok
agent_expect alpha tcp/$OTHER4A/8080 refused

check "netctl events --follow saw beta's refusals (polled, at most 5 s)" \
    wait_for 50 0.1 followed fw-beta
nctl show fw-beta --json >"$T/beta.json" 2>&1
check "netctl show counts beta's refused packets" \
    test "$(jq .denied "$T/beta.json")" -ge 1

# --- 3. root and uids outside the range are untouched ----------------------
echo "# 3. root and uid 65534 are not apps"
probe_root "$T/root" "${ALL[@]}"
for t in "${ALL[@]}"; do expect "$T/root" "$t" ok root; done
probe_uid 65534 "$T/nobody" "${ALL[@]}"
for t in "${ALL[@]}"; do expect "$T/nobody" "$t" ok "uid 65534"; done

# --- 4. an unregistered uid inside the range -------------------------------
echo "# 4. an unregistered app uid is blocked"
U=10500
while [ "$U" = "${AG_UID[alpha]:-}" ] || [ "$U" = "${AG_UID[beta]:-}" ]; do
	U=$((U + 1))
done
probe_uid $U "$T/unreg" "${ALL[@]}"
for t in "${ALL[@]}"; do
	case $t in tcp/*) m=refused ;; *) m=rejected ;; esac
	expect "$T/unreg" "$t" $m "uid $U"
done

# --- 5. grant expiry -------------------------------------------------------
echo "# 5. a grant opens an address for a while; open connections outlive it"
check "agent gamma running (manifest: 192.0.2.1 only)" \
    agent_start gamma "$DATA/gamma.json"
agent_expect gamma tcp/$OTHER4B/8080 refused
nctl grant fw-gamma $OTHER4B 2 >"$T/grant.out" 2>&1
check "netctl grant fw-gamma $OTHER4B 2 exits 0" test $? = 0 ||
    diag <"$T/grant.out"
check "netctl show --json lists the grant" test "$(grant_count fw-gamma)" = 1
agent gamma open c1 tcp/$OTHER4B/8080
check "gamma opens a connection to $OTHER4B within the grant ($RES)" \
    test "$RES" = OK
agent gamma open u1 udp/$OTHER4B/8081
check "gamma opens a UDP flow to $OTHER4B within the grant ($RES)" \
    test "$RES" = OK
check "the grant expires (polled with netctl show --json, at most 10 s)" \
    wait_for 100 0.1 no_grants fw-gamma
agent gamma send c1
check "after expiry the open connection still carries data ($RES)" \
    test "$RES" = OK
agent gamma send u1
check "after expiry the UDP flow still carries datagrams ($RES)" \
    test "$RES" = OK
agent_expect gamma tcp/$OTHER4B/8080 refused
agent_expect gamma udp/$OTHER4B/8081 rejected

# --- 6. netd killed and restarted ------------------------------------------
echo "# 6. SIGKILL of netd leaves enforcement as it was; a restart restores"
nctl grant fw-beta $OTHER4B 120 >"$T/grantb.out" 2>&1
check "netctl grant fw-beta $OTHER4B 120 exits 0" test $? = 0 ||
    diag <"$T/grantb.out"
agent_expect beta tcp/$OTHER4B/8080 ok
{ kill -KILL "$NETD_PID"; wait "$NETD_PID"; } 2>/dev/null	# no "Killed" note
check "netd is gone after SIGKILL" test ! -d "/proc/$NETD_PID"
nctl status >/dev/null 2>&1
check "netctl status without netd exits 3" test $? = 3
check "table inet netd still in the kernel" has_table
agent_expect alpha tcp/$X4/8080 ok
agent_expect alpha tcp/$P6/8080 ok
agent_expect alpha tcp/$OTHER4A/8080 refused
agent_expect alpha tcp/$OTHER6/8080 refused
agent_expect beta tcp/$X4/8080 refused
probe_uid $U "$T/unreg2" tcp/$X4/8080
expect "$T/unreg2" tcp/$X4/8080 refused "uid $U (netd dead)"
probe_root "$T/root2" tcp/$OTHER4B/8080
expect "$T/root2" tcp/$OTHER4B/8080 ok "root (netd dead)"

check "netd restarts" start_netd || diag <"$T/netd.log"
nctl status --json >"$T/status.json" 2>&1
check "netctl status --json: 3 apps restored" \
    test "$(jq .apps "$T/status.json")" = 3
nctl apps --json >"$T/apps.json" 2>&1
check "netctl apps --json: fw-alpha restored with its uid and pid" \
    test "$(jq -r '.apps[] | select(.name == "fw-alpha") | "\(.uid) \(.pid)"' \
    "$T/apps.json")" = "${AG_UID[alpha]:-x} ${AG_PID[alpha]}" ||
    diag <"$T/apps.json"
check "table inet netd after the restart" has_table
agent_expect alpha tcp/$X4/8080 ok
agent_expect alpha udp/$P6/8081 ok
agent_expect alpha tcp/$OTHER4A/8080 refused
agent_expect alpha tcp/$OTHER6/8080 refused
agent_expect beta tcp/$X4/8080 refused
agent_expect gamma tcp/$X4/8080 ok
agent_expect gamma tcp/$OTHER4B/8080 refused
check "beta's grant was kept across the restart" \
    test "$(grant_count fw-beta)" = 1
agent_expect beta tcp/$OTHER4B/8080 ok
nctl reload >"$T/reload.out" 2>&1
check "netctl reload exits 0" test $? = 0 || diag <"$T/reload.out"
check "beta's grant was kept across the reload" \
    test "$(grant_count fw-beta)" = 1
agent_expect beta tcp/$OTHER4B/8080 ok
agent_expect alpha tcp/$X4/8080 ok
agent_expect alpha tcp/$OTHER4A/8080 refused

# --- 7. the control socket against unprivileged and broken peers -----------
echo "# 7. unprivileged netctl stop; garbage on the control socket"
ip netns exec "$DEV" setpriv --reuid=65534 --regid=65534 --clear-groups \
    "$NETCTL" -s "$SOCK" stop fw-alpha >"$T/stop65534.out" 2>"$T/stop65534.err"
rc=$?
check "netctl stop fw-alpha as uid 65534 exits 1 (got $rc)" test $rc = 1
check "... with \"permission denied\" on stderr" \
    grep -q "permission denied" "$T/stop65534.err" ||
    diag <"$T/stop65534.err"
check "fw-alpha still registered (netctl apps --json)" app_listed fw-alpha
agent_expect alpha tcp/$X4/8080 ok
agent_expect alpha tcp/$OTHER4A/8080 refused
for who in 0 65534; do
	r=$(head -c 100 /dev/urandom | raw_ctl --as $who random 2>&1)
	check "100 random bytes as uid $who: error reply ($r)" \
	    test "${r%% *}" = type=1
	check "netd answers netctl status after that" netd_alive
	r=$(raw_ctl --as $who hugelen 2>&1)
	check "header with length 4294967295 as uid $who: error reply ($r)" \
	    test "${r%% *}" = type=1
	check "netd answers netctl status after that" netd_alive
done
r=$(raw_ctl --as 65534 status 2>&1)
check "a well-formed STATUS from uid 65534 is answered ($r)" \
    test "$r" = "type=0 ok"

# --- 8. app exit and netctl stop --------------------------------------------
echo "# 8. rules go when the app exits or is stopped"
agent_expect gamma tcp/$X4/8080 ok
agent gamma open c2 tcp/$X4/8080
check "gamma opens a connection to $X4 ($RES)" test "$RES" = OK
nctl stop fw-gamma >"$T/stop.out" 2>&1
check "netctl stop fw-gamma (still running) exits 0" test $? = 0 ||
    diag <"$T/stop.out"
check "fw-gamma no longer listed" app_not_listed fw-gamma
agent_expect gamma tcp/$X4/8080 refused
agent gamma send c2
check "netctl stop cuts gamma's open connection too ($RES)" \
    test "$RES" != OK
agent_quit gamma
agent_quit alpha
if check "alpha's agent exits on quit (polled, at most 5 s)" \
    wait_for 50 0.1 exited "${AG_PID[alpha]}"; then
	wait "${AG_PID[alpha]}"
	check "... with status 0" test $? = 0
fi
check "netctl apps --json drops fw-alpha (polled, at most 5 s)" \
    wait_for 50 0.1 app_not_listed fw-alpha
probe_uid "${AG_UID[alpha]:-0}" "$T/alphagone" tcp/$X4/8080 tcp/$P6/8080
expect "$T/alphagone" tcp/$X4/8080 refused "alpha's uid ${AG_UID[alpha]:-?} after exit"
expect "$T/alphagone" tcp/$P6/8080 refused "alpha's uid ${AG_UID[alpha]:-?} after exit"

# --- 8b. traffic without a socket is not touched ----------------------------
echo "# 8b. the device's closed ports still answer with a reset"
probe_inet "$T/closed" -t 1.5 tcp/192.0.2.100/7 tcp/2001:db8:1::100/7
expect "$T/closed" tcp/192.0.2.100/7 refused "client in $INET, closed port"
expect "$T/closed" tcp/2001:db8:1::100/7 refused "client in $INET, closed port"

# --- 9. server ports -------------------------------------------------------
echo "# 9. an app serves only on its AllowedTcpServerPorts"
# input_hook: netd's input chain exists (only while some app serves UDP).
input_hook() { ip netns exec "$DEV" nft list chain inet netd input >/dev/null 2>&1; }
check "no app serves UDP yet: no input chain (incoming packets cross no hook of netd's)" \
    eval '! input_hook'
check "agent server running (AllowedTcpServerPorts [9000])" \
    agent_start server "$DATA/server.json"
# serve_check PROTO KIND OPEN CLOSED: the server agent serves on both
# ports (KIND listen or userve); a client in $INET gets an answer only
# from the OPEN one, whose port the manifest lists.
serve_check() {
	local proto=$1 kind=$2 open=$3 closed=$4 p a t out=$T/serve-$1
	local targets=()
	for p in "$open" "$closed"; do
		agent server "$kind" "$p"
		check "server $kind $p ($RES)" test "$RES" = OK
		for a in 192.0.2.100 2001:db8:1::100; do
			targets+=("${proto}read/$a/$p")
		done
	done
	probe_inet "$out" -t 1.5 "${targets[@]}"
	for t in "${targets[@]}"; do
		case $t in
		*/"$open") expect "$out" "$t" ok "client in $INET" ;;
		*) expect "$out" "$t" timeout "client in $INET" ;;
		esac
	done
}
serve_check tcp listen 9000 9001

echo "# 9b. ... and AllowedUdpServerPorts; a server port opens nothing outward"
serve_check udp userve 9002 9003
# From a server port to a peer that never wrote to it: a new flow, refused.
for tgt in udp/$OTHER4B/8081 udp/$OTHER6/8081; do
	agent server from 9004 "$tgt"
	check "server: datagram from its udp server port 9004 to $tgt is refused ($RES)" \
	    test "$RES" != OK -a "$RES" != TIMEOUT
done
agent server from 9005 tcp/$OTHER4B/8080
check "server: connect from its tcp server port 9005 to $OTHER4B is refused ($RES)" \
    test "$RES" = ECONNREFUSED
check "no connection tracking in the device namespace (netd needs none)" \
    no_conntrack
check "an app serves UDP: the input chain is in" input_hook
agent_quit server
check "the server app is gone (polled, at most 5 s)" \
    wait_for 50 0.1 app_not_listed fw-server
check "no app serves UDP any more: the input chain went in the same batch" \
    eval '! input_hook'

# --- 10. a manifest that fails to load --------------------------------------
echo "# 10. a refused manifest installs nothing"
ip netns exec "$DEV" nft list map inet netd apps >"$T/apps.before" 2>&1
check "nft list map inet netd apps lists the catch-all (* : jump unreg)" \
    grep -q '\* : jump unreg' "$T/apps.before"
nctl run --manifest "$DATA/bad.json" -- /bin/true >"$T/bad.out" 2>"$T/bad.err"
rc=$?
check "netctl run --manifest bad.json exits 1 (got $rc)" test $rc = 1
check "... with the loader's error on stderr" \
    grep -q 'AllowedTcpServerPorts\[0\]: 70000: port is out of range' \
    "$T/bad.err" || diag <"$T/bad.err"
r=$(raw_ctl register "$DATA/bad.json" 2>&1)
check "a raw REGISTER of bad.json gets an error reply ($(tr '\n' ' ' <<<"$r" | cut -c1-60)...)" \
    test "${r%% *}" = type=1
ip netns exec "$DEV" nft list map inet netd apps >"$T/apps.after" 2>&1
check "nft list map inet netd apps unchanged" cmp -s "$T/apps.before" \
    "$T/apps.after" || diff "$T/apps.before" "$T/apps.after" | diag

check "netd still alive and answering at the end" netd_alive
if [ "$FW_FAIL" -gt 0 ]; then
	echo "# netd log:"
	diag <"$T/netd.log"
fi

# --- cleanup ---------------------------------------------------------------
cleanup
left=$(ip netns list | grep -E "^($DEV|$INET)( |\$)")
check "no namespace of ours left (ip netns list)" test -z "$left"
check "temp dir removed" test ! -e "$T"
printf "# took %s s\n" "$(awk -v s="$START" -v e="$(date +%s.%N)" "BEGIN { printf \"%.1f\", e - s }")"
echo "firewall: $FW_PASS passed, $FW_FAIL failed"
[ "$FW_FAIL" = 0 ]
