/*
 * netd/config.c: defaults, every key, the exact text of each error, the
 * shipped configs/netd.conf, and print -> parse round trips.
 */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_suites.h"
#include "../netd/config.h"

#define SHIPPED		"configs/netd.conf"
#define NKEYS		24

static struct netd_config cfg;
static char err[CONFIG_ERR_MAX];

static void
setup(void)
{
	/* The parser must not read what *out held before. */
	memset(&cfg, 0xa5, sizeof(cfg));
	memset(err, 0, sizeof(err));
}

static void
teardown(void)
{
}

static int
parse(const char *text)
{
	return config_parse("t.conf", text, strlen(text), &cfg, err,
	    sizeof(err));
}

/* Parse text, which must be accepted. */
static void
parse_ok(const char *text)
{
	if (parse(text) != 0)
		ck_abort_msg("refused %s: %s", text, err);
}

/* Parse text, which must be refused with exactly msg. */
static void
parse_err(const char *text, const char *msg)
{
	ck_assert_int_eq(parse(text), -1);
	ck_assert_str_eq(err, msg);
}

static void
assert_addr(const struct config_addr *a, const char *host, unsigned port)
{
	uint8_t want[16] = { 0 };
	int family = strchr(host, ':') ? AF_INET6 : AF_INET;

	ck_assert_int_eq(inet_pton(family, host, want), 1);
	ck_assert_int_eq(a->family, family);
	ck_assert_mem_eq(a->addr, want, sizeof(want));
	ck_assert_uint_eq(a->port, port);
}

static void
assert_config_eq(const struct netd_config *a, const struct netd_config *b)
{
	size_t i;

	ck_assert_str_eq(a->control_socket, b->control_socket);
	ck_assert_str_eq(a->admin_group, b->admin_group);
	ck_assert_uint_eq(a->uid_min, b->uid_min);
	ck_assert_uint_eq(a->uid_max, b->uid_max);
	ck_assert_uint_eq(a->ndns_listen, b->ndns_listen);
	for (i = 0; i < CONFIG_MAX_ADDRS; i++) {
		ck_assert_int_eq(a->dns_listen[i].family,
		    b->dns_listen[i].family);
		ck_assert_mem_eq(a->dns_listen[i].addr, b->dns_listen[i].addr,
		    16);
		ck_assert_uint_eq(a->dns_listen[i].port,
		    b->dns_listen[i].port);
	}
	ck_assert_uint_eq(a->nupstream, b->nupstream);
	for (i = 0; i < CONFIG_MAX_ADDRS; i++) {
		ck_assert_int_eq(a->upstream[i].family, b->upstream[i].family);
		ck_assert_mem_eq(a->upstream[i].addr, b->upstream[i].addr, 16);
		ck_assert_uint_eq(a->upstream[i].port, b->upstream[i].port);
	}
	ck_assert_uint_eq(a->min_ttl, b->min_ttl);
	ck_assert_uint_eq(a->max_ttl, b->max_ttl);
	ck_assert_uint_eq(a->grace, b->grace);
	ck_assert_uint_eq(a->max_addrs_per_name, b->max_addrs_per_name);
	ck_assert_uint_eq(a->max_grants_per_app, b->max_grants_per_app);
	ck_assert_uint_eq(a->cache_size, b->cache_size);
	ck_assert_int_eq(a->rebind_protection, b->rebind_protection);
	ck_assert_str_eq(a->rebind_allow, b->rebind_allow);
	ck_assert_str_eq(a->tls_socket, b->tls_socket);
	ck_assert_str_eq(a->ca_file, b->ca_file);
	ck_assert_str_eq(a->device_cert, b->device_cert);
	ck_assert_str_eq(a->device_key, b->device_key);
	ck_assert_uint_eq(a->tls_max_sessions, b->tls_max_sessions);
	ck_assert_uint_eq(a->tls_max_per_app, b->tls_max_per_app);
	ck_assert_uint_eq(a->tls_idle_timeout, b->tls_idle_timeout);
	ck_assert_uint_eq(a->nflog_group, b->nflog_group);
	ck_assert_str_eq(a->state_dir, b->state_dir);
	ck_assert_int_eq(a->refuse_non_app, b->refuse_non_app);
	ck_assert_int_eq(a->deny_rcode, b->deny_rcode);
}

/* config_print() of c, in a string the caller frees. */
static char *
print_str(const struct netd_config *c)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	ck_assert_ptr_nonnull(fp);
	config_print(c, fp);
	ck_assert_int_eq(fclose(fp), 0);
	return buf;
}

/* A file under /tmp holding len bytes of text; the caller unlinks it. */
static void
write_tmp(char path[32], const char *text, size_t len)
{
	int fd;

	strcpy(path, "/tmp/check_config.XXXXXX");
	ck_assert_int_ne(fd = mkstemp(path), -1);
	ck_assert_int_eq(write(fd, text, len), (ssize_t)len);
	ck_assert_int_eq(close(fd), 0);
}

