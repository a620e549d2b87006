#!/bin/sh
# bench_dns.sh: netd's DNS proxy beside dnsmasq --nftset and beside the
# upstream server asked directly, all measured in the same run with the same
# zone and the same queries. As root:
#
#   bench/bench_dns.sh [BUILDDIR]        (default build)
#
# Two throw-away network namespaces joined by a veth:
#   upstream  nsd (authoritative) on 10.53.0.1:53, zone bench.test of
#             100,000 names made by bench/dns/gen.sh
#   device    the server under test on 127.0.0.53:53 (netd, or dnsmasq;
#             one at a time) and dnsperf. For netd, dnsperf is an app
#             started by `netctl run` with a manifest allowing *.bench.test,
#             so every query is filtered and every answer granted to its uid.
#
# 1. Uncached: queries/s of direct (dnsperf -> nsd), dnsmasq --cache-size=0
#    --nftset (answers added to two sets in a table of its own) and netd
#    (cache_size = 0); then the latency of each at a fixed 10,000 queries/s
#    (dnsperf -Q; each query's latency from dnsperf -v, percentiles here)
#    and the server's CPU time per answer; and the same for a plain
#    forwarder (dnsmasq without --nftset: what the extra hop alone costs)
#    and for netd over the 5,000 names of 2.
#    The latencies of direct, the forwarder and netd are taken in ROUNDS
#    rounds of three runs back to back (direct, then the forwarder, then
#    netd, each server started for its run and stopped after it, so that no
#    firewall table or conntrack of netd's is in place for the other two),
#    so that each difference compares runs of the same moment: the figures
#    are the medians over the rounds, and "netd-direct" is the median of the
#    rounds' differences, each netd p99 minus the direct p99 of its round.
#    On this 2-core machine a single run's p99 moves by a factor of 2 to 5
#    with whatever else runs (min-max over the rounds are printed too).
# 2. Cached: dnsmasq and netd with a cache of CACHE entries, warmed with the
#    HOT names, then queries/s over those names.
# 3. Memory: VmRSS and RssAnon of each, the cache of 2. still in place,
#    after LOAD (netd) and DM_LOAD (dnsmasq) queries over all the names.
#
# Environment: BENCH_DNS_SECONDS (each timed run, default 10),
# BENCH_DNS_LOAD (netd's queries before the memory reading, default
# 1000000), BENCH_DNS_DM_LOAD (dnsmasq's, default 125000, one pass over
# every name: dnsmasq --nftset answers about 4,000 queries/s once its sets
# are large, so 1,000,000 would take four minutes more; its RSS is flat
# after the first pass). Each load is rounded up to whole passes over the
# query file. BENCH_DNS_ROUNDS (latency rounds of 1., default 3).
# BENCH_DNS_CACHE (the cache of 2. and 3., default 10000: netd's memory
# in 3. follows it, see docs/benchmarks.md).
# BENCH_DNS_PIN=1 pins the server under test (dnsmasq or netd) to CPU 1
# and dnsperf and nsd to CPU 0, the same for every server and for direct
# (default: not pinned; measured here, pinning made every proxy's p99
# worse, the forwarder's and netd's alike, about 2x: each query then
# crosses CPUs four times, and waking the other virtual CPU is what costs
# on this machine). BENCH_DNS_KEEP=1 keeps the temporary directory
# (dnsperf outputs, netd's log and status), for debugging.
#
# Every namespace, process and file it creates is removed on exit, also on
# failure or interruption. Needs ip, nft, nsd, dnsmasq, dnsperf and
# /usr/bin/python3 (and taskset with BENCH_DNS_PIN=1). About 4.5 minutes
# with the defaults.

# Figures are split into words on purpose; sh -c's script is literal.
# shellcheck disable=SC2016,SC2046,SC2086

set -eu

B=${1:-build}
HERE=$(cd "$(dirname "$0")" && pwd)
P=nbd$$				# namespace prefix
UP=$P-upstream
DEV=$P-device
UP4=10.53.0.1			# nsd, in $UP
DEV4=10.53.0.2
LISTEN=127.0.0.53		# dnsmasq or netd, in $DEV
NAMES=100000			# zone size
HOT=5000			# names of the cached runs (6,250 queries)
CACHE=${BENCH_DNS_CACHE:-10000}	# cache entries, netd and dnsmasq
case $CACHE in
''|*[!0-9]*|0) echo "bench_dns.sh: BENCH_DNS_CACHE: a number > 0" >&2
	exit 2 ;;
esac
SECS=${BENCH_DNS_SECONDS:-10}
LOAD=${BENCH_DNS_LOAD:-1000000}
DM_LOAD=${BENCH_DNS_DM_LOAD:-125000}
QPS=10000			# the latency runs' fixed rate
ROUNDS=${BENCH_DNS_ROUNDS:-3}
case $ROUNDS in
''|*[!0-9]*|0) echo "bench_dns.sh: BENCH_DNS_ROUNDS: a number > 0" >&2
	exit 2 ;;
