#!/bin/sh
# bench_nft.sh: netd's nftables programmer and daemon, each figure beside a
# reference measured in the same run. As root:
#
#   bench/bench_nft.sh [BUILDDIR]        (default build)
#
# 1. BUILDDIR/bench_nft in throw-away network namespaces: registering an
#    app, grants, TCP connects per second through the netd table (see the
#    top of bench/bench_nft.c for what it expects of the namespaces).
# 2. The resident memory of BUILDDIR/netd with 16 apps registered through
#    BUILDDIR/netctl run, beside an idle dnsmasq started the same way.
#
# Every namespace, process and file it creates is removed on exit, also on
# failure or interruption. Needs ip, nft and dnsmasq.

set -eu

B=${1:-build}
P=nbn$$				# namespace prefix
NCLIENTS=5			# bench_nft.c: NCLIENTS
NAPPS=16			# memory: apps registered
# shellcheck source=bench/lib.sh
. "$(dirname "$0")/lib.sh"

die() {
	echo "bench_nft.sh: $*" >&2
	exit 1
}

[ "$(id -u)" = 0 ] || die "must run as root"
for t in ip nft dnsmasq; do
	command -v $t >/dev/null || die "$t not found"
done
for f in "$B/bench_nft" "$B/netd" "$B/netctl"; do
	[ -x "$f" ] || die "$f not built"
done
TMP=$(mktemp -d /tmp/netd-bench-nft-sh.XXXXXX)

# ---- 1. bench_nft ----

ns_add "$P-ctl"
ns_add "$P-srv"
k=0
while [ $k -lt $NCLIENTS ]; do
	ns_add "$P-c$k"
	ip -n "$P-c$k" link add v0 type veth peer name s$k netns "$P-srv"
	ip -n "$P-c$k" addr add 10.77.$k.1/24 dev v0
	ip -n "$P-srv" addr add 10.77.$k.2/24 dev s$k
	ip -n "$P-c$k" link set v0 up
	ip -n "$P-srv" link set s$k up
	ip netns exec "$P-c$k" sysctl -qw \
	    net.ipv4.ip_local_port_range="1024 65535" net.ipv4.tcp_tw_reuse=1
	k=$((k + 1))
done
# In the background, so that a signal interrupts the wait at once.
TMPDIR=$TMP "$B/bench_nft" "$P" &
BENCH=$!
PIDS="$PIDS $BENCH"
wait $BENCH
PIDS=""

# ---- 2. resident memory ----

# 20 entries: 12 names, 5 wildcards, 2 IPv4 addresses, 1 CIDR.
manifest() {
	i=$1
	printf '{\n  "SchemaVersion": 1,\n  "Name": "mem%02d",\n' "$i"
	printf '  "ComponentId": "%08x-3e3e-4e5f-8a9b-%012x",\n' "$i" "$i"
	printf '  "EntryPoint": "/bin/app",\n  "Capabilities": {\n'
	printf '    "AllowedConnections": [\n'
	j=0
	while [ $j -lt 12 ]; do
		printf '      "host%d.a%d.example.com",\n' $j "$i"
		j=$((j + 1))
	done
	j=0
	while [ $j -lt 5 ]; do
		printf '      "*.t%d.a%d.example.net",\n' $j "$i"
		j=$((j + 1))
	done
	printf '      "192.0.2.%d", "198.51.100.%d", "10.%d.0.0/16"\n' \
	    "$i" "$i" "$i"
	printf '    ],\n    "AllowedTcpServerPorts": [ 8080 ]\n  }\n}\n'
}

# VmRSS RssAnon RssFile Pss of pid $1, KiB.
rss() {
	awk '/^VmRSS:/ { r = $2 } /^RssAnon:/ { a = $2 }
	    /^RssFile:/ { f = $2 }
	    END { printf "%d %d %d ", r, a, f }' "/proc/$1/status"
	awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup"
}

# Where the resident KiB of pid $1 are: per mapped file (its mappings
# summed) or [heap], [stack], [anon]; Rss and, of it, Anonymous (pages
# written: data, relocated pointers). Largest first.
rss_map() {
	awk '/^[0-9a-f]+-[0-9a-f]+ / {
		n = $6 == "" ? "[anon]" : $6
		sub(/.*\//, "", n)
	}
	/^Rss:/ { r[n] += $2 }
	/^Anonymous:/ { a[n] += $2 }
	END { for (n in r) if (r[n] > 0) printf "%d %d %s\n", r[n], a[n], n }' \
	    "/proc/$1/smaps" | sort -rn
}

# True once netctl run (pid $1) became uid $2 and exec'd sleep.
app_ready() {
	kill -0 "$1" 2>/dev/null || die "netctl run for uid $2 exited"
	[ "$(awk '/^Uid:/ { print $2 }' "/proc/$1/status" 2>/dev/null)" = \
	    "$2" ] && [ "$(cat "/proc/$1/comm" 2>/dev/null)" = sleep ]
}

