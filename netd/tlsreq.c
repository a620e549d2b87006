/*
 * tlsreq: the TLS gateway's request line, parsed without sscanf: every
 * octet is looked at once, left to right.
 */
#include <string.h>

#include "tlsreq.h"

static bool
host_char(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
	    (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	    c == ':';
}

int
tlsreq_parse(const char *line, char host[TLSREQ_HOST_MAX + 1],
    unsigned *port, const char **why)
{
	const char *p = line, *h;
	unsigned long v = 0;
	size_t len;

	if (strncmp(p, "CONNECT ", 8) != 0) {
		*why = "expected \"CONNECT host port\"";
		return -1;
	}
	p += 8;
	for (h = p; host_char(*p); p++)
		;
	len = (size_t)(p - h);
	if (len == 0 || (*p != ' ' && *p != '\0')) {
		*why = *p == '\0' || *p == ' ' ? "expected \"CONNECT host "
		    "port\"" : "not a host name or address";
		return -1;
	}
	if (len > TLSREQ_HOST_MAX) {
		*why = "not a host name or address";
		return -1;
	}
	if (*p != ' ' || p[1] < '1' || p[1] > '9') {
		*why = *p == ' ' && p[1] == '0' ? "port must be 1-65535" :
		    "expected \"CONNECT host port\"";
		return -1;
	}
	for (p++; *p >= '0' && *p <= '9'; p++) {
		v = v * 10 + (unsigned long)(*p - '0');
		if (v > 65535) {
			*why = "port must be 1-65535";
			return -1;
		}
	}
	if (*p != '\0') {
		*why = "expected \"CONNECT host port\"";
		return -1;
	}
	memcpy(host, h, len);
	host[len] = '\0';
	*port = (unsigned)v;
	return 0;
}