esac
PIN_LOAD="" PIN_SUT=""		# taskset, with BENCH_DNS_PIN=1
if [ "${BENCH_DNS_PIN-}" = 1 ]; then
	PIN_LOAD="taskset -c 0" PIN_SUT="taskset -c 1"
fi
CLIENTS=4			# dnsperf -c: source ports
OUTST=100			# dnsperf -q: queries in flight
PY=/usr/bin/python3		# not "python3": a pyenv shim other uids can't run
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"
KEEP_TMP=${BENCH_DNS_KEEP-}

# Wait for a process this script started (and forget it).
stop_wait() {
	wait "$1" 2>/dev/null || true
	rest=""
	for p in $PIDS; do
		[ "$p" = "$1" ] || rest="$rest $p"
	done
	PIDS=$rest
}

# Stop a process this script started, by pid.
stop() {
	kill "$1" 2>/dev/null || true
	stop_wait "$1"
}

die() {
	echo "bench_dns.sh: $*" >&2
	exit 1
}

say() {
	echo "bench_dns.sh: $(($(date +%s) - T0)) s: $*" >&2
}

# Run a command in the background and wait for it, so that a signal
# interrupts the wait at once; returns the command's status.
run() {
	"$@" &
	RUN_PID=$!
	PIDS="$PIDS $RUN_PID"
	st=0
	wait $RUN_PID || st=$?
	stop_wait $RUN_PID
	return $st
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

[ "$(id -u)" = 0 ] || die "must run as root"
for t in ip nft nsd nsd-checkconf dnsmasq dnsperf; do
	command -v $t >/dev/null || die "$t not found"
done
[ -x $PY ] || die "$PY not found"
for f in "$B/netd" "$B/netctl"; do
	[ -x "$f" ] || die "$f not built"
done
NETD=$(cd "$(dirname "$B/netd")" && pwd)/netd
NETCTL=$(cd "$(dirname "$B/netctl")" && pwd)/netctl
T0=$(date +%s)
LOADAVG=$(cut -d' ' -f1-3 /proc/loadavg)
TMP=$(mktemp -d /tmp/netd-bench-dns.XXXXXX)
chmod 755 "$TMP"		# the app uid reads the query files
DNSQ=$(cat "$HERE/dns/dnsq.py")

# ---- zone, queries, namespaces, nsd ----

"$HERE/dns/gen.sh" "$TMP" $NAMES $HOT
NQ=$(wc -l < "$TMP/all.txt")
NHOT=$(wc -l < "$TMP/hot.txt")
chmod 644 "$TMP"/*.txt

ns_add "$UP"
ns_add "$DEV"
ip -n "$DEV" link add d0 type veth peer name u0 netns "$UP"
ip -n "$DEV" addr add $DEV4/24 dev d0
ip -n "$UP" addr add $UP4/24 dev u0
ip -n "$DEV" link set d0 up
ip -n "$UP" link set u0 up

sed -e "s|@DIR@|$TMP|g" -e "s|@ADDR@|$UP4|g" "$HERE/dns/nsd.conf.in" \
    > "$TMP/nsd.conf"
nsd-checkconf "$TMP/nsd.conf" || die "nsd-checkconf $TMP/nsd.conf"
ip netns exec "$UP" $PIN_LOAD nsd -d -c "$TMP/nsd.conf" > "$TMP/nsd.out" \
    2>&1 &
NSD=$!
PIDS="$PIDS $NSD"

# dnsq NS SERVER QUESTION...: one-shot queries as root (bench/dns/dnsq.py).
dnsq() {
	ns=$1
	shift
	ip netns exec "$ns" $PY -c "$DNSQ" "$@"
}
# The names every server must answer alike; and the apex, which the
# manifest does not allow (the upstream answers NOERROR without data).
CHECK="h00000.bench.test/A h00000.bench.test/AAAA h99999.bench.test/A"
DENIED=bench.test/A

answers() {
	kill -0 "$1" 2>/dev/null || return 0	# dead: stop waiting
	dnsq "$DEV" "$2" h00001.bench.test/A 2>/dev/null | grep -q NOERROR
}
await "answers $NSD $UP4" "nsd start"
kill -0 $NSD 2>/dev/null || { cat "$TMP/nsd.out" >&2; die "nsd exited"; }
dnsq "$DEV" $UP4 $CHECK > "$TMP/direct.check"
grep -q '^h00000.bench.test A NOERROR 198.18.0.1/300$' "$TMP/direct.check" ||
    { cat "$TMP/direct.check" >&2; die "nsd answers wrong"; }
# TTLs aside, the answers of the proxies must be these.
strip_ttl() { sed 's|/[0-9]*||g'; }
strip_ttl < "$TMP/direct.check" > "$TMP/want"

# ---- dnsperf ----

# perf OUT WHO ARGS...: dnsperf in $DEV with ARGS, its output to OUT.
# WHO is root, or app: then dnsperf runs as the app (netctl run, manifest
# $TMP/app.json), in a shell that stays, keeping the app registered and
# its grants in place, until $TMP/release exists: in between, perf calls
# at_hold OUT (netd's figures while the app is still there).
perf() {
	out=$1 who=$2
	shift 2
	set -- $PIN_LOAD dnsperf -c $CLIENTS -q $OUTST "$@"
	if [ "$who" = root ]; then
		run ip netns exec "$DEV" "$@" > "$out" 2>&1 ||
		    { tail -20 "$out" >&2; die "failed: $*"; }
	else
		rm -f "$TMP/release"
		# The end of dnsperf is told on stderr, a short file to poll
		# (stdout may hold a line per query). A TERM (cleanup) to
		# the shell stops dnsperf too.
		ip netns exec "$DEV" "$NETCTL" -s "$SOCK" run \
		    --manifest "$TMP/app.json" -- /bin/sh -c '
			trap "kill \$c 2>/dev/null; exit 143" TERM
			"$@" &
			c=$!
			wait $c && st=0 || st=$?
			echo "dnsperf exit $st" >&2
			while [ ! -e "$0" ]; do sleep 0.05; done' \
		    "$TMP/release" "$@" > "$out" 2> "$out.err" &
		APP=$!
		PIDS="$PIDS $APP"
		until grep -q '^dnsperf exit' "$out.err" ||
		    ! kill -0 $APP 2>/dev/null; do
			sleep 0.1
		done
		! kill -0 $APP 2>/dev/null || at_hold "$out"
		touch "$TMP/release"
		stop_wait $APP
		grep -q '^dnsperf exit 0$' "$out.err" ||
		    { tail -20 "$out" "$out.err" "$D/netd.log" >&2;
		    die "failed as the app: $*"; }
	fi
	grep -q '^ *Queries per second:' "$out" ||
	    { tail -20 "$out" >&2; die "no result: $*"; }
}

# Figures of a dnsperf output.
qps() { awk '/^ *Queries per second:/ { printf "%.0f\n", $4 }' "$1"; }
sent() { awk '/^ *Queries sent:/ { print $3 }' "$1"; }
lost() { awk '/^ *Queries lost:/ { print $3 }' "$1"; }
# Only NOERROR answers (else the figures mean nothing).
all_noerror() {
	r=$(sed -n 's/^ *Response codes: *//p' "$1")
	case $r in
	"NOERROR "*"(100.00%)") ;;
	*) die "$2: response codes: $r" ;;
	esac
}

