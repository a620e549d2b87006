/* policy/policy.c: the compiled policy and its matchers. */
#include <sys/socket.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_suites.h"
#include "check_util.h"

static struct policy *p;

static void
setup(void)
{
	struct policy_diag *d = policy_diag_new("t");

	p = load_str(MANIFEST(
	    "\"AllowedConnections\": [\"api.example.com\", \"*.cdn.test\","
	    " \"192.0.2.1\", \"198.51.100.0/24\", \"2001:db8::/32\","
	    " \"255.255.255.255\", \"_svc._tcp.local\"],"
	    "\"AllowedTcpServerPorts\": [8080, 1024],"
	    "\"AllowedUdpServerPorts\": [5000],"
	    "\"DeviceAuthentication\": \"8D34F65C-532E-4DCF-A1D6-3E811C1E5C68\""),
	    d);
	if (p == NULL)
		policy_diag_print(d, stderr);
	policy_diag_free(d);
	ck_assert_ptr_nonnull(p);
}

static void
teardown(void)
{
	policy_free(p);
	p = NULL;
}

START_TEST(test_names)
{
	ck_assert(policy_allows_name(p, "api.example.com"));
	ck_assert(policy_allows_name(p, "API.Example.Com."));
	ck_assert(!policy_allows_name(p, "example.com"));
	ck_assert(!policy_allows_name(p, "www.api.example.com"));
	ck_assert(!policy_allows_name(p, "api.example.com.evil"));
	ck_assert(policy_allows_name(p, "x.cdn.test"));
	ck_assert(policy_allows_name(p, "x.y.cdn.test"));
	ck_assert(policy_allows_name(p, "X.CDN.TEST."));
	ck_assert(!policy_allows_name(p, "cdn.test"));
	ck_assert(!policy_allows_name(p, "xcdn.test"));
	ck_assert(!policy_allows_name(p, ".cdn.test"));
	ck_assert(!policy_allows_name(p, "cdn.test.evil"));
	ck_assert(policy_allows_name(p, "_svc._tcp.local"));
	ck_assert(!policy_allows_name(p, ""));
	ck_assert(!policy_allows_name(p, "."));
	ck_assert_uint_eq(policy_name_count(p), 3);
	ck_assert_str_eq(policy_name_get(p, 0), "_svc._tcp.local");
	ck_assert_str_eq(policy_name_get(p, 1), "api.example.com");
	ck_assert_str_eq(policy_name_get(p, 2), "*.cdn.test");
	ck_assert_ptr_null(policy_name_get(p, 3));
}
END_TEST

static bool
allows(int af, const char *s)
{
	uint8_t a[16];

	ck_assert_int_eq(inet_pton(af, s, a), 1);
	return policy_allows_addr(p, af, a);
}

START_TEST(test_addrs)
{
	ck_assert(allows(AF_INET, "192.0.2.1"));
	ck_assert(!allows(AF_INET, "192.0.2.2"));
	ck_assert(allows(AF_INET, "198.51.100.0"));
	ck_assert(allows(AF_INET, "198.51.100.255"));
	ck_assert(!allows(AF_INET, "198.51.101.0"));
	ck_assert(allows(AF_INET, "255.255.255.255"));
	ck_assert(allows(AF_INET6, "2001:db8:ffff::1"));
	ck_assert(!allows(AF_INET6, "2001:db9::1"));
	ck_assert_uint_eq(policy_prefix_count(p, AF_INET), 3);
	ck_assert_uint_eq(policy_prefix_count(p, AF_INET6), 1);
	ck_assert_uint_eq(policy_prefix_count(p, AF_UNIX), 0);
	ck_assert_int_eq(policy_prefix_get(p, AF_INET, 0)->plen, 32);
	ck_assert_int_eq(policy_prefix_get(p, AF_INET, 1)->plen, 24);
	ck_assert_ptr_null(policy_prefix_get(p, AF_INET, 3));
}
END_TEST

