/* policy/hostpat.c: every class of AllowedConnections entry, and hostset. */
#include <sys/socket.h>

#include <arpa/inet.h>

#include <stdio.h>
#include <string.h>

#include <check.h>

#include "check_suites.h"
#include "hostpat.h"

struct accept_case {
	const char		*in;
	enum hostpat_kind	 kind;
	const char		*canon;	/* name, or prefix as printed */
	const char		*warn;	/* substring of the warning, or NULL */
};

static const struct accept_case accepted[] = {
	{ "example.com", HOSTPAT_NAME, "example.com", NULL },
	{ "Example.COM", HOSTPAT_NAME, "example.com", NULL },
	{ "BW-IoTHub.azure-devices.net", HOSTPAT_NAME,
	    "bw-iothub.azure-devices.net", NULL },
	{ "example.com.", HOSTPAT_NAME, "example.com", NULL },
	{ "localhost", HOSTPAT_NAME, "localhost", NULL },
	{ "_sample-service._tcp.local", HOSTPAT_NAME,
	    "_sample-service._tcp.local", NULL },
	{ "a1.b2.c3", HOSTPAT_NAME, "a1.b2.c3", NULL },
	{ "1.2.3.4a", HOSTPAT_NAME, "1.2.3.4a", NULL },
	{ "xn--bcher-kva.example", HOSTPAT_NAME, "xn--bcher-kva.example",
	    NULL },
	{ "*.example.com", HOSTPAT_WILDCARD, "example.com", NULL },
	{ "*.Example.com.", HOSTPAT_WILDCARD, "example.com", NULL },
	{ "*.com", HOSTPAT_WILDCARD, "com", "whole top-level domain" },
	{ "yourhostname.azure-devices.net", HOSTPAT_NAME,
	    "yourhostname.azure-devices.net", "placeholder" },
	{ "REPLACE_WITH_YOUR_HUB.azure-devices.net", HOSTPAT_NAME,
	    "replace_with_your_hub.azure-devices.net", "placeholder" },
	{ "ENTER.IOT.HUB.HOSTNAME.net", HOSTPAT_NAME,
	    "enter.iot.hub.hostname.net", "placeholder" },
	{ "192.0.2.1", HOSTPAT_PREFIX, "192.0.2.1", NULL },
	{ "0.1.2.3", HOSTPAT_PREFIX, "0.1.2.3", NULL },
	{ "255.255.255.255", HOSTPAT_PREFIX, "255.255.255.255", NULL },
	{ "10.0.0.0/8", HOSTPAT_PREFIX, "10.0.0.0/8", NULL },
	{ "192.0.2.7/32", HOSTPAT_PREFIX, "192.0.2.7", NULL },
	{ "2001:db8::1", HOSTPAT_PREFIX, "2001:db8::1", NULL },
	{ "2001:DB8:0:0::1", HOSTPAT_PREFIX, "2001:db8::1", NULL },
	{ "2001:db8::/32", HOSTPAT_PREFIX, "2001:db8::/32", NULL },
	{ "fd00::/8", HOSTPAT_PREFIX, "fd00::/8", NULL },
	{ "::1", HOSTPAT_PREFIX, "::1", NULL },
	{ "2001:db8::1/128", HOSTPAT_PREFIX, "2001:db8::1", NULL },
};

struct refuse_case {
	const char		*in;
	enum hostpat_status	 st;
	const char		*why;	/* substring of the reason */
};

