/*
 * nft: the nftables programmer, the only user of libnftnl and libmnl. It
 * owns table "inet netd" and one netlink socket for the daemon's life.
 * Every change is one batch (one kernel transaction) with acks and extended
 * acks; an error names the policy entry that caused it and applies nothing.
 * Not a policy engine: it is told what to allow.
 */
#ifndef NETD_NETD_NFT_H
#define NETD_NETD_NFT_H

#include <sys/types.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct policy;
struct nft;

#define NFT_TABLE	"netd"
#define NFT_ERR_MAX	512

#define NFT_DNS_MAX	4

/* An address and port the DNS proxy listens on. addr in network order. */
struct nft_listen {
	int		 family;	/* AF_INET or AF_INET6 */
	uint8_t		 addr[16];
	uint16_t	 port;		/* host order */
};

struct nft_layout {
	uid_t		 uid_min;	/* app uid range, inclusive */
	uid_t		 uid_max;
	uint16_t	 nflog_group;	/* denials are logged here */
	/*
	 * Most live grants per uid (0: no cap). Past it, nft_grant() takes
	 * back the uid's grants that expire first, in the same batch.
	 */
	size_t		 max_grants_per_app;
	/*
	 * The DNS proxy: UDP and TCP to these get the sender's uid as their
	 * packet mark (the proxy reads it back) and are accepted.
	 */
	struct nft_listen dns[NFT_DNS_MAX];
	size_t		 ndns;
};

struct nft_app {
	uid_t			 uid;
	const char		*name;		/* for error messages */
	const struct policy	*pol;
};

struct nft_stats {
	uint64_t	 transactions;	/* committed batches */
	uint64_t	 errors;	/* refused batches */
	uint64_t	 grants;	/* elements granted (added or refreshed) */
	uint64_t	 evicted;	/* taken back over max_grants_per_app */
};

/*
 * Open the netlink socket. Returns NULL with err filled on failure (no
 * CAP_NET_ADMIN, no nf_tables). Caller frees with nft_close().
 */
struct nft	*nft_open(const struct nft_layout *, char *err, size_t errlen);
void		 nft_close(struct nft *);
/* Dump every message sent and received to fp (NULL: off), like nft -d. */
void		 nft_set_debug(struct nft *, FILE *);
const struct nft_stats *nft_get_stats(const struct nft *);
/* The layout the next nft_rebuild() uses (reload). */
void		 nft_set_layout(struct nft *, const struct nft_layout *);

/*
 * Replace the whole table with the layout and these apps, atomically: the
 * old table stays in force until the kernel commits the new one.
 */
int	nft_rebuild(struct nft *, const struct nft_app *, size_t n,
	    char *err, size_t errlen);
/* Add an app: its uid, static prefixes and server ports; one batch. */
int	nft_app_add(struct nft *, const struct nft_app *, char *err,
	    size_t errlen);
/* Remove an app: everything nft_app_add put in, and all its grants. */
int	nft_app_del(struct nft *, const struct nft_app *, char *err,
	    size_t errlen);

/*
 * Grant uid the n addresses of family (AF_INET: 4 octets each, AF_INET6:
 * 16, network order, packed) for timeout_ms; an existing grant is
 * refreshed to the new timeout. Returns after the kernel acked, 0 or -1.
 */
int	nft_grant(struct nft *, uid_t, int family, const void *addrs,
	    size_t n, uint32_t timeout_ms, char *err, size_t errlen);

/*
 * Take back n addresses of family from uid (they may have expired
 * already). Returns after the kernel acked, 0 or -1.
 */
int	nft_revoke(struct nft *, uid_t, int family, const void *addrs,
	    size_t n, char *err, size_t errlen);

/* One live grant, as read back from the kernel. */
struct nft_grant_info {
	uid_t		 uid;
	int		 family;
	uint8_t		 addr[16];
	uint64_t	 expires_ms;	/* time left */
};

/*
 * Read the grants of uid ((uid_t)-1: every uid) from the kernel. *out is
 * an array the caller frees with free(). Returns the count, or -1.
 */
ssize_t	nft_grants_list(struct nft *, uid_t, struct nft_grant_info **out);
/*
 * How many grants are live, from netd's own ledger (no kernel dump, which
 * takes seconds for a large set); from the kernel where the ledger is not
 * complete. -1 on error.
 */
ssize_t	nft_grants_count(struct nft *);
/*
 * The live grants of uid, by family and address, from netd's ledger (what
 * netd granted and has not taken back, with the time left): no kernel
 * dump, so a status query costs microseconds however large the sets are.
 * From the kernel where the ledger is not complete, as
 * nft_grants_list(). *out is an array the caller frees with free().
 * Returns the count, or -1.
 */
ssize_t	nft_grants_of(struct nft *, uid_t, struct nft_grant_info **out);

#endif /* NETD_NETD_NFT_H */
