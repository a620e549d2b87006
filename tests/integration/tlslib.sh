# shellcheck shell=bash disable=SC2034
# tlslib.sh: helpers for tests/integration/tls.sh (sourced after lib.sh and
# dnslib.sh, whose pass/fail/check/diag/wait_for/track/match/rof/expect_r
# it uses). The caller sets T, P (the PKI directory), DEV, INET, NETCTL,
# TSOCK, DATA and HERE.

TLSCLIENT_SRC=$(<"$DATA/client.py")
CNF=$DATA/openssl.cnf
declare -A TA_IN TA_OUT TA_PID TA_UID

# --- the test PKI ------------------------------------------------------------
#
#   ca      "netd test CA": netd's ca_file; signs good, wrong, expired,
#           mtls, sni, v6, many
#   evil    "untrusted CA": not in ca_file; signs untrusted
#   client  "device client CA": what the mTLS server trusts; signs devca
#   devca   "device CA", an intermediate: signs device (clientAuth)
#
# openssl ca, not x509 -req: only it can back-date the expired certificate.

newkey() {
	openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 \
	    -out "$1" 2>>"$P/openssl.log"
}

# mkroot NAME CN: a self-signed root CA in $P/NAME/
mkroot() {
	local d=$P/$1
	mkdir -p "$d/new" && : >"$d/index.txt" && echo 01 >"$d/serial" &&
	newkey "$d/ca.key" &&
	openssl req -config "$CNF" -new -x509 -key "$d/ca.key" -subj "/CN=$2" \
	    -days 30 -extensions root_ext -out "$d/ca.pem" 2>>"$P/openssl.log"
}

# sign CA NAME CN EXT [SAN [START END]]: $P/NAME.key and $P/NAME.pem
sign() {
	local ca=$P/$1 name=$2 cn=$3 ext=$4 san=${5:-DNS:unused} dates=()
	[ -n "${6:-}" ] && dates=(-startdate "$6" -enddate "$7")
	newkey "$P/$name.key" &&
	openssl req -config "$CNF" -new -key "$P/$name.key" -subj "/CN=$cn" \
	    -out "$P/$name.csr" 2>>"$P/openssl.log" &&
	CADIR=$ca SAN=$san openssl ca -config "$CNF" -batch -notext \
	    -extensions "$ext" "${dates[@]}" -in "$P/$name.csr" \
	    -out "$P/$name.pem" >>"$P/openssl.log" 2>&1
}

# subca PARENT NAME CN: an intermediate CA in $P/NAME/, signed by PARENT
subca() {
	sign "$1" "$2" "$3" sub_ext &&
	mkdir -p "$P/$2/new" && : >"$P/$2/index.txt" && echo 01 >"$P/$2/serial" &&
	cp "$P/$2.pem" "$P/$2/ca.pem" && cp "$P/$2.key" "$P/$2/ca.key"
}

