/*
 * libFuzzer target: one AllowedConnections entry -> hostpat_parse.
 *
 * The entry is given as (s, len) with no terminating NUL, as the contract
 * says. It is parsed twice: from an exact-size copy (ASan catches a read
 * past len) and from a copy followed by digits (a read past len that stops
 * on a digit changes the result). Both must agree. Then, on success:
 *  - a name or wildcard suffix is 1-253 octets, lower case, with no empty
 *    label, and parses again to itself;
 *  - a prefix has a valid family and length and no host bits set, and its
 *    text (hostpat_prefix_str) parses again to the same prefix.
 * On failure the reason is a non-empty, terminated string.
 *
 * FUZZ_HOSTPAT_NUL=1 in the environment parses a NUL-terminated copy
 * instead and skips the comparison, to fuzz past a known read past len.
 */
#include <sys/socket.h>

#include <netinet/in.h>

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "hostpat.h"

int	LLVMFuzzerInitialize(int *, char ***);
int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define PAD	"9999999.9/99"

static int nul_mode;

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_hostpat: property failed: %s\n", what);
		abort();
	}
}

static int
same_result(enum hostpat_status sa, const struct hostpat *a, const char *wa,
    enum hostpat_status sb, const struct hostpat *b, const char *wb)
{
	if (sa != sb || strcmp(wa, wb) != 0)
		return 0;
	if (sa != HOSTPAT_OK)
		return 1;
	if (a->kind != b->kind || strcmp(a->warn, b->warn) != 0)
		return 0;
	if (a->kind == HOSTPAT_PREFIX)
		return a->prefix.family == b->prefix.family &&
		    a->prefix.plen == b->prefix.plen &&
		    memcmp(a->prefix.addr, b->prefix.addr,
		    sizeof(a->prefix.addr)) == 0;
	return strcmp(a->name, b->name) == 0;
}

static void
check_name(const struct hostpat *hp)
{
	char buf[HOSTPAT_NAME_MAX + 3], why[HOSTPAT_WHY_MAX];
	char norm[HOSTPAT_NAME_MAX + 1];
	struct hostpat again;
	size_t n, i;

	n = strnlen(hp->name, sizeof(hp->name));
	check(n < sizeof(hp->name), "name is terminated");
	check(n >= 1 && n <= HOSTPAT_NAME_MAX, "name is 1-253 octets");
	for (i = 0; i < n; i++)
		check(hp->name[i] < 'A' || hp->name[i] > 'Z',
		    "name is lower case");
	check(hp->name[0] != '.' && hp->name[n - 1] != '.' &&
	    strstr(hp->name, "..") == NULL, "name has no empty label");
	check(hostpat_normalize(hp->name, norm) == (int)n &&
	    strcmp(norm, hp->name) == 0, "normalize(name) == name");

	if (hp->kind == HOSTPAT_NAME) {
		check(hostpat_parse(hp->name, n, &again, why) == HOSTPAT_OK,
		    "normalized name parses again");
		check(again.kind == HOSTPAT_NAME &&
		    strcmp(again.name, hp->name) == 0,
		    "normalized name parses to itself");
	} else {
		buf[0] = '*';
		buf[1] = '.';
		memcpy(buf + 2, hp->name, n);
		check(hostpat_parse(buf, n + 2, &again, why) == HOSTPAT_OK,
		    "normalized wildcard parses again");
		check(again.kind == HOSTPAT_WILDCARD &&
		    strcmp(again.name, hp->name) == 0,
		    "normalized wildcard parses to itself");
	}
}

static void
check_prefix(const struct hostpat *hp)
{
	const struct policy_prefix *p = &hp->prefix;
	char buf[64], why[HOSTPAT_WHY_MAX];
	struct hostpat again;
	unsigned max, i;

	check(p->family == AF_INET || p->family == AF_INET6, "family");
	max = p->family == AF_INET ? 32 : 128;
	check(p->plen >= 1 && p->plen <= max, "prefix length in range");
	for (i = p->plen; i < 128; i++)
		check((p->addr[i / 8] & (0x80u >> (i % 8))) == 0,
		    "no host bits set");
	hostpat_prefix_str(p, buf, sizeof(buf));
	check(strlen(buf) < sizeof(buf) - 1, "prefix text fits");
	check(hostpat_parse(buf, strlen(buf), &again, why) == HOSTPAT_OK,
	    "prefix text parses again");
	check(again.kind == HOSTPAT_PREFIX &&
	    again.prefix.family == p->family && again.prefix.plen == p->plen &&
	    memcmp(again.prefix.addr, p->addr, sizeof(p->addr)) == 0,
	    "prefix text parses to the same prefix");
}

int
LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *e = getenv("FUZZ_HOSTPAT_NUL");

	(void)argc;
	(void)argv;
	nul_mode = e != NULL && strcmp(e, "1") == 0;
	return 0;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char why[HOSTPAT_WHY_MAX], why2[HOSTPAT_WHY_MAX], *exact, *padded;
	struct hostpat hp, hp2;
	enum hostpat_status st, st2;

	/* Exact size, no terminator: a read past len is a heap overflow. */
	if ((exact = malloc(nul_mode ? size + 1 : size > 0 ? size : 1)) ==
	    NULL)
		return 0;
	memcpy(exact, data, size);
	if (nul_mode)
		exact[size] = '\0';
	st = hostpat_parse(exact, size, &hp, why);

	if (!nul_mode) {
		if ((padded = malloc(size + sizeof(PAD))) == NULL) {
			free(exact);
			return 0;
		}
		memcpy(padded, data, size);
		memcpy(padded + size, PAD, sizeof(PAD));
		st2 = hostpat_parse(padded, size, &hp2, why2);
		if (!same_result(st, &hp, why, st2, &hp2, why2))
			fprintf(stderr, "exact: %d '%s'\npadded: %d '%s'\n",
			    st, why, st2, why2);
		check(same_result(st, &hp, why, st2, &hp2, why2),
		    "result depends on bytes after len");
		free(padded);
	}
	free(exact);

	check(hostpat_strerror(st) != NULL, "hostpat_strerror");
	if (st != HOSTPAT_OK) {
		check(why[0] != '\0' && strnlen(why, sizeof(why)) <
		    sizeof(why), "a refusal has a reason");
		return 0;
	}
	check(strnlen(hp.warn, sizeof(hp.warn)) < sizeof(hp.warn),
	    "warning is terminated");
	switch (hp.kind) {
	case HOSTPAT_NAME:
	case HOSTPAT_WILDCARD:
		check_name(&hp);
		break;
	case HOSTPAT_PREFIX:
		check_prefix(&hp);
		break;
	default:
		check(0, "kind");
	}
	return 0;
}