static const struct refuse_case refused[] = {
	{ "", HOSTPAT_EEMPTY, "empty string" },
	{ "exa mple.com", HOSTPAT_ESPACE, "label contains white space" },
	{ " example.com", HOSTPAT_ESPACE, "leading or trailing white space" },
	{ "example.com\t", HOSTPAT_ESPACE, "leading or trailing" },
	{ "exa\001mple.com", HOSTPAT_ESPACE, "control character 0x01" },
	{ "https://example.com/path", HOSTPAT_EURL,
	    "write only the host name ('example.com')" },
	{ "mqtts://hub.example:8883", HOSTPAT_EURL, "('hub.example')" },
	{ "example.com:443", HOSTPAT_EPORT, "write 'example.com' alone" },
	{ "192.0.2.1:80", HOSTPAT_EPORT, "host:port" },
	{ "[2001:db8::1]:443", HOSTPAT_EPORT, "host:port" },
	{ "[2001:db8::1]", HOSTPAT_EIPV6, "without them" },
	{ "<your hub>", HOSTPAT_EPLACEHOLDER, "placeholder" },
	{ "<IPERF SERVER IP ADDRESS>", HOSTPAT_EPLACEHOLDER, "placeholder" },
	{ "{hostname}", HOSTPAT_EPLACEHOLDER, "placeholder" },
	{ "010.1.1.1", HOSTPAT_EIPV4, "part '010' has a leading zero" },
	{ "192.168.01.1", HOSTPAT_EIPV4, "leading zero" },
	{ "0x7f.0.0.1", HOSTPAT_EIPV4, "hexadecimal part '0x7f'" },
	{ "10.1", HOSTPAT_EIPV4, "2 parts, not four" },
	{ "10", HOSTPAT_EIPV4, "a bare number" },
	{ "443", HOSTPAT_EIPV4, "a port is not part" },
	{ "1.2.3.4.", HOSTPAT_EIPV4, "no trailing dot" },
	{ "::ffff:198.51.100.1", HOSTPAT_EIPV6,
	    "write the IPv4 address '198.51.100.1'" },
	{ "1.2.3.4.5", HOSTPAT_EIPV4, "more than four parts" },
	{ "256.1.1.1", HOSTPAT_EIPV4, "'256' is out of range 0-255" },
	{ "1.2.3.1000", HOSTPAT_EIPV4, "out of range" },
	{ "1..2.3", HOSTPAT_EIPV4, "empty part" },
	{ "0.0.0.0", HOSTPAT_EIPV4, "unspecified" },
	{ "::", HOSTPAT_EIPV6, "unspecified" },
	{ "2001:db8::zz", HOSTPAT_EIPV6, "not a valid IPv6" },
	{ "fe80::1%eth0", HOSTPAT_EIPV6, "zone index" },
	{ "10.0.0.0/33", HOSTPAT_EPREFIX, "33 is out of range 1-32" },
	{ "2001:db8::/129", HOSTPAT_EPREFIX, "129 is out of range 1-128" },
	{ "10.0.0.0/0", HOSTPAT_EPREFIX, "would allow every address" },
	{ "10.0.0.0/", HOSTPAT_EPREFIX, "not a number" },
	{ "10.0.0.0/x", HOSTPAT_EPREFIX, "not a number" },
	{ "10.0.0.0/08", HOSTPAT_EPREFIX, "leading zero" },
	{ "10.1.2.3/8", HOSTPAT_EPREFIX, "did you mean 10.0.0.0/8?" },
	{ "2001:db8::1/32", HOSTPAT_EPREFIX, "did you mean 2001:db8::/32?" },
	{ "example.com/api", HOSTPAT_ENAME, "a host name has no path" },
	{ "*", HOSTPAT_EWILDCARD, "lone '*'" },
	{ "*example.com", HOSTPAT_EWILDCARD, "whole first label" },
	{ "www.*.example.com", HOSTPAT_EWILDCARD, "whole first label" },
	{ "*.*.example.com", HOSTPAT_EWILDCARD, "whole first label" },
	{ "api.*", HOSTPAT_EWILDCARD, "whole first label" },
	{ "*.", HOSTPAT_EWILDCARD, "whole first label" },
	{ "*.10.0.0.1", HOSTPAT_EWILDCARD, "not an address" },
	{ "*.-bad.com", HOSTPAT_ENAME, "starts with a hyphen" },
	{ "-example.com", HOSTPAT_ENAME, "label '-example' starts with a hyphen" },
	{ "example-.com", HOSTPAT_ENAME, "label 'example-' ends with a hyphen" },
	{ "exa!mple.com", HOSTPAT_ENAME, "invalid character '!'" },
	{ "ex\xc3\xa4mple.com", HOSTPAT_ENAME, "non-ASCII" },
	{ "a..b", HOSTPAT_ENAME, "empty label ('..')" },
	{ ".example.com", HOSTPAT_ENAME, "empty label at the start" },
	{ "example.com..", HOSTPAT_ENAME, "empty label" },
	{ ".", HOSTPAT_ENAME, "empty host name" },
	{ "host.123", HOSTPAT_ENAME, "last label '123' is all digits" },
	{ "a:b", HOSTPAT_ENAME, "invalid character ':'" },
};