make_pki() {
	export CADIR=/nonexistent SAN=DNS:unused  # openssl.cnf reads both
	mkdir -p "$P" && chmod 755 "$P" &&
	mkroot ca "netd test CA" &&
	mkroot evil "untrusted CA" &&
	mkroot client "device client CA" &&
	sign ca good good.test server_ext \
	    "DNS:good.test,DNS:api.wild.test,DNS:notlisted.test" &&
	sign ca wrong wrong.test server_ext DNS:wrong.test &&
	sign ca expired expired.test server_ext DNS:expired.test \
	    20200101000000Z 20200201000000Z &&
	sign evil untrusted untrusted.test server_ext DNS:untrusted.test &&
	sign ca mtls mtls.test server_ext DNS:mtls.test &&
	sign ca sni sni.test server_ext DNS:sni.test &&
	sign ca v6 v6only.test server_ext "DNS:v6only.test,DNS:fallback.test" &&
	sign ca many many.test server_ext "DNS:many.test,DNS:cut.test,DNS:sink.test" &&
	subca client devca "device CA" &&
	sign devca device device-0001 client_ext &&
	cp "$P/ca/ca.pem" "$P/ca.pem" &&
	cat "$P/device.pem" "$P/devca.pem" >"$P/device-chain.pem" &&
	chmod 600 "$P"/*.key && chmod 644 "$P"/*.pem
}

# --- peers in the internet namespace -------------------------------------------

# s_server NAME ADDR PORT CERT [ARGS...]: openssl s_server on ADDR:PORT with
# $P/CERT.pem and .key, in directory S_DIR (default $T); its output (the
# log) in $T/srv-NAME.log.
s_server() {
	local name=$1 addr=$2 port=$3 cert=$4 hp
	shift 4
	hp=$addr:$port
	case $addr in *:*) hp="[$addr]:$port" ;; esac
	(cd "${S_DIR:-$T}" && exec ip netns exec "$INET" openssl s_server \
	    -accept "$hp" -cert "$P/$cert.pem" -key "$P/$cert.key" -quiet "$@" \
	    >"$T/srv-$name.log" 2>&1 </dev/null) &
	track $!
	LISTEN+=("$hp")
}

# every_listener: each address:port of LISTEN is listening in $INET.
every_listener() {
	local l hp
	l=$(ip netns exec "$INET" ss -Hltn) || return 1
	for hp in "${LISTEN[@]}"; do
		grep -qF " $hp " <<<"$l" || return 1
	done
}

# srv_count NAME TEXT: lines of s_server NAME's log with TEXT
srv_count() { grep -cF -- "$2" "$T/srv-$1.log"; }

# SYN and packet counters in $INET: what reached a peer.
counters_setup() {
	ip netns exec "$INET" nft -f - <<NFT
table inet tlstest {
	counter syn10 { }
	counter to15 { }
	chain input {
		type filter hook input priority -10; policy accept;
		ip daddr 198.51.100.10 tcp dport 443 tcp flags & (syn | ack) == syn counter name syn10
		ip daddr 198.51.100.15 counter name to15
	}
}
NFT
}
# counter NAME: packets so far (-1 when it cannot be read)
counter() {
	local n
	n=$(ip netns exec "$INET" nft -j list counter inet tlstest "$1" \
	    2>/dev/null | jq '.nftables[] | select(.counter) | .counter.packets')
	echo "${n:--1}"
}

# sclient OUT HOST:PORT NAME [ARGS...]: openssl s_client from the device
# namespace as root, verifying chain and NAME against the test CA; sends
# "sanity" and "CLOSE" (s_server -rev closes on it); stdout to OUT, stderr
# to OUT.err. Returns s_client's status. SC_SNI=no: send no SNI.
sclient() {
	local out=$1 hp=$2 name=$3 sni=(-servername "$3")
	shift 3
	[ "${SC_SNI:-}" = no ] && sni=(-noservername)
	printf 'sanity\nCLOSE\n' | ip netns exec "$DEV" timeout 5 \
	    openssl s_client -connect "$hp" "${sni[@]}" \
	    -verify_hostname "$name" -CAfile "$P/ca.pem" -verify_return_error \
	    -quiet "$@" >"$out" 2>"$out.err"
}

# pyssl ADDR PORT NAME MODE: python's ssl from the device namespace as root
# (for server.py's peers): MODE echo prints what came back of "sanity";
# MODE cut prints how many octets arrived before the EOF; MODE sink sends
# 100000 octets and prints the answer, and "good" when it is right.
pyssl() {
	ip netns exec "$DEV" "$PY" -c '
import socket, ssl, sys
a, port, name, mode, ca = sys.argv[1:]
ctx = ssl.create_default_context(cafile=ca)
s = ctx.wrap_socket(socket.create_connection((a, int(port)), timeout=5),
                    server_hostname=name, suppress_ragged_eofs=True)
if mode == "echo":
    s.sendall(b"sanity\n")
    got = b""
    while len(got) < 7:
        d = s.recv(7 - len(got))
        if not d:
            break
        got += d
    print(got.decode().strip())
    s.unwrap()
elif mode == "sink":
    import hashlib, os
    data = os.urandom(100000)
    s.sendall(b"100000\n" + data)
    got = b""
    while not got.endswith(b"\n"):
        d = s.recv(1)
        if not d:
            break
        got += d
    s.unwrap()
    print(got.decode().strip(), "good" if got.decode() ==
          "100000 %s\n" % hashlib.sha256(data).hexdigest() else "bad")
else:
    s.sendall(b"GO\n")
    n = 0
    while True:
        d = s.recv(65536)
        if not d:
            break
        n += len(d)
    print(n)
' "$1" "$2" "$3" "$4" "$P/ca.pem" 2>&1
}

# --- clients of the gateway ------------------------------------------------------

# tc_app MANIFEST OUT OP... | tc_uid UID OUT OP... | tc_root OUT OP...:
# client.py in the device namespace, "OP RESULT" lines to OUT, stderr to
# OUT.err.
tc_app() {
	local manifest=$1 out=$2
	shift 2
	ip netns exec "$DEV" "$NETCTL" -s "$SOCK" run --manifest "$manifest" \
	    -- "$PY" -c "$TLSCLIENT_SRC" "$TSOCK" "$@" >"$out" 2>"$out.err"
}
tc_uid() {
	local uid=$1 out=$2
	shift 2
	ip netns exec "$DEV" setpriv --reuid="$uid" --regid="$uid" \
	    --clear-groups "$PY" -c "$TLSCLIENT_SRC" "$TSOCK" "$@" \
	    >"$out" 2>"$out.err"
}
tc_root() {
	local out=$1
	shift
	ip netns exec "$DEV" "$PY" -c "$TLSCLIENT_SRC" "$TSOCK" "$@" \
	    >"$out" 2>"$out.err"
}

# ncon MANIFEST OUT HOST PORT [netctl tls-connect options]: netctl
# tls-connect as the app, standard input from the caller, standard output
# to OUT, standard error to OUT.err; NCON_RC is its exit status. NCON_ENV:
# VAR=VALUE words for its environment.
NCON_ENV=()
ncon() {
	local manifest=$1 out=$2 host=$3 port=$4
	shift 4
	ip netns exec "$DEV" "$NETCTL" -s "$SOCK" run --manifest "$manifest" \
	    -- /usr/bin/env "${NCON_ENV[@]}" "$NETCTL" tls-connect "$@" \
	    "$host" "$port" >"$out" 2>"$out.err"
	NCON_RC=$?
}

# ncon_refused WHO MANIFEST HOST PORT REASON: netctl tls-connect exits 1
# with "netctl tls-connect: HOST:PORT: REASON: text" on stderr.
ncon_refused() {
	local who=$1 manifest=$2 host=$3 port=$4 reason=$5 msg
	ncon "$manifest" "$T/nr" "$host" "$port" --tls-socket "$TSOCK" </dev/null
	msg=$(grep -E "tls-connect" "$T/nr.err" | tail -1)
	if [ "$NCON_RC" = 1 ] && [[ $msg =~ ^netctl:?\ tls-connect:?\ $host:$port:\ $reason:\ .+ ]] &&
	    [ ! -s "$T/nr" ]; then
		pass "$who: netctl tls-connect $host $port: exit 1, $reason ($msg)"
	else
		fail "$who: netctl tls-connect $host $port: wanted exit 1 and \"$reason\" (exit $NCON_RC: ${msg:-no message})"
		diag <"$T/nr.err"
	fi
}

# Long-running clients ("agents"), driven through two fifos as lib.sh's.
# ta_start NAME MANIFEST
ta_start() {
	local name=$1 manifest=$2 in out word uid
	mkfifo "$T/ta-$name.in" "$T/ta-$name.out" || return 1
	exec {in}<>"$T/ta-$name.in" {out}<>"$T/ta-$name.out"
	TA_IN[$name]=$in
	TA_OUT[$name]=$out
	ip netns exec "$DEV" "$NETCTL" -s "$SOCK" run --manifest "$manifest" \
	    -- "$PY" -c "$TLSCLIENT_SRC" "$TSOCK" agent \
	    <&"$in" 1>&"$out" 2>>"$T/ta-$name.err" &
	TA_PID[$name]=$!
	track $!
	if read -r -t 10 -u "$out" word uid && [ "$word" = READY ]; then
		TA_UID[$name]=$uid
		return 0
	fi
	unset "TA_IN[$name]"
	diag <"$T/ta-$name.err"
	return 1
}

# ta NAME COMMAND: RES is the agent's answer.
ta() {
	RES=NOAGENT
	[ -n "${TA_IN[$1]:-}" ] || return 1
	echo "$2" >&"${TA_IN[$1]}"
	read -r -t 30 -u "${TA_OUT[$1]}" RES || RES=NOREPLY
}

# ta_expect NAME COMMAND GLOB
ta_expect() {
	ta "$1" "$2"
	if match "$RES" "$3"; then
		pass "$1 (running): $2 -> $RES"
	else
		fail "$1 (running): $2 -> $RES (wanted $3)"
		[ -s "$T/ta-$1.err" ] && tail -5 "$T/ta-$1.err" | diag
	fi
	return 0
}

ta_quit() {
	local p=${TA_PID[$1]:-}
	[ -n "${TA_IN[$1]:-}" ] && echo quit >&"${TA_IN[$1]}"
	unset "TA_IN[$1]"
	[ -n "$p" ] && wait_for 50 0.1 exited "$p"
}

# tls_event JQ: netctl events --json has an event of kind tls matching JQ
# (the last one found is in $T/tlsev.json).
tls_event() {
	nctl events --json >"$T/events.json" 2>&1 &&
	    jq -c "[.events[] | select(.kind == \"tls\") | select($1)] | last" \
	    "$T/events.json" >"$T/tlsev.json" 2>/dev/null &&
	    [ "$(cat "$T/tlsev.json")" != null ]
}