static const char every_key[] =
    "control_socket = /run/other netd/ctl.sock\n"
    "admin_group = netadmin\n"
    "state_dir = /srv/netd\n"
    "app_uid_range = 2000-2999\n"
    "dns_listen = 10.0.0.1:5353 [fd00::1] 127.0.0.1\n"
    "upstream = 9.9.9.9 [2620:fe::fe]:853 149.112.112.112:53\n"
    "refuse_non_app_queries = yes\n"
    "deny_rcode = refused\n"
    "min_ttl = 30\n"
    "max_ttl = 3600\n"
    "grace = 10\n"
    "max_addrs_per_name = 64\n"
    "max_grants_per_app = 100\n"
    "cache_size = 0\n"
    "rebind_protection = no\n"
    "rebind_allow = Router.LAN *.home.arpa\n"
    "tls_socket = /run/t.sock\n"
    "ca_file = /etc/ca.pem\n"
    "device_cert = /etc/netd/device.pem\n"
    "device_key = /etc/netd/device.key\n"
    "tls_max_sessions = 10\n"
    "tls_max_per_app = 2\n"
    "tls_idle_timeout = 60\n"
    "nflog_group = 7\n";

START_TEST(test_defaults)
{
	struct netd_config d;

	config_defaults(&cfg);
	ck_assert_str_eq(cfg.control_socket, "/run/netd/control.sock");
	ck_assert_str_eq(cfg.admin_group, "");
	ck_assert_uint_eq(cfg.uid_min, 10000);
	ck_assert_uint_eq(cfg.uid_max, 59999);
	ck_assert_uint_eq(cfg.ndns_listen, 2);
	assert_addr(&cfg.dns_listen[0], "127.0.0.53", 53);
	assert_addr(&cfg.dns_listen[1], "::1", 53);
	ck_assert_uint_eq(cfg.nupstream, 0);
	ck_assert_uint_eq(cfg.min_ttl, 0);
	ck_assert_uint_eq(cfg.max_ttl, 86400);
	ck_assert_uint_eq(cfg.grace, 5);
	ck_assert_uint_eq(cfg.max_addrs_per_name, 16);
	ck_assert_uint_eq(cfg.max_grants_per_app, 4096);
	ck_assert_uint_eq(cfg.nflog_group, 100);
	ck_assert_str_eq(cfg.state_dir, "/var/lib/netd");
	ck_assert(!cfg.refuse_non_app);
	ck_assert_int_eq(cfg.deny_rcode, 3);
	ck_assert_uint_eq(cfg.cache_size, 10000);
	ck_assert(cfg.rebind_protection);
	ck_assert_str_eq(cfg.rebind_allow, "");

	/* An empty file, or one of comments only, is the defaults. */
	d = cfg;
	parse_ok("");
	assert_config_eq(&cfg, &d);
	parse_ok("\n\n   \n\t\n# only a comment\n   # indented\n");
	assert_config_eq(&cfg, &d);
}
END_TEST

START_TEST(test_every_key)
{
	parse_ok(every_key);
	ck_assert_str_eq(cfg.control_socket, "/run/other netd/ctl.sock");
	ck_assert_str_eq(cfg.admin_group, "netadmin");
	ck_assert_str_eq(cfg.state_dir, "/srv/netd");
	ck_assert_uint_eq(cfg.uid_min, 2000);
	ck_assert_uint_eq(cfg.uid_max, 2999);
	ck_assert_uint_eq(cfg.ndns_listen, 3);
	assert_addr(&cfg.dns_listen[0], "10.0.0.1", 5353);
	assert_addr(&cfg.dns_listen[1], "fd00::1", 53);
	assert_addr(&cfg.dns_listen[2], "127.0.0.1", 53);
	ck_assert_int_eq(cfg.dns_listen[3].family, 0);
	ck_assert_uint_eq(cfg.nupstream, 3);
	assert_addr(&cfg.upstream[0], "9.9.9.9", 53);
	assert_addr(&cfg.upstream[1], "2620:fe::fe", 853);
	assert_addr(&cfg.upstream[2], "149.112.112.112", 53);
	ck_assert(cfg.refuse_non_app);
	ck_assert_int_eq(cfg.deny_rcode, 5);
	ck_assert_uint_eq(cfg.min_ttl, 30);
	ck_assert_uint_eq(cfg.max_ttl, 3600);
	ck_assert_uint_eq(cfg.grace, 10);
	ck_assert_uint_eq(cfg.max_addrs_per_name, 64);
	ck_assert_uint_eq(cfg.max_grants_per_app, 100);
	ck_assert_uint_eq(cfg.cache_size, 0);
	ck_assert(!cfg.rebind_protection);
	ck_assert_str_eq(cfg.rebind_allow, "router.lan *.home.arpa");
	ck_assert_str_eq(cfg.tls_socket, "/run/t.sock");
	ck_assert_str_eq(cfg.ca_file, "/etc/ca.pem");
	ck_assert_str_eq(cfg.device_cert, "/etc/netd/device.pem");
	ck_assert_str_eq(cfg.device_key, "/etc/netd/device.key");
	ck_assert_uint_eq(cfg.tls_max_sessions, 10);
	ck_assert_uint_eq(cfg.tls_max_per_app, 2);
	ck_assert_uint_eq(cfg.tls_idle_timeout, 60);
	ck_assert_uint_eq(cfg.nflog_group, 7);
}
END_TEST

