/* policy/print.c: canonical form, and print -> load -> print round trip. */
#include <stdlib.h>
#include <string.h>

#include <check.h>

#include "check_suites.h"
#include "check_util.h"

static const char *const inputs[] = {
	MANIFEST(""),
	MANIFEST("\"AllowedConnections\": [\"Z.example\", \"*.B.example\","
	    " \"a.example.\", \"2001:db8::/32\", \"10.0.0.0/8\", \"192.0.2.1\","
	    " \"a.example\", \"255.255.255.255\", \"::1\"],"
	    "\"AllowedTcpServerPorts\": [9000, 1025, 9000],"
	    "\"AllowedUdpServerPorts\": [7000],"
	    "\"DeviceAuthentication\": \"8D34F65C-532E-4DCF-A1D6-3E811C1E5C68\","
	    "\"NetworkConfig\": true, \"SntpService\": false,"
	    "\"DhcpService\": true, \"CertStore\": true,"
	    "\"ReadNetworkProxyConfig\": true, \"Gpio\": [1]"),
};

static char *
load_print(const char *json)
{
	struct policy *p = load_str(json, NULL);
	char *s;

	ck_assert_ptr_nonnull(p);
	s = policy_print(p);
	ck_assert_ptr_nonnull(s);
	policy_free(p);
	return s;
}

START_TEST(test_round_trip)
{
	char *once = load_print(inputs[_i]), *twice = load_print(once);

	ck_assert_str_eq(once, twice);
	free(once);
	free(twice);
}
END_TEST

START_TEST(test_canonical)
{
	char *s = load_print(inputs[1]);

	ck_assert_str_eq(s,
	    "{\n"
	    "  \"SchemaVersion\": 1,\n"
	    "  \"Name\": \"app\",\n"
	    "  \"ComponentId\": \"0af255ff-8640-41fd-aea7-f85d34c491d5\",\n"
	    "  \"EntryPoint\": \"/bin/app\",\n"
	    "  \"ApplicationType\": \"Default\",\n"
	    "  \"Capabilities\": {\n"
	    "    \"AllowedConnections\": [\n"
	    "      \"a.example\",\n"
	    "      \"z.example\",\n"
	    "      \"*.b.example\",\n"
	    "      \"10.0.0.0/8\",\n"
	    "      \"192.0.2.1\",\n"
	    "      \"255.255.255.255\",\n"
	    "      \"::1\",\n"
	    "      \"2001:db8::/32\"\n"
	    "    ],\n"
	    "    \"AllowedTcpServerPorts\": [\n"
	    "      1025,\n"
	    "      9000\n"
	    "    ],\n"
	    "    \"AllowedUdpServerPorts\": [\n"
	    "      7000\n"
	    "    ],\n"
	    "    \"DeviceAuthentication\": "
	    "\"8d34f65c-532e-4dcf-a1d6-3e811c1e5c68\",\n"
	    "    \"NetworkConfig\": true,\n"
	    "    \"DhcpService\": true,\n"
	    "    \"CertStore\": true,\n"
	    "    \"ReadNetworkProxyConfig\": true\n"
	    "  }\n"
	    "}");
	free(s);
}
END_TEST

/* Input order does not matter: two permutations print the same text. */
START_TEST(test_order_independent)
{
	char *a = load_print(MANIFEST("\"AllowedConnections\": [\"b.x\", "
	    "\"10.0.0.1\", \"a.x\", \"*.c.x\"]"));
	char *b = load_print(MANIFEST("\"AllowedConnections\": [\"*.c.x\", "
	    "\"a.x\", \"10.0.0.1\", \"b.x\"]"));

	ck_assert_str_eq(a, b);
	free(a);
	free(b);
}
END_TEST

Suite *
print_suite(void)
{
	Suite *s = suite_create("print");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_loop_test(core, test_round_trip, 0,
	    sizeof(inputs) / sizeof(inputs[0]));
	tcase_add_test(core, test_canonical);
	tcase_add_test(limits, test_order_independent);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
