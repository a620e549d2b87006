# shellcheck shell=bash disable=SC2034
# dnslib.sh: helpers for tests/integration/dns.sh (sourced after lib.sh,
# whose pass/fail/check/diag/wait_for/nctl/track/cleanup it uses). The
# caller sets T, DEV, INET, NETD, NETCTL, SOCK, HERE, UPSTREAM and ULOG.

RESOLVE_SRC=$(<"$HERE/resolve.py")
declare -A DA_IN DA_OUT DA_PID DA_UID

# match STRING GLOB: STRING matches the shell pattern GLOB.
match() {
	# shellcheck disable=SC2053
	[[ $1 == $2 ]]
}
# nomatch STRING GLOB
nomatch() { ! match "$1" "$2"; }

# res_root|res_uid UID|res_app MANIFEST -- OUT OP...: one-shot resolve.py
# in the device namespace; "OP RESULT..." lines to OUT, stderr to OUT.err.
res_root() {
	local out=$1
	shift
	ip netns exec "$DEV" "$PY" -c "$RESOLVE_SRC" "$@" >"$out" \
	    2>"$out.err"
}
res_uid() {
	local uid=$1 out=$2
	shift 2
	ip netns exec "$DEV" setpriv --reuid="$uid" --regid="$uid" \
	    --clear-groups "$PY" -c "$RESOLVE_SRC" "$@" >"$out" 2>"$out.err"
}
res_app() {
	local manifest=$1 out=$2
	shift 2
	nctl run --manifest "$manifest" -- "$PY" -c "$RESOLVE_SRC" "$@" \
	    >"$out" 2>"$out.err"
}

# rof OUT OP: the result of OP in OUT ("MISSING" if it is not there).
rof() {
	local line
	line=$(awk -v op="$2" '$1 == op { $1 = ""; sub(/^ /, ""); print; exit }' \
	    "$1" 2>/dev/null)
	echo "${line:-MISSING}"
}

# expect_r OUT OP GLOB WHO: one assertion on one result of OUT.
expect_r() {
	local got
	got=$(rof "$1" "$2")
	if match "$got" "$3"; then
		pass "$4: $2 -> $got"
	else
		fail "$4: $2 -> $got (wanted $3)"
		[ -s "$1.err" ] && diag <"$1.err"
	fi
	return 0
}

# Long-running resolve.py apps, driven through two fifos (as lib.sh's
# agents). da_start NAME MANIFEST
da_start() {
	local name=$1 manifest=$2 in out word uid f
	DA_N=$((${DA_N:-0} + 1))
	f=$T/da-$name-$DA_N
	mkfifo "$f.in" "$f.out" || return 1
	exec {in}<>"$f.in" {out}<>"$f.out"
	DA_IN[$name]=$in
	DA_OUT[$name]=$out
	ip netns exec "$DEV" "$NETCTL" -s "$SOCK" run --manifest "$manifest" \
	    -- "$PY" -c "$RESOLVE_SRC" agent \
	    <&"$in" 1>&"$out" 2>>"$T/da-$name.err" &
	DA_PID[$name]=$!
	track $!
	if read -r -t 10 -u "$out" word uid && [ "$word" = READY ]; then
		DA_UID[$name]=$uid
		return 0
	fi
	unset "DA_IN[$name]"
	diag <"$T/da-$name.err"
	return 1
}

# da NAME OP: sets RES to the agent's answer.
da() {
	RES=NOAGENT
	[ -n "${DA_IN[$1]:-}" ] || return 1
	echo "$2" >&"${DA_IN[$1]}"
	read -r -t 15 -u "${DA_OUT[$1]}" RES || RES=NOREPLY
}

# da_expect NAME OP GLOB: one assertion on one agent answer.
da_expect() {
	da "$1" "$2"
	if match "$RES" "$3"; then
		pass "$1 (running): $2 -> $RES"
	else
		fail "$1 (running): $2 -> $RES (wanted $3)"
	fi
	return 0
}

da_quit() {
	local p=${DA_PID[$1]:-}
	[ -n "${DA_IN[$1]:-}" ] && echo quit >&"${DA_IN[$1]}"
	unset "DA_IN[$1]"
	[ -n "$p" ] && wait_for 50 0.1 exited "$p"
}

# --- the upstream's query log ------------------------------------------------

# ulog_has NAME [TYPE]: unbound logged a query for NAME (of TYPE).
ulog_has() {
	grep -qiF " $1. ${2:-}" "$ULOG"
}
# ulog_count NAME TYPE: how many queries for NAME of TYPE unbound logged.
ulog_count() {
	grep -ciF " $1. $2 IN" "$ULOG"
}

MARK_N=0
# ulog_sync: ask the upstream directly (root is not filtered) for a fresh
# name and wait until the log shows it. Every query anyone sent before is
# in the log by then (one unbound thread, one path), so a name not logged
# yet was never sent.
ulog_sync() {
	local m
	MARK_N=$((MARK_N + 1))
	m=mark$MARK_N-$$.test
	ip netns exec "$DEV" "$PY" -c "$RESOLVE_SRC" \
	    "q/udp/$UPSTREAM/$m/A" >/dev/null 2>&1
	wait_for 50 0.1 ulog_has "$m"
}

