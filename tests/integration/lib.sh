# shellcheck shell=bash disable=SC2034  # AG_* are read by firewall.sh
# lib.sh: helpers for tests/integration/firewall.sh (sourced, not run).
#
# Output is TAP-like: one "ok - ..." or "not ok - ..." line per assertion,
# diagnostics on "#   " lines. The caller sets T (temp dir), DEV and INET
# (namespace names), NETD, NETCTL, SOCK and HERE before using these.

PY=/usr/bin/python3		# not "python3": a pyenv shim other uids can't run
FW_PASS=0
FW_FAIL=0
PIDS=()				# every process we started, for cleanup
declare -A AG_IN AG_OUT AG_PID AG_UID

pass() { FW_PASS=$((FW_PASS + 1)); echo "ok - $*"; }
fail() { FW_FAIL=$((FW_FAIL + 1)); echo "not ok - $*"; }
diag() { sed 's/^/#   /'; }
track() { PIDS+=("$1"); }

# check DESC CMD...: passes when CMD exits 0; returns CMD's verdict, so
# "check ... || diag <LOG" shows the log only on failure.
check() {
	local desc=$1
	shift
	if "$@"; then
		pass "$desc"
	else
		fail "$desc"
		return 1
	fi
}

# netctl against our netd, from inside the device namespace.
nctl() { ip netns exec "$DEV" "$NETCTL" -s "$SOCK" "$@"; }

# wait_for TRIES DELAY CMD...: retry CMD until it succeeds, at most TRIES
# times with DELAY seconds between tries. The condition is CMD itself.
wait_for() {
	local tries=$1 delay=$2 i
	shift 2
	for ((i = 0; i < tries; i++)); do
		"$@" && return 0
		sleep "$delay"
	done
	return 1
}

# The probe's source, passed with -c so no uid needs to read our files.
PROBE_SRC=$(<"$HERE/netprobe.py")
RAWCTL_SRC=$(<"$HERE/rawctl.py")

# probe_root|probe_uid UID|probe_app MANIFEST -- OUT TARGET...: one-shot
# probes in the device namespace; lines "TARGET RESULT SECONDS" go to OUT,
# stderr to OUT.err, the exit status is the probe's (or netctl's).
probe_root() {
	local out=$1
	shift
	ip netns exec "$DEV" "$PY" -c "$PROBE_SRC" "$@" >"$out" 2>"$out.err"
}
probe_uid() {
	local uid=$1 out=$2
	shift 2
	ip netns exec "$DEV" setpriv --reuid="$uid" --regid="$uid" \
	    --clear-groups "$PY" -c "$PROBE_SRC" "$@" >"$out" 2>"$out.err"
}
probe_app() {
	local manifest=$1 out=$2
	shift 2
	nctl run --manifest "$manifest" -- "$PY" -c "$PROBE_SRC" "$@" \
	    >"$out" 2>"$out.err"
}
# probe_inet OUT ARGS...: from the internet namespace, as root.
probe_inet() {
	local out=$1
	shift
	ip netns exec "$INET" "$PY" -c "$PROBE_SRC" "$@" >"$out" 2>"$out.err"
}

# expect OUT TARGET MODE WHO: one assertion on one probe line of OUT.
#   ok       the probe got its reply
#   refused  ECONNREFUSED (a TCP reset) in under a second
#   rejected an explicit refusal: any error but a timeout (within the
#            probe's 2 s), e.g. EPERM, EHOSTUNREACH, EACCES, ECONNREFUSED
#   timeout  no answer at all (TIMEOUT)
expect() {
	local out=$1 target=$2 mode=$3 who=$4 res t good=0
	read -r res t < <(awk -v t="$target" '$1 == t { print $2, $3 }' "$out")
	res=${res:-MISSING}
	t=${t:-0}
	case $mode in
	ok)	[ "$res" = OK ] && good=1 ;;
	refused) [ "$res" = ECONNREFUSED ] && fast "$t" && good=1 ;;
	rejected) [ "$res" != OK ] && [ "$res" != TIMEOUT ] &&
		    [ "$res" != MISSING ] && good=1 ;;
	timeout) [ "$res" = TIMEOUT ] && good=1 ;;
	esac
	if [ $good = 1 ]; then
		pass "$who: $target $mode ($res in ${t}s)"
	else
		fail "$who: $target $mode (got $res in ${t}s)"
		[ -s "$out.err" ] && diag <"$out.err"
	fi
}
fast() { awk -v t="$1" 'BEGIN { exit !(t < 1.0) }'; }

