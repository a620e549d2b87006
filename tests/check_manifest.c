/*
 * policy/manifest.c: fields, types, capabilities, and the exact text of
 * each diagnostic ("FILE: PATH: VALUE: reason").
 */
#include <sys/stat.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <check.h>

#include "check_suites.h"
#include "check_util.h"

struct case_ {
	const char	*json;
	int		 ok;
	const char	*text;	/* expected substring of the diagnostics */
};

#define ZERO_GUID "00000000-0000-0000-0000-000000000000"

static const struct case_ cases[] = {
	/* Accepted, with or without warnings. */
	{ MANIFEST(""), 1, "" },
	{ MANIFEST("\"Gpio\": [8], \"Uart\": [\"$U\"], \"WifiConfig\": true"),
	    1, "" },
	{ MANIFEST("\"AllowedConnections\": []"), 1, "" },
	{ MANIFEST("\"DeviceAuthentication\": \"" ZERO_GUID "\""), 1,
	    "t: warning: Capabilities.DeviceAuthentication: \"" ZERO_GUID
	    "\": all-zero GUID is the sample placeholder" },
	{ MANIFEST("\"AllowedConnections\": [\"yourhostname.azure-devices"
	    ".net\"]"), 1, "t: warning: Capabilities.AllowedConnections[0]: "
	    "\"yourhostname.azure-devices.net\": looks like a placeholder" },
	{ MANIFEST("\"AllowedConnections\": [\"a.com\", \"A.com.\"]"), 1,
	    "t: warning: Capabilities.AllowedConnections[1]: \"A.com.\": "
	    "duplicate entry (ignored)" },
	{ MANIFEST("\"AllowedConnections\": [\"10.1.2.3\", \"10.0.0.0/8\", "
	    "\"2001:db8::/48\", \"2001:db8::/32\"]"), 1,
	    "t: warning: Capabilities.AllowedConnections[0]: \"10.1.2.3\": "
	    "inside 10.0.0.0/8, also listed (ignored)\n"
	    "t: warning: Capabilities.AllowedConnections[2]: \"2001:db8::/48\": "
	    "inside 2001:db8::/32, also listed (ignored)\n" },
	{ MANIFEST("\"AllowedTcpServerPorts\": [80]"), 1,
	    "warning: Capabilities.AllowedTcpServerPorts[0]: 80: Azure Sphere "
	    "accepts server ports 1024-65535 only" },
	{ MANIFEST("\"AllowedUdpServerPorts\": [5000, 5000]"), 1,
	    "warning: Capabilities.AllowedUdpServerPorts[1]: 5000: duplicate "
	    "port (ignored)" },
	{ "{\"SchemaVersion\":1,\"Name\":\"n\",\"ComponentId\":"
	    "\"0af255ff-8640-41fd-aea7-f85d34c491d5\",\"EntryPoint\":\"/a\","
	    "\"Mystery\":1}", 1,
	    "t: warning: Mystery: unknown top-level key (ignored)" },
	{ "\xef\xbb\xbf{\"SchemaVersion\":1,\"Name\":\"n\",\"ComponentId\":"
	    "\"0af255ff-8640-41fd-aea7-f85d34c491d5\",\"EntryPoint\":\"/a\"}",
	    1, "" },
	{ "{\"SchemaVersion\":1,\"Name\":\"n\",\"ComponentId\":"
	    "\"0af255ff-8640-41fd-aea7-f85d34c491d5\",\"EntryPoint\":\"/a\","
	    "\"MallocVersion\":2,\"TargetApplicationRuntimeVersion\":1,"
	    "\"TargetBetaApis\":true}\n\n", 1, "" },

	/* Refused. */
	{ MANIFEST("\"AllowedConnections\": [\"a.com\", \"b.com\", \"c.com\","
	    " \"exa mple.com\"]"), 0,
	    "t: Capabilities.AllowedConnections[3]: \"exa mple.com\": label "
	    "contains white space\n" },
	{ MANIFEST("\"AllowedConnections\": [\"https://x.com/\", "
	    "\"x.com:443\", \"\", \"<hub>\", \"010.0.0.1\", \"1.2.3\", "
	    "\"1.2.3.4/40\", \"a*.b\", 7]"), 0,
	    "t: Capabilities.AllowedConnections[0]: \"https://x.com/\": a URL, "
	    "not a host: write only the host name ('x.com')\n"
	    "t: Capabilities.AllowedConnections[1]: \"x.com:443\": host:port: "
	    "a port is not part of an AllowedConnections entry, write 'x.com' "
	    "alone\n"
	    "t: Capabilities.AllowedConnections[2]: \"\": empty string\n"
	    "t: Capabilities.AllowedConnections[3]: \"<hub>\": placeholder: "
	    "replace it with the real host name or address\n"
	    "t: Capabilities.AllowedConnections[4]: \"010.0.0.1\": part '010' "
	    "has a leading zero (read as octal by some resolvers): write it "
	    "without\n"
	    "t: Capabilities.AllowedConnections[5]: \"1.2.3\": IPv4 address has "
	    "3 parts, not four (short forms are not accepted)\n"
	    "t: Capabilities.AllowedConnections[6]: \"1.2.3.4/40\": prefix "
	    "length 40 is out of range 1-32\n"
	    "t: Capabilities.AllowedConnections[7]: \"a*.b\": '*' is only "
	    "allowed as the whole first label, as in '*.example.com'\n"
	    "t: Capabilities.AllowedConnections[8]: 7: must be a string, not "
	    "an integer\n" },
	{ MANIFEST("\"AllowedConnections\": \"a.com\""), 0,
	    "t: Capabilities.AllowedConnections: \"a.com\": must be an array of "
	    "strings, not a string" },
	{ MANIFEST("\"AllowedTcpServerPorts\": [0, 65536, \"443\", 80.5, -1]"),
	    0, "t: Capabilities.AllowedTcpServerPorts[0]: 0: port is out of "
	    "range 1-65535\n"
	    "t: Capabilities.AllowedTcpServerPorts[1]: 65536: port is out of "
	    "range 1-65535\n"
	    "t: Capabilities.AllowedTcpServerPorts[2]: \"443\": a port must be "
	    "an integer, not a string\n"
	    "t: Capabilities.AllowedTcpServerPorts[3]: 80.5: a port must be an "
	    "integer, not a number with a fraction\n"
	    "t: Capabilities.AllowedTcpServerPorts[4]: -1: port is out of range "
	    "1-65535\n" },
	{ MANIFEST("\"AllowedUdpServerPorts\": {}"), 0,
	    "t: Capabilities.AllowedUdpServerPorts: {}: must be an array of "
	    "port numbers, not an object" },
	{ MANIFEST("\"DeviceAuthentication\": true"), 0,
	    "t: Capabilities.DeviceAuthentication: true: must be a GUID string,"
	    " not a boolean" },
	{ MANIFEST("\"DeviceAuthentication\": \"tenant\""), 0,
	    "t: Capabilities.DeviceAuthentication: \"tenant\": not a GUID" },
	{ MANIFEST("\"NetworkConfig\": \"yes\""), 0,
	    "t: Capabilities.NetworkConfig: \"yes\": must be true or false, "
	    "not a string" },
	{ "{\"SchemaVersion\":1,\"Name\":\"n\",\"ComponentId\":"
	    "\"0af255ff-8640-41fd-aea7-f85d34c491d5\",\"EntryPoint\":\"/a\","
	    "\"Capabilities\":[]}", 0,
	    "t: Capabilities: []: must be an object, not an array" },
	{ "{\"Name\":\"n\"}", 0,
	    "t: SchemaVersion: required field is missing\n"
	    "t: ComponentId: required field is missing\n"
	    "t: EntryPoint: required field is missing\n" },
	{ "{\"SchemaVersion\":2,\"Name\":\"\",\"ComponentId\":\"abc\","
	    "\"EntryPoint\":5,\"CmdArgs\":[1],\"ApplicationType\":[]}", 0,
	    "t: SchemaVersion: 2: unsupported schema version: netd reads "
	    "version 1\n"
	    "t: Name: \"\": must not be empty\n"
	    "t: ComponentId: \"abc\": not a GUID (expected 8-4-4-4-12 hex "
	    "digits)\n"
	    "t: EntryPoint: 5: must be a string, not an integer\n"
	    "t: ApplicationType: []: must be a string, not an array\n"
	    "t: CmdArgs[0]: 1: must be a string, not an integer\n" },
	{ "{\"Capabilities\": {\"NetworkConfig\": true}}", 0,
	    "t: a Capabilities fragment, not an app manifest: SchemaVersion, "
	    "Name, ComponentId and EntryPoint are missing" },
	{ "[1, 2]", 0, "t: a manifest must be a JSON object, not an array" },
	{ "{\"SchemaVersion\": 1,\n \"Name\": \"n\",\n}", 0,
	    "t:2:13: invalid JSON: trailing comma before '}' (not allowed in "
	    "JSON)" },
	{ "{\"a\": [1,\n  2 , ]}", 0,
	    "t:2:5: invalid JSON: trailing comma before ']' (not allowed in "
	    "JSON)" },
	{ "{\"Name\": \"a\", \"Name\": \"b\"}", 0,
	    "t:1:20: invalid JSON: duplicate object key near '\"Name\"'" },
	{ "", 0, "t:1:0: invalid JSON:" },
	{ "{\"SchemaVersion\": 1", 0, "invalid JSON" },
	{ "{\"Name\": \"a\\u0000b\"}", 0,
	    "t:1:19: invalid JSON: a string contains \\u0000 (NUL)" },
	{ "{\"SchemaVersion\":1,\"Name\":\"n\",\"ComponentId\":"
	    "\"0af255ff-8640-41fd-aea7-f85d34c491d5\",\"EntryPoint\":\"/a\","
	    "\"x\\nfake.json: ok\":1}", 1,
	    "t: warning: x\\x0afake.json: ok: unknown top-level key" },
};

