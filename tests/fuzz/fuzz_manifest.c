/*
 * libFuzzer target: app_manifest.json bytes -> policy_load_buf.
 *
 * Properties checked (abort on violation):
 *  - every diagnostic has a path and a reason, and a failed load reports at
 *    least one error;
 *  - a loaded policy prints; the printed text loads again without error and
 *    prints identically (the canonical printer's round trip);
 *  - every listed host name, and one name under every wildcard, is allowed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostpat.h"
#include "policy.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static FILE *devnull;

static const char *const probe_names[] = {
	"example.com",
	"EXAMPLE.COM.",
	"www.example.com",
	"global.azure-devices-provisioning.net",
	"a.b.c.d.e",
	"_sample-service._tcp.local",
	"localhost",
	"192.0.2.1",
	"",
	".",
	"*.example.com",
};

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_manifest: property failed: %s\n", what);
		abort();
	}
}

static void
check_diag(const struct policy_diag *d, int loaded)
{
	size_t i, n = policy_diag_count(d), errors = 0;

	check(n == policy_diag_errors(d) + policy_diag_warnings(d),
	    "count == errors + warnings");
	for (i = 0; i < n; i++) {
		const struct policy_msg *m = policy_diag_get(d, i);

		check(m != NULL, "policy_diag_get in range");
		check(m->path != NULL && m->reason != NULL,
		    "message has a path and a reason");
		if (m->sev == POLICY_ERROR)
			errors++;
	}
	check(policy_diag_get(d, n) == NULL, "policy_diag_get past end");
	check(errors == policy_diag_errors(d), "error count");
	if (loaded)
		check(errors == 0, "a loaded policy has no error");
	else
		check(errors > 0, "a failed load reports an error");
	policy_diag_print(d, devnull);
}

/* Every name the policy lists must be allowed by it. */
static void
check_names(const struct policy *p)
{
	char buf[HOSTPAT_NAME_MAX + 3];
	size_t i, n = policy_name_count(p);

	for (i = 0; i < n; i++) {
		const char *name = policy_name_get(p, i);

		check(name != NULL, "policy_name_get in range");
		if (name[0] == '*') {
			/* "x.suffix" is as long as "*.suffix": may not fit. */
			if (strlen(name) > HOSTPAT_NAME_MAX)
				continue;
			snprintf(buf, sizeof(buf), "x%s", name + 1);
			check(policy_allows_name(p, buf),
			    "one label under a wildcard is allowed");
		} else
			check(policy_allows_name(p, name),
			    "a listed name is allowed");
	}
	for (i = 0; i < sizeof(probe_names) / sizeof(probe_names[0]); i++)
		(void)policy_allows_name(p, probe_names[i]);
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if ((devnull = fopen("/dev/null", "w")) == NULL) {
		perror("/dev/null");
		abort();
	}
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct policy_diag *d1, *d2;
	struct policy *p1, *p2;
	char *s1, *s2;

	if ((d1 = policy_diag_new("fuzz.json")) == NULL)
		return 0;
	p1 = policy_load_buf((const char *)data, size, d1);
	check_diag(d1, p1 != NULL);
	policy_diag_free(d1);
	if (p1 == NULL)
		return 0;

	check_names(p1);
	(void)policy_get_name(p1);
	(void)policy_get_component_id(p1);
	(void)policy_get_device_auth(p1);

	s1 = policy_print(p1);
	check(s1 != NULL, "policy_print");
	d2 = policy_diag_new("printed.json");
	check(d2 != NULL, "policy_diag_new");
	p2 = policy_load_buf(s1, strlen(s1), d2);
	if (p2 == NULL) {
		fprintf(stderr, "printed text:\n%s\n", s1);
		policy_diag_print(d2, stderr);
	}
	check(p2 != NULL, "printed policy loads again");
	check_diag(d2, 1);
	s2 = policy_print(p2);
	check(s2 != NULL, "policy_print (second)");
	if (strcmp(s1, s2) != 0)
		fprintf(stderr, "first print:\n%s\nsecond print:\n%s\n", s1,
		    s2);
	check(strcmp(s1, s2) == 0, "print(load(print(p))) == print(p)");
	check(policy_name_count(p1) == policy_name_count(p2),
	    "same name count after round trip");

	free(s2);
	free(s1);
	policy_free(p2);
	policy_diag_free(d2);
	policy_free(p1);
	return 0;
}