# never_upstream NAME WHO: an assertion that NAME never reached unbound.
never_upstream() {
	ulog_sync || fail "the upstream's log shows our marker query"
	if ulog_has "$1"; then
		fail "$2: $1 reached the upstream"
		grep -iF " $1. " "$ULOG" | diag
	else
		pass "$2: $1 never reached the upstream (query log)"
	fi
}

# --- grants in the kernel ----------------------------------------------------

# grant_secs UID ADDR: the timeout (seconds) of the grant of ADDR to UID in
# table inet netd, empty when there is none. "EXPIRES" in $GRANT_EXPIRES.
grant_secs() {
	local set=allow4 j
	case $2 in *:*) set=allow6 ;; esac
	j=$(ip netns exec "$DEV" nft -j list set inet netd $set 2>/dev/null) ||
	    return 1
	read -r GRANT_SECS GRANT_EXPIRES < <(jq -r --arg u "$1" --arg a "$2" '
	    .nftables[] | select(.set) | .set.elem // [] | .[] |
	    select(type == "object" and .elem.val.concat != null) |
	    select((.elem.val.concat[0] | tostring) == $u and
	           .elem.val.concat[1] == $a) |
	    "\(.elem.timeout // 0) \(.elem.expires // 0)"' <<<"$j" | head -1)
	echo "${GRANT_SECS:-}"
}
has_grant() { [ -n "$(grant_secs "$1" "$2")" ]; }
no_grant() { [ -z "$(grant_secs "$1" "$2")" ]; }
# grants_of UID PREFIX: how many granted addresses of UID start with PREFIX
grants_of() {
	local j
	j=$(ip netns exec "$DEV" nft -j list set inet netd allow4 2>/dev/null)
	jq -r --arg u "$1" --arg p "$2" '
	    [.nftables[] | select(.set) | .set.elem // [] | .[] |
	     select(type == "object" and .elem.val.concat != null) |
	     select((.elem.val.concat[0] | tostring) == $u and
	            (.elem.val.concat[1] | startswith($p)))] | length' <<<"$j"
}
dump_grants() {
	ip netns exec "$DEV" nft list set inet netd allow4 2>&1
	ip netns exec "$DEV" nft list set inet netd allow6 2>&1
}

# ttl_of RESULT TYPE=ADDR: the TTL the answer RESULT gives ADDR.
ttl_of() {
	local rr
	for rr in $1; do
		case $rr in "$2"@*) echo "${rr##*@}"; return 0 ;; esac
	done
	return 1
}

# --- JSON from netd ----------------------------------------------------------

# jnum FILE JQ: a number from a JSON file, or -1.
jnum() {
	local v
	v=$(jq -r "$2 // -1" "$1" 2>/dev/null)
	case $v in '' | *[!0-9-]*) echo -1 ;; *) echo "$v" ;; esac
}

# --- the upstream: unbound serving a test zone ------------------------------

# start_unbound ZONEFILE NAME ANSWER: unbound in $INET on $UPSTREAM, serving
# ZONEFILE with a query log in $ULOG; ready once NAME/A answers ANSWER
# (res_root/rof/match of the caller's script).
start_unbound() {
	UNBOUND_ZONE=$1 UNBOUND_READY=$2 UNBOUND_READY_ANSWER=$3
	mkdir -p "$T/unbound" && : >"$ULOG" || return 1
	cat >"$T/unbound/unbound.conf" <<CONF
server:
	interface: $UPSTREAM
	port: 53
	do-daemonize: no
	username: ""
	chroot: ""
	directory: "$T/unbound"
	pidfile: ""
	use-syslog: no
	logfile: "$ULOG"
	log-queries: yes
	verbosity: 1
	num-threads: 1
	access-control: 0.0.0.0/0 allow
	access-control: ::/0 allow
	module-config: "iterator"
	# unbound answers "test." itself (RFC 6761) unless told not to
	local-zone: "test." nodefault
auth-zone:
	name: "test."
	zonefile: "$UNBOUND_ZONE"
	for-downstream: yes
	for-upstream: yes
remote-control:
	control-enable: no
CONF
	ip netns exec "$INET" "$UNBOUND" -d -c "$T/unbound/unbound.conf" \
	    >>"$T/unbound/stderr" 2>&1 &
	UNBOUND_PID=$!
	track $UNBOUND_PID
	wait_for 100 0.05 upstream_answers && kill -0 "$UNBOUND_PID" 2>/dev/null
}
upstream_answers() {
	kill -0 "$UNBOUND_PID" 2>/dev/null || return 0
	res_root "$T/ready" -t 0.3 "q/udp/$UPSTREAM/$UNBOUND_READY/A" &&
	    match "$(rof "$T/ready" "q/udp/$UPSTREAM/$UNBOUND_READY/A")" \
	    "$UNBOUND_READY_ANSWER"
}