START_TEST(test_accept)
{
	const struct accept_case *c = &accepted[_i];
	char why[HOSTPAT_WHY_MAX], buf[64];
	struct hostpat hp;
	enum hostpat_status st;

	st = hostpat_parse(c->in, strlen(c->in), &hp, why);
	ck_assert_msg(st == HOSTPAT_OK, "'%s' refused: %s", c->in, why);
	ck_assert_int_eq(hp.kind, c->kind);
	if (c->kind == HOSTPAT_PREFIX) {
		hostpat_prefix_str(&hp.prefix, buf, sizeof(buf));
		ck_assert_str_eq(buf, c->canon);
	} else
		ck_assert_str_eq(hp.name, c->canon);
	if (c->warn == NULL)
		ck_assert_msg(hp.warn[0] == '\0', "'%s' warned: %s", c->in,
		    hp.warn);
	else
		ck_assert_msg(strstr(hp.warn, c->warn) != NULL,
		    "'%s': warning '%s' lacks '%s'", c->in, hp.warn, c->warn);
}
END_TEST

START_TEST(test_refuse)
{
	const struct refuse_case *c = &refused[_i];
	char why[HOSTPAT_WHY_MAX];
	struct hostpat hp;
	enum hostpat_status st;

	st = hostpat_parse(c->in, strlen(c->in), &hp, why);
	ck_assert_msg(st == c->st, "'%s': status %d (%s), want %d", c->in,
	    st, why, c->st);
	ck_assert_msg(strstr(why, c->why) != NULL,
	    "'%s': reason '%s' lacks '%s'", c->in, why, c->why);
	ck_assert_str_ne(hostpat_strerror(st), "unknown error");
}
END_TEST

START_TEST(test_embedded_nul)
{
	char why[HOSTPAT_WHY_MAX];
	struct hostpat hp;

	ck_assert_int_eq(hostpat_parse("a\0b.com", 7, &hp, why),
	    HOSTPAT_ESPACE);
}
END_TEST

/* Bytes after len are never read: a slice of a larger buffer. */
START_TEST(test_no_overread)
{
	char why[HOSTPAT_WHY_MAX];
	struct hostpat hp;

	ck_assert_int_eq(hostpat_parse("127.1999", 5, &hp, why),
	    HOSTPAT_EIPV4);
	ck_assert_ptr_nonnull(strstr(why, "2 parts"));
	ck_assert_int_eq(hostpat_parse("1.2.3.4999", 7, &hp, why), HOSTPAT_OK);
	ck_assert_int_eq(hostpat_parse("10.0.0.0/8999", 10, &hp, why),
	    HOSTPAT_OK);
	ck_assert_int_eq(hp.prefix.plen, 8);
}
END_TEST

START_TEST(test_prefix_bytes)
{
	char why[HOSTPAT_WHY_MAX];
	struct hostpat hp;
	uint8_t want[4] = { 192, 0, 2, 0 };

	ck_assert_int_eq(hostpat_parse("192.0.2.0/24", 12, &hp, why),
	    HOSTPAT_OK);
	ck_assert_int_eq(hp.prefix.family, AF_INET);
	ck_assert_int_eq(hp.prefix.plen, 24);
	ck_assert_mem_eq(hp.prefix.addr, want, 4);
}
END_TEST