START_TEST(test_values)
{
	static const char *const yes[] = { "yes", "true", "on", "YES", "On" };
	static const char *const no[] = { "no", "false", "off", "No", "FALSE" };
	char line[64];
	size_t i;

	for (i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
		snprintf(line, sizeof(line), "refuse_non_app_queries = %s",
		    yes[i]);
		parse_ok(line);
		ck_assert(cfg.refuse_non_app);
		snprintf(line, sizeof(line), "refuse_non_app_queries = %s",
		    no[i]);
		parse_ok(line);
		ck_assert(!cfg.refuse_non_app);
	}
	parse_ok("deny_rcode = NXDOMAIN");
	ck_assert_int_eq(cfg.deny_rcode, 3);
	parse_ok("deny_rcode = Refused");
	ck_assert_int_eq(cfg.deny_rcode, 5);

	/* Decimal, so a leading zero is not octal. */
	parse_ok("min_ttl = 010\nmax_ttl = 0010");
	ck_assert_uint_eq(cfg.min_ttl, 10);
	ck_assert_uint_eq(cfg.max_ttl, 10);

	/* The address forms, a one-element list and the empty list. */
	parse_ok("dns_listen = [::1] [::ffff:192.0.2.1]:5353 0.0.0.0:053 "
	    "[2001:db8::1]:65535\nupstream =");
	ck_assert_uint_eq(cfg.ndns_listen, 4);
	assert_addr(&cfg.dns_listen[0], "::1", 53);
	assert_addr(&cfg.dns_listen[1], "::ffff:192.0.2.1", 5353);
	assert_addr(&cfg.dns_listen[2], "0.0.0.0", 53);
	assert_addr(&cfg.dns_listen[3], "2001:db8::1", 65535);
	ck_assert_uint_eq(cfg.nupstream, 0);
	parse_ok("dns_listen = 127.0.0.1:1\nupstream = \t1.1.1.1\t");
	ck_assert_uint_eq(cfg.ndns_listen, 1);
	assert_addr(&cfg.dns_listen[0], "127.0.0.1", 1);
	ck_assert_int_eq(cfg.dns_listen[1].family, 0);
	ck_assert_uint_eq(cfg.nupstream, 1);
	assert_addr(&cfg.upstream[0], "1.1.1.1", 53);

	/* The same address on another port is another address. */
	parse_ok("dns_listen = 127.0.0.1 127.0.0.1:5353");
	ck_assert_uint_eq(cfg.ndns_listen, 2);

	/* Group names and gids; empty is root only. */
	parse_ok("admin_group = _net-admin.2$");
	ck_assert_str_eq(cfg.admin_group, "_net-admin.2$");
	parse_ok("admin_group = 0");
	ck_assert_str_eq(cfg.admin_group, "0");
	parse_ok("admin_group = 4294967294");
	ck_assert_str_eq(cfg.admin_group, "4294967294");
	parse_ok("admin_group =");
	ck_assert_str_eq(cfg.admin_group, "");

	parse_ok("app_uid_range = 1-1");
	ck_assert_uint_eq(cfg.uid_min, 1);
	ck_assert_uint_eq(cfg.uid_max, 1);
	parse_ok("min_ttl = 300\nmax_ttl = 300");
	ck_assert_uint_eq(cfg.min_ttl, 300);

	/* Names: blanks between them collapse, case folds. */
	parse_ok("rebind_allow = \tA.b  *.C_d-1.example\t x\n");
	ck_assert_str_eq(cfg.rebind_allow, "a.b *.c_d-1.example x");
	parse_ok("rebind_allow =\ncache_size = 10000000");
	ck_assert_str_eq(cfg.rebind_allow, "");
	ck_assert_uint_eq(cfg.cache_size, 10000000);
}
END_TEST

START_TEST(test_comments)
{
	parse_ok("# netd.conf\n"
	    "grace = 7 # seven seconds\n"
	    "\t min_ttl\t=\t3\t\r\n"
	    "max_ttl=9#no space\n"
	    "admin_group = wheel#comment\n"
	    "upstream = 1.1.1.1 # [::1] is not read\n"
	    "   # indented comment = with an equals sign\n"
	    "\r\n"
	    "nflog_group = 9");			/* no final newline */
	ck_assert_uint_eq(cfg.grace, 7);
	ck_assert_uint_eq(cfg.min_ttl, 3);
	ck_assert_uint_eq(cfg.max_ttl, 9);
	ck_assert_str_eq(cfg.admin_group, "wheel");
	ck_assert_uint_eq(cfg.nupstream, 1);
	ck_assert_uint_eq(cfg.nflog_group, 9);
}
END_TEST

struct err_case {
	const char	*text;
	const char	*err;
};