# Percentiles of the per-query latencies of a dnsperf -v output, in us:
# "p50 p99 p99.9 max answers".
pctl() {
	awk '$1 == ">" && $NF ~ /^[0-9.]+$/ { print $NF * 1e6 }' "$1" |
	    sort -n | awk '{ v[NR] = $1 }
	    function at(p,  i) { i = int(NR * p + 0.999999); if (i < 1) i = 1;
		return v[i] }
	    END { if (NR == 0) { print "0 0 0 0 0"; exit }
		printf "%.0f %.0f %.0f %.0f %d\n", at(0.50), at(0.99),
		    at(0.999), v[NR], NR }'
}

# VmRSS RssAnon of pid $1, KiB.
rss() {
	kill -0 "$1" 2>/dev/null || die "pid $1 is gone"
	awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 }
	    END { printf "%d %d\n", r, a }' "/proc/$1/status"
}

# VmRSS RssAnon of pid $1 every second, appended to $2, until killed.
sample_rss() {
	while awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 }
	    END { if (r == "") exit 1; printf "%d %d\n", r, a }' \
	    "/proc/$1/status" >> "$2" 2>/dev/null; do
		sleep 1
	done
}

# Elements of the nftables set $1 ("FAMILY TABLE SET") in $DEV.
set_count() {
	ip netns exec "$DEV" nft -j list set $1 | $PY -c 'import json, sys
print(sum(len(o.get("set", {}).get("elem", []))
          for o in json.load(sys.stdin)["nftables"]))'
}

# netd's figures while the app of a run is still registered: its status
# (always), the grants in the kernel and its RSS (when HOLD_COUNT=1).
HOLD_COUNT=0
at_hold() {
	ip netns exec "$DEV" "$NETCTL" -s "$SOCK" status --json > "$1.status"
	[ $HOLD_COUNT = 1 ] || return 0
	rss $NETDPID > "$1.rss"
	echo $(set_count "inet netd allow4") $(set_count "inet netd allow6") \
	    > "$1.sets"
}

# Fields of a netd status --json, by path: jget FILE dns.cache.entries...
jget() {
	f=$1
	shift
	$PY -c 'import json, sys
d = json.load(open(sys.argv[1]))
out = []
for path in sys.argv[2:]:
    v = d
    for k in path.split("."):
        v = v.get(k, "-") if isinstance(v, dict) else "-"
    out.append(str(v))
print(" ".join(out))' "$f" "$@"
}

