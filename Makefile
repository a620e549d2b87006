# netd -- one GNU Makefile, explicit source lists, pkg-config.
#
#   make deps      install missing Debian packages (no-op when present)
#   make demo      the manifest checker over configs/examples/
#   make           build netctl (and, later, netd) into build/
#   make check     deps, build, unit tests (plain, then ASan+UBSan, then
#                  valgrind), CLI and real-world manifest tests
#   make fuzz      build libFuzzer targets (clang) into build/fuzz/
#   make bench     run the benchmarks
#   make install   PREFIX=/usr/local DESTDIR=

VERSION		= 0.1.0
PREFIX		?= /usr/local
BINDIR		?= $(PREFIX)/bin
SBINDIR		?= $(PREFIX)/sbin
SYSCONFDIR	?= /etc
UNITDIR		?= /etc/systemd/system
DOCDIR		?= $(PREFIX)/share/doc/netd
MANDIR		?= $(PREFIX)/share/man
LIBDIR		?= $(PREFIX)/lib
INCLUDEDIR	?= $(PREFIX)/include
DESTDIR		?=

# Debian 12 packages the build, the tests and the benchmarks need.
DEB_PKGS	= gcc make pkg-config libjansson-dev check libmnl-dev \
		  libnftnl-dev libc-ares-dev libmbedtls-dev libevent-dev \
		  clang libclang-rt-14-dev valgrind iproute2 nftables \
		  python3 jq dnsmasq-base util-linux \
		  nsd unbound dnsperf ca-certificates openssl

PKGS		= jansson
NETD_PKGS	= libmnl libnftnl libevent_core libcares
B		?= build

WARNINGS	= -Wall -Wextra -Werror -Wstrict-prototypes \
		  -Wmissing-prototypes -Wmissing-declarations -Wshadow \
		  -Wpointer-arith -Wsign-compare
CFLAGS		?= -O2 -g
ALL_CFLAGS	= -std=gnu11 -D_GNU_SOURCE $(WARNINGS) $(CFLAGS) $(SAN_CFLAGS) -Iinclude \
		  -DNETD_VERSION=\"$(VERSION)\" \
		  $(shell pkg-config --cflags $(PKGS) $(NETD_PKGS) 2>/dev/null)
LIBS		= $(shell pkg-config --libs $(PKGS) 2>/dev/null)
NETD_LIBS	= $(shell pkg-config --libs $(NETD_PKGS) 2>/dev/null) \
		  -lmbedtls -lmbedx509 -lmbedcrypto
# The netd binary links these from their .a files (the -dev packages ship
# them) and keeps only the objects it calls: fewer, smaller mappings and no
# relocation of six shared objects at start (docs/architecture.md, Memory).
# glibc and libmnl (no .a) stay shared; RELR packs the PIE relocations.
NETD_STATIC	= $(shell pkg-config --libs $(PKGS) libnftnl libevent_core \
		  libcares 2>/dev/null) -lmbedtls -lmbedx509 -lmbedcrypto
NETD_LDFLAGS	= -Wl,--gc-sections -Wl,-z,pack-relative-relocs
NETD_LINK	= -Wl,-Bstatic $(NETD_STATIC) -Wl,-Bdynamic \
		  $(shell pkg-config --libs libmnl 2>/dev/null)
CHECK_CFLAGS	= $(shell pkg-config --cflags check 2>/dev/null)
CHECK_LIBS	= $(shell pkg-config --libs check 2>/dev/null)

ifeq ($(SAN),1)
SAN_CFLAGS	= -fsanitize=address,undefined -fno-sanitize-recover=all \
		  -fno-omit-frame-pointer
endif

POLICY_SRCS	= policy/hostpat.c policy/diag.c policy/policy.c \
		  policy/manifest.c policy/print.c
DNS_SRCS	= dns/wire.c dns/cache.c
NETD_SRCS	= netd/netd.c netd/config.c netd/control.c netd/apps.c \
		  netd/nflog.c netd/dnsproxy.c netd/upstream.c netd/learn.c \
		  netd/tls.c netd/tlsreq.c \
		  netd/nft.c netd/log.c
NETCTL_SRCS	= netd/netctl.c
TLSCLIENT_SRCS	= netd/tlsclient.c
TEST_SRCS	= tests/check_main.c tests/check_hostpat.c \
		  tests/check_diag.c tests/check_policy.c \
		  tests/check_manifest.c tests/check_print.c \
		  tests/check_config.c netd/config.c \
		  tests/check_nft.c netd/nft.c netd/log.c \
		  tests/check_wire.c tests/check_apps.c netd/apps.c \
		  tests/check_cache.c tests/check_learn.c netd/learn.c \
		  tests/check_tlsclient.c netd/tlsclient.c