static const struct err_case errors[] = {
	/* Lines. */
	{ "foo = 1\n", "t.conf:1: unknown key 'foo'" },
	{ "Grace = 1\n", "t.conf:1: unknown key 'Grace'" },
	{ "min ttl = 1\n", "t.conf:1: unknown key 'min ttl'" },
	{ "foo = 1\nbar = 2\n", "t.conf:1: unknown key 'foo'" },
	{ "grace = 1\n\n# c\nmin_ttl 5\n", "t.conf:4: missing '='" },
	{ "grace # = 5\n", "t.conf:1: missing '='" },
	{ " = 5\n", "t.conf:1: missing key before '='" },
	{ "min_ttl =\n", "t.conf:1: min_ttl: empty value" },
	{ "min_ttl = \t # none\n", "t.conf:1: min_ttl: empty value" },
	{ "control_socket =", "t.conf:1: control_socket: empty value" },
	{ "dns_listen =", "t.conf:1: dns_listen: empty value" },
	{ "\n\n\ngrace = 1\n\n\n\n\ngrace = 2\n",
	    "t.conf:9: duplicate key 'grace' (first set on line 4)" },
	{ "upstream =\nupstream = 1.1.1.1\n",
	    "t.conf:2: duplicate key 'upstream' (first set on line 1)" },
	{ "grace = 1\ngrace = 1\n",
	    "t.conf:2: duplicate key 'grace' (first set on line 1)" },

	/* Numbers. */
	{ "min_ttl = -5",
	    "t.conf:1: min_ttl: '-5' is not a number of seconds" },
	{ "min_ttl = +5",
	    "t.conf:1: min_ttl: '+5' is not a number of seconds" },
	{ "min_ttl = 5s",
	    "t.conf:1: min_ttl: '5s' is not a number of seconds" },
	{ "min_ttl = 0x10",
	    "t.conf:1: min_ttl: '0x10' is not a number of seconds" },
	{ "min_ttl = 1.5",
	    "t.conf:1: min_ttl: '1.5' is not a number of seconds" },
	{ "min_ttl = 1 2",
	    "t.conf:1: min_ttl: '1 2' is not a number of seconds" },
	{ "max_ttl = 99999999999999999999999",
	    "t.conf:1: max_ttl: '99999999999999999999999' is out of range "
	    "(0..2147483647)" },
	{ "grace = 4294967296",
	    "t.conf:1: grace: '4294967296' is out of range (0..2147483647)" },
	{ "grace = 2147483648",
	    "t.conf:1: grace: '2147483648' is out of range (0..2147483647)" },
	{ "grace = 99999999999999999999x",
	    "t.conf:1: grace: '99999999999999999999x' is not a number of "
	    "seconds" },
	{ "max_addrs_per_name = 0",
	    "t.conf:1: max_addrs_per_name: '0' is out of range (1..1024)" },
	{ "max_addrs_per_name = 1025",
	    "t.conf:1: max_addrs_per_name: '1025' is out of range (1..1024)" },
	{ "max_grants_per_app = 15",
	    "t.conf:1: max_grants_per_app: '15' is out of range "
	    "(16..1000000)" },
	{ "max_grants_per_app = 1000001",
	    "t.conf:1: max_grants_per_app: '1000001' is out of range "
	    "(16..1000000)" },
	{ "max_addrs_per_name = many",
	    "t.conf:1: max_addrs_per_name: 'many' is not a number" },
	{ "nflog_group = 65536",
	    "t.conf:1: nflog_group: '65536' is out of range (0..65535)" },
	{ "nflog_group = -1", "t.conf:1: nflog_group: '-1' is not a number" },

	/* app_uid_range. */
	{ "app_uid_range = 10000",
	    "t.conf:1: app_uid_range: '10000' is not a range LOW-HIGH" },
	{ "app_uid_range = 10000-",
	    "t.conf:1: app_uid_range: '10000-' is not a range LOW-HIGH" },
	{ "app_uid_range = -5",
	    "t.conf:1: app_uid_range: '-5' is not a range LOW-HIGH" },
	{ "app_uid_range = 1-2-3",
	    "t.conf:1: app_uid_range: '1-2-3' is not a range LOW-HIGH" },
	{ "app_uid_range = 10000 - 20000",
	    "t.conf:1: app_uid_range: '10000 - 20000' is not a range "
	    "LOW-HIGH" },
	{ "app_uid_range = a-b",
	    "t.conf:1: app_uid_range: 'a-b' is not a range LOW-HIGH" },
	{ "app_uid_range = 0-100",
	    "t.conf:1: app_uid_range: uid 0 (root) cannot be an app uid" },
	{ "app_uid_range = 0-0",
	    "t.conf:1: app_uid_range: uid 0 (root) cannot be an app uid" },
	{ "app_uid_range = 100-4294967295",
	    "t.conf:1: app_uid_range: uid '4294967295' is out of range "
	    "(1..4294967294)" },
	{ "app_uid_range = 100-99999999999999999999",
	    "t.conf:1: app_uid_range: uid '99999999999999999999' is out of "
	    "range (1..4294967294)" },
	{ "app_uid_range = 60000-10000",
	    "t.conf:1: app_uid_range: '60000-10000': 60000 is greater than "
	    "10000" },

	/* Addresses. */
	{ "dns_listen = 1.2.3",
	    "t.conf:1: dns_listen: '1.2.3' is not an IP address" },
	{ "dns_listen = 010.0.0.1",
	    "t.conf:1: dns_listen: '010.0.0.1' is not an IP address" },
	{ "dns_listen = localhost:53",
	    "t.conf:1: dns_listen: 'localhost:53' is not an IP address" },
	{ "dns_listen = :53",
	    "t.conf:1: dns_listen: ':53' is not an IP address" },
	{ "dns_listen = 1.2.3.4:53:1",
	    "t.conf:1: dns_listen: '1.2.3.4:53:1': port is not a number" },
	{ "dns_listen = 127.0.0.1:0",
	    "t.conf:1: dns_listen: '127.0.0.1:0': port is out of range "
	    "(1..65535)" },
	{ "dns_listen = 127.0.0.1:65536",
	    "t.conf:1: dns_listen: '127.0.0.1:65536': port is out of range "
	    "(1..65535)" },
	{ "dns_listen = 127.0.0.1:",
	    "t.conf:1: dns_listen: '127.0.0.1:': port is not a number" },
	{ "dns_listen = 127.0.0.1:domain",
	    "t.conf:1: dns_listen: '127.0.0.1:domain': port is not a number" },
	{ "dns_listen = 127.0.0.1:-1",
	    "t.conf:1: dns_listen: '127.0.0.1:-1': port is not a number" },
	{ "dns_listen = ::1",
	    "t.conf:1: dns_listen: '::1': an IPv6 address goes in brackets, "
	    "as in [::1]:53" },
	{ "dns_listen = ::1:53",
	    "t.conf:1: dns_listen: '::1:53': an IPv6 address goes in "
	    "brackets, as in [::1]:53" },
	{ "dns_listen = [::1",
	    "t.conf:1: dns_listen: '[::1' lacks the closing ']'" },
	{ "dns_listen = [::1]53",
	    "t.conf:1: dns_listen: '[::1]53': expected ':PORT' after ']'" },
	{ "dns_listen = [::1]:",
	    "t.conf:1: dns_listen: '[::1]:': port is not a number" },
	{ "dns_listen = [::1]:0",
	    "t.conf:1: dns_listen: '[::1]:0': port is out of range "
	    "(1..65535)" },
	{ "dns_listen = [::1]:65536",
	    "t.conf:1: dns_listen: '[::1]:65536': port is out of range "
	    "(1..65535)" },
	{ "dns_listen = [1.2.3.4]:53",
	    "t.conf:1: dns_listen: '[1.2.3.4]:53' is not an IPv6 address" },
	{ "dns_listen = []:53",
	    "t.conf:1: dns_listen: '[]:53' is not an IPv6 address" },
	{ "dns_listen = [fe80::1%eth0]",
	    "t.conf:1: dns_listen: '[fe80::1%eth0]' is not an IPv6 address" },
	{ "dns_listen = 127.0.0.1, [::1]",
	    "t.conf:1: dns_listen: '127.0.0.1,' is not an IP address" },
	{ "dns_listen = 127.0.0.1 127.0.0.2 127.0.0.3 127.0.0.4 127.0.0.5",
	    "t.conf:1: dns_listen: more than 4 addresses" },
	{ "upstream = [::1]:1 [::2]:1 [::3]:1 [::4]:1 [::5]:1",
	    "t.conf:1: upstream: more than 4 addresses" },
	{ "dns_listen = 127.0.0.1 127.0.0.1:53",
	    "t.conf:1: dns_listen: '127.0.0.1:53' is listed twice" },
	{ "upstream = [::1]:5353 [0::1]:5353",
	    "t.conf:1: upstream: '[0::1]:5353' is listed twice" },
	{ "upstream = 1.1.1.1 bogus",
	    "t.conf:1: upstream: 'bogus' is not an IP address" },

	/* Paths, groups, booleans, rcodes. */
	{ "control_socket = run/netd.sock",
	    "t.conf:1: control_socket: 'run/netd.sock' is not an absolute "
	    "path" },
	{ "state_dir = var/lib/netd",
	    "t.conf:1: state_dir: 'var/lib/netd' is not an absolute path" },
	{ "state_dir = ~/netd",
	    "t.conf:1: state_dir: '~/netd' is not an absolute path" },
	{ "admin_group = wheel staff",
	    "t.conf:1: admin_group: 'wheel staff' is not a group name or gid" },
	{ "admin_group = -wheel",
	    "t.conf:1: admin_group: '-wheel' is not a group name or gid" },
	{ "admin_group = a$b",
	    "t.conf:1: admin_group: 'a$b' is not a group name or gid" },
	{ "admin_group = $",
	    "t.conf:1: admin_group: '$' is not a group name or gid" },
	{ "admin_group = 4294967295",
	    "t.conf:1: admin_group: gid '4294967295' is out of range "
	    "(0..4294967294)" },
	{ "refuse_non_app_queries = maybe",
	    "t.conf:1: refuse_non_app_queries: 'maybe' is not yes or no" },
	{ "refuse_non_app_queries = 1",
	    "t.conf:1: refuse_non_app_queries: '1' is not yes or no" },
	{ "deny_rcode = servfail",
	    "t.conf:1: deny_rcode: 'servfail' is not nxdomain or refused" },
	{ "deny_rcode = 3",
	    "t.conf:1: deny_rcode: '3' is not nxdomain or refused" },

	{ "rebind_allow = a..b",
	    "t.conf:1: rebind_allow: 'a..b' is not a host name or *.name" },
	{ "rebind_allow = ok.test *",
	    "t.conf:1: rebind_allow: '*' is not a host name or *.name" },
	{ "rebind_allow = a.*.b",
	    "t.conf:1: rebind_allow: 'a.*.b' is not a host name or *.name" },
	{ "rebind_allow = a.b.",
	    "t.conf:1: rebind_allow: 'a.b.' is not a host name or *.name" },
	{ "rebind_allow = 10.0.0.1/8",
	    "t.conf:1: rebind_allow: '10.0.0.1/8' is not a host name or "
	    "*.name" },
	{ "cache_size = 10000001",
	    "t.conf:1: cache_size: '10000001' is out of range "
	    "(0..10000000)" },
	{ "rebind_protection = sometimes",
	    "t.conf:1: rebind_protection: 'sometimes' is not yes or no" },

	{ "device_cert = /etc/d.pem",
	    "t.conf: device_cert and device_key go together" },
	{ "device_key = /etc/d.key",
	    "t.conf: device_cert and device_key go together" },
	{ "device_key = etc/d.key",
	    "t.conf:1: device_key: 'etc/d.key' is not an absolute path" },
	{ "tls_max_sessions = 4\ntls_max_per_app = 5",
	    "t.conf: tls_max_per_app (5) is more than tls_max_sessions (4)" },
	{ "tls_idle_timeout = 0",
	    "t.conf:1: tls_idle_timeout: '0' is out of range (1..86400)" },
	{ "ca_file =",
	    "t.conf:1: ca_file: empty value" },

	/* Messages stay on one line. */
	{ "min_ttl = 1\x01\x1b[2J",
	    "t.conf:1: min_ttl: '1??[2J' is not a number of seconds" },
	{ "\x7f = 1", "t.conf:1: unknown key '?'" },

	/* Across keys: no line. */
	{ "min_ttl = 300\nmax_ttl = 60\n",
	    "t.conf: max_ttl (60) is less than min_ttl (300)" },
	{ "min_ttl = 86401\n",
	    "t.conf: max_ttl (86400) is less than min_ttl (86401)" },
	{ "upstream = 127.0.0.53\n",
	    "t.conf: upstream 127.0.0.53:53 is also in dns_listen (queries "
	    "would loop)" },
	{ "dns_listen = [::1]:5353\nupstream = 1.1.1.1 [::1]:5353\n",
	    "t.conf: upstream [::1]:5353 is also in dns_listen (queries would "
	    "loop)" },
	/* A line error comes first. */
	{ "min_ttl = 300\nmax_ttl = 60\nfoo = 1\n",
	    "t.conf:3: unknown key 'foo'" },
};

