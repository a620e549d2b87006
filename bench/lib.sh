# shellcheck shell=sh
# bench/lib.sh: what the bench scripts share (sourced, not run): the
# namespaces, background processes and temp dir they make, and their
# removal on any exit. The caller adds to NS_LIST (ns_add), PIDS and sets
# TMP; KEEP_TMP non-empty keeps TMP.

NS_LIST=""
PIDS=""
TMP=""
KEEP_TMP=""

# Stop the background processes this script started, by pid.
stop_all() {
	for p in $PIDS; do
		kill "$p" 2>/dev/null || true
	done
	for p in $PIDS; do
		wait "$p" 2>/dev/null || true
	done
	PIDS=""
}

cleanup() {
	set +e
	stop_all
	for n in $NS_LIST; do
		ip netns del "$n" 2>/dev/null
	done
	[ -n "$TMP" ] && [ -z "$KEEP_TMP" ] && rm -rf -- "$TMP"
}
trap cleanup EXIT
trap 'exit 130' INT TERM HUP

# ns_add NAME: a network namespace with lo up, removed at exit.
ns_add() {
	ip netns add "$1"
	NS_LIST="$NS_LIST $1"
	ip -n "$1" link set lo up
}