START_TEST(test_label_limits)
{
	char name[300], why[HOSTPAT_WHY_MAX];
	struct hostpat hp;

	/* 63 octets: accepted; 64: refused. */
	memset(name, 'a', 63);
	strcpy(name + 63, ".com");
	ck_assert_int_eq(hostpat_parse(name, strlen(name), &hp, why),
	    HOSTPAT_OK);
	memset(name, 'a', 64);
	strcpy(name + 64, ".com");
	ck_assert_int_eq(hostpat_parse(name, strlen(name), &hp, why),
	    HOSTPAT_ENAME);
	ck_assert_ptr_nonnull(strstr(why, "64 octets long, more than 63"));
}
END_TEST

/* 253 octets in all, plus an optional trailing dot; 254 refused. */
static void
make_name(char *buf, size_t total)
{
	size_t i;

	for (i = 0; i < total; i++)
		buf[i] = (i % 50 == 49) ? '.' : 'a';
	buf[total] = '\0';
}

START_TEST(test_name_limits)
{
	char name[300], why[HOSTPAT_WHY_MAX];
	struct hostpat hp;

	make_name(name, 253);
	ck_assert_int_eq(hostpat_parse(name, 253, &hp, why), HOSTPAT_OK);
	ck_assert_uint_eq(strlen(hp.name), 253);
	strcat(name, ".");
	ck_assert_int_eq(hostpat_parse(name, 254, &hp, why), HOSTPAT_OK);
	make_name(name, 254);
	ck_assert_int_eq(hostpat_parse(name, 254, &hp, why), HOSTPAT_ENAME);
	ck_assert_ptr_nonnull(strstr(why, "254 octets long, more than 253"));
}
END_TEST

START_TEST(test_normalize)
{
	char out[HOSTPAT_NAME_MAX + 1], big[300];

	ck_assert_int_eq(hostpat_normalize("WWW.Example.COM.", out), 15);
	ck_assert_str_eq(out, "www.example.com");
	ck_assert_int_eq(hostpat_normalize("", out), -1);
	ck_assert_int_eq(hostpat_normalize(".", out), -1);
	ck_assert_int_eq(hostpat_normalize(".a.com", out), -1);
	ck_assert_int_eq(hostpat_normalize("a..com", out), -1);
	ck_assert_int_eq(hostpat_normalize("a.com..", out), -1);
	memset(big, 'a', 254);
	big[254] = '\0';
	ck_assert_int_eq(hostpat_normalize(big, out), -1);
}
END_TEST

static struct hostset *hs;

static void
setup(void)
{
	hs = hostset_new();
	ck_assert_ptr_nonnull(hs);
}

static void
teardown(void)
{
	hostset_free(hs);
	hs = NULL;
}

START_TEST(test_hostset)
{
	char name[32];
	int i;

	ck_assert(!hostset_contains(hs, "a.com", 5));
	ck_assert_int_eq(hostset_add(hs, "a.com", 5), 1);
	ck_assert_int_eq(hostset_add(hs, "a.com", 5), 0);
	ck_assert(hostset_contains(hs, "a.com", 5));
	ck_assert(!hostset_contains(hs, "a.co", 4));
	/* Grow through several resizes; every name stays findable. */
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		ck_assert_int_eq(hostset_add(hs, name, strlen(name)), 1);
	}
	ck_assert_uint_eq(hostset_count(hs), 5001);
	for (i = 0; i < 5000; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		ck_assert(hostset_contains(hs, name, strlen(name)));
	}
	ck_assert(!hostset_contains(hs, "h5000.example", 13));
	hostset_free(NULL);
}
END_TEST

Suite *
hostpat_suite(void)
{
	Suite *s = suite_create("hostpat");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_loop_test(core, test_accept, 0,
	    sizeof(accepted) / sizeof(accepted[0]));
	tcase_add_loop_test(core, test_refuse, 0,
	    sizeof(refused) / sizeof(refused[0]));
	tcase_add_test(core, test_prefix_bytes);
	tcase_add_test(core, test_normalize);
	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_hostset);
	tcase_add_test(limits, test_embedded_nul);
	tcase_add_test(limits, test_no_overread);
	tcase_add_test(limits, test_label_limits);
	tcase_add_test(limits, test_name_limits);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