START_TEST(test_error)
{
	parse_err(errors[_i].text, errors[_i].err);
}
END_TEST

START_TEST(test_error_keeps_out)
{
	struct netd_config before;

	parse_ok(every_key);
	before = cfg;
	parse_err("grace = 1\nmin_ttl = 2\nbogus\n", "t.conf:3: missing '='");
	assert_config_eq(&cfg, &before);
	parse_err("grace = 1\nmin_ttl = 2\nmax_ttl = 1\n",
	    "t.conf: max_ttl (1) is less than min_ttl (2)");
	assert_config_eq(&cfg, &before);
}
END_TEST

START_TEST(test_replaced)
{
	struct netd_config d;

	/* Each parse starts from the defaults, not from *out. */
	parse_ok(every_key);
	parse_ok("grace = 6\n");
	config_defaults(&d);
	d.grace = 6;
	assert_config_eq(&cfg, &d);
}
END_TEST

START_TEST(test_shipped)
{
	struct netd_config d;
	char *buf, *line, *save, *out;
	size_t len = 0, nkeys = 0, n;
	FILE *fp, *mem;

	config_defaults(&d);
	ck_assert_int_eq(config_load(SHIPPED, &cfg, err, sizeof(err)), 0);
	assert_config_eq(&cfg, &d);

	/*
	 * The commented-out "#key = value" lines are the defaults: with
	 * every one of them uncommented, the file still gives the defaults,
	 * and names each key once (a duplicate or an unknown key would fail).
	 */
	ck_assert_ptr_nonnull(fp = fopen(SHIPPED, "r"));
	ck_assert_ptr_nonnull(buf = malloc(65536));
	n = fread(buf, 1, 65535, fp);
	ck_assert(n > 0 && n < 65535);
	buf[n] = '\0';
	fclose(fp);
	ck_assert_ptr_nonnull(mem = open_memstream(&out, &len));
	for (line = strtok_r(buf, "\n", &save); line != NULL;
	    line = strtok_r(NULL, "\n", &save)) {
		if (line[0] == '#' && islower((unsigned char)line[1])) {
			line++;
			nkeys++;
		}
		fprintf(mem, "%s\n", line);
	}
	fclose(mem);
	ck_assert_uint_eq(nkeys, NKEYS);
	memset(&cfg, 0xa5, sizeof(cfg));
	if (config_parse("uncommented", out, len, &cfg, err, sizeof(err)) != 0)
		ck_abort_msg("%s", err);
	assert_config_eq(&cfg, &d);
	free(out);
	free(buf);
}
END_TEST

