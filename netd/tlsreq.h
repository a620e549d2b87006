/*
 * tlsreq: the request line of the TLS gateway ("CONNECT host port", the
 * '\n' already removed; include/netd_tls.h). Pure: no I/O, no allocation.
 */
#ifndef NETD_NETD_TLSREQ_H
#define NETD_NETD_TLSREQ_H

#include <stdbool.h>
#include <stddef.h>

#define TLSREQ_HOST_MAX	253

/*
 * Parse line into host (a name or an address literal without brackets:
 * letters, digits, '-', '_', '.', ':'; 1 to TLSREQ_HOST_MAX octets; host
 * must hold TLSREQ_HOST_MAX + 1) and *port (1-65535, decimal, no leading
 * zero). Returns 0, or -1 with *why a reason for the app.
 */
int	tlsreq_parse(const char *line, char host[TLSREQ_HOST_MAX + 1],
	    unsigned *port, const char **why);

#endif /* NETD_NETD_TLSREQ_H */