START_TEST(test_case)
{
	const struct case_ *c = &cases[_i];
	struct policy_diag *d = policy_diag_new("t");
	struct policy *p;
	char *text;

	p = load_str(c->json, d);
	text = diag_text(d);
	ck_assert_msg((p != NULL) == c->ok, "case %d: ok=%d, diag:\n%s", _i,
	    p != NULL, text);
	ck_assert_msg(strstr(text, c->text) != NULL,
	    "case %d: diagnostics\n%s\nlack\n%s", _i, text, c->text);
	/* A refused manifest has at least one error; a loaded one none. */
	ck_assert((policy_diag_errors(d) > 0) == !c->ok);
	free(text);
	policy_free(p);
	policy_diag_free(d);
}
END_TEST

static char tmpdir[64];

static void
setup(void)
{
	strcpy(tmpdir, "/tmp/netd-check.XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(tmpdir));
}

static void
teardown(void)
{
	char cmd[128];

	snprintf(cmd, sizeof(cmd), "rm -rf %s", tmpdir);
	ck_assert_int_eq(system(cmd), 0);
}

static void
write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	ck_assert_int_ne(fd, -1);
	ck_assert_int_eq(write(fd, data, len), (ssize_t)len);
	close(fd);
}

START_TEST(test_file)
{
	const char *m = MANIFEST("\"AllowedConnections\": [\"a.com\"]");
	struct policy_diag *d;
	struct policy *p;
	char path[128], *text;

	snprintf(path, sizeof(path), "%s/app_manifest.json", tmpdir);
	write_file(path, m, strlen(m));
	d = policy_diag_new(path);
	p = policy_load_file(path, d);
	ck_assert_ptr_nonnull(p);
	ck_assert(policy_allows_name(p, "a.com"));
	ck_assert_uint_eq(policy_diag_count(d), 0);
	policy_free(p);
	policy_diag_free(d);

	/* A directory and a missing file: "cannot read", with errno text. */
	d = policy_diag_new(tmpdir);
	ck_assert_ptr_null(policy_load_file(tmpdir, d));
	text = diag_text(d);
	ck_assert_ptr_nonnull(strstr(text, ": cannot read: Is a directory"));
	free(text);
	policy_diag_free(d);
	snprintf(path, sizeof(path), "%s/missing.json", tmpdir);
	d = policy_diag_new(path);
	ck_assert_ptr_null(policy_load_file(path, d));
	text = diag_text(d);
	ck_assert_ptr_nonnull(strstr(text,
	    "missing.json: cannot read: No such file or directory"));
	free(text);
	policy_diag_free(d);
}
END_TEST