START_TEST(test_print)
{
	char *s;

	config_defaults(&cfg);
	s = print_str(&cfg);
	ck_assert_str_eq(s,
	    "control_socket = /run/netd/control.sock\n"
	    "admin_group =\n"
	    "state_dir = /var/lib/netd\n"
	    "app_uid_range = 10000-59999\n"
	    "dns_listen = 127.0.0.53:53 [::1]:53\n"
	    "upstream =\n"
	    "refuse_non_app_queries = no\n"
	    "deny_rcode = nxdomain\n"
	    "min_ttl = 0\n"
	    "max_ttl = 86400\n"
	    "grace = 5\n"
	    "max_addrs_per_name = 16\n"
	    "max_grants_per_app = 4096\n"
	    "cache_size = 10000\n"
	    "rebind_protection = yes\n"
	    "rebind_allow =\n"
	    "tls_socket = /run/netd/tls.sock\n"
	    "ca_file = /etc/ssl/certs/ca-certificates.crt\n"
	    "device_cert =\n"
	    "device_key =\n"
	    "tls_max_sessions = 256\n"
	    "tls_max_per_app = 32\n"
	    "tls_idle_timeout = 300\n"
	    "nflog_group = 100\n");
	free(s);
	parse_ok(every_key);
	s = print_str(&cfg);
	ck_assert_str_eq(s,
	    "control_socket = /run/other netd/ctl.sock\n"
	    "admin_group = netadmin\n"
	    "state_dir = /srv/netd\n"
	    "app_uid_range = 2000-2999\n"
	    "dns_listen = 10.0.0.1:5353 [fd00::1]:53 127.0.0.1:53\n"
	    "upstream = 9.9.9.9:53 [2620:fe::fe]:853 149.112.112.112:53\n"
	    "refuse_non_app_queries = yes\n"
	    "deny_rcode = refused\n"
	    "min_ttl = 30\n"
	    "max_ttl = 3600\n"
	    "grace = 10\n"
	    "max_addrs_per_name = 64\n"
	    "max_grants_per_app = 100\n"
	    "cache_size = 0\n"
	    "rebind_protection = no\n"
	    "rebind_allow = router.lan *.home.arpa\n"
	    "tls_socket = /run/t.sock\n"
	    "ca_file = /etc/ca.pem\n"
	    "device_cert = /etc/netd/device.pem\n"
	    "device_key = /etc/netd/device.key\n"
	    "tls_max_sessions = 10\n"
	    "tls_max_per_app = 2\n"
	    "tls_idle_timeout = 60\n"
	    "nflog_group = 7\n");
	free(s);
}
END_TEST

