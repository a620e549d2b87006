/*
 * nflog: denied packets from the kernel's NFLOG group, as events. The
 * nftables rules log every packet they refuse (prefix "netd deny",
 * "netd unregistered", "netd serve"); this module reads them on the event
 * loop and hands each one, parsed, to a callback. It changes nothing.
 */
#ifndef NETD_NETD_NFLOG_H
#define NETD_NETD_NFLOG_H

#include <sys/types.h>

#include <stddef.h>
#include <stdint.h>

struct event_base;
struct nflog;

struct nflog_event {
	uid_t		 uid;		/* (uid_t)-1: no socket owner */
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 daddr[16];	/* network order */
	uint8_t		 proto;		/* IPPROTO_* */
	uint16_t	 dport;		/* host order; 0 if none */
	char		 kind[16];	/* "deny", "unregistered", "serve" */
};

typedef void (*nflog_cb)(const struct nflog_event *, void *);

/* Bind NFLOG group; NULL with err filled on failure. */
struct nflog	*nflog_open(struct event_base *, uint16_t group, nflog_cb,
		    void *arg, char *err, size_t errlen);
void		 nflog_close(struct nflog *);

#endif /* NETD_NETD_NFLOG_H */