# throughput NAME SERVER WHO: the throughput run.
throughput() {
	say "$1: $SECS s at full speed"
	HOLD_COUNT=1
	perf "$TMP/$1.u" "$3" -s "$2" -d "$TMP/all.txt" -l $SECS -S 1
	HOLD_COUNT=0
	all_noerror "$TMP/$1.u" "$1 uncached"
}

# uncached NAME SERVER WHO [PID]: the throughput run and the latency run
# (PID: the server's, for its CPU time).
uncached() {
	throughput "$1" "$2" "$3"
	say "$1: $SECS s at $QPS queries/s"
	latency "$1" "$2" "$3" all "${4-}"
}

# CPU time of pid $1 so far (user + system), in clock ticks.
cpu_ticks() {
	sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 }'
}

# latency NAME SERVER WHO QUERIES [PID]: the latency run, over QUERIES (all
# or hot); percentiles to $TMP/NAME.pctl; the CPU time PID (the server)
# spent per answer, us, to $TMP/NAME.cpu.
latency() {
	[ -z "${5-}" ] || c0=$(cpu_ticks "$5")
	perf "$TMP/$1.lat" "$3" -s "$2" -d "$TMP/$4.txt" -l $SECS -Q $QPS -v
	all_noerror "$TMP/$1.lat" "$1 at $QPS queries/s"
	pctl "$TMP/$1.lat" > "$TMP/$1.pctl"
	if [ -n "${5-}" ]; then
		c1=$(cpu_ticks "$5")
		awk -v t=$((c1 - c0)) -v hz="$(getconf CLK_TCK)" \
		    -v n="$(sed -n '$s/.* //p' "$TMP/$1.pctl")" \
		    'BEGIN { printf "%.0f\n", t / hz * 1e6 / n }' > "$TMP/$1.cpu"
	else
		echo - > "$TMP/$1.cpu"
	fi
}

# Slowest and fastest second of a dnsperf -S 1 output, thousands of
# queries/s. (dnsperf 2.10 sometimes reports a first second of 0.0001.)
per_second() {
	awk '$1 ~ /^[0-9.]+:$/ && NF == 2 && $2 >= 1 { n++; v = $2 / 1000;
	    if (n == 1 || v < lo) lo = v; if (v > hi) hi = v }
	    END { if (n) printf "%.1f-%.1fk\n", lo, hi; else print "-" }' "$1"
}

# cached NAME WHO PID LOAD: warm with the HOT names, time them, then LOAD
# queries over all the names; the RSS of PID before, after the cached run,
# during the load and after it.
cached() {
	rss "$3" > "$TMP/$1.rss0"
	say "$1: warm ($NHOT queries), $SECS s over them, then $4 queries" \
	    "over all $NAMES names"
	perf "$TMP/$1.warm" "$2" -s $LISTEN -d "$TMP/hot.txt" -n 1
	all_noerror "$TMP/$1.warm" "$1 warming"
	perf "$TMP/$1.c" "$2" -s $LISTEN -d "$TMP/hot.txt" -l $SECS -S 1
	all_noerror "$TMP/$1.c" "$1 cached"
	rss "$3" > "$TMP/$1.rss1"
	sample_rss "$3" "$TMP/$1.samples" &
	SAMPLER=$!
	PIDS="$PIDS $SAMPLER"
	HOLD_COUNT=1
	perf "$TMP/$1.load" "$2" -s $LISTEN -d "$TMP/all.txt" \
	    -n $((($4 + NQ - 1) / NQ))
	HOLD_COUNT=0
	stop $SAMPLER
	all_noerror "$TMP/$1.load" "$1 load"
	sleep 0.5
	rss "$3" > "$TMP/$1.rss2"
}

# ---- direct ----

throughput direct $UP4 root

# ---- dnsmasq, the reference ----

DM_SETS="4#inet#dnsbench#a4,6#inet#dnsbench#a6"
# start_dnsmasq CACHE-SIZE [plain]: empty sets, dnsmasq on $LISTEN adding
# to them (plain: a forwarder that adds to no set).
start_dnsmasq() {
	nftset=--nftset=/bench.test/$DM_SETS
	[ "${2-}" != plain ] || nftset=""
	[ -z "$nftset" ] || ip netns exec "$DEV" nft -f - <<-EOF
	table inet dnsbench
	delete table inet dnsbench
	table inet dnsbench {
		set a4 { type ipv4_addr; flags timeout; timeout 305s; }
		set a6 { type ipv6_addr; flags timeout; timeout 305s; }
	}
	EOF
	ip netns exec "$DEV" $PIN_SUT dnsmasq --keep-in-foreground \
	    --conf-file=/dev/null --pid-file= --no-resolv --no-hosts \
	    --listen-address=$LISTEN --bind-interfaces --port=53 \
	    --server=$UP4 --cache-size="$1" --dns-forward-max=1000 \
	    ${nftset:+"$nftset"} 2> "$TMP/dnsmasq.log" &
	DNSMASQ=$!
	PIDS="$PIDS $DNSMASQ"
	await "answers $DNSMASQ $LISTEN" "dnsmasq start"
	kill -0 $DNSMASQ 2>/dev/null ||
	    { cat "$TMP/dnsmasq.log" >&2; die "dnsmasq exited"; }
	dnsq "$DEV" $LISTEN $CHECK | strip_ttl | cmp -s - "$TMP/want" ||
	    die "dnsmasq answers wrong"
}
dm_sets() {
	echo $(set_count "inet dnsbench a4") $(set_count "inet dnsbench a6")
}

