#!/bin/bash
# Runs the demo end to end and checks what it printed, step by step: each
# app passed where its manifest (through netd's DNS proxy, or a grant)
# allows and was blocked elsewhere, for the reason the demo says; the name
# netd refused never reached the DNS server; the refusals show in netctl
# events with the name an address came from; the grants in netctl show;
# the DNS counters in netctl status. TLS: the PKI; netd's gateway with the
# device certificate; telemetry-tls gets the server's answer over TLS and
# the server saw the device certificate, verified; the apps cannot read
# the device key; the hosts a manifest does not list are "denied", in
# netctl events and in the tls counters of netctl status. Nothing is left
# behind (processes, namespaces, /etc/netns, the work directory).
# Usage: tests/demo_check.sh BUILD_DIR
set -u
B=${1:?usage: $0 BUILD_DIR}
if [ "$(id -u)" != 0 ]; then
	echo "demo_check: SKIPPED (needs root)"
	exit 0
fi
out=$(mktemp /tmp/netd-demo-check.XXXXXX)
trap 'rm -f "$out"' EXIT
pass=0 fail=0
start=$(date +%s)
tests/demo.sh "$B" >"$out" 2>&1
rc=$?
secs=$(($(date +%s) - start))
ok() { pass=$((pass + 1)); }
ko() { fail=$((fail + 1)); echo "FAIL: $*"; }
# section STEP: the lines of the step whose heading contains STEP.
section() {
	awk -v h="== $1" '/^.\[1m== / { on = index($0, h) > 0; next } on' "$out"
}
want() {	# want STEP TEXT: a line of STEP contains TEXT
	section "$1" | grep -qF -- "$2" && ok || ko "step '$1': no line with: $2"
}
want_re() {	# want_re STEP ERE: a line of STEP matches ERE
	section "$1" | grep -qE -- "$2" && ok || ko "step '$1': no line matching: $2"
}
count() {	# count STEP ERE N: exactly N lines of STEP match ERE
	local n
	n=$(section "$1" | grep -cE -- "$2")
	[ "$n" = "$3" ] && ok || ko "step '$1': $n lines matching '$2', want $3"
}

[ $rc -eq 0 ] && ok || ko "demo exit $rc"
[ $secs -lt 60 ] && ok || ko "demo took ${secs}s, want under a minute"
S="netctl check configs"
want "$S" "configs/examples/broken.json: refused: 5 errors"
want "$S" "configs/examples/sensor-api.json: ok"
want "$S" "configs/examples/telemetry-tls.json: ok"

# The PKI and the TLS server (it printed ACCEPT: it listens).
S="a small PKI"
W='/tmp/netd-demo\.[^/]+'	# the work directory, in an ERE
want "$S" "ca.pem     subject=CN = netd demo CA, issuer CN = netd demo CA"
want "$S" "server.pem subject=CN = telemetry.example.net, issuer CN = netd demo CA"
want "$S" "devca.pem  subject=CN = netd demo device CA, issuer CN = netd demo device CA"
want "$S" "device.pem subject=CN = device-0001, issuer CN = netd demo device CA"
want "$S" "203.0.113.40:443: openssl s_server -rev (answers each line reversed)"

S="netd starts"
want_re "$S" "^  ca_file = $W/ca\.pem\$"
want_re "$S" "^  device_cert = $W/device\.pem\$"
want_re "$S" "^  device_key = $W/device\.key\$"
want "$S" "dns upstream   192.0.2.53:53"
want "$S" "dns queries    0 (apps 0, others 0), allowed 0, denied 0"
want_re "$S" "^tls gateway    $W/tls\.sock, device certificate loaded\$"
want "$S" "tls sessions   0 open, 0 requests, 0 refused, 0 established, 0 clean, 0 aborted"

# sensor-api: the manifest's address; api.example.com's address only once
# the app resolved the name; the wildcard; a name and an address it may not.
S="sensor-api: allowed"
want "$S" "app sensor-api runs as uid"
want "$S" "http://192.0.2.10/             PASSED  (hello from 192.0.2.10)"
want "$S" "http://192.0.2.11/             BLOCKED ([Errno 111] Connection refused)"
want "$S" "http://api.example.com/        PASSED  (hello from 192.0.2.11)"
want "$S" "http://img.cdn.example.com/    PASSED  (hello from 198.51.100.20)"
want "$S" "http://tracker.example.org/    BLOCKED ([Errno -2] Name or service not known)"
want "$S" "http://203.0.113.30/           BLOCKED ([Errno 111] Connection refused)"
count "$S" 'PASSED' 3
count "$S" 'BLOCKED' 3