static const char *const round_trips[] = {
	"",
	every_key,
	"admin_group = 0\n"
	"app_uid_range = 1-4294967294\n"
	"dns_listen = [::ffff:192.0.2.1]:1 0.0.0.0 [::] [2001:db8::1]:65535\n"
	"upstream = 1.1.1.1 1.0.0.1 [2606:4700:4700::1111] "
	"[2606:4700:4700::1001]:53\n"
	"min_ttl = 2147483647\nmax_ttl = 2147483647\ngrace = 2147483647\n"
	"max_addrs_per_name = 1024\nnflog_group = 65535\n"
	"deny_rcode = REFUSED\nrefuse_non_app_queries = on\n",
	"max_addrs_per_name = 1\nnflog_group = 0\nmax_ttl = 0\ngrace = 0\n"
	"state_dir = /\ncontrol_socket = /s\n",
};

START_TEST(test_round_trip)
{
	struct netd_config first;
	char *once, *twice;

	parse_ok(round_trips[_i]);
	first = cfg;
	once = print_str(&cfg);
	memset(&cfg, 0x5a, sizeof(cfg));
	if (config_parse("printed", once, strlen(once), &cfg, err,
	    sizeof(err)) != 0)
		ck_abort_msg("%s: %s", once, err);
	assert_config_eq(&cfg, &first);
	twice = print_str(&cfg);
	ck_assert_str_eq(once, twice);
	free(once);
	free(twice);
}
END_TEST

START_TEST(test_load)
{
	char path[32], want[CONFIG_ERR_MAX];
	static const char text[] = "grace = 9\n\nmin_ttl = soon\n";

	parse_ok(every_key);
	ck_assert_int_eq(config_load("/nonexistent/netd.conf", &cfg, err,
	    sizeof(err)), -1);
	ck_assert_str_eq(err, "cannot open /nonexistent/netd.conf: No such "
	    "file or directory");
	ck_assert_int_eq(config_load("configs", &cfg, err, sizeof(err)), -1);
	ck_assert_str_eq(err, "cannot read configs: Is a directory");
	ck_assert_str_eq(cfg.state_dir, "/srv/netd");	/* unchanged */

	write_tmp(path, text, sizeof(text) - 1);
	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), -1);
	snprintf(want, sizeof(want), "%s:3: min_ttl: 'soon' is not a number "
	    "of seconds", path);
	ck_assert_str_eq(err, want);
	unlink(path);
	write_tmp(path, "grace = 9\n", 10);
	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), 0);
	ck_assert_uint_eq(cfg.grace, 9);
	ck_assert_str_eq(cfg.state_dir, "/var/lib/netd");
	unlink(path);
}
END_TEST

START_TEST(test_long_line)
{
	char buf[2 * CONFIG_LINE_MAX], *p;

	/* 1024 characters is the longest line, comment or key. */
	buf[0] = '#';
	memset(buf + 1, 'x', CONFIG_LINE_MAX - 1);
	strcpy(buf + CONFIG_LINE_MAX, "\ngrace = 8");
	parse_ok(buf);
	p = buf + sprintf(buf, "grace = 8");
	memset(p, ' ', CONFIG_LINE_MAX - (p - buf));
	buf[CONFIG_LINE_MAX] = '\0';
	parse_ok(buf);
	ck_assert_uint_eq(cfg.grace, 8);

	p = buf + sprintf(buf, "grace = 1\n#");
	memset(p, 'x', CONFIG_LINE_MAX);
	p[CONFIG_LINE_MAX] = '\0';
	parse_err(buf, "t.conf:2: line is longer than 1024 characters");
	/* Even as the last line, without a newline. */
	memset(buf, ' ', CONFIG_LINE_MAX + 1);
	buf[CONFIG_LINE_MAX + 1] = '\0';
	parse_err(buf, "t.conf:1: line is longer than 1024 characters");
}
END_TEST

START_TEST(test_long_paths)
{
	char buf[512];
	int n;

	/* sun_path holds 107 characters and the NUL. */
	n = sprintf(buf, "control_socket = /");
	memset(buf + n, 's', 106);
	buf[n + 106] = '\0';
	parse_ok(buf);
	ck_assert_uint_eq(strlen(cfg.control_socket), 107);
	strcat(buf, "s");
	parse_err(buf, "t.conf:1: control_socket: path is longer than 107 "
	    "characters");

	n = sprintf(buf, "state_dir = /");
	memset(buf + n, 'd', 254);
	buf[n + 254] = '\0';
	parse_ok(buf);
	ck_assert_uint_eq(strlen(cfg.state_dir), 255);
	strcat(buf, "d");
	parse_err(buf, "t.conf:1: state_dir: path is longer than 255 "
	    "characters");

	n = sprintf(buf, "admin_group = ");
	memset(buf + n, 'g', 63);
	buf[n + 63] = '\0';
	parse_ok(buf);
	ck_assert_uint_eq(strlen(cfg.admin_group), 63);
	strcat(buf, "g");
	parse_err(buf, "t.conf:1: admin_group: name is longer than 63 "
	    "characters");
}
END_TEST

