/*
 * libFuzzer target: bytes -> tlsreq_parse, the TLS gateway's request line
 * (what any local user can send). Properties:
 *  - on failure there is a reason and nothing else is promised;
 *  - on success the host is 1-253 octets of name or literal characters,
 *    the port 1-65535, and the line is exactly "CONNECT <host> <port>":
 *    the parser accepts only the canonical form.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tlsreq.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_tlsreq: property failed: %s\n", what);
		abort();
	}
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char host[TLSREQ_HOST_MAX + 1], *line, again[600];
	const char *why = NULL, *p;
	unsigned port = 0;

	/* The gateway hands over a NUL-terminated line of at most 512. */
	if (size > 512 || (line = malloc(size + 1)) == NULL)
		return 0;
	memcpy(line, data, size);
	line[size] = '\0';
	if (tlsreq_parse(line, host, &port, &why) == -1) {
		check(why != NULL && why[0] != '\0', "a reason");
		free(line);
		return 0;
	}
	check(strlen(host) >= 1 && strlen(host) <= TLSREQ_HOST_MAX,
	    "host length");
	for (p = host; *p != '\0'; p++)
		check(strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
		    "0123456789-_.:", *p) != NULL, "host characters");
	check(port >= 1 && port <= 65535, "port range");
	snprintf(again, sizeof(again), "CONNECT %s %u", host, port);
	check(strcmp(again, line) == 0, "only the canonical form");
	free(line);
	return 0;
}