# The DNS server saw the allowed names, from the device, never the tracker.
S="what reached the DNS server"
want "$S" "query[A] api.example.com from 192.0.2.100"
want "$S" "query[A] img.cdn.example.com from 192.0.2.100"
count "$S" 'query\[.*tracker' 0
want "$S" "tracker.example.org never reached the DNS server: netd answered NXDOMAIN"

S="telemetry-tls: allowed only"
want "$S" "app telemetry-tls runs as uid"
want "$S" "http://telemetry.example.net/  PASSED  (hello from 203.0.113.40)"
want "$S" "http://api.example.com/        BLOCKED ([Errno -2] Name or service not known)"
want "$S" "http://192.0.2.11/             BLOCKED ([Errno 111] Connection refused)"
count "$S" 'PASSED' 1
count "$S" 'BLOCKED' 2

# A grant opens the address, not the name.
S="an administrator grants"
want "$S" "telemetry-tls: 192.0.2.11 granted for 30s"
want_re "$S" '^sensor-api +[0-9]+ +[0-9]+ +4 +6b1e5f3a-'
want "$S" "http://192.0.2.11/             PASSED  (hello from 192.0.2.11)"
want "$S" "http://api.example.com/        BLOCKED ([Errno -2] Name or service not known)"
count "$S" 'PASSED' 1
count "$S" 'BLOCKED' 1

# The device key: root's, mode 0600; the app cannot read it.
S="the device key"
want_re "$S" "^  -rw------- root $W/device\.key\$"
want_re "$S" "^    cat: $W/device\.key: Permission denied\$"
want "$S" "(exit status 1)"

# TLS through netd: the answer from the server, and a host not listed.
S="telemetry-tls over TLS"
want "$S" "app telemetry-tls runs as uid"
want_re "$S" '^    connected to 203\.0\.113\.40 port 443, TLSv1\.2 TLS-[A-Z0-9-]+$'
want "$S" "tls://telemetry.example.net:443 PASSED  (slt-yrtemelet morf olleh)"
want "$S" "    netctl tls-connect: api.example.com:443: denied: api.example.com is not in the manifest of app telemetry-tls"
want "$S" "tls://api.example.com:443       BLOCKED (denied: api.example.com is not in the manifest of app telemetry-tls; exit 1)"
count "$S" 'PASSED' 1
count "$S" 'BLOCKED' 1

# The server required a client certificate: it got the device's, verified.
S="what the TLS server"
want "$S" "depth=1 CN = netd demo device CA"
want "$S" "Protocol version: TLSv1.2"
want "$S" "Peer certificate: CN = device-0001"
want "$S" "Verification: OK"
count "$S" '^  CONNECTION (ESTABLISHED|CLOSED)$' 2

S="sensor-api over TLS"
want "$S" "app sensor-api runs as uid"
want "$S" "tls://telemetry.example.net:443 BLOCKED (denied: telemetry.example.net is not in the manifest of app sensor-api; exit 1)"
count "$S" 'PASSED' 0
count "$S" 'BLOCKED' 1
count "$S" 'connected to' 0

# Why: each refusal, with the name a refused address was resolved from.
S="netctl events"
E='^[0-9]{2}:[0-9]{2}:[0-9]{2} +'
want_re "$S" "${E}deny +[0-9]+ +sensor-api +tcp +192\.0\.2\.11 port 80\$"
want_re "$S" "${E}dns +[0-9]+ +sensor-api +dns +A tracker\.example\.org -> NXDOMAIN\$"
want_re "$S" "${E}deny +[0-9]+ +sensor-api +tcp +203\.0\.113\.30 port 80\$"
want_re "$S" "${E}dns +[0-9]+ +telemetry-tls +dns +A api\.example\.com -> NXDOMAIN\$"
want_re "$S" "${E}deny +[0-9]+ +telemetry-tls +tcp +192\.0\.2\.11 port 80 \(api\.example\.com, resolved by sensor-api, not this app\)\$"
count "$S" "${E}deny " 3
# A and AAAA: tracker.example.org once, api.example.com in both runs.
count "$S" "${E}dns " 6
count "$S" "${E}dns .*(api\.example\.com|tracker\.example\.org) -> NXDOMAIN\$" 6
# The TLS requests refused; the session that worked is no event.
want_re "$S" "${E}tls +[0-9]+ +telemetry-tls +tls +api\.example\.com:443 denied: api\.example\.com is not in the manifest of app telemetry-tls\$"
want_re "$S" "${E}tls +[0-9]+ +sensor-api +tls +telemetry\.example\.net:443 denied: telemetry\.example\.net is not in the manifest of app sensor-api\$"
count "$S" "${E}tls " 2

