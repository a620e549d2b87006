/*
 * libFuzzer target: bytes -> config_parse (netd.conf).
 *
 * The file is root's, but a parser must still never crash, read past its
 * input or keep half a result. Properties:
 *  - on failure the message is non-empty, one line, and *out is untouched;
 *  - on success config_print() of the result parses again, to a result
 *    that prints identically (the printer and the parser agree).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_config: property failed: %s\n", what);
		abort();
	}
}

static char *
print(const struct netd_config *c, size_t *len)
{
	char *buf = NULL;
	FILE *fp = open_memstream(&buf, len);

	check(fp != NULL, "open_memstream");
	config_print(c, fp);
	fclose(fp);
	return buf;
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct netd_config c, c2, before;
	char err[CONFIG_ERR_MAX], *p1, *p2;
	size_t l1, l2;
	char *copy;

	/* An exact-size copy: ASan sees any read past the end. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	memset(&c, 0x5a, sizeof(c));
	before = c;
	err[0] = '\0';
	if (config_parse("fuzz.conf", copy, size, &c, err, sizeof(err)) != 0) {
		check(err[0] != '\0', "an error has a message");
		check(strchr(err, '\n') == NULL, "the message is one line");
		check(memcmp(&c, &before, sizeof(c)) == 0,
		    "a refused file changes nothing");
		free(copy);
		return 0;
	}
	p1 = print(&c, &l1);
	check(config_parse("printed", p1, l1, &c2, err, sizeof(err)) == 0,
	    "the printed configuration parses");
	p2 = print(&c2, &l2);
	check(l1 == l2 && memcmp(p1, p2, l1) == 0,
	    "it prints back identically");
	free(p1);
	free(p2);
	free(copy);
	return 0;
}