start_dnsmasq 0
uncached dnsmasq $LISTEN root $DNSMASQ
dm_sets > "$TMP/dnsmasq.u.sets"
stop $DNSMASQ

start_dnsmasq $CACHE
cached dnsmasq root $DNSMASQ $DM_LOAD
dm_sets > "$TMP/dnsmasq.load.sets"
stop $DNSMASQ
ip netns exec "$DEV" nft delete table inet dnsbench

# ---- netd ----

D=$TMP/netd
SOCK=$D/ctl.sock
mkdir -p "$D/state"
cat > "$TMP/app.json" <<EOF
{
  "SchemaVersion": 1,
  "Name": "dnsbench",
  "ComponentId": "d0b5be9c-5e1f-4c0a-9d3b-0b5e9c5e1f4c",
  "EntryPoint": "/usr/bin/dnsperf",
  "Capabilities": { "AllowedConnections": [ "*.bench.test" ] },
  "ApplicationType": "Default"
}
EOF
chmod 644 "$TMP/app.json"

# One-shot queries as the app.
dnsq_app() {
	ip netns exec "$DEV" "$NETCTL" -s "$SOCK" run \
	    --manifest "$TMP/app.json" -- $PY -c "$DNSQ" "$@"
}
netd_up() {
	kill -0 $NETDPID 2>/dev/null || return 0
	[ -S "$SOCK" ] && ip netns exec "$DEV" "$NETCTL" -s "$SOCK" status \
	    >/dev/null 2>&1
}
app_answers() {
	kill -0 $NETDPID 2>/dev/null || return 0
	dnsq_app $LISTEN h00001.bench.test/A 2>/dev/null | grep -q NOERROR
}

# start_netd CACHE-SIZE: netd on $LISTEN, answering the app right.
start_netd() {
	cat > "$D/netd.conf" <<-EOF
	control_socket = $SOCK
	tls_socket = $D/tls.sock
	state_dir = $D/state
	dns_listen = $LISTEN:53
	upstream = $UP4
	cache_size = $1
	rebind_protection = no
	EOF
	ip netns exec "$DEV" $PIN_SUT "$NETD" -f -c "$D/netd.conf" \
	    2>> "$D/netd.log" &
	NETDPID=$!
	PIDS="$PIDS $NETDPID"
	await netd_up "netd start"
	kill -0 $NETDPID 2>/dev/null ||
	    { cat "$D/netd.log" >&2; die "netd exited"; }
	await app_answers "netd answering the app on $LISTEN"
	kill -0 $NETDPID 2>/dev/null ||
	    { tail -20 "$D/netd.log" >&2; die "netd exited"; }
	dnsq_app $LISTEN $CHECK $DENIED > "$TMP/netd.check" ||
	    die "netctl run of the check failed"
	head -3 "$TMP/netd.check" | strip_ttl | cmp -s - "$TMP/want" ||
	    { cat "$TMP/netd.check" >&2; die "netd answers wrong"; }
	case $(tail -1 "$TMP/netd.check") in
	"${DENIED%/*} ${DENIED#*/} NXDOMAIN" | \
	"${DENIED%/*} ${DENIED#*/} REFUSED") ;;
	*) cat "$TMP/netd.check" >&2
	    die "netd does not deny ${DENIED%/*}, outside the manifest" ;;
	esac
}
netd_alive() {
	kill -0 $NETDPID 2>/dev/null ||
	    { tail -20 "$D/netd.log" >&2; die "netd exited"; }
}

start_netd 0
APPUID=$(ip netns exec "$DEV" "$NETCTL" -s "$SOCK" run \
    --manifest "$TMP/app.json" -- /usr/bin/id -u)
throughput netd $LISTEN app
say "netd: $SECS s at $QPS queries/s over the first $HOT names"
latency netdhot $LISTEN app hot $NETDPID
netd_alive
stop $NETDPID

# ---- latency rounds: direct, forwarder, netd ----

