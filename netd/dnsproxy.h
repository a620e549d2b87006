/*
 * dnsproxy: the filtering DNS proxy. It listens on UDP and TCP, attributes
 * every query to the uid of the socket that sent it (the packet mark the
 * output rule sets), answers names outside an app's policy itself, forwards
 * the others (upstream.c), grants the addresses of each answer to that uid
 * (nft_grant) and releases the answer only after the kernel acked.
 *
 * Queries from uids outside the app range are forwarded unfiltered, and
 * open nothing (netd is the system's resolver too), unless the config
 * refuses them.
 */
#ifndef NETD_NETD_DNSPROXY_H
#define NETD_NETD_DNSPROXY_H

#include <sys/types.h>

#include <stdbool.h>
#include <stdint.h>

#include <jansson.h>

struct event_base;
struct netd_config;
struct apps;
struct nft;
struct dnsproxy;

/* A denied query, as a JSON event; the callee takes no reference. */
typedef void	 dnsproxy_event_fn(void *arg, json_t *event);

/*
 * Bind the listeners of conf->dns_listen and set up the upstream. NULL
 * with err filled on failure (address in use, no upstream server).
 */
struct dnsproxy	*dnsproxy_new(struct event_base *, const struct netd_config *,
		    struct apps *, struct nft *, dnsproxy_event_fn *,
		    void *arg, char *err, size_t errlen);
void		 dnsproxy_free(struct dnsproxy *);

/*
 * A new configuration: listeners, upstream and cache are rebuilt only
 * when their keys changed. 0, or -1 with err filled and the old
 * configuration kept.
 */
int		 dnsproxy_reload(struct dnsproxy *, const struct netd_config *,
		    char *err, size_t errlen);

/* The app of uid stopped: forget what it resolved. */
void		 dnsproxy_forget_uid(struct dnsproxy *, uid_t);

/*
 * Which name an address was resolved from: by uid if it did, else by the
 * app that did last. A JSON object {name, uid, expired}, or NULL.
 */
json_t		*dnsproxy_resolved(struct dnsproxy *, uid_t, int family,
		    const uint8_t *addr);

/* Counters and histograms, for netctl status. */
json_t		*dnsproxy_status(struct dnsproxy *);

#endif /* NETD_NETD_DNSPROXY_H */