# True once dnsmasq listens on UDP port 5353 (hex 14E9), or has exited.
dnsmasq_ready() {
	kill -0 $DNSMASQ 2>/dev/null || return 0
	grep -qi ':14E9 ' "/proc/$DNSMASQ/net/udp" 2>/dev/null
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

ns_add "$P-d"
D=$TMP/netd
mkdir -p "$D/state"
printf 'control_socket = %s/ctl.sock\ntls_socket = %s/tls.sock\nstate_dir = %s/state\n' "$D" "$D" "$D" \
    > "$D/netd.conf"
# ip netns exec execs its command: $! is the daemon itself.
ip netns exec "$P-d" "$B/netd" -d -c "$D/netd.conf" 2>"$D/netd.log" &
NETD=$!
PIDS="$PIDS $NETD"
await '[ -S "$D/ctl.sock" ] || ! kill -0 $NETD 2>/dev/null' "netd start"
kill -0 $NETD 2>/dev/null || { cat "$D/netd.log" >&2; die "netd exited"; }
sleep 0.2
set -- $(rss $NETD)
netd0=$1 netd0a=$2 netd0f=$3 netd0p=$4

i=1
APPS=""
while [ $i -le $NAPPS ]; do
	manifest $i > "$D/app$i.json"
	uid=$((20000 + i))
	ip netns exec "$P-d" "$B/netctl" -s "$D/ctl.sock" run \
	    --manifest "$D/app$i.json" --uid $uid -- /bin/sleep 60 &
	PIDS="$PIDS $!"
	APPS="$APPS $!:$uid"
	i=$((i + 1))
done
# netctl run becomes the app and execs sleep once netd has answered.
for a in $APPS; do
	pid=${a%:*} uid=${a#*:}
	await "app_ready $pid $uid" "app uid $uid registration"
done
sleep 0.5
set -- $(rss $NETD)
netd16=$1 netd16a=$2 netd16f=$3 netd16p=$4
rss_map $NETD > "$TMP/netd16.map"
napps=$(ip netns exec "$P-d" "$B/netctl" -s "$D/ctl.sock" status |
    awk '$1 == "apps" { print $2 }')
[ "$napps" = $NAPPS ] || die "netd reports $napps apps, not $NAPPS"
kelems=$(ip netns exec "$P-d" nft list map inet netd apps |
    grep -o ': jump app' | wc -l)
[ $kelems = $NAPPS ] || die "$kelems apps elements in the kernel"

# The reference: an idle dnsmasq, started the same way (no config file).
ip netns exec "$P-d" dnsmasq --keep-in-foreground --port 5353 \
    --no-resolv --conf-file=/dev/null --pid-file= 2>"$D/dnsmasq.log" &
DNSMASQ=$!
PIDS="$PIDS $DNSMASQ"
await dnsmasq_ready "dnsmasq start"
kill -0 $DNSMASQ 2>/dev/null || { cat "$D/dnsmasq.log" >&2;
    die "dnsmasq exited"; }
sleep 0.5
set -- $(rss $DNSMASQ)
dm=$1 dma=$2 dmf=$3 dmp=$4

echo
echo "memory: VmRSS of $B/netd (-d, own namespace), $NAPPS apps registered by"
echo "netctl run (20 AllowedConnections each); reference: idle dnsmasq"
echo "--keep-in-foreground --port 5353 --no-resolv --conf-file=/dev/null"
printf '  %-34s %10s %10s %10s %10s\n' "KiB" "VmRSS" "RssAnon" "RssFile" \
    "Pss"
printf '  %-34s %10d %10d %10d %10d\n' "netd, started, 0 apps" \
    $netd0 $netd0a $netd0f $netd0p
printf '  %-34s %10d %10d %10d %10d\n' "netd, $NAPPS apps" \
    $netd16 $netd16a $netd16f $netd16p
printf '  %-34s %10d %10d %10d %10d\n' "dnsmasq, idle (reference)" \
    $dm $dma $dmf $dmp
awk -v n=$netd16 -v d=$dm \
    'BEGIN { printf "  netd/dnsmasq VmRSS %.2fx\n", n / d }'
echo "  netd, $NAPPS apps, by mapping (KiB; Anon: of it, pages written):"
printf '    %-34s %8s %8s\n' "mapping" "Rss" "Anon"
while read -r r a n; do
	printf '    %-34s %8d %8d\n' "$n" "$r" "$a"
done < "$TMP/netd16.map"
if [ $netd16 -le 2048 ]; then verdict=met; else verdict=MISSED; fi
echo "  target: netd VmRSS with $NAPPS apps <= 2048 KiB: $verdict" \
    "($netd16 KiB)"
stop_all