FUZZ_TARGETS	= fuzz_manifest fuzz_hostpat fuzz_wire fuzz_config \
		  fuzz_tlsreq
BENCH_SRCS	= bench/bench_policy.c bench/bench_nft.c bench/bench_tls.c

POLICY_OBJS	= $(POLICY_SRCS:%.c=$(B)/obj/%.o)
DNS_OBJS	= $(DNS_SRCS:%.c=$(B)/obj/%.o)
NETD_OBJS	= $(NETD_SRCS:%.c=$(B)/obj/%.o)
NETCTL_OBJS	= $(NETCTL_SRCS:%.c=$(B)/obj/%.o)
TLSCLIENT_OBJS	= $(TLSCLIENT_SRCS:%.c=$(B)/obj/%.o)
TEST_OBJS	= $(TEST_SRCS:%.c=$(B)/obj/%.o)

.PHONY: all deps demo check unit asan valgrind clitest corpus \
	integration democheck fuzz \
	fuzz-run bench install uninstall clean

all: $(B)/netd $(B)/netctl $(B)/libnetdtls.a $(B)/tls-example

$(B)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) -MMD -MP -c -o $@ $<

$(B)/obj/tests/%.o: tests/%.c
	@mkdir -p $(dir $@)
	$(CC) $(ALL_CFLAGS) $(CHECK_CFLAGS) -Ipolicy -Inetd -MMD -MP -c -o $@ $<

$(B)/libpolicy.a: $(POLICY_OBJS)
	$(AR) rcs $@ $^

$(B)/libdns.a: $(DNS_OBJS)
	$(AR) rcs $@ $^

$(B)/netd: $(NETD_OBJS) $(B)/libpolicy.a $(B)/libdns.a
	$(CC) $(CFLAGS) $(SAN_CFLAGS) $(NETD_LDFLAGS) -o $@ $^ $(NETD_LINK)

$(B)/libnetdtls.a: $(TLSCLIENT_OBJS)
	$(AR) rcs $@ $^

$(B)/netctl: $(NETCTL_OBJS) $(B)/libpolicy.a $(B)/libnetdtls.a
	$(CC) $(CFLAGS) $(SAN_CFLAGS) -o $@ $^ $(LIBS)

$(B)/tls-example: $(B)/obj/netd/tls_example.o $(B)/libnetdtls.a
	$(CC) $(CFLAGS) $(SAN_CFLAGS) -o $@ $^

$(B)/unit: $(TEST_OBJS) $(B)/libpolicy.a $(B)/libdns.a
	$(CC) $(CFLAGS) $(SAN_CFLAGS) -o $@ $^ $(LIBS) $(NETD_LIBS) \
	    $(CHECK_LIBS)

-include $(shell find $(B) -name '*.d' 2>/dev/null)

deps:
	@missing=""; for p in $(DEB_PKGS); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | \
	    grep -q '^install ok installed' || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "deps: installing$$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive \
	    apt-get install -y -qq --no-install-recommends $$missing \
	    || exit 1; \
	fi

# The manifest checker, then the firewall in network namespaces.
demo: deps
	$(MAKE) --no-print-directory all
	@tests/demo.sh $(B)

# Each stage runs in a fresh make so pkg-config sees what deps installed.
check: deps
	$(MAKE) --no-print-directory unit
	$(MAKE) --no-print-directory asan
	$(MAKE) --no-print-directory valgrind
	$(MAKE) --no-print-directory clitest
	$(MAKE) --no-print-directory corpus
	$(MAKE) --no-print-directory integration
	$(MAKE) --no-print-directory democheck
	@# The benchmarks are not run here, but they must build.
	$(MAKE) --no-print-directory $(B)/bench_policy $(B)/bench_nft \
	    $(B)/bench_tls
	@echo "make check: all stages passed"

unit: $(B)/unit
	$(B)/unit

asan:
	$(MAKE) --no-print-directory B=build/asan SAN=1 CFLAGS="-O1 -g" \
	    build/asan/unit
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 \
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 build/asan/unit

valgrind: $(B)/unit
	CK_FORK=no valgrind -q --error-exitcode=99 --leak-check=full \
	    --errors-for-leak-kinds=definite,indirect $(B)/unit

clitest: $(B)/netctl
	tests/netctl_check.sh $(B)/netctl

corpus: $(B)/netctl
	tests/corpus.sh $(B)/netctl

# Real apps under real uids in network namespaces (root; else SKIPPED).
integration: all
	tests/integration/firewall.sh
	tests/integration/dns.sh
	tests/integration/tls.sh

democheck: all
	tests/demo_check.sh $(B)