START_TEST(test_file_too_big)
{
	size_t len = 1024 * 1024 + 1;
	char path[128], *big = malloc(len), *text;
	struct policy_diag *d;

	ck_assert_ptr_nonnull(big);
	memset(big, ' ', len);
	snprintf(path, sizeof(path), "%s/big.json", tmpdir);
	write_file(path, big, len);
	d = policy_diag_new("big.json");
	ck_assert_ptr_null(policy_load_file(path, d));
	text = diag_text(d);
	ck_assert_str_eq(text, "big.json: file is 1048577 octets, larger "
	    "than the limit of 1048576\n");
	free(text);
	free(big);
	policy_diag_free(d);
}
END_TEST

START_TEST(test_too_many_entries)
{
	size_t cap = 20000 * 12 + 1024, off = 0;
	char *buf = malloc(cap), *text;
	struct policy_diag *d = policy_diag_new("t");
	int i;

	ck_assert_ptr_nonnull(buf);
	off += (size_t)snprintf(buf + off, cap - off,
	    "{\"Capabilities\":{\"AllowedConnections\":[");
	for (i = 0; i < 20000; i++)
		off += (size_t)snprintf(buf + off, cap - off, "%s\"h%d.x\"",
		    i ? "," : "", i);
	off += (size_t)snprintf(buf + off, cap - off, "]}, \"Name\": \"x\"}");
	ck_assert_ptr_null(policy_load_buf(buf, off, d));
	text = diag_text(d);
	ck_assert_ptr_nonnull(strstr(text, "t: Capabilities.AllowedConnections:"
	    " 20000 entries, more than the limit of 16384"));
	free(text);
	free(buf);
	policy_diag_free(d);
}
END_TEST