# The forwarder is the floor of the latency target: a proxy that does
# nothing else. Each server runs only for its own run.
rd=1
while [ $rd -le $ROUNDS ]; do
	say "round $rd of $ROUNDS: direct, forwarder (dnsmasq without" \
	    "--nftset), netd: $SECS s each at $QPS queries/s"
	latency direct.$rd $UP4 root all
	start_dnsmasq 0 plain
	latency fwd.$rd $LISTEN root all $DNSMASQ
	stop $DNSMASQ
	start_netd 0
	latency netd.$rd $LISTEN app all $NETDPID
	netd_alive
	stop $NETDPID
	rd=$((rd + 1))
done

# median NAME FIELD: the median over the rounds of field FIELD (1 p50,
# 2 p99, 3 p99.9, 4 max, 5 answers) of NAME.r.pctl; FIELD cpu: of NAME.r.cpu.
median() {
	rd=1
	while [ $rd -le $ROUNDS ]; do
		if [ "$2" = cpu ]; then
			cat "$TMP/$1.$rd.cpu"
		else
			cut -d' ' -f"$2" "$TMP/$1.$rd.pctl"
		fi
		rd=$((rd + 1))
	done | sort -n | awk '{ v[NR] = $1 }
	    END { if (NR % 2) print v[(NR + 1) / 2]
		else printf "%.0f\n", (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# diffs NAME FIELD: each round's NAME FIELD minus direct's, then the
# median and the range: "median min max r1 r2 ...".
diffs() {
	rd=1 all=""
	while [ $rd -le $ROUNDS ]; do
		a=$(cut -d' ' -f"$2" "$TMP/$1.$rd.pctl")
		b=$(cut -d' ' -f"$2" "$TMP/direct.$rd.pctl")
		all="$all $((a - b))"
		rd=$((rd + 1))
	done
	echo $all | tr ' ' '\n' | sort -n | awk -v all="$all" '
	    { v[NR] = $1 }
	    END { if (NR % 2) m = v[(NR + 1) / 2]
		else m = (v[NR / 2] + v[NR / 2 + 1]) / 2
		printf "%.0f %d %d%s\n", m, v[1], v[NR], all }'
}
for srv in direct fwd netd; do
	echo $(median $srv 1) $(median $srv 2) $(median $srv 3) \
	    $(median $srv 4) $(median $srv 5) > "$TMP/$srv.pctl"
	median $srv cpu > "$TMP/$srv.cpu"
done

start_netd $CACHE
cached netd app $NETDPID $LOAD
netd_alive
stop $NETDPID
T1=$(date +%s)

# ---- report ----

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
row() { printf '  %-30s %12s %12s %12s %12s\n' "$@"; }
set -- $(cat "$TMP/direct.pctl")
d50=$1 d99=$2 d999=$3 dmax=$4 dn=$5
set -- $(cat "$TMP/dnsmasq.pctl")
m50=$1 m99=$2 m999=$3 mmax=$4 mn=$5
set -- $(cat "$TMP/netd.pctl")
n50=$1 n99=$2 n999=$3 nmax=$4 nn=$5
set -- $(cat "$TMP/fwd.pctl")
f50=$1 f99=$2 f999=$3 fmax=$4 fn=$5
set -- $(cat "$TMP/netdhot.pctl")
h50=$1 h99=$2 h999=$3 hmax=$4 hn=$5
dq=$(qps "$TMP/direct.u") mq=$(qps "$TMP/dnsmasq.u") nq=$(qps "$TMP/netd.u")
set -- $(cat "$TMP/dnsmasq.u.sets") $(cat "$TMP/netd.u.sets")
ms4=$1 ms6=$2 ns4=$3 ns6=$4

echo
echo "DNS: dnsperf $(dnsperf -h 2>&1 | sed -n 's/^Version //p')" \
    "in namespace device: 1 thread, -c $CLIENTS clients, -q $OUTST" \
    "in flight, UDP;"
echo "2 cores shared by dnsperf, the server under test and the upstream" \
    "(load average before: $LOADAVG)."
echo "Upstream: $(nsd -v 2>&1 | sed -n '1s/^NSD version /nsd /p')" \
    "in namespace upstream, over a veth. Zone bench.test: $NAMES names,"
echo "an A each (198.18.0.0/15), an AAAA every 4th (2001:db8::/32), all" \
    "distinct, TTL 300;"
echo "queries: $NQ (each A, each AAAA), shuffled; the cached runs: $NHOT" \
    "over the first $HOT names."
echo "netd: $B/netd; dnsperf run by netctl run as app uid $APPUID" \
    "(manifest: *.bench.test):"
echo "every query filtered, every address granted to that uid before the" \
    "answer leaves."
echo "dnsmasq $(dnsmasq -v | sed -n '1s/^Dnsmasq version \([^ ]*\).*/\1/p')" \
    "(the reference): --nftset=/bench.test/$DM_SETS,"
echo "sets of ipv4_addr / ipv6_addr with timeout 305s in a table of its" \
    "own; --dns-forward-max=1000."
echo
echo "uncached: netd cache_size = 0, dnsmasq --cache-size=0; $SECS s at" \
    "full speed"
row "" direct dnsmasq netd netd/dnsmasq
row "queries/s" $dq $mq $nq "$(ratio $nq $mq)"
row "vs direct" 1.00x "$(ratio $mq $dq)" "$(ratio $nq $dq)" ""
row "queries lost" $(lost "$TMP/direct.u") $(lost "$TMP/dnsmasq.u") \
    $(lost "$TMP/netd.u") ""
row "slowest-fastest second" $(per_second "$TMP/direct.u") \
    $(per_second "$TMP/dnsmasq.u") $(per_second "$TMP/netd.u") ""
row "addresses in the sets, v4 + v6" - "$ms4 + $ms6" "$ns4 + $ns6" ""
echo "  (netd: allow4 + allow6 for the app's uid, counted before it exited;" \
    "netd counted"
echo "  $(jget "$TMP/netd.u.status" dns.granted) addresses granted," \
    "$(jget "$TMP/netd.u.status" dns.evicted) evicted," \
    "$(jget "$TMP/netd.u.status" dns.grant_errors) grant errors," \
    "$(jget "$TMP/netd.u.status" dns.servfail) servfail," \
    "$(jget "$TMP/netd.u.status" dns.dropped) dropped)"
echo
echo "latency at $QPS queries/s (dnsperf -Q $QPS, $SECS s; each answer's" \
    "latency from -v), us;"
echo "direct, forwarder and netd: medians over $ROUNDS rounds of the three" \
    "runs back to back$( [ -z "$PIN_SUT" ] || echo ", pinned")"
row5() { printf '  %-14s %10s %10s %10s %10s %12s\n' "$@"; }
# lost_all NAME: queries lost over the rounds.
lost_all() {
	rd=1 t=0
	while [ $rd -le $ROUNDS ]; do
		t=$((t + $(lost "$TMP/$1.$rd.lat")))
		rd=$((rd + 1))
	done
	echo $t
}
set -- $(diffs netd 1)
x50=$1
set -- $(diffs netd 3)
x999=$1
set -- $(diffs netd 2)
x99=$1 x99lo=$2 x99hi=$3
shift 3
x99all=$*
set -- $(diffs fwd 2)
y99=$1 y99lo=$2 y99hi=$3
shift 3
y99all=$*
row5 "" direct forwarder dnsmasq netd netd-direct
row5 "answers/s" $((dn / SECS)) $((fn / SECS)) $((mn / SECS)) $((nn / SECS)) ""
row5 "p50" $d50 $f50 $m50 $n50 $x50
row5 "p99" $d99 $f99 $m99 $n99 $x99
row5 "p99.9" $d999 $f999 $m999 $n999 $x999
row5 "max" $dmax $fmax $mmax $nmax ""
row5 "CPU/answer" - $(cat "$TMP/fwd.cpu") $(cat "$TMP/dnsmasq.cpu") \
    $(cat "$TMP/netd.cpu") ""
row5 "queries lost" $(lost_all direct) $(lost_all fwd) \
    $(lost "$TMP/dnsmasq.lat") $(lost_all netd) ""
echo "  netd-direct: the median of the rounds' differences (netd minus" \
    "direct of the same round)."
echo "  p99 over direct, each round: netd $x99all (range $x99lo..$x99hi);"
echo "  forwarder $y99all (range $y99lo..$y99hi)."
echo "  CPU/answer: user + system time of the server process over the run," \
    "per answer."
echo "  forwarder: dnsmasq without --nftset, cache off, the cost of one more" \
    "UDP hop here:"
echo "  p99 $y99 us over direct (median of the rounds)."
if [ $((mn / SECS)) -lt $((QPS * 95 / 100)) ]; then
	echo "  dnsmasq (--nftset) cannot answer $QPS queries/s: its figures" \
	    "are a queue's."
fi
echo "  netd over the first $HOT names only ($NHOT queries, cache off):" \
    "$((hn / SECS)) answers/s, p50 $h50,"
echo "  p99 $h99 ($((h99 - d99)) over direct), p99.9 $h999, max $hmax," \
    "$(lost "$TMP/netdhot.lat") lost, CPU/answer $(cat "$TMP/netdhot.cpu")."
set -- $(jget "$TMP/netdhot.lat.status" dns.upstream_latency_us.p50_le \
    dns.upstream_latency_us.p99_le dns.grant_latency_us.p50_le \
    dns.grant_latency_us.p99_le)
echo "  netd's own histograms over these netd runs: upstream p50 <= $1," \
    "p99 <= $2; grant p50 <= $3,"
echo "  p99 <= $4 (us)."
r=$(awk -v a=$nq -v b=$mq 'BEGIN { printf "%.1f", a / b }')
if awk -v a=$nq -v b=$mq 'BEGIN { exit !(a >= 1.5 * b) }'; then
	v=met
else
	v=MISSED
fi
echo "  target: netd >= 1.5x dnsmasq queries/s, uncached: $v (${r}x)"
if [ $x99 -le 100 ]; then v=met; else v=MISSED; fi
echo "  target: netd p99 - direct p99 <= 100 us at $QPS queries/s: $v" \
    "($x99 us, median of $ROUNDS rounds;"
echo "  a forwarder alone: $y99 us)"

echo
echo "cached: a cache of $CACHE entries (netd cache_size, dnsmasq" \
    "--cache-size), warmed with the"
echo "$NHOT queries, then $SECS s over the same. dnsmasq adds to its sets" \
    "only what comes from"
echo "upstream; netd refreshes the app's grant on every answer, from the" \
    "cache too."
row "" "" dnsmasq netd netd/dnsmasq
mc=$(qps "$TMP/dnsmasq.c") nc=$(qps "$TMP/netd.c")
row "queries/s" "" $mc $nc "$(ratio $nc $mc)"
row "queries lost" "" $(lost "$TMP/dnsmasq.c") $(lost "$TMP/netd.c") ""
row "slowest-fastest second" "" $(per_second "$TMP/dnsmasq.c") \
    $(per_second "$TMP/netd.c") ""
row "warming (misses), queries/s" "" $(qps "$TMP/dnsmasq.warm") \
    $(qps "$TMP/netd.warm") ""
set -- $(jget "$TMP/netd.c.status" dns.queries dns.cache_hits)
echo "  (netd: $2 of $1 queries answered from the cache)"

echo
ml=$(sent "$TMP/dnsmasq.load") nl=$(sent "$TMP/netd.load")
echo "memory: the same processes as cached, then queries over all $NAMES" \
    "names (mostly cache"
echo "misses, the cache full and evicting), KiB"
set -- $(cat "$TMP/dnsmasq.rss0") $(cat "$TMP/dnsmasq.rss1") \
    $(cat "$TMP/dnsmasq.rss2")
m0=$1 m0a=$2 m1=$3 m1a=$4 m2=$5 m2a=$6
set -- $(cat "$TMP/netd.rss0") $(cat "$TMP/netd.rss1") \
    $(cat "$TMP/netd.rss2") $(cat "$TMP/netd.load.rss")
n0=$1 n0a=$2 n1=$3 n1a=$4 n2=$5 n2a=$6 nh=$7 nha=$8
peak() { awk -v c="$2" '$c > m { m = $c } END { print m + 0 }' "$1"; }
mp=$(peak "$TMP/dnsmasq.samples" 1) mpa=$(peak "$TMP/dnsmasq.samples" 2)
np=$(peak "$TMP/netd.samples" 1) npa=$(peak "$TMP/netd.samples" 2)
row "" "" dnsmasq netd netd/dnsmasq
row "load, queries" "" $ml $nl ""
row "load, queries/s" "" $(qps "$TMP/dnsmasq.load") \
    $(qps "$TMP/netd.load") ""
row "VmRSS, started" "" $m0 $n0 "$(ratio $n0 $m0)"
row "VmRSS, after the cached runs" "" $m1 $n1 "$(ratio $n1 $m1)"
row "VmRSS, peak in the load (1 s)" "" $mp $np "$(ratio $np $mp)"
row "VmRSS, after the load" "" $m2 $n2 "$(ratio $n2 $m2)"
row "RssAnon, started" "" $m0a $n0a "$(ratio $n0a $m0a)"
row "RssAnon, after the cached runs" "" $m1a $n1a "$(ratio $n1a $m1a)"
row "RssAnon, peak in the load (1 s)" "" $mpa $npa "$(ratio $npa $mpa)"
row "RssAnon, after the load" "" $m2a $n2a "$(ratio $n2a $m2a)"
set -- $(cat "$TMP/dnsmasq.load.sets") $(cat "$TMP/netd.load.sets")
row "addresses in the sets, v4 + v6" "" "$1 + $2" "$3 + $4" ""
set -- $(jget "$TMP/netd.load.status" dns.queries dns.cache_hits \
    dns.cache.entries dns.cache.bytes dns.cache.evictions dns.granted \
    dns.evicted dns.learned elements.grants dns.servfail dns.dropped \
    dns.grant_errors)
echo "  netd, at the end of the load (app still running): VmRSS $nh," \
    "RssAnon $nha;"
echo "  status: $1 queries, $2 cache hits, cache $3 entries ($4 bytes," \
    "$5 evictions),"
echo "  $6 addresses granted, $7 evicted, $8 learned, $9 grants in the" \
    "ledger, servfail ${10},"
echo "  dropped ${11}, grant errors ${12}"
echo "  netd RssAnon over the load, one sample a second:"
awk '{ printf "%s%s", NR % 12 == 1 ? "   " : "", " " $2 }
    NR % 12 == 0 { print "" } END { if (NR % 12) print "" }' \
    "$TMP/netd.samples"
echo
echo "bench_dns time $((T1 - T0)) s"