fuzz:
	$(MAKE) --no-print-directory B=build/fuzz CC=clang \
	    SAN_CFLAGS="-fsanitize=fuzzer-no-link,address,undefined" \
	    CFLAGS="-O1 -g" build/fuzz/libpolicy.a build/fuzz/libdns.a
	@for t in $(FUZZ_TARGETS); do \
	    echo "clang tests/fuzz/$$t.c -> build/fuzz/$$t"; \
	    clang -std=gnu11 $(WARNINGS) -O1 -g \
	        -fsanitize=fuzzer,address,undefined \
	        -Iinclude -Ipolicy -Inetd $$(pkg-config --cflags jansson) \
	        -o build/fuzz/$$t tests/fuzz/$$t.c \
	        $$([ $$t = fuzz_config ] && echo netd/config.c) \
	        $$([ $$t = fuzz_tlsreq ] && echo netd/tlsreq.c) \
	        build/fuzz/libpolicy.a \
	        build/fuzz/libdns.a \
	        $$(pkg-config --libs jansson) || exit 1; \
	done

# FUZZ_RUNS executions of each target over its seed corpus.
FUZZ_RUNS	?= 1000000
fuzz-run: fuzz
	@for t in $(FUZZ_TARGETS); do \
	    mkdir -p build/fuzz/corpus-$$t; \
	    build/fuzz/$$t -runs=$(FUZZ_RUNS) -max_len=4096 \
	        -artifact_prefix=build/fuzz/ \
	        build/fuzz/corpus-$$t tests/data/fuzz/$$t || exit 1; \
	done

$(B)/bench_policy: bench/bench_policy.c $(B)/libpolicy.a
	$(CC) $(ALL_CFLAGS) -Ipolicy -o $@ $^ $(LIBS)

$(B)/bench_nft: bench/bench_nft.c netd/nft.c netd/log.c $(B)/libpolicy.a
	$(CC) $(ALL_CFLAGS) -Inetd -o $@ $^ $(LIBS) $(NETD_LIBS)

$(B)/bench_tls: bench/bench_tls.c bench/bench.h
	$(CC) $(ALL_CFLAGS) -o $@ bench/bench_tls.c -lmbedtls -lmbedx509 \
	    -lmbedcrypto

bench: deps
	$(MAKE) --no-print-directory $(B)/bench_policy $(B)/bench_nft \
	    $(B)/bench_tls \
	    $(B)/netd $(B)/netctl
	$(B)/bench_policy
	bench/bench_nft.sh $(B)
	bench/bench_dns.sh $(B)
	bench/bench_tls.sh $(B)

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SBINDIR)
	install -m 0755 $(B)/netctl $(DESTDIR)$(BINDIR)/netctl
	install -m 0755 $(B)/netd $(DESTDIR)$(SBINDIR)/netd
	install -d $(DESTDIR)$(SYSCONFDIR)/netd/examples
	[ -e $(DESTDIR)$(SYSCONFDIR)/netd/netd.conf ] || \
	    install -m 0644 configs/netd.conf $(DESTDIR)$(SYSCONFDIR)/netd/
	install -m 0644 configs/examples/*.json \
	    $(DESTDIR)$(SYSCONFDIR)/netd/examples/
	install -d $(DESTDIR)$(UNITDIR) $(DESTDIR)$(DOCDIR)
	sed 's|@SBINDIR@|$(SBINDIR)|g' configs/netd.service \
	    > $(DESTDIR)$(UNITDIR)/netd.service
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	install -d $(DESTDIR)$(INCLUDEDIR) $(DESTDIR)$(LIBDIR) \
	    $(DESTDIR)$(DOCDIR)/examples
	install -m 0644 include/netd_tls.h $(DESTDIR)$(INCLUDEDIR)/
	install -m 0644 $(B)/libnetdtls.a $(DESTDIR)$(LIBDIR)/
	install -m 0644 netd/tls_example.c $(DESTDIR)$(DOCDIR)/examples/
	install -d $(DESTDIR)$(MANDIR)/man8 $(DESTDIR)$(MANDIR)/man5
	install -m 0644 man/netd.8 man/netctl.8 $(DESTDIR)$(MANDIR)/man8/
	install -m 0644 man/netd.conf.5 $(DESTDIR)$(MANDIR)/man5/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/netctl $(DESTDIR)$(SBINDIR)/netd
	rm -f $(DESTDIR)$(INCLUDEDIR)/netd_tls.h $(DESTDIR)$(LIBDIR)/libnetdtls.a
	rm -f $(DESTDIR)$(UNITDIR)/netd.service
	rm -rf $(DESTDIR)$(SYSCONFDIR)/netd/examples $(DESTDIR)$(DOCDIR)
	rm -f $(DESTDIR)$(MANDIR)/man8/netd.8 $(DESTDIR)$(MANDIR)/man8/netctl.8 \
	    $(DESTDIR)$(MANDIR)/man5/netd.conf.5

clean:
	rm -rf build