# Long-running apps ("agents"): netctl run ... -- netprobe agent, driven
# through two fifos the agent inherits as stdin and stdout.
# agent_start NAME MANIFEST [RUN-OPTIONS...]
agent_start() {
	local name=$1 manifest=$2 in out word uid
	shift 2
	mkfifo "$T/ag-$name.in" "$T/ag-$name.out"
	exec {in}<>"$T/ag-$name.in" {out}<>"$T/ag-$name.out"
	AG_IN[$name]=$in
	AG_OUT[$name]=$out
	# Not through nctl: $! must be netctl itself, which becomes the app.
	ip netns exec "$DEV" "$NETCTL" -s "$SOCK" run --manifest "$manifest" \
	    "$@" -- "$PY" -c "$PROBE_SRC" agent \
	    <&"$in" 1>&"$out" 2>>"$T/ag-$name.err" &
	AG_PID[$name]=$!
	track $!
	if read -r -t 10 -u "$out" word uid && [ "$word" = READY ]; then
		AG_UID[$name]=$uid
		return 0
	fi
	unset "AG_IN[$name]"	# later commands fail at once, no 10 s waits
	diag <"$T/ag-$name.err"
	return 1
}

# agent NAME COMMAND...: sets RES and RES_T from the agent's answer.
agent() {
	local name=$1
	shift
	RES=NOREPLY RES_T=0
	[ -n "${AG_IN[$name]:-}" ] || { RES=NOAGENT; return 1; }
	echo "$*" >&"${AG_IN[$name]}"
	read -r -t 10 -u "${AG_OUT[$name]}" RES RES_T || RES=NOREPLY
}

# agent_expect NAME TARGET MODE: as expect, for a probe by a running agent.
agent_expect() {
	local name=$1 target=$2 mode=$3
	agent "$name" probe "$target"
	echo "$target $RES $RES_T" >"$T/ag-$name.last"
	: >"$T/ag-$name.last.err"
	expect "$T/ag-$name.last" "$target" "$mode" "$name (running)"
}

agent_quit() {
	[ -n "${AG_IN[$1]:-}" ] && echo quit >&"${AG_IN[$1]}"
}

# exited PID: PID has exited (gone, or a zombie not yet reaped).
exited() {
	[ ! -e "/proc/$1" ] || [ "$(awk '{ print $3 }' "/proc/$1/stat" \
	    2>/dev/null)" = Z ]
}

# JSON from netctl, read with jq. These fail when netd does not answer:
# "not listed" must not mean "netd is gone".
apps_names() {
	local j
	j=$(nctl apps --json) && jq -r '.apps[].name' <<<"$j"
}
app_listed() { local n; n=$(apps_names) && grep -qx -- "$1" <<<"$n"; }
app_not_listed() { local n; n=$(apps_names) && ! grep -qx -- "$1" <<<"$n"; }
no_apps() { local n; n=$(apps_names) && [ -z "$n" ]; }
grant_count() { nctl show --json "$1" | jq '.grants | length'; }
no_grants() { [ "$(grant_count "$1")" = 0 ]; }

# raw_ctl [--as UID] MODE [ARG]: rawctl.py against the control socket;
# prints its one-line verdict.
raw_ctl() {
	local pre=()
	if [ "$1" = --as ]; then
		pre=(setpriv --reuid="$2" --regid="$2" --clear-groups)
		shift 2
	fi
	ip netns exec "$DEV" "${pre[@]}" "$PY" -c "$RAWCTL_SRC" "$SOCK" "$@"
}

# Kill what we started, remove both namespaces and the temp dir. Safe to
# call twice; the EXIT trap calls it too.
cleanup() {
	local p ns
	[ -n "${FW_CLEANED:-}" ] && return 0
	FW_CLEANED=1
	{
		for p in "${PIDS[@]}"; do
			kill -KILL "$p"
		done
		for ns in "$DEV" "$INET"; do
			# Whatever else still runs inside our own namespaces.
			for p in $(ip netns pids "$ns"); do
				kill -KILL "$p"
			done
		done
		for p in "${PIDS[@]}"; do
			wait "$p"
		done
	} 2>/dev/null
	for ns in "$DEV" "$INET"; do
		ip netns del "$ns" 2>/dev/null
	done
	[ -n "${T:-}" ] && rm -rf "$T"
	return 0
}