START_TEST(test_long_value_cut)
{
	char json[1024], entry[300], *text;
	struct policy_diag *d = policy_diag_new("t");

	memset(entry, 'a', 200);
	entry[200] = '\0';
	snprintf(json, sizeof(json), "{\"Capabilities\":{\"AllowedConnections\""
	    ":[\"%s!\"]}, \"Name\": \"x\"}", entry);
	ck_assert_ptr_null(policy_load_buf(json, strlen(json), d));
	text = diag_text(d);
	/* The value is cut with "...", and the label quoted short. */
	ck_assert_ptr_nonnull(strstr(text, "aaaa...\": label 'aaaaaaaaaaaaaaaa"
	    "aaaa...' is 201 octets long, more than 63"));
	free(text);
	policy_diag_free(d);
}
END_TEST

Suite *
manifest_suite(void)
{
	Suite *s = suite_create("manifest");
	TCase *core = tcase_create("Core"), *limits = tcase_create("Limits");

	tcase_add_loop_test(core, test_case, 0,
	    sizeof(cases) / sizeof(cases[0]));
	tcase_add_checked_fixture(core, setup, teardown);
	tcase_add_test(core, test_file);
	tcase_add_checked_fixture(limits, setup, teardown);
	tcase_add_test(limits, test_file_too_big);
	tcase_add_test(limits, test_too_many_entries);
	tcase_add_test(limits, test_long_value_cut);
	suite_add_tcase(s, core);
	suite_add_tcase(s, limits);
	return s;
}
