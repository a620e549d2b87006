#!/bin/sh
# gen.sh: the zone and query files of bench/bench_dns.sh.
#
#   bench/dns/gen.sh DIR [NAMES [HOT]]      (defaults 100000, 5000)
#
# DIR/bench.test.zone  zone bench.test: h00000 .. h(NAMES-1), TTL 300, each
#                      with one A of its own in 198.18.0.0/15 (RFC 2544's
#                      benchmarking range: room for 131,072 distinct
#                      addresses, so every name grants a new one); every 4th
#                      name also one AAAA of its own in 2001:db8::/32
# DIR/all.txt          dnsperf input: an A query for every name, an AAAA
#                      query for every name that has one (NAMES * 5/4
#                      lines), in a fixed shuffled order
# DIR/hot.txt          the same for the first HOT names only (the set the
#                      cached runs ask for; HOT * 5/4 lines)
#
# Deterministic: the same arguments give the same files.

set -eu
[ $# -ge 1 ] || { echo "usage: $0 DIR [NAMES [HOT]]" >&2; exit 2; }
D=$1
N=${2:-100000}
H=${3:-5000}
mkdir -p "$D"

awk -v n="$N" 'BEGIN {
	print "$ORIGIN bench.test."
	print "$TTL 300"
	print "@ IN SOA ns.bench.test. hostmaster.bench.test. 1 3600 600 86400 300"
	print "@ IN NS ns.bench.test."
	print "ns IN A 192.0.2.53"
	for (i = 0; i < n; i++) {
		a = i + 1
		printf "h%05d IN A 198.%d.%d.%d\n", i, 18 + int(a / 65536),
		    int(a / 256) % 256, a % 256
		if (i % 4 == 0)
			printf "h%05d IN AAAA 2001:db8::%x:%x\n", i,
			    int(a / 65536), a % 65536
	}
}' > "$D/bench.test.zone"

# Queries: a line per (name, type), ordered by a fixed pseudo-random key
# (MINSTD, exact in awk's doubles, so that the order does not depend on the
# awk's rand()).
queries() {
	awk -v n="$1" 'BEGIN {
		s = 12345
		for (i = 0; i < n; i++) {
			s = (s * 48271) % 2147483647
			printf "%010d h%05d.bench.test A\n", s, i
			if (i % 4 == 0) {
				s = (s * 48271) % 2147483647
				printf "%010d h%05d.bench.test AAAA\n", s, i
			}
		}
	}' | sort -k1,1 | cut -d" " -f2-
}
queries "$N" > "$D/all.txt"
queries "$H" > "$D/hot.txt"
