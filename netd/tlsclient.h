/*
 * tlsclient: what netctl needs of netd/tlsclient.c beyond the public API
 * of include/netd_tls.h.
 */
#ifndef NETD_NETD_TLSCLIENT_H
#define NETD_NETD_TLSCLIENT_H

#include <stdbool.h>
#include <stddef.h>

/*
 * netd_tls_connect() at path (NULL: the environment or the default); peer
 * (if not NULL) receives "ADDRESS port PORT, VERSION CIPHERSUITE" from the
 * OK line; *refused (if not NULL) says whether the failure was netd's ERR
 * line.
 */
int	netd_tls_connect_at(const char *path, const char *host, unsigned port,
	    int flags, char *peer, size_t peerlen, bool *refused);

#endif /* NETD_NETD_TLSCLIENT_H */
