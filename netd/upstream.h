/*
 * upstream: the DNS servers the proxy forwards to, through c-ares on the
 * daemon's libevent loop. It sends a query as it is, but for a fresh
 * random id; the answer comes back raw, with the upstream's id. c-ares
 * retries a truncated answer over TCP and tries the next server on
 * SERVFAIL, REFUSED or a timeout.
 */
#ifndef NETD_NETD_UPSTREAM_H
#define NETD_NETD_UPSTREAM_H

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct config_addr;
struct upstream;

/*
 * The answer to one upstream_send(): ans and len on success, ans NULL on
 * failure (timeout, every server failed, or the upstream was freed, then
 * with destroyed true). ans is valid only during the call.
 */
typedef void	 upstream_cb(void *arg, const uint8_t *ans, size_t len,
		    int destroyed);

/*
 * Forward to these n servers, or, when n is 0, to the nameservers of
 * /etc/resolv.conf except any of the n_self addresses in self (the
 * proxy's own). NULL with err filled when no server is left.
 */
struct upstream	*upstream_new(struct event_base *,
		    const struct config_addr *servers, size_t n,
		    const struct config_addr *self, size_t n_self,
		    unsigned timeout_ms, char *err, size_t errlen);
/* Pending callbacks run with destroyed set. NULL is ignored. */
void		 upstream_free(struct upstream *);
/* 0, or -1 (malformed query, out of memory: no callback will come). */
int		 upstream_send(struct upstream *, const uint8_t *query,
		    size_t len, upstream_cb *, void *arg);
#define UPSTREAM_ADDRS_MAX	16

/*
 * The addresses of a host name, from the upstream servers only (never
 * /etc/hosts): n of them (IPv6 and IPv4 as the answers gave them, at most
 * UPSTREAM_ADDRS_MAX), n = 0 when there are none, err a short reason then.
 */
struct sockaddr_storage;
typedef void	 upstream_addr_cb(void *arg,
		    const struct sockaddr_storage *addrs, size_t n,
		    const char *err);

/* 0, or -1 (no callback will come). The callback may run before return. */
int		 upstream_getaddrinfo(struct upstream *, const char *host,
		    unsigned port, upstream_addr_cb *, void *arg);

/* The servers in use, as "ADDR:PORT ADDR:PORT". */
const char	*upstream_servers(const struct upstream *);
size_t		 upstream_pending(const struct upstream *);

#endif /* NETD_NETD_UPSTREAM_H */
