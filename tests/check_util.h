/* Helpers shared by the unit suites. */
#ifndef NETD_TESTS_CHECK_UTIL_H
#define NETD_TESTS_CHECK_UTIL_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

/* A complete manifest around a Capabilities body (without braces). */
#define MANIFEST(caps)							\
	"{\"SchemaVersion\": 1, \"Name\": \"app\", "			\
	"\"ComponentId\": \"0AF255FF-8640-41FD-AEA7-F85D34C491D5\", "	\
	"\"EntryPoint\": \"/bin/app\", \"CmdArgs\": [], "		\
	"\"Capabilities\": {" caps "}, \"ApplicationType\": \"Default\"}"

/* Load from a string; diag receives the messages. */
static inline struct policy *
load_str(const char *s, struct policy_diag *d)
{
	return policy_load_buf(s, strlen(s), d);
}

/* All messages of d, printed, in one string the caller frees. */
static inline char *
diag_text(const struct policy_diag *d)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *fp = open_memstream(&buf, &len);

	if (fp == NULL)
		return NULL;
	policy_diag_print(d, fp);
	fclose(fp);
	return buf;
}

#endif /* NETD_TESTS_CHECK_UTIL_H */