START_TEST(test_bounds)
{
	parse_ok("min_ttl = 2147483647\nmax_ttl = 2147483647\n"
	    "grace = 2147483647\nmax_addrs_per_name = 1024\n"
	    "nflog_group = 65535\napp_uid_range = 4294967294-4294967294");
	ck_assert_uint_eq(cfg.min_ttl, 2147483647);
	ck_assert_uint_eq(cfg.grace, 2147483647);
	ck_assert_uint_eq(cfg.max_addrs_per_name, 1024);
	ck_assert_uint_eq(cfg.nflog_group, 65535);
	ck_assert_uint_eq(cfg.uid_min, 4294967294U);
	parse_ok("max_addrs_per_name = 1\nnflog_group = 0\n"
	    "max_ttl = 00000000000000000000000000000000000000000000");
	ck_assert_uint_eq(cfg.max_addrs_per_name, 1);
	ck_assert_uint_eq(cfg.max_ttl, 0);
	parse_ok("dns_listen = [1::1] [1::2] [1::3] [1::4]\n"
	    "upstream = 1.0.0.1 1.0.0.2 1.0.0.3 1.0.0.4");
	ck_assert_uint_eq(cfg.ndns_listen, CONFIG_MAX_ADDRS);
	ck_assert_uint_eq(cfg.nupstream, CONFIG_MAX_ADDRS);
	assert_addr(&cfg.upstream[3], "1.0.0.4", 53);
}
END_TEST

START_TEST(test_odd_input)
{
	static const char nul[] = "grace = 5\nmin_ttl = 1\0 # x\n";
	char buf[256], small[24];

	/* A NUL byte; the buffer need not be a C string. */
	ck_assert_int_eq(config_parse("t.conf", nul, sizeof(nul) - 1, &cfg,
	    err, sizeof(err)), -1);
	ck_assert_str_eq(err, "t.conf:2: line contains a NUL byte");
	ck_assert_int_eq(config_parse("t.conf", "grace = 12", 9, &cfg, err,
	    sizeof(err)), 0);
	ck_assert_uint_eq(cfg.grace, 1);

	/* A long value is cut in the message. */
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "min_ttl = ");
	memset(buf + 10, '9', 200);
	buf[10 + 200 - 1] = 'x';
	parse_err(buf, "t.conf:1: min_ttl: '"
	    "9999999999999999999999999999999999999999999999999999999999999999"
	    "...' is not a number of seconds");
	/* ...at a UTF-8 boundary: 63 bytes, then a 2-byte character. */
	memset(buf, 0, sizeof(buf));
	strcpy(buf, "min_ttl = ");
	memset(buf + 10, 'a', 63);
	strcat(buf, "\xc3\xa9\xc3\xa9");
	parse_err(buf, "t.conf:1: min_ttl: '"
	    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
	    "...' is not a number of seconds");

	/* A short error buffer is cut, a NULL one is fine. */
	ck_assert_int_eq(config_parse("t.conf", "x", 1, &cfg, small,
	    sizeof(small)), -1);
	ck_assert_str_eq(small, "t.conf:1: missing '='");
	ck_assert_int_eq(config_parse("t.conf", "foo = 1", 7, &cfg, small,
	    8), -1);
	ck_assert_str_eq(small, "t.conf:");
	ck_assert_int_eq(config_parse("t.conf", "x", 1, &cfg, NULL, 0), -1);
	ck_assert_int_eq(config_parse(NULL, "x", 1, &cfg, err, sizeof(err)),
	    -1);
	ck_assert_str_eq(err, "-:1: missing '='");
}
END_TEST

START_TEST(test_big_file)
{
	char path[32], *buf;
	size_t max = 1024 * 1024;

	/* 1 MiB of blank lines is the largest file. */
	ck_assert_ptr_nonnull(buf = malloc(max + 1));
	memset(buf, '\n', max + 1);
	write_tmp(path, buf, max);
	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), 0);
	unlink(path);
	write_tmp(path, buf, max + 1);
	ck_assert_int_eq(config_load(path, &cfg, err, sizeof(err)), -1);
	unlink(path);
	ck_assert(strstr(err, ": larger than 1048576 bytes") != NULL);
	ck_assert(strncmp(err, path, strlen(path)) == 0);
	free(buf);
}
END_TEST

Suite *
config_suite(void)
{
	Suite *s = suite_create("config");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_defaults);
	tcase_add_test(core, test_every_key);
	tcase_add_test(core, test_values);
	tcase_add_test(core, test_comments);
	tcase_add_loop_test(core, test_error, 0,
	    sizeof(errors) / sizeof(errors[0]));
	tcase_add_test(core, test_error_keeps_out);
	tcase_add_test(core, test_replaced);
	tcase_add_test(core, test_shipped);
	tcase_add_test(core, test_print);
	tcase_add_loop_test(core, test_round_trip, 0,
	    sizeof(round_trips) / sizeof(round_trips[0]));
	tcase_add_test(core, test_load);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(limits, test_long_line);
	tcase_add_test(limits, test_long_paths);
	tcase_add_test(limits, test_bounds);
	tcase_add_test(limits, test_odd_input);
	tcase_add_test(limits, test_big_file);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