START_TEST(test_ports_auth)
{
	ck_assert_uint_eq(policy_port_count(p, IPPROTO_TCP), 2);
	ck_assert_uint_eq(policy_port_get(p, IPPROTO_TCP, 0), 1024);
	ck_assert_uint_eq(policy_port_get(p, IPPROTO_TCP, 1), 8080);
	ck_assert_uint_eq(policy_port_count(p, IPPROTO_UDP), 1);
	ck_assert_uint_eq(policy_port_get(p, IPPROTO_UDP, 0), 5000);
	ck_assert_uint_eq(policy_port_get(p, IPPROTO_UDP, 1), 0);
	ck_assert(policy_has_device_auth(p));
	ck_assert_str_eq(policy_get_device_auth(p),
	    "8d34f65c-532e-4dcf-a1d6-3e811c1e5c68");
	ck_assert_str_eq(policy_get_component_id(p),
	    "0af255ff-8640-41fd-aea7-f85d34c491d5");
	ck_assert_str_eq(policy_get_name(p), "app");
}
END_TEST

/* 10,000 wildcards and names: lookups still find exactly what is listed. */
START_TEST(test_many_patterns)
{
	size_t cap = 10000 * 40 + 4096, off = 0;
	char *buf = malloc(cap), *caps, name[64];
	struct policy *big;
	int i;

	ck_assert_ptr_nonnull(buf);
	off += (size_t)snprintf(buf + off, cap - off,
	    "{\"SchemaVersion\":1,\"Name\":\"big\",\"ComponentId\":"
	    "\"0af255ff-8640-41fd-aea7-f85d34c491d5\",\"EntryPoint\":\"/a\","
	    "\"Capabilities\":{\"AllowedConnections\":[");
	caps = buf + off;
	for (i = 0; i < 10000; i++)
		off += (size_t)snprintf(buf + off, cap - off,
		    "%s\"%sh%d.example\"", i ? "," : "", i % 2 ? "*." : "", i);
	off += (size_t)snprintf(buf + off, cap - off, "]}}");
	ck_assert_ptr_nonnull(caps);
	big = policy_load_buf(buf, off, NULL);
	ck_assert_ptr_nonnull(big);
	ck_assert_uint_eq(policy_name_count(big), 10000);
	for (i = 0; i < 10000; i++) {
		snprintf(name, sizeof(name), "h%d.example", i);
		ck_assert(policy_allows_name(big, name) == (i % 2 == 0));
		snprintf(name, sizeof(name), "a.b.h%d.example", i);
		ck_assert(policy_allows_name(big, name) == (i % 2 == 1));
	}
	ck_assert(!policy_allows_name(big, "h10000.example"));
	policy_free(big);
	free(buf);
}
END_TEST

/* Covered prefixes are dropped: the kernel's interval sets refuse overlap. */
START_TEST(test_covered)
{
	struct policy *c = load_str(MANIFEST("\"AllowedConnections\": ["
	    "\"10.1.2.3\", \"10.0.0.0/8\", \"10.2.0.0/16\", \"11.0.0.1\"]"),
	    NULL);

	ck_assert_ptr_nonnull(c);
	ck_assert_uint_eq(policy_prefix_count(c, AF_INET), 2);
	ck_assert_int_eq(policy_prefix_get(c, AF_INET, 0)->plen, 8);
	ck_assert_int_eq(policy_prefix_get(c, AF_INET, 1)->plen, 32);
	policy_free(c);
}
END_TEST

START_TEST(test_empty)
{
	struct policy *e = load_str(MANIFEST(""), NULL);

	ck_assert_ptr_nonnull(e);
	ck_assert(!policy_allows_name(e, "example.com"));
	ck_assert(!policy_has_device_auth(e));
	ck_assert_ptr_null(policy_get_device_auth(e));
	ck_assert_uint_eq(policy_name_count(e), 0);
	ck_assert_uint_eq(policy_port_count(e, IPPROTO_TCP), 0);
	policy_free(e);
	policy_free(NULL);
}
END_TEST

Suite *
policy_suite(void)
{
	Suite *s = suite_create("policy");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_names);
	tcase_add_test(core, test_addrs);
	tcase_add_test(core, test_ports_auth);
	tcase_add_test(limits, test_many_patterns);
	tcase_add_test(limits, test_empty);
	tcase_add_test(limits, test_covered);
	tcase_set_timeout(limits, 60);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