S="netctl show sensor-api"
want "$S" "names              api.example.com *.cdn.example.com"
want "$S" "dns queries        6, allowed 4, denied 2, from cache 0"
want "$S" "live grants        2"
want_re "$S" '^    192\.0\.2\.11 +[0-9]+\.[0-9]s left  api\.example\.com$'
want_re "$S" '^    198\.51\.100\.20 +[0-9]+\.[0-9]s left  img\.cdn\.example\.com$'

S="root and system uids"
want "$S" "app root runs as uid 0"
want "$S" "http://tracker.example.org/    PASSED  (hello from 203.0.113.30)"

S="netctl status, after"
want "$S" "apps           0"
want "$S" "dns upstream   192.0.2.53:53"
want "$S" "dns queries    14 (apps 12, others 2), allowed 6, denied 6"
want "$S" "dns errors     servfail 0, formerr 0, dropped 0, grant errors 0"
want "$S" "dns grants     3 addresses, 0 evicted, 0 private dropped"
want_re "$S" "^tls gateway    $W/tls\.sock, device certificate loaded\$"
want "$S" "tls sessions   0 open, 3 requests, 2 refused, 1 established, 1 clean, 0 aborted"

S="what netd logged"
want "$S" "dns: listening on 2 addresses, upstream 192.0.2.53:53"
want_re "$S" 'app telemetry-tls \(uid [0-9]+\): 192\.0\.2\.11 granted for 30s by netctl'
want_re "$S" 'app sensor-api \(uid [0-9]+\) exited: rules removed'
want_re "$S" "^  tls: gateway on $W/tls\.sock, CA $W/ca\.pem, device certificate $W/device\.pem\$"
want_re "$S" '^  tls: uid [0-9]+ app telemetry-tls: telemetry\.example\.net:443 via 203\.0\.113\.40, TLSv1\.2 TLS-[A-Z0-9-]+, device certificate offered$'
want_re "$S" '^  tls: uid [0-9]+ app sensor-api: telemetry\.example\.net:443 refused: denied: '

# Not a line of the device key, anywhere.
[ "$(grep -c 'PRIVATE KEY' "$out")" = 0 ] && ok || ko "the device key shows"
# In all: 3 + 1 + 1 + 1 (TLS) + 1 passed, 3 + 2 + 1 + 1 (TLS) + 1 (TLS)
# blocked.
[ "$(grep -c 'PASSED' "$out")" = 7 ] && ok ||
    ko "$(grep -c PASSED "$out") PASSED lines, want 7"
[ "$(grep -c 'BLOCKED' "$out")" = 8 ] && ok ||
    ko "$(grep -c BLOCKED "$out") BLOCKED lines, want 8"

# Nothing left behind: namespaces, /etc/netns entries, the work directory.
ip netns list | grep -q netd-demo- && ko "namespaces left" || ok
compgen -G "/etc/netns/netd-demo-*" >/dev/null && ko "/etc/netns entries left" || ok
dir=$(sed -n 's|^  control_socket = \(/tmp/netd-demo\.[^/]*\)/ctl\.sock$|\1|p' "$out")
[ -n "$dir" ] && [ ! -e "$dir" ] && ok || ko "work directory '${dir:-?}' left (or not shown)"
# Processes: netd, dnsmasq, the web and TLS servers name files in it.
left=$([ -n "$dir" ] && pgrep -a -f -- "$dir/")
[ -n "$dir" ] && [ -z "$left" ] && ok || ko "processes left: ${left:-?}"

[ $fail -eq 0 ] || sed 's/^/  | /' "$out"
echo "demo_check: $pass passed, $fail failed (demo ran ${secs}s)"
[ $fail -eq 0 ]
