/*
 * The nftables programmer. Layout (see docs/architecture.md):
 *
 * table inet netd
 *   map apps    uid : verdict            registered apps: jump app;
 *                                        catch-all * : jump unreg
 *   set allow4  uid . ipv4_addr          timeout    granted by DNS answers
 *   set allow6  uid . ipv6_addr          timeout
 *   set static4 uid . ipv4_addr          interval   manifest IP and CIDR
 *   set static6 uid . ipv6_addr          interval
 *   set serve   uid . inet_proto . inet_service     server ports
 *   set flow4   uid . ipv4_addr . sport . dport  dynamic   live UDP flows
 *   set flow6   uid . ipv6_addr . sport . dport  dynamic
 *   set uports  inet_service                    the apps' UDP server ports
 *   set upeer4  ipv4_addr . sport . dport        dynamic   their senders
 *   set upeer6  ipv6_addr . sport . dport        dynamic
 *   chain output (hook output, priority filter, policy accept)
 *     th dport 53 jump dns: DNS proxy addresses: meta mark set meta skuid
 *     meta skuid MIN-MAX vmap @apps                 one skuid read a packet
 *   chain unreg: log; reject
 *   chain app
 *     tcp flags ! syn accept                        a connection's later
 *                                                   segments: expiry never cuts
 *     tcp syn-ack jump synack: skuid . tcp . sport @serve accept, else
 *                              log, drop
 *     udp jump udp   (@allow: update @flow; @flow: refresh;
 *                     server port to a sender in @upeer)
 *     skuid . daddr @allow4/@allow6/@static4/@static6 accept
 *     log group N; reject (tcp reset, else icmpx admin-prohibited)
 *   chain input (hook input), only while @uports is not empty:
 *     udp dport @uports: update @upeer4/6
 *
 * No conntrack: nothing here switches it on, so a device that does not
 * use it otherwise does not pay for it on every packet.
 * Per-packet cost is a fixed number of set lookups, whatever the number of
 * apps. Interval sets with concatenations take the uid in network order
 * (the rule converts it), hash sets in host order.
 */
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/uio.h>

#include <arpa/inet.h>
#include <linux/netfilter.h>
#include <linux/netfilter/nf_tables.h>
#include <linux/netfilter/nfnetlink.h>
#include <linux/netlink.h>
#include <netinet/in.h>

#include <errno.h>
#include <poll.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <libmnl/libmnl.h>
#include <libnftnl/batch.h>	/* nftnl_batch_begin/end */
#include <libnftnl/chain.h>
#include <libnftnl/common.h>
#include <libnftnl/expr.h>
#include <libnftnl/rule.h>
#include <libnftnl/set.h>
#include <libnftnl/table.h>
#include <libnftnl/udata.h>

#include "log.h"
#include "nft.h"
#include "policy.h"

/* nft's datatype ids, for "nft list" to print keys (informational). */
#define DT_IPADDR	7
#define DT_IP6ADDR	8
#define DT_INET_PROTO	12
#define DT_INET_SERVICE	13
#define DT_UID		24
#define DT_BITS		6
#define NFT_BYTEORDER_HOST	1	/* nft: enum byteorder */
#define DT_CONCAT2(a, b)	(((a) << DT_BITS) | (b))
#define DT_CONCAT3(a, b, c)	((((a) << DT_BITS | (b)) << DT_BITS) | (c))
#define DT_CONCAT4(a, b, c, d)	((DT_CONCAT3(a, b, c) << DT_BITS) | (d))

/*
 * Deletes an element that may be gone already (expired) without failing
 * the batch. Linux 6.3; Debian 12's headers predate it. netd falls back to
 * NFT_MSG_DELSETELEM with a retry where the kernel does not know it.
 */
#ifndef NFT_MSG_DESTROYSETELEM
#define NFT_MSG_DESTROYSETELEM	30
#endif
#define ACK_ROOM	1024		/* receive buffer per acked message */
#define DEL_ROUNDS	3

#define SET_APPS	"apps"
#define SET_ALLOW4	"allow4"
#define SET_ALLOW6	"allow6"
#define SET_STATIC4	"static4"
#define SET_STATIC6	"static6"
#define SET_SERVE	"serve"
#define SET_FLOW4	"flow4"
#define SET_FLOW6	"flow6"
#define SET_UPORTS	"uports"
#define SET_UPEER4	"upeer4"
#define SET_UPEER6	"upeer6"
#define CHAIN_OUTPUT	"output"
#define CHAIN_INPUT	"input"
#define CHAIN_APP	"app"
#define CHAIN_UNREG	"unreg"
#define CHAIN_UDP	"udp"
#define CHAIN_LEARN	"learn"
#define CHAIN_DNS	"dns"
#define CHAIN_SYNACK	"synack"

/*
 * UDP flows (flow4/6) and the senders to server ports (upeer4/6) live this
 * long after their last datagram (conntrack's UDP stream timeout), and
 * each set holds at most FLOW_MAX: past that a new flow is not recorded
 * and lives as long as its grant.
 */
#define FLOW_TIMEOUT_MS	120000
#define FLOW_MAX	65536

/*
 * The kernel walks a timeout set whole at each garbage collection (1 s by
 * default) to free the elements that expired; a lookup ignores them
 * anyway. allow4/allow6 may hold 100,000 grants: every 10 s. The dynamic
 * sets keep the default, since a full one takes no new flow until then.
 */
#define GRANT_GC_MS	10000

/*
 * The batch is one buffer, kept between transactions up to BATCH_KEEP (a
 * grant touches a page of it); a larger one, grown for a rebuild, is
 * freed after its commit. Each message gets room for its upper bound plus
 * BATCH_SLACK before it is built.
 */
#define BATCH_MIN	(16 * 1024)
#define BATCH_KEEP	(64 * 1024)
#define BATCH_SLACK	4096
#define ELEMS_PER_MSG	512		/* keeps a NEWSETELEM under 64 KiB */
#define MSG_ROOM	2048		/* any message but an element list */
#define ELEM_ROOM	128		/* one element, with its attributes */

enum set_id {
	ID_APPS = 1, ID_ALLOW4, ID_ALLOW6, ID_STATIC4, ID_STATIC6, ID_SERVE,
	ID_FLOW4, ID_FLOW6, ID_UPORTS, ID_UPEER4, ID_UPEER6,
};

struct nft {
	struct mnl_socket	*nl;
	uint32_t		 portid;
	uint32_t		 seq;
	struct nft_layout	 lay;
	FILE			*debug;
	struct nft_stats	 stats;
	int			 rcvbuf;	/* forced size, 0: default */
	bool			 no_destroy;	/* kernel lacks DESTROYSETELEM */

	/*
	 * The ledger: what each uid was granted, so deleting an app needs no
	 * dump of the kernel's sets (seconds at 100,000 elements). It may
	 * hold expired and repeated entries; a delete of those is harmless
	 * with DESTROYSETELEM. ledger_lost: an entry could not be recorded,
	 * so deletes read the kernel instead.
	 */
	struct ledger		*led;
	uint64_t		 seed;		/* of the ledgers' hashes */
	size_t			 nled;
	size_t			 ledcap;
	bool			 ledger_lost;

	/* The apps' UDP server ports; set uports holds their union. */
	struct userve		*sv;
	size_t			 nsv;

	/*
	 * The batch being built: buflen octets of bufcap; the message being
	 * built at its end has at most room octets.
	 */
	uint8_t			*buf;
	size_t			 buflen;
	size_t			 bufcap;
	size_t			 room;
	uint32_t		 seq_first;	/* first message with an ack */
	char			**desc;		/* per message, by seq */
	size_t			 ndesc;
	size_t			 desc_cap;
	int			 oom;
};

struct userve {
	uid_t		 uid;
	uint16_t	 port;		/* host order */
};

struct ledger_entry {
	uint64_t	 expires;	/* CLOCK_MONOTONIC, ms */
	int		 family;
	uint8_t		 addr[16];
};

struct ledger {
	uid_t			 uid;
	struct ledger_entry	*v;	/* cap slots, a power of 2 */
	size_t			 n;	/* used, expired ones included */
	size_t			 cap;
};

/* Element keys, laid out as nft registers: each field 32-bit aligned. */
struct key4 {
	uint32_t	 uid;
	uint8_t		 addr[4];
};

struct key6 {
	uint32_t	 uid;
	uint8_t		 addr[16];
};

struct key_serve {
	uint32_t	 uid;
	uint8_t		 proto;
	uint8_t		 pad1[3];
	uint16_t	 port;		/* network order */
	uint8_t		 pad2[2];
};

static void
seterr(char *err, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void
seterr(char *err, size_t len, const char *fmt, ...)
{
	va_list ap;

	if (err == NULL || len == 0)
		return;
	va_start(ap, fmt);
	vsnprintf(err, len, fmt, ap);
	va_end(ap);
}

struct nft *
nft_open(const struct nft_layout *lay, char *err, size_t errlen)
{
	struct nft *n;
	int one = 1;

	if ((n = calloc(1, sizeof(*n))) == NULL) {
		seterr(err, errlen, "out of memory");
		return NULL;
	}
	n->lay = *lay;
	n->seq = (uint32_t)time(NULL);
	/* Answers choose the addresses: the ledgers' hashes are seeded. */
	if (getrandom(&n->seed, sizeof(n->seed), GRND_NONBLOCK) !=
	    sizeof(n->seed))
		n->seed = (uint64_t)(uintptr_t)n ^ (uint64_t)time(NULL);
	if ((n->nl = mnl_socket_open(NETLINK_NETFILTER)) == NULL) {
		seterr(err, errlen, "netlink socket: %s", strerror(errno));
		goto fail;
	}
	if (mnl_socket_bind(n->nl, 0, MNL_SOCKET_AUTOPID) == -1) {
		seterr(err, errlen, "netlink bind: %s", strerror(errno));
		goto fail;
	}
	n->portid = mnl_socket_get_portid(n->nl);
	/* Extended acks name the attribute; capped acks stay small. */
	mnl_socket_setsockopt(n->nl, NETLINK_EXT_ACK, &one, sizeof(one));
	mnl_socket_setsockopt(n->nl, NETLINK_CAP_ACK, &one, sizeof(one));
	return n;
fail:
	nft_close(n);
	return NULL;
}

static void	ledger_reset(struct nft *);

void
nft_close(struct nft *n)
{
	if (n == NULL)
		return;
	ledger_reset(n);
	free(n->sv);
	free(n->buf);
	if (n->nl != NULL)
		mnl_socket_close(n->nl);
	free(n);
}

void
nft_set_debug(struct nft *n, FILE *fp)
{
	n->debug = fp;
}

void
nft_set_layout(struct nft *n, const struct nft_layout *lay)
{
	n->lay = *lay;
}

const struct nft_stats *
nft_get_stats(const struct nft *n)
{
	return &n->stats;
}

/*
 * Batches. Every message asks for an ack and records what it is for, so
 * that an error maps back to the policy entry.
 */
static void
batch_reset(struct nft *n)
{
	size_t i;

	for (i = 0; i < n->ndesc; i++)
		free(n->desc[i]);
	free(n->desc);
	n->desc = NULL;
	n->ndesc = n->desc_cap = 0;
	n->buflen = 0;
	if (n->bufcap > BATCH_KEEP) {
		free(n->buf);
		n->buf = NULL;
		n->bufcap = 0;
	}
	n->oom = 0;
}

/*
 * Room for a message of at most room octets at the end of the batch,
 * which batch_next() then checks.
 */
static int
batch_room(struct nft *n, size_t room)
{
	size_t need = n->buflen + room + BATCH_SLACK, cap;
	uint8_t *nb;

	n->room = room;
	if (need <= n->bufcap)
		return 0;
	cap = n->bufcap ? n->bufcap : BATCH_MIN;
	while (cap < need)
		cap *= 2;
	if ((nb = realloc(n->buf, cap)) == NULL) {
		n->oom = 1;
		return -1;
	}
	n->buf = nb;
	n->bufcap = cap;
	return 0;
}

/*
 * The message just built at the end of the batch joins it. One longer
 * than the room it was given is a bug in its bound: the batch fails.
 */
static void
batch_next(struct nft *n)
{
	const struct nlmsghdr *nlh = (const void *)(n->buf + n->buflen);

	if (nlh->nlmsg_len > n->room) {
		log_warnx("%s: a message of %u octets had room for %zu",
		    __func__, nlh->nlmsg_len, n->room);
		n->oom = 1;
	}
	n->buflen += MNL_ALIGN(nlh->nlmsg_len);
}

static int
batch_begin(struct nft *n)
{
	batch_reset(n);
	if (batch_room(n, MSG_ROOM) == -1)
		return -1;
	nftnl_batch_begin((char *)n->buf, n->seq++);
	batch_next(n);
	n->seq_first = n->seq;
	return 0;
}

static struct nlmsghdr *
batch_msg(struct nft *n, uint16_t type, uint16_t flags, size_t room,
    const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

/*
 * room: an upper bound of the message's size, which batch_next() checks
 * once the caller has built the message. That much of the batch is
 * zeroed first, because libmnl 1.0.4 leaves attribute padding unwritten
 * and the bytes go to the kernel. NULL when out of memory: the batch
 * fails at its commit.
 */
static struct nlmsghdr *
batch_msg(struct nft *n, uint16_t type, uint16_t flags, size_t room,
    const char *fmt, ...)
{
	char *d = NULL;
	va_list ap;

	if (batch_room(n, room) == -1)
		return NULL;
	memset(n->buf + n->buflen, 0, room);
	if (n->ndesc == n->desc_cap) {
		size_t ncap = n->desc_cap ? n->desc_cap * 2 : 32;
		char **nd = reallocarray(n->desc, ncap, sizeof(*nd));

		if (nd == NULL)
			n->oom = 1;
		else {
			n->desc = nd;
			n->desc_cap = ncap;
		}
	}
	va_start(ap, fmt);
	if (vasprintf(&d, fmt, ap) == -1)
		d = NULL;
	va_end(ap);
	if (n->ndesc < n->desc_cap)
		n->desc[n->ndesc++] = d;
	else
		free(d);
	return nftnl_nlmsg_build_hdr((char *)n->buf + n->buflen, type,
	    NFPROTO_INET, flags | NLM_F_ACK, n->seq++);
}

static const char *
desc_of(const struct nft *n, uint32_t seq)
{
	uint32_t i = seq - n->seq_first;

	if (seq < n->seq_first || i >= n->ndesc || n->desc[i] == NULL)
		return "batch";
	return n->desc[i];
}

/* An extended ack's message text, if the kernel gave one. */
static const char *
extack_msg(const struct nlmsghdr *nlh)
{
	const struct nlmsgerr *e = mnl_nlmsg_get_payload(nlh);
	const struct nlattr *a;
	size_t off = sizeof(*e);

	if (!(nlh->nlmsg_flags & NLM_F_ACK_TLVS))
		return NULL;
	if (!(nlh->nlmsg_flags & NLM_F_CAPPED))
		off += e->msg.nlmsg_len - sizeof(e->msg);
	mnl_attr_for_each(a, nlh, off) {
		if (mnl_attr_get_type(a) == NLMSGERR_ATTR_MSG)
			return mnl_attr_get_str(a);
	}
	return NULL;
}

static int
batch_commit(struct nft *n, char *err, size_t errlen)
{
	struct sockaddr_nl snl = { .nl_family = AF_NETLINK };
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct msghdr msg = { 0 };
	struct iovec iov;
	int fd = mnl_socket_get_fd(n->nl), first_err = 0;
	uint32_t expect, acks = 0;
	struct pollfd pfd;
	ssize_t r;

	if (n->oom) {
		seterr(err, errlen, "out of memory building the batch");
		goto fail;
	}
	if (batch_room(n, MSG_ROOM) == -1) {
		seterr(err, errlen, "out of memory building the batch");
		goto fail;
	}
	nftnl_batch_end((char *)n->buf + n->buflen, n->seq++);
	batch_next(n);
	expect = (uint32_t)n->ndesc;
	iov.iov_base = n->buf;
	iov.iov_len = n->buflen;
	if (n->buflen > 128 * 1024) {
		int sz = 0, total = (int)n->buflen;
		socklen_t sl = sizeof(sz);

		getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sz, &sl);
		if (sz < total * 2)
			setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &total,
			    sizeof(total));
	}
	if (n->debug != NULL)
		mnl_nlmsg_fprintf(n->debug, n->buf, n->buflen,
		    sizeof(struct nfgenmsg));
	/*
	 * Every message is acked during sendmsg(): the acks must fit in the
	 * receive buffer, or they are lost (ENOBUFS) although the kernel
	 * applied the batch.
	 */
	if ((int)(expect * ACK_ROOM) > n->rcvbuf) {
		int want = (int)(expect * ACK_ROOM) + 64 * 1024;

		if (setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &want,
		    sizeof(want)) == 0)
			n->rcvbuf = want;
	}
	msg.msg_name = &snl;
	msg.msg_namelen = sizeof(snl);
	msg.msg_iov = &iov;
	msg.msg_iovlen = 1;
	if (sendmsg(fd, &msg, 0) == -1) {
		seterr(err, errlen, "netlink send: %s", strerror(errno));
		goto fail;
	}

	/*
	 * The kernel runs the whole batch inside sendmsg(), so every ack is
	 * queued by now; read them, and wait (poll) only if some are still missing.
	 */
	pfd.fd = fd;
	pfd.events = POLLIN;
	while (acks < expect) {
		struct nlmsghdr *nlh;
		int left;

		r = recv(fd, buf, sizeof(buf), MSG_DONTWAIT);
		if (r == -1) {
			if (errno == EINTR)
				continue;
			if (errno == EAGAIN) {
				if (poll(&pfd, 1, acks == 0 ? 1000 : 100) > 0)
					continue;
				break;
			}
			if (errno == ENOBUFS) {
				/* Lost acks: the outcome is unknown. */
				seterr(err, errlen, "netlink: acks lost (%s)",
				    strerror(errno));
				goto fail;
			}
			seterr(err, errlen, "netlink recv: %s",
			    strerror(errno));
			goto fail;
		}
		if (n->debug != NULL)
			mnl_nlmsg_fprintf(n->debug, buf, (size_t)r,
			    sizeof(struct nfgenmsg));
		left = (int)r;
		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left);
		    nlh = mnl_nlmsg_next(nlh, &left)) {
			const struct nlmsgerr *e;
			const char *xm;

			if (nlh->nlmsg_type != NLMSG_ERROR ||
			    nlh->nlmsg_pid != n->portid)
				continue;
			acks++;
			e = mnl_nlmsg_get_payload(nlh);
			if (e->error == 0 || first_err != 0)
				continue;
			first_err = -e->error;
			xm = extack_msg(nlh);
			seterr(err, errlen, "nftables refused %s: %s%s%s%s",
			    desc_of(n, nlh->nlmsg_seq), strerror(first_err),
			    xm ? " (" : "", xm ? xm : "", xm ? ")" : "");
		}
	}
	if (first_err != 0) {
		errno = first_err;
		goto fail;
	}
	if (acks < expect) {
		seterr(err, errlen, "netlink: %u of %u acks missing",
		    expect - acks, expect);
		errno = ETIMEDOUT;
		goto fail;
	}
	batch_reset(n);
	n->stats.transactions++;
	return 0;
fail:
	batch_reset(n);
	n->stats.errors++;
	return -1;
}

/* Objects. Each adds one message to the batch. */
static void
add_table(struct nft *n, uint16_t type, uint16_t flags)
{
	struct nftnl_table *t = nftnl_table_alloc();
	struct nlmsghdr *nlh;

	if (t == NULL) {
		n->oom = 1;
		return;
	}
	nftnl_table_set_str(t, NFTNL_TABLE_NAME, NFT_TABLE);
	nlh = batch_msg(n, type, flags, MSG_ROOM, "table inet %s",
	    NFT_TABLE);
	if (nlh != NULL) {
		nftnl_table_nlmsg_build_payload(nlh, t);
		batch_next(n);
	}
	nftnl_table_free(t);
}

static void
add_set(struct nft *n, const char *name, uint32_t id, uint32_t flags,
    uint32_t keytype, uint32_t keylen, const uint8_t *fields, uint32_t size)
{
	struct nftnl_set *s = nftnl_set_alloc();
	struct nlmsghdr *nlh;

	if (s == NULL) {
		n->oom = 1;
		return;
	}
	nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
	nftnl_set_set_str(s, NFTNL_SET_NAME, name);
	nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	nftnl_set_set_u32(s, NFTNL_SET_ID, id);
	nftnl_set_set_u32(s, NFTNL_SET_FLAGS, flags);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_TYPE, keytype);
	nftnl_set_set_u32(s, NFTNL_SET_KEY_LEN, keylen);
	if ((flags & NFT_SET_TIMEOUT) && !(flags & NFT_SET_EVAL))
		nftnl_set_set_u32(s, NFTNL_SET_GC_INTERVAL, GRANT_GC_MS);
	if (flags & NFT_SET_MAP)	/* netd's maps are verdict maps */
		nftnl_set_set_u32(s, NFTNL_SET_DATA_TYPE, NFT_DATA_VERDICT);
	if (size != 0)
		nftnl_set_set_u32(s, NFTNL_SET_DESC_SIZE, size);
	if (fields != NULL)
		nftnl_set_set_data(s, NFTNL_SET_DESC_CONCAT, fields,
		    (uint32_t)strlen((const char *)fields));
	if (keytype == DT_UID) {
		/* Tell "nft list" the uid is host order (nft's own udata). */
		struct nftnl_udata_buf *ud = nftnl_udata_buf_alloc(64);

		if (ud != NULL) {
			nftnl_udata_put_u32(ud, NFTNL_UDATA_SET_KEYBYTEORDER,
			    NFT_BYTEORDER_HOST);
			nftnl_set_set_data(s, NFTNL_SET_USERDATA,
			    nftnl_udata_buf_data(ud),
			    nftnl_udata_buf_len(ud));
			nftnl_udata_buf_free(ud);
		}
	}
	nlh = batch_msg(n, NFT_MSG_NEWSET, NLM_F_CREATE, MSG_ROOM, "set %s",
	    name);
	if (nlh != NULL) {
		nftnl_set_nlmsg_build_payload(nlh, s);
		batch_next(n);
	}
	nftnl_set_free(s);
}

/*
 * Add (NFT_MSG_NEWCHAIN) the base chain (hooked) or a regular one (hook ==
 * -1), or delete (NFT_MSG_DELCHAIN) a chain and its rules.
 */
static void
chain_msg(struct nft *n, uint16_t type, const char *name, int hook)
{
	struct nftnl_chain *c = nftnl_chain_alloc();
	struct nlmsghdr *nlh;

	if (c == NULL) {
		n->oom = 1;
		return;
	}
	nftnl_chain_set_str(c, NFTNL_CHAIN_TABLE, NFT_TABLE);
	nftnl_chain_set_str(c, NFTNL_CHAIN_NAME, name);
	if (hook != -1 && type == NFT_MSG_NEWCHAIN) {
		nftnl_chain_set_str(c, NFTNL_CHAIN_TYPE, "filter");
		nftnl_chain_set_u32(c, NFTNL_CHAIN_HOOKNUM, (uint32_t)hook);
		nftnl_chain_set_s32(c, NFTNL_CHAIN_PRIO, 0);
		nftnl_chain_set_u32(c, NFTNL_CHAIN_POLICY, NF_ACCEPT);
	}
	nlh = batch_msg(n, type, type == NFT_MSG_NEWCHAIN ? NLM_F_CREATE : 0,
	    MSG_ROOM, "%s chain %s", type == NFT_MSG_NEWCHAIN ? "add" :
	    "delete", name);
	if (nlh != NULL) {
		nftnl_chain_nlmsg_build_payload(nlh, c);
		batch_next(n);
	}
	nftnl_chain_free(c);
}

static void
add_chain(struct nft *n, const char *name, int hook)
{
	chain_msg(n, NFT_MSG_NEWCHAIN, name, hook);
}

/* Expressions, named after what nft --debug=netlink prints. */
static void
e_add(struct nftnl_rule *r, struct nftnl_expr *e, int *oom)
{
	if (e == NULL)
		*oom = 1;
	else
		nftnl_rule_add_expr(r, e);
}

static struct nftnl_expr *
e_meta(uint32_t key, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("meta");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY, key);
		nftnl_expr_set_u32(e, NFTNL_EXPR_META_DREG, dreg);
	}
	return e;
}

static struct nftnl_expr *
e_cmp(uint32_t op, uint32_t sreg, const void *data, uint32_t len)
{
	struct nftnl_expr *e = nftnl_expr_alloc("cmp");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_CMP_OP, op);
		nftnl_expr_set(e, NFTNL_EXPR_CMP_DATA, data, len);
	}
	return e;
}

static struct nftnl_expr *
e_hton(uint32_t sreg, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("byteorder");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SREG, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_DREG, dreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_OP,
		    NFT_BYTEORDER_HTON);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_LEN, 4);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BYTEORDER_SIZE, 4);
	}
	return e;
}

static struct nftnl_expr *
e_payload(uint32_t base, uint32_t off, uint32_t len, uint32_t dreg)
{
	struct nftnl_expr *e = nftnl_expr_alloc("payload");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_BASE, base);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_OFFSET, off);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_LEN, len);
		nftnl_expr_set_u32(e, NFTNL_EXPR_PAYLOAD_DREG, dreg);
	}
	return e;
}

static struct nftnl_expr *
e_lookup(const char *set, uint32_t id, uint32_t sreg, bool invert)
{
	struct nftnl_expr *e = nftnl_expr_alloc("lookup");

	if (e != NULL) {
		nftnl_expr_set_str(e, NFTNL_EXPR_LOOKUP_SET, set);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SET_ID, id);
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_SREG, sreg);
		if (invert)
			nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_FLAGS,
			    NFT_LOOKUP_F_INV);
	}
	return e;
}

/* A verdict map: the verdict of the element sreg matches. */
static struct nftnl_expr *
e_vmap(const char *set, uint32_t id, uint32_t sreg)
{
	struct nftnl_expr *e = e_lookup(set, id, sreg, false);

	if (e != NULL)
		nftnl_expr_set_u32(e, NFTNL_EXPR_LOOKUP_DREG,
		    NFT_REG_VERDICT);
	return e;
}

static struct nftnl_expr *
e_verdict(int verdict)
{
	struct nftnl_expr *e = nftnl_expr_alloc("immediate");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_DREG, NFT_REG_VERDICT);
		nftnl_expr_set_u32(e, NFTNL_EXPR_IMM_VERDICT, (uint32_t)verdict);
	}
	return e;
}

static struct nftnl_expr *
e_log(uint16_t group, const char *prefix)
{
	struct nftnl_expr *e = nftnl_expr_alloc("log");

	if (e != NULL) {
		nftnl_expr_set_u16(e, NFTNL_EXPR_LOG_GROUP, group);
		nftnl_expr_set_str(e, NFTNL_EXPR_LOG_PREFIX, prefix);
	}
	return e;
}

static struct nftnl_expr *
e_reject(uint32_t type, uint8_t code)
{
	struct nftnl_expr *e = nftnl_expr_alloc("reject");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_REJECT_TYPE, type);
		nftnl_expr_set_u8(e, NFTNL_EXPR_REJECT_CODE, code);
	}
	return e;
}

/* A rule of the app chain; rule_new_in() for another chain. */
static struct nftnl_rule *
rule_new_in(const char *chain)
{
	struct nftnl_rule *r = nftnl_rule_alloc();

	if (r != NULL) {
		nftnl_rule_set_str(r, NFTNL_RULE_TABLE, NFT_TABLE);
		nftnl_rule_set_str(r, NFTNL_RULE_CHAIN, chain);
		nftnl_rule_set_u32(r, NFTNL_RULE_FAMILY, NFPROTO_INET);
	}
	return r;
}

static struct nftnl_rule *
rule_new(void)
{
	return rule_new_in(CHAIN_APP);
}

static void
rule_commit(struct nft *n, struct nftnl_rule *r, int oom, const char *what)
{
	struct nlmsghdr *nlh;

	if (r == NULL || oom) {
		n->oom = 1;
		nftnl_rule_free(r);
		return;
	}
	nlh = batch_msg(n, NFT_MSG_NEWRULE, NLM_F_CREATE | NLM_F_APPEND,
	    MSG_ROOM, "rule '%s'", what);
	if (nlh != NULL) {
		nftnl_rule_nlmsg_build_payload(nlh, r);
		batch_next(n);
	}
	nftnl_rule_free(r);
}

/* skuid . daddr @set accept, for one family and one set. */
static void
rule_allow(struct nft *n, int family, const char *set, uint32_t id,
    bool interval)
{
	struct nftnl_rule *r = rule_new();
	uint8_t proto = family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	int oom = 0;
	char what[64];

	if (r != NULL) {
		e_add(r, e_meta(NFT_META_NFPROTO, NFT_REG_1), &oom);
		e_add(r, e_cmp(NFT_CMP_EQ, NFT_REG_1, &proto, 1), &oom);
		e_add(r, e_meta(NFT_META_SKUID, NFT_REG_1), &oom);
		if (interval)
			e_add(r, e_hton(NFT_REG_1, NFT_REG_1), &oom);
		if (family == AF_INET)
			e_add(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4,
			    NFT_REG32_01), &oom);
		else
			e_add(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 24, 16,
			    NFT_REG32_01), &oom);
		e_add(r, e_lookup(set, id, NFT_REG_1, false), &oom);
		e_add(r, e_verdict(NF_ACCEPT), &oom);
	}
	snprintf(what, sizeof(what), "meta skuid . daddr @%s accept", set);
	rule_commit(n, r, oom, what);
}

/*
 * output, before the jump: ip daddr A PROTO dport P meta mark set meta
 * skuid accept. The DNS proxy reads the mark as the sender's uid; apps
 * reach the proxy whatever their policy. The chain's type is filter, so
 * the new mark changes no route.
 */
static void
rule_dns(struct nft *n, const struct nft_listen *l, uint8_t proto)
{
	struct nftnl_rule *r = rule_new_in(CHAIN_DNS);
	uint8_t nfp = l->family == AF_INET ? NFPROTO_IPV4 : NFPROTO_IPV6;
	uint16_t port = htons(l->port);
	struct nftnl_expr *e;
	char what[160], a[INET6_ADDRSTRLEN];
	int oom = 0;

	if (r != NULL) {
		e_add(r, e_meta(NFT_META_NFPROTO, NFT_REG_1), &oom);
		e_add(r, e_cmp(NFT_CMP_EQ, NFT_REG_1, &nfp, 1), &oom);
		if (l->family == AF_INET) {
			e_add(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 16, 4,
			    NFT_REG_1), &oom);
			e_add(r, e_cmp(NFT_CMP_EQ, NFT_REG_1, l->addr, 4),
			    &oom);
		} else {
			e_add(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, 24, 16,
			    NFT_REG_1), &oom);
			e_add(r, e_cmp(NFT_CMP_EQ, NFT_REG_1, l->addr, 16),
			    &oom);
		}
		e_add(r, e_meta(NFT_META_L4PROTO, NFT_REG_1), &oom);
		e_add(r, e_cmp(NFT_CMP_EQ, NFT_REG_1, &proto, 1), &oom);
		e_add(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2,
		    NFT_REG_1), &oom);
		e_add(r, e_cmp(NFT_CMP_EQ, NFT_REG_1, &port, 2), &oom);
		e_add(r, e_meta(NFT_META_SKUID, NFT_REG_1), &oom);
		if ((e = nftnl_expr_alloc("meta")) != NULL) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_META_KEY,
			    NFT_META_MARK);
			nftnl_expr_set_u32(e, NFTNL_EXPR_META_SREG, NFT_REG_1);
		}
		e_add(r, e, &oom);
		e_add(r, e_verdict(NF_ACCEPT), &oom);
	}
	inet_ntop(l->family, l->addr, a, sizeof(a));
	snprintf(what, sizeof(what), "%s daddr %s %s dport %u meta mark set "
	    "meta skuid accept", l->family == AF_INET ? "ip" : "ip6", a,
	    proto == IPPROTO_UDP ? "udp" : "tcp", (unsigned)l->port);
	rule_commit(n, r, oom, what);
}

/* A verdict that jumps to chain. */
static struct nftnl_expr *
e_jump(const char *chain)
{
	struct nftnl_expr *e = e_verdict(NFT_JUMP);

	if (e != NULL)
		nftnl_expr_set_str(e, NFTNL_EXPR_IMM_CHAIN, chain);
	return e;
}

/* update @set { reg ... timeout ms }: adds the key, or refreshes it. */
static struct nftnl_expr *
e_update(const char *set, uint32_t id, uint32_t sreg, uint64_t timeout_ms)
{
	struct nftnl_expr *e = nftnl_expr_alloc("dynset");

	if (e != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SREG_KEY, sreg);
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_OP,
		    NFT_DYNSET_OP_UPDATE);
		nftnl_expr_set_u64(e, NFTNL_EXPR_DYNSET_TIMEOUT, timeout_ms);
		nftnl_expr_set_str(e, NFTNL_EXPR_DYNSET_SET_NAME, set);
		nftnl_expr_set_u32(e, NFTNL_EXPR_DYNSET_SET_ID, id);
	}
	return e;
}

/* meta KEY == v (one octet: l4proto, nfproto). */
static void
e_meta_is(struct nftnl_rule *r, uint32_t key, uint8_t v, int *oom)
{
	e_add(r, e_meta(key, NFT_REG_1), oom);
	e_add(r, e_cmp(NFT_CMP_EQ, NFT_REG_1, &v, 1), oom);
}

/* tcp flags & mask == want (after meta l4proto tcp). */
static void
e_tcp_flags(struct nftnl_rule *r, uint8_t mask, uint8_t want, int *oom)
{
	static const uint8_t zero = 0;
	struct nftnl_expr *e;

	e_add(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 13, 1, NFT_REG_1),
	    oom);
	if ((e = nftnl_expr_alloc("bitwise")) != NULL) {
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_SREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_DREG, NFT_REG_1);
		nftnl_expr_set_u32(e, NFTNL_EXPR_BITWISE_LEN, 1);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_MASK, &mask, 1);
		nftnl_expr_set(e, NFTNL_EXPR_BITWISE_XOR, &zero, 1);
	}
	e_add(r, e, oom);
	e_add(r, e_cmp(NFT_CMP_EQ, NFT_REG_1, &want, 1), oom);
}

/*
 * Registers from NFT_REG32_00 on: [skuid] . address . a . b, where the
 * address is the packet's daddr (or saddr) of family, and a, b are the
 * transport header's two ports in that order (0: sport, 2: dport). Returns
 * the key length.
 */
static uint32_t
e_key(struct nftnl_rule *r, bool uid, int family, bool src, int a, int b,
    int *oom)
{
	uint32_t reg = NFT_REG32_00, alen = family == AF_INET ? 4 : 16;
	uint32_t off = family == AF_INET ? (src ? 12 : 16) : (src ? 8 : 24);

	if (uid)
		e_add(r, e_meta(NFT_META_SKUID, reg++), oom);
	e_add(r, e_payload(NFT_PAYLOAD_NETWORK_HEADER, off, alen, reg), oom);
	reg += alen / 4;
	e_add(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, (uint32_t)a, 2,
	    reg++), oom);
	e_add(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, (uint32_t)b, 2,
	    reg++), oom);
	return (reg - NFT_REG32_00) * 4;
}

/*
 * chain udp, for one family. A datagram to an address the app may reach
 * records its flow (skuid . daddr . sport . dport) in flow4/flow6 for
 * FLOW_TIMEOUT_MS, refreshed by every datagram: the flow outlives the
 * grant that opened it, as a TCP connection does, with no conntrack.
 */
static void
rules_udp(struct nft *n, int family)
{
	bool v4 = family == AF_INET;
	uint8_t nfp = v4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
	const char *allow = v4 ? SET_ALLOW4 : SET_ALLOW6;
	const char *flow = v4 ? SET_FLOW4 : SET_FLOW6;
	const char *peer = v4 ? SET_UPEER4 : SET_UPEER6;
	uint32_t aid = v4 ? ID_ALLOW4 : ID_ALLOW6;
	uint32_t fid = v4 ? ID_FLOW4 : ID_FLOW6;
	uint32_t pid = v4 ? ID_UPEER4 : ID_UPEER6;
	struct nftnl_rule *r;
	char what[96];
	int oom = 0;

	/* Granted now: accept, and remember the flow. */
	if ((r = rule_new_in(CHAIN_UDP)) != NULL) {
		e_meta_is(r, NFT_META_NFPROTO, nfp, &oom);
		e_key(r, true, family, false, 0, 2, &oom);
		e_add(r, e_lookup(allow, aid, NFT_REG_1, false), &oom);
		e_add(r, e_update(flow, fid, NFT_REG_1, FLOW_TIMEOUT_MS), &oom);
		e_add(r, e_verdict(NF_ACCEPT), &oom);
	}
	snprintf(what, sizeof(what), "@%s update @%s accept", allow, flow);
	rule_commit(n, r, oom, what);

	/* A flow seen while it was granted: accept, and refresh it. */
	oom = 0;
	if ((r = rule_new_in(CHAIN_UDP)) != NULL) {
		e_meta_is(r, NFT_META_NFPROTO, nfp, &oom);
		e_key(r, true, family, false, 0, 2, &oom);
		e_add(r, e_lookup(flow, fid, NFT_REG_1, false), &oom);
		e_add(r, e_update(flow, fid, NFT_REG_1, FLOW_TIMEOUT_MS), &oom);
		e_add(r, e_verdict(NF_ACCEPT), &oom);
	}
	snprintf(what, sizeof(what), "@%s update accept", flow);
	rule_commit(n, r, oom, what);

	/*
	 * A reply from one of the app's server ports, to a peer that sent a
	 * datagram to that port (the input chain records it in upeer).
	 */
	oom = 0;
	if ((r = rule_new_in(CHAIN_UDP)) != NULL) {
		e_meta_is(r, NFT_META_NFPROTO, nfp, &oom);
		e_add(r, e_meta(NFT_META_SKUID, NFT_REG32_00), &oom);
		e_add(r, e_meta(NFT_META_L4PROTO, NFT_REG32_01), &oom);
		e_add(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2,
		    NFT_REG32_02), &oom);
		e_add(r, e_lookup(SET_SERVE, ID_SERVE, NFT_REG_1, false), &oom);
		e_key(r, false, family, false, 2, 0, &oom);
		e_add(r, e_lookup(peer, pid, NFT_REG_1, false), &oom);
		e_add(r, e_verdict(NF_ACCEPT), &oom);
	}
	snprintf(what, sizeof(what), "udp sport @serve, daddr . dport . "
	    "sport @%s accept", peer);
	rule_commit(n, r, oom, what);
}

/*
 * chain learn (input, UDP to a port some app serves): the sender and the
 * port, for the app's replies (rules_udp).
 */
static void
rule_learn(struct nft *n, int family)
{
	bool v4 = family == AF_INET;
	uint8_t nfp = v4 ? NFPROTO_IPV4 : NFPROTO_IPV6;
	struct nftnl_rule *r;
	int oom = 0;

	if ((r = rule_new_in(CHAIN_LEARN)) != NULL) {
		e_meta_is(r, NFT_META_NFPROTO, nfp, &oom);
		e_key(r, false, family, true, 0, 2, &oom);
		e_add(r, e_update(v4 ? SET_UPEER4 : SET_UPEER6,
		    v4 ? ID_UPEER4 : ID_UPEER6, NFT_REG_1, FLOW_TIMEOUT_MS),
		    &oom);
	}
	rule_commit(n, r, oom, v4 ? "update @upeer4" : "update @upeer6");
}

static void
build_rules(struct nft *n)
{
	uint32_t lo = htonl(n->lay.uid_min), hi = htonl(n->lay.uid_max);
	const uint8_t syn = 0x02, synack = 0x12;
	uint16_t g = n->lay.nflog_group;
	struct nftnl_expr *e;
	struct nftnl_rule *r;
	size_t i;
	int oom = 0;

	/*
	 * First, queries to the DNS proxy, marked and let through (chain
	 * dns). One compare of the destination port keeps every other packet
	 * out of it: th dport P jump dns, once per port.
	 */
	for (i = 0; i < n->lay.ndns; i++) {
		uint16_t port = htons(n->lay.dns[i].port);
		size_t j;

		rule_dns(n, &n->lay.dns[i], IPPROTO_UDP);
		rule_dns(n, &n->lay.dns[i], IPPROTO_TCP);
		for (j = 0; j < i; j++)
			if (n->lay.dns[j].port == n->lay.dns[i].port)
				break;
		if (j < i)
			continue;
		oom = 0;
		if ((r = rule_new_in(CHAIN_OUTPUT)) != NULL) {
			e_add(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2,
			    NFT_REG_1), &oom);
			e_add(r, e_cmp(NFT_CMP_EQ, NFT_REG_1, &port, 2), &oom);
			e_add(r, e_jump(CHAIN_DNS), &oom);
		}
		rule_commit(n, r, oom, "th dport jump dns");
	}
	oom = 0;

	/*
	 * output: meta skuid MIN-MAX vmap @apps. The socket owner is read
	 * once per packet (each read takes the socket's callback lock): a
	 * registered app jumps to chain app, any other uid of the range
	 * (the map's catch-all) to chain unreg. A packet with no socket (a
	 * reset or ICMP error the kernel makes, a TIME_WAIT ack) has no
	 * skuid, cannot match, and is not touched; nor is any other uid.
	 */
	if ((r = rule_new_in(CHAIN_OUTPUT)) != NULL) {
		e_add(r, e_meta(NFT_META_SKUID, NFT_REG_1), &oom);
		e_add(r, e_hton(NFT_REG_1, NFT_REG_2), &oom);
		if ((e = nftnl_expr_alloc("range")) != NULL) {
			nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_SREG, NFT_REG_2);
			nftnl_expr_set_u32(e, NFTNL_EXPR_RANGE_OP,
			    NFT_RANGE_EQ);
			nftnl_expr_set(e, NFTNL_EXPR_RANGE_FROM_DATA, &lo, 4);
			nftnl_expr_set(e, NFTNL_EXPR_RANGE_TO_DATA, &hi, 4);
		}
		e_add(r, e, &oom);
		e_add(r, e_vmap(SET_APPS, ID_APPS, NFT_REG_1), &oom);
	}
	rule_commit(n, r, oom, "meta skuid app range vmap @apps");

	/*
	 * Chain app sees registered apps only. TCP: the policy decides a
	 * connection's first packet. A segment without SYN belongs to a
	 * connection whose SYN (or SYN-ACK) passed, so it passes: a grant's
	 * expiry never cuts a live connection, and no conntrack is needed
	 * (an app cannot send a segment of its own making without
	 * CAP_NET_RAW). A stopped app is out of @apps: chain unreg refuses
	 * even its open connections.
	 */
	oom = 0;
	if ((r = rule_new()) != NULL) {
		e_meta_is(r, NFT_META_L4PROTO, IPPROTO_TCP, &oom);
		e_tcp_flags(r, syn, 0, &oom);
		e_add(r, e_verdict(NF_ACCEPT), &oom);
	}
	rule_commit(n, r, oom, "tcp flags ! syn accept");

	/*
	 * An app uid with no policy reaches nothing: chain unreg logs it,
	 * then refuses it (a TCP reset: ICMPv6 errors are rate-limited, and
	 * a rate-limited reject leaves a connect waiting for its timeout).
	 */
	oom = 0;
	if ((r = rule_new_in(CHAIN_UNREG)) != NULL)
		e_add(r, e_log(g, "netd unregistered "), &oom);
	rule_commit(n, r, oom, "unreg: log");
	oom = 0;
	if ((r = rule_new_in(CHAIN_UNREG)) != NULL) {
		e_meta_is(r, NFT_META_L4PROTO, IPPROTO_TCP, &oom);
		e_add(r, e_reject(NFT_REJECT_TCP_RST, 0), &oom);
	}
	rule_commit(n, r, oom, "unreg: tcp reject with tcp reset");
	oom = 0;
	if ((r = rule_new_in(CHAIN_UNREG)) != NULL)
		e_add(r, e_reject(NFT_REJECT_ICMPX_UNREACH,
		    NFT_REJECT_ICMPX_ADMIN_PROHIBITED), &oom);
	rule_commit(n, r, oom, "unreg: reject");

	/*
	 * A SYN-ACK answers a connection to one of the app's ports: only its
	 * server ports may answer (chain synack).
	 */
	oom = 0;
	if ((r = rule_new()) != NULL) {
		e_meta_is(r, NFT_META_L4PROTO, IPPROTO_TCP, &oom);
		e_tcp_flags(r, synack, synack, &oom);
		e_add(r, e_jump(CHAIN_SYNACK), &oom);
	}
	rule_commit(n, r, oom, "tcp flags syn,ack / syn,ack jump synack");
	oom = 0;
	if ((r = rule_new_in(CHAIN_SYNACK)) != NULL) {
		e_add(r, e_meta(NFT_META_SKUID, NFT_REG32_00), &oom);
		e_add(r, e_meta(NFT_META_L4PROTO, NFT_REG32_01), &oom);
		e_add(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 0, 2,
		    NFT_REG32_02), &oom);
		e_add(r, e_lookup(SET_SERVE, ID_SERVE, NFT_REG_1, false), &oom);
		e_add(r, e_verdict(NF_ACCEPT), &oom);
	}
	rule_commit(n, r, oom, "synack: skuid . l4proto . sport @serve "
	    "accept");
	oom = 0;
	if ((r = rule_new_in(CHAIN_SYNACK)) != NULL) {
		e_add(r, e_log(g, "netd serve "), &oom);
		e_add(r, e_verdict(NF_DROP), &oom);
	}
	rule_commit(n, r, oom, "synack: log drop");

	/* UDP: flows and server replies (chain udp), then the sets. */
	oom = 0;
	if ((r = rule_new()) != NULL) {
		e_meta_is(r, NFT_META_L4PROTO, IPPROTO_UDP, &oom);
		e_add(r, e_jump(CHAIN_UDP), &oom);
	}
	rule_commit(n, r, oom, "meta l4proto udp jump udp");
	rules_udp(n, AF_INET);
	rules_udp(n, AF_INET6);

	rule_allow(n, AF_INET, SET_ALLOW4, ID_ALLOW4, false);
	rule_allow(n, AF_INET6, SET_ALLOW6, ID_ALLOW6, false);
	rule_allow(n, AF_INET, SET_STATIC4, ID_STATIC4, true);
	rule_allow(n, AF_INET6, SET_STATIC6, ID_STATIC6, true);

	/* Everything else: logged for the event stream, and refused fast. */
	oom = 0;
	if ((r = rule_new()) != NULL)
		e_add(r, e_log(g, "netd deny "), &oom);
	rule_commit(n, r, oom, "log group");
	oom = 0;
	if ((r = rule_new()) != NULL) {
		e_meta_is(r, NFT_META_L4PROTO, IPPROTO_TCP, &oom);
		e_add(r, e_reject(NFT_REJECT_TCP_RST, 0), &oom);
	}
	rule_commit(n, r, oom, "meta l4proto tcp reject with tcp reset");
	oom = 0;
	if ((r = rule_new()) != NULL)
		e_add(r, e_reject(NFT_REJECT_ICMPX_UNREACH,
		    NFT_REJECT_ICMPX_ADMIN_PROHIBITED), &oom);
	rule_commit(n, r, oom, "reject with icmpx admin-prohibited");

	rule_learn(n, AF_INET);
	rule_learn(n, AF_INET6);
}

static void	apps_catchall(struct nft *);

static void
build_table(struct nft *n)
{
	static const uint8_t f4[] = { 4, 4, 0 }, f6[] = { 4, 16, 0 };
	const uint32_t dyn = NFT_SET_TIMEOUT | NFT_SET_EVAL;

	add_set(n, SET_APPS, ID_APPS, NFT_SET_MAP, DT_UID, 4, NULL, 0);
	add_set(n, SET_ALLOW4, ID_ALLOW4, NFT_SET_TIMEOUT,
	    DT_CONCAT2(DT_UID, DT_IPADDR), sizeof(struct key4), NULL, 0);
	add_set(n, SET_ALLOW6, ID_ALLOW6, NFT_SET_TIMEOUT,
	    DT_CONCAT2(DT_UID, DT_IP6ADDR), sizeof(struct key6), NULL, 0);
	add_set(n, SET_STATIC4, ID_STATIC4, NFT_SET_INTERVAL | NFT_SET_CONCAT,
	    DT_CONCAT2(DT_UID, DT_IPADDR), sizeof(struct key4), f4, 0);
	add_set(n, SET_STATIC6, ID_STATIC6, NFT_SET_INTERVAL | NFT_SET_CONCAT,
	    DT_CONCAT2(DT_UID, DT_IP6ADDR), sizeof(struct key6), f6, 0);
	add_set(n, SET_SERVE, ID_SERVE, 0,
	    DT_CONCAT3(DT_UID, DT_INET_PROTO, DT_INET_SERVICE),
	    sizeof(struct key_serve), NULL, 0);
	add_set(n, SET_FLOW4, ID_FLOW4, dyn,
	    DT_CONCAT4(DT_UID, DT_IPADDR, DT_INET_SERVICE, DT_INET_SERVICE),
	    16, NULL, FLOW_MAX);
	add_set(n, SET_FLOW6, ID_FLOW6, dyn,
	    DT_CONCAT4(DT_UID, DT_IP6ADDR, DT_INET_SERVICE, DT_INET_SERVICE),
	    28, NULL, FLOW_MAX);
	add_set(n, SET_UPORTS, ID_UPORTS, 0, DT_INET_SERVICE, 2, NULL, 0);
	add_set(n, SET_UPEER4, ID_UPEER4, dyn,
	    DT_CONCAT3(DT_IPADDR, DT_INET_SERVICE, DT_INET_SERVICE), 12,
	    NULL, FLOW_MAX);
	add_set(n, SET_UPEER6, ID_UPEER6, dyn,
	    DT_CONCAT3(DT_IP6ADDR, DT_INET_SERVICE, DT_INET_SERVICE), 24,
	    NULL, FLOW_MAX);
	add_chain(n, CHAIN_OUTPUT, NF_INET_LOCAL_OUT);
	add_chain(n, CHAIN_APP, -1);
	add_chain(n, CHAIN_UNREG, -1);
	add_chain(n, CHAIN_UDP, -1);
	add_chain(n, CHAIN_LEARN, -1);
	add_chain(n, CHAIN_DNS, -1);
	add_chain(n, CHAIN_SYNACK, -1);
	apps_catchall(n);
	build_rules(n);
}

/*
 * Elements. One message per static entry, so an error names the entry;
 * grants go ELEMS_PER_MSG to a message.
 */
static struct nftnl_set *
elem_set(const char *name)
{
	struct nftnl_set *s = nftnl_set_alloc();

	if (s != NULL) {
		nftnl_set_set_str(s, NFTNL_SET_TABLE, NFT_TABLE);
		nftnl_set_set_str(s, NFTNL_SET_NAME, name);
		nftnl_set_set_u32(s, NFTNL_SET_FAMILY, NFPROTO_INET);
	}
	return s;
}

static void
elem_msg(struct nft *n, struct nftnl_set *s, uint16_t type, uint16_t flags,
    size_t nelem, const char *what)
{
	struct nlmsghdr *nlh;

	nlh = batch_msg(n, type, flags, MSG_ROOM + nelem * ELEM_ROOM, "%s",
	    what);
	if (nlh != NULL) {
		nftnl_set_elems_nlmsg_build_payload(nlh, s);
		batch_next(n);
	}
}

static struct nftnl_set_elem *
elem_new(struct nftnl_set *s, const void *key, uint32_t len)
{
	struct nftnl_set_elem *e = nftnl_set_elem_alloc();

	if (e != NULL) {
		nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY, key, len);
		nftnl_set_elem_add(s, e);
	}
	return e;
}

/* The element's verdict: jump to chain. */
static void
elem_jump(struct nftnl_set_elem *e, const char *chain)
{
	nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_VERDICT, NFT_JUMP);
	nftnl_set_elem_set_str(e, NFTNL_SET_ELEM_CHAIN, chain);
}

/* apps { * : jump unreg }: every uid of the range that is not an app. */
static void
apps_catchall(struct nft *n)
{
	struct nftnl_set_elem *e = NULL;
	struct nftnl_set *s;

	if ((s = elem_set(SET_APPS)) == NULL ||
	    (e = nftnl_set_elem_alloc()) == NULL) {
		n->oom = 1;
		nftnl_set_free(s);
		return;
	}
	nftnl_set_elem_set_u32(e, NFTNL_SET_ELEM_FLAGS, NFT_SET_ELEM_CATCHALL);
	elem_jump(e, CHAIN_UNREG);
	nftnl_set_elem_add(s, e);
	elem_msg(n, s, NFT_MSG_NEWSETELEM, NLM_F_CREATE, 1,
	    "apps catch-all: jump unreg");
	nftnl_set_free(s);
}

/* Interval [first, last] of a prefix, uid in network order. */
static void
prefix_range(const struct policy_prefix *p, uid_t uid, void *lo, void *hi)
{
	size_t alen = p->family == AF_INET ? 4 : 16, i;
	uint8_t *a = (uint8_t *)lo + 4, *b = (uint8_t *)hi + 4;
	uint32_t u = htonl(uid);

	memcpy(lo, &u, 4);
	memcpy(hi, &u, 4);
	memcpy(a, p->addr, alen);
	memcpy(b, p->addr, alen);
	for (i = 0; i < alen; i++) {
		unsigned bits = p->plen > i * 8 ? p->plen - i * 8 : 0;

		if (bits < 8)
			b[i] |= (uint8_t)(0xffu >> bits);
	}
}

/* Add (NEWSETELEM) or delete (DELSETELEM) the static part of an app. */
static void
app_elems(struct nft *n, const struct nft_app *a, uint16_t type)
{
	const struct policy *p = a->pol;
	uint16_t flags = type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0;
	uint32_t uid = a->uid;
	struct nftnl_set_elem *e;
	struct nftnl_set *s;
	char what[160], pfx[64];
	int fam, proto;
	size_t i;

	if ((s = elem_set(SET_APPS)) == NULL ||
	    (e = elem_new(s, &uid, 4)) == NULL)
		n->oom = 1;
	else {
		if (type == NFT_MSG_NEWSETELEM)
			elem_jump(e, CHAIN_APP);
		snprintf(what, sizeof(what), "app '%s' (uid %u)", a->name,
		    (unsigned)a->uid);
		elem_msg(n, s, type, flags, 1, what);
	}
	nftnl_set_free(s);

	for (fam = AF_INET; fam == AF_INET || fam == AF_INET6;
	    fam = fam == AF_INET ? AF_INET6 : -1) {
		for (i = 0; i < policy_prefix_count(p, fam); i++) {
			const struct policy_prefix *pp;
			struct key6 lo, hi;
			uint32_t klen = fam == AF_INET ? 8 : 20;

			pp = policy_prefix_get(p, fam, i);
			prefix_range(pp, a->uid, &lo, &hi);
			s = elem_set(fam == AF_INET ? SET_STATIC4 :
			    SET_STATIC6);
			if (s == NULL || (e = elem_new(s, &lo, klen)) == NULL) {
				n->oom = 1;
				nftnl_set_free(s);
				continue;
			}
			nftnl_set_elem_set(e, NFTNL_SET_ELEM_KEY_END, &hi,
			    klen);
			inet_ntop(fam, pp->addr, pfx, sizeof(pfx));
			snprintf(what, sizeof(what), "app '%s' (uid %u): "
			    "Capabilities.AllowedConnections entry \"%s/%u\"",
			    a->name, (unsigned)a->uid, pfx,
			    (unsigned)pp->plen);
			elem_msg(n, s, type, flags, 1, what);
			nftnl_set_free(s);
		}
	}

	for (proto = IPPROTO_TCP; proto == IPPROTO_TCP ||
	    proto == IPPROTO_UDP;
	    proto = proto == IPPROTO_TCP ? IPPROTO_UDP : -1) {
		for (i = 0; i < policy_port_count(p, proto); i++) {
			struct key_serve k;

			memset(&k, 0, sizeof(k));
			k.uid = a->uid;
			k.proto = (uint8_t)proto;
			k.port = htons(policy_port_get(p, proto, i));
			s = elem_set(SET_SERVE);
			if (s == NULL || elem_new(s, &k, sizeof(k)) == NULL) {
				n->oom = 1;
				nftnl_set_free(s);
				continue;
			}
			snprintf(what, sizeof(what), "app '%s' (uid %u): "
			    "Capabilities.Allowed%sServerPorts entry %u",
			    a->name, (unsigned)a->uid,
			    proto == IPPROTO_TCP ? "Tcp" : "Udp",
			    (unsigned)policy_port_get(p, proto, i));
			elem_msg(n, s, type, flags, 1, what);
			nftnl_set_free(s);
		}
	}
}


/*
 * UDP server ports. The input chain learns the senders to any port in
 * uports, the union of the apps' ports: sv_next() is the (uid, port) list
 * with uid's ports replaced by those of p (NULL: none), sv_elems() adds
 * to the batch the uports elements that change from one list to the
 * other, and the input chain when the union stops or starts being empty,
 * sv_commit() keeps the new list once the kernel took the batch.
 */
static struct userve *
sv_next(const struct userve *sv, size_t nsv, uid_t uid,
    const struct policy *p, size_t *np)
{
	size_t k = p != NULL ? policy_port_count(p, IPPROTO_UDP) : 0, i, m = 0;
	struct userve *v;

	if ((v = calloc(nsv + k + 1, sizeof(*v))) == NULL)
		return NULL;
	for (i = 0; i < nsv; i++)
		if (sv[i].uid != uid)
			v[m++] = sv[i];
	for (i = 0; i < k; i++) {
		v[m].uid = uid;
		v[m++].port = policy_port_get(p, IPPROTO_UDP, i);
	}
	*np = m;
	return v;
}

static bool
sv_has(const struct userve *v, size_t nv, uint16_t port)
{
	size_t i;

	for (i = 0; i < nv; i++)
		if (v[i].port == port)
			return true;
	return false;
}

/*
 * The input chain: UDP to a port an app serves records its sender (chain
 * learn). It exists only while some app has a UDP server port, so that
 * no incoming packet crosses a hook of netd's otherwise.
 */
static void
input_hook(struct nft *n, bool on)
{
	struct nftnl_rule *r;
	int oom = 0;

	if (!on) {
		chain_msg(n, NFT_MSG_DELCHAIN, CHAIN_INPUT, -1);
		return;
	}
	add_chain(n, CHAIN_INPUT, NF_INET_LOCAL_IN);
	if ((r = rule_new_in(CHAIN_INPUT)) != NULL) {
		e_meta_is(r, NFT_META_L4PROTO, IPPROTO_UDP, &oom);
		e_add(r, e_payload(NFT_PAYLOAD_TRANSPORT_HEADER, 2, 2,
		    NFT_REG_1), &oom);
		e_add(r, e_lookup(SET_UPORTS, ID_UPORTS, NFT_REG_1, false),
		    &oom);
		e_add(r, e_jump(CHAIN_LEARN), &oom);
	}
	rule_commit(n, r, oom, "udp dport @uports jump learn");
}

static void
sv_elems(struct nft *n, const struct userve *from, size_t nfrom,
    const struct userve *to, size_t nto, uint16_t del)
{
	const struct userve *a[2] = { to, from }, *b[2] = { from, to };
	size_t na[2] = { nto, nfrom }, nb[2] = { nfrom, nto }, i;
	uint16_t type[2] = { NFT_MSG_NEWSETELEM, del };
	char what[64];
	int k;

	if (nfrom == 0 && nto > 0)
		input_hook(n, true);
	for (k = 0; k < 2; k++)
		for (i = 0; i < na[k]; i++) {
			uint16_t port = htons(a[k][i].port);
			struct nftnl_set *s;

			/* Once per port, and only if the other list lacks it. */
			if (sv_has(a[k], i, a[k][i].port) ||
			    sv_has(b[k], nb[k], a[k][i].port))
				continue;
			if ((s = elem_set(SET_UPORTS)) == NULL ||
			    elem_new(s, &port, 2) == NULL) {
				n->oom = 1;
				nftnl_set_free(s);
				continue;
			}
			snprintf(what, sizeof(what), "udp server port %u",
			    (unsigned)a[k][i].port);
			elem_msg(n, s, type[k], k == 0 ? NLM_F_CREATE : 0, 1,
			    what);
			nftnl_set_free(s);
		}
	if (nfrom > 0 && nto == 0)
		input_hook(n, false);
}

static void
sv_commit(struct nft *n, struct userve *v, size_t nv)
{
	free(n->sv);
	n->sv = v;
	n->nsv = nv;
}

/*
 * Grants as elements of allow4/allow6, ELEMS_PER_MSG to a message: added
 * (NEWSETELEM, each with its expires_ms as timeout and expiration, so an
 * existing one is refreshed) or deleted. A sorted list may repeat an entry
 * (a dump does): each goes in once.
 */
static void
put_grants(struct nft *n, uint16_t type, const struct nft_grant_info *g,
    size_t ng, const char *what)
{
	uint16_t flags = type == NFT_MSG_NEWSETELEM ? NLM_F_CREATE : 0;
	int fam;

	for (fam = AF_INET; fam != -1; fam = fam == AF_INET ? AF_INET6 : -1) {
		uint32_t klen = fam == AF_INET ? 8 : 20;
		struct nftnl_set *s = NULL;
		size_t i, in_msg = 0;

		for (i = 0; i < ng; i++) {
			struct nftnl_set_elem *e;
			struct key6 k;

			if (g[i].family != fam || (i > 0 &&
			    g[i - 1].family == fam && g[i - 1].uid == g[i].uid &&
			    memcmp(g[i - 1].addr, g[i].addr, 16) == 0))
				continue;
			if (s == NULL && (s = elem_set(fam == AF_INET ?
			    SET_ALLOW4 : SET_ALLOW6)) == NULL) {
				n->oom = 1;
				return;
			}
			k.uid = g[i].uid;
			memcpy(k.addr, g[i].addr, klen - 4);
			if ((e = elem_new(s, &k, klen)) == NULL) {
				n->oom = 1;
				break;
			}
			if (type == NFT_MSG_NEWSETELEM && g[i].expires_ms > 0) {
				nftnl_set_elem_set_u64(e,
				    NFTNL_SET_ELEM_TIMEOUT, g[i].expires_ms);
				nftnl_set_elem_set_u64(e,
				    NFTNL_SET_ELEM_EXPIRATION, g[i].expires_ms);
			}
			if (++in_msg == ELEMS_PER_MSG) {
				elem_msg(n, s, type, flags, in_msg, what);
				nftnl_set_free(s);
				s = NULL;
				in_msg = 0;
			}
		}
		if (s != NULL) {
			elem_msg(n, s, type, flags, in_msg, what);
			nftnl_set_free(s);
		}
	}
}

static uint64_t
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static void
ledger_reset(struct nft *n)
{
	size_t i;

	for (i = 0; i < n->nled; i++)
		free(n->led[i].v);
	free(n->led);
	n->led = NULL;
	n->nled = n->ledcap = 0;
	n->ledger_lost = false;
}

static struct ledger *
ledger_find(struct nft *n, uid_t uid, bool create)
{
	struct ledger *l;
	size_t i;

	for (i = 0; i < n->nled; i++)
		if (n->led[i].uid == uid)
			return &n->led[i];
	if (!create)
		return NULL;
	if (n->nled == n->ledcap) {
		size_t ncap = n->ledcap ? n->ledcap * 2 : 16;

		if ((l = reallocarray(n->led, ncap, sizeof(*l))) == NULL)
			return NULL;
		n->led = l;
		n->ledcap = ncap;
	}
	l = &n->led[n->nled++];
	memset(l, 0, sizeof(*l));
	l->uid = uid;
	return l;
}

/*
 * A uid's ledger is an open-addressing hash set of (family, address) with
 * linear probing; expires 0 marks a free slot. Expired entries go when the
 * table grows, so an insert costs O(1) amortized and nothing ever sorts.
 */
static size_t
ledger_hash(const struct nft *n, int family, const uint8_t *addr)
{
	uint64_t h = n->seed ^ (uint64_t)family, w;
	size_t i;

	for (i = 0; i < 16; i += 8) {
		memcpy(&w, addr + i, 8);
		h ^= w;
		h *= 0x9e3779b97f4a7c15ULL;
		h ^= h >> 29;
	}
	h *= 0xbf58476d1ce4e5b9ULL;
	return (size_t)(h ^ (h >> 31));
}

static struct ledger_entry *
ledger_slot(const struct nft *n, const struct ledger *l, int family,
    const uint8_t *addr)
{
	size_t mask = l->cap - 1, i;

	for (i = ledger_hash(n, family, addr) & mask;; i = (i + 1) & mask) {
		struct ledger_entry *e = &l->v[i];

		if (e->expires == 0 || (e->family == family &&
		    memcmp(e->addr, addr, 16) == 0))
			return e;
	}
}

/* Room for one more: grow (or just clean) past 3/4 full. 0 or -1. */
static int
ledger_room(const struct nft *n, struct ledger *l, uint64_t now)
{
	struct ledger_entry *old = l->v, *e;
	size_t oldcap = l->cap, live = 0, i, cap = 16;

	if (l->cap > 0 && (l->n + 1) * 4 <= l->cap * 3)
		return 0;
	for (i = 0; i < oldcap; i++)
		if (old[i].expires > now)
			live++;
	while (cap < (live + 1) * 2)
		cap *= 2;
	if ((l->v = calloc(cap, sizeof(*l->v))) == NULL) {
		l->v = old;
		return -1;
	}
	l->cap = cap;
	l->n = 0;
	for (i = 0; i < oldcap; i++) {
		if (old[i].expires <= now)
			continue;
		e = ledger_slot(n, l, old[i].family, old[i].addr);
		*e = old[i];
		l->n++;
	}
	free(old);
	return 0;
}

/* Take an entry out (backward-shift deletion keeps probes intact). */
static void
ledger_del(const struct nft *n, struct ledger *l, int family,
    const uint8_t *addr)
{
	size_t mask, i, j, k;
	struct ledger_entry *e;

	if (l == NULL || l->cap == 0)
		return;
	mask = l->cap - 1;
	e = ledger_slot(n, l, family, addr);
	if (e->expires == 0)
		return;
	i = (size_t)(e - l->v);
	for (j = (i + 1) & mask; l->v[j].expires != 0; j = (j + 1) & mask) {
		k = ledger_hash(n, l->v[j].family, l->v[j].addr) & mask;
		/* Move j back to i unless its home lies in (i, j]. */
		if ((j > i && (k <= i || k > j)) || (j < i && (k <= i &&
		    k > j))) {
			l->v[i] = l->v[j];
			i = j;
		}
	}
	memset(&l->v[i], 0, sizeof(l->v[i]));
	l->n--;
}

static void
ledger_add(struct nft *n, uid_t uid, int family, const uint8_t *addrs,
    size_t na, uint32_t timeout_ms)
{
	size_t alen = family == AF_INET ? 4 : 16, i;
	uint64_t now = now_ms();
	uint8_t key[16];
	struct ledger *l;

	if (n->ledger_lost || (l = ledger_find(n, uid, true)) == NULL) {
		n->ledger_lost = true;
		return;
	}
	for (i = 0; i < na; i++) {
		struct ledger_entry *e;

		if (ledger_room(n, l, now) == -1) {
			n->ledger_lost = true;
			return;
		}
		memset(key, 0, sizeof(key));
		memcpy(key, addrs + i * alen, alen);
		e = ledger_slot(n, l, family, key);
		if (e->expires == 0) {
			e->family = family;
			memcpy(e->addr, key, 16);
			l->n++;
		}
		/* The kernel's timeout is now this one, longer or not. */
		e->expires = now + timeout_ms;
	}
}

ssize_t
nft_grants_count(struct nft *n)
{
	struct nft_grant_info *g;
	uint64_t now = now_ms();
	ssize_t total = 0;
	size_t i;

	if (n->ledger_lost || n->no_destroy) {
		total = nft_grants_list(n, (uid_t)-1, &g);
		free(g);
		return total;
	}
	for (i = 0; i < n->nled; i++) {
		const struct ledger *l = &n->led[i];
		size_t j;

		for (j = 0; j < l->cap; j++)
			if (l->v[j].expires > now)
				total++;
	}
	return total;
}

static void
ledger_drop(struct nft *n, uid_t uid)
{
	struct ledger *l = ledger_find(n, uid, false);

	if (l != NULL) {
		free(l->v);
		*l = n->led[--n->nled];
	}
}

/*
 * Grants of registered apps go into the new table with the time they had
 * left: a restart or a reload must not cut an app off from names it has
 * resolved. Grants of uids that are not apps any more are dropped.
 */
static void
grants_back(struct nft *n, const struct nft_grant_info *g, size_t ng,
    const struct nft_app *apps, size_t napps)
{
	struct nft_grant_info *keep;
	size_t i, j, nk = 0;

	if ((keep = calloc(ng ? ng : 1, sizeof(*keep))) == NULL) {
		n->oom = 1;
		return;
	}
	for (i = 0; i < ng; i++)
		for (j = 0; j < napps; j++)
			if (apps[j].uid == g[i].uid && g[i].expires_ms > 0) {
				keep[nk++] = g[i];
				break;
			}
	put_grants(n, NFT_MSG_NEWSETELEM, keep, nk,
	    "grants kept across the rebuild");
	free(keep);
}

int
nft_rebuild(struct nft *n, const struct nft_app *apps, size_t napps,
    char *err, size_t errlen)
{
	struct nft_grant_info *g = NULL;
	struct userve *sv = NULL, *v;
	size_t i, nsv = 0;
	ssize_t ng;
	int rc;

	for (i = 0; i < napps; i++) {
		if ((v = sv_next(sv, nsv, apps[i].uid, apps[i].pol,
		    &nsv)) == NULL) {
			free(sv);
			seterr(err, errlen, "out of memory");
			return -1;
		}
		free(sv);
		sv = v;
	}
	/* No table yet (first start) means no grants. */
	if ((ng = nft_grants_list(n, (uid_t)-1, &g)) < 0)
		ng = 0;
	if (batch_begin(n) == -1) {
		free(g);
		free(sv);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	/* Create if absent, so the delete always succeeds; then rebuild. */
	add_table(n, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	add_table(n, NFT_MSG_DELTABLE, 0);
	add_table(n, NFT_MSG_NEWTABLE, NLM_F_CREATE);
	build_table(n);
	for (i = 0; i < napps; i++)
		app_elems(n, &apps[i], NFT_MSG_NEWSETELEM);
	sv_elems(n, NULL, 0, sv, nsv, NFT_MSG_DELSETELEM);
	grants_back(n, g, (size_t)ng, apps, napps);
	rc = batch_commit(n, err, errlen);
	if (rc == -1)
		free(sv);
	else {
		sv_commit(n, sv, nsv);
		/* The ledger is what the new table holds. */
		ssize_t k;

		ledger_reset(n);
		for (k = 0; k < ng; k++) {
			size_t j;

			for (j = 0; j < napps; j++)
				if (apps[j].uid == g[k].uid &&
				    g[k].expires_ms > 0)
					ledger_add(n, g[k].uid, g[k].family,
					    g[k].addr, 1,
					    (uint32_t)g[k].expires_ms);
		}
	}
	free(g);
	return rc;
}

int
nft_app_add(struct nft *n, const struct nft_app *a, char *err, size_t errlen)
{
	struct userve *v;
	size_t nv;

	if ((v = sv_next(n->sv, n->nsv, a->uid, a->pol, &nv)) == NULL ||
	    batch_begin(n) == -1) {
		free(v);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	app_elems(n, a, NFT_MSG_NEWSETELEM);
	sv_elems(n, n->sv, n->nsv, v, nv, NFT_MSG_DELSETELEM);
	if (batch_commit(n, err, errlen) == -1) {
		free(v);
		return -1;
	}
	sv_commit(n, v, nv);
	return 0;
}

/* Dump a set's elements; cb sees each one. */
static int
set_dump(struct nft *n, const char *name,
    void (*cb)(struct nftnl_set_elem *, void *), void *arg)
{
	char buf[MNL_SOCKET_BUFFER_SIZE];
	struct nftnl_set *s = elem_set(name);
	struct nlmsghdr *nlh;
	uint32_t seq = n->seq++;
	ssize_t r;
	int ret = -1;

	if (s == NULL)
		return -1;
	memset(buf, 0, MSG_ROOM);	/* libmnl leaves padding unwritten */
	nlh = nftnl_nlmsg_build_hdr(buf, NFT_MSG_GETSETELEM, NFPROTO_INET,
	    NLM_F_DUMP | NLM_F_ACK, seq);
	nftnl_set_elems_nlmsg_build_payload(nlh, s);
	nftnl_set_free(s);
	if (mnl_socket_sendto(n->nl, nlh, nlh->nlmsg_len) == -1)
		return -1;
	while ((r = mnl_socket_recvfrom(n->nl, buf, sizeof(buf))) > 0) {
		int left = (int)r, done = 0;

		for (nlh = (struct nlmsghdr *)buf; mnl_nlmsg_ok(nlh, left);
		    nlh = mnl_nlmsg_next(nlh, &left)) {
			struct nftnl_set_elems_iter *it;
			struct nftnl_set_elem *e;

			if (nlh->nlmsg_seq != seq)
				continue;
			if (nlh->nlmsg_type == NLMSG_DONE) {
				done = 1;
				ret = 0;
				continue;
			}
			if (nlh->nlmsg_type == NLMSG_ERROR) {
				const struct nlmsgerr *e2 =
				    mnl_nlmsg_get_payload(nlh);

				if (e2->error != 0) {
					errno = -e2->error;
					done = 1;
					ret = -1;
				}
				continue;
			}
			if ((s = nftnl_set_alloc()) == NULL)
				continue;
			if (nftnl_set_elems_nlmsg_parse(nlh, s) == 0 &&
			    (it = nftnl_set_elems_iter_create(s)) != NULL) {
				while ((e = nftnl_set_elems_iter_next(it)))
					cb(e, arg);
				nftnl_set_elems_iter_destroy(it);
			}
			nftnl_set_free(s);
		}
		if (done)
			break;
	}
	/* NLM_F_ACK on a dump: one more ack may follow DONE; drain it. */
	while (recv(mnl_socket_get_fd(n->nl), buf, sizeof(buf),
	    MSG_DONTWAIT) > 0)
		;
	return ret;
}

struct grant_walk {
	uid_t			 uid;
	int			 family;
	struct nft_grant_info	*v;
	size_t			 n;
	size_t			 cap;
	int			 oom;
};

static void
grant_cb(struct nftnl_set_elem *e, void *arg)
{
	struct grant_walk *w = arg;
	const uint8_t *key;
	uint32_t klen = 0, uid;
	struct nft_grant_info *g;
	size_t alen = w->family == AF_INET ? 4 : 16;

	key = nftnl_set_elem_get(e, NFTNL_SET_ELEM_KEY, &klen);
	if (key == NULL || klen != 4 + alen)
		return;
	memcpy(&uid, key, 4);
	if (w->uid != (uid_t)-1 && uid != w->uid)
		return;
	if (w->n == w->cap) {
		size_t ncap = w->cap ? w->cap * 2 : 64;

		if ((g = reallocarray(w->v, ncap, sizeof(*g))) == NULL) {
			w->oom = 1;
			return;
		}
		w->v = g;
		w->cap = ncap;
	}
	g = &w->v[w->n++];
	memset(g, 0, sizeof(*g));
	g->uid = uid;
	g->family = w->family;
	memcpy(g->addr, key + 4, alen);
	if (nftnl_set_elem_is_set(e, NFTNL_SET_ELEM_EXPIRATION))
		g->expires_ms = nftnl_set_elem_get_u64(e,
		    NFTNL_SET_ELEM_EXPIRATION);
}

ssize_t
nft_grants_list(struct nft *n, uid_t uid, struct nft_grant_info **out)
{
	struct grant_walk w = { .uid = uid };

	w.family = AF_INET;
	if (set_dump(n, SET_ALLOW4, grant_cb, &w) == -1)
		goto fail;
	w.family = AF_INET6;
	if (set_dump(n, SET_ALLOW6, grant_cb, &w) == -1)
		goto fail;
	if (w.oom) {
		errno = ENOMEM;
		goto fail;
	}
	*out = w.v;
	return (ssize_t)w.n;
fail:
	free(w.v);
	*out = NULL;
	return -1;
}


static int
cmp_grant(const void *a, const void *b)
{
	const struct nft_grant_info *x = a, *y = b;

	if (x->family != y->family)
		return x->family - y->family;
	return memcmp(x->addr, y->addr, sizeof(x->addr));
}

ssize_t
nft_grants_of(struct nft *n, uid_t uid, struct nft_grant_info **out)
{
	struct nft_grant_info *v;
	const struct ledger *l;
	uint64_t now = now_ms();
	size_t j, k = 0;

	if (n->ledger_lost || n->no_destroy)
		return nft_grants_list(n, uid, out);
	*out = NULL;
	if ((l = ledger_find(n, uid, false)) == NULL)
		return 0;
	if ((v = calloc(l->n ? l->n : 1, sizeof(*v))) == NULL)
		return -1;
	for (j = 0; j < l->cap && k < l->n; j++) {
		const struct ledger_entry *e = &l->v[j];

		if (e->expires <= now)
			continue;
		v[k].uid = uid;
		v[k].family = e->family;
		memcpy(v[k].addr, e->addr, e->family == AF_INET ? 4 : 16);
		v[k].expires_ms = e->expires - now;
		k++;
	}
	qsort(v, k, sizeof(*v), cmp_grant);
	*out = v;
	return (ssize_t)k;
}

/* One batch: the app's static elements (first round) and the grants. */
static int
app_del_round(struct nft *n, const struct nft_app *a, bool statics,
    struct nft_grant_info *g, size_t ng, char *err, size_t errlen)
{
	uint16_t del = n->no_destroy ? NFT_MSG_DELSETELEM :
	    NFT_MSG_DESTROYSETELEM;
	struct userve *v = NULL;
	char what[128];
	size_t nv = 0;
	int rc;

	if ((statics && (v = sv_next(n->sv, n->nsv, a->uid, NULL,
	    &nv)) == NULL) || batch_begin(n) == -1) {
		free(v);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if (statics) {
		app_elems(n, a, del);
		sv_elems(n, n->sv, n->nsv, v, nv, del);
	}
	snprintf(what, sizeof(what), "grants of app '%s' (uid %u)", a->name,
	    (unsigned)a->uid);
	put_grants(n, del, g, ng, what);
	rc = batch_commit(n, err, errlen);
	if (rc == 0 && statics)
		sv_commit(n, v, nv);
	else
		free(v);
	if (rc == -1 && !n->no_destroy && (errno == EOPNOTSUPP ||
	    errno == EINVAL)) {
		/* An older kernel: delete, and retry if one expired meanwhile. */
		log_info("nftables: no DESTROYSETELEM, using DELSETELEM");
		n->no_destroy = true;
		return app_del_round(n, a, statics, g, ng, err, errlen);
	}
	return rc;
}

int
nft_app_del(struct nft *n, const struct nft_app *a, char *err, size_t errlen)
{
	struct nft_grant_info *g = NULL;
	bool statics = true;
	ssize_t ng;
	int round;

	/*
	 * The ledger knows the grants: one batch, no dump. Entries that
	 * expired meanwhile are no error for DESTROYSETELEM.
	 */
	if (!n->no_destroy && !n->ledger_lost) {
		struct ledger *l = ledger_find(n, a->uid, false);
		size_t i, cnt = 0;

		if ((g = calloc(l && l->n ? l->n : 1, sizeof(*g))) == NULL) {
			seterr(err, errlen, "out of memory");
			return -1;
		}
		for (i = 0; l != NULL && i < l->cap; i++) {
			if (l->v[i].expires == 0)
				continue;
			g[cnt].uid = a->uid;
			g[cnt].family = l->v[i].family;
			memcpy(g[cnt].addr, l->v[i].addr, 16);
			cnt++;
		}
		if (cnt > 1)
			qsort(g, cnt, sizeof(*g), cmp_grant);
		if (app_del_round(n, a, true, g, cnt, err, errlen) == 0) {
			free(g);
			ledger_drop(n, a->uid);
			return 0;
		}
		free(g);
		g = NULL;
		if (!n->no_destroy)
			return -1;
	}

	/*
	 * Without the ledger, the kernel holds the grants: read them back to
	 * delete them. A dump of a set being resized may skip an element, so
	 * read again until none of the uid's is left.
	 */
	for (round = 0; round < DEL_ROUNDS; round++) {
		if ((ng = nft_grants_list(n, a->uid, &g)) == -1) {
			seterr(err, errlen, "reading grants of uid %u: %s",
			    (unsigned)a->uid, strerror(errno));
			return -1;
		}
		if (ng == 0 && !statics) {
			free(g);
			return 0;
		}
		if (ng > 1)
			qsort(g, (size_t)ng, sizeof(*g), cmp_grant);
		if (app_del_round(n, a, statics, g, (size_t)ng, err,
		    errlen) == 0)
			statics = false;
		else if (!n->no_destroy || errno != ENOENT) {
			free(g);
			return -1;
		}
		free(g);
		g = NULL;
	}
	if (statics)
		return -1;
	ledger_drop(n, a->uid);
	if ((ng = nft_grants_list(n, a->uid, &g)) > 0)
		log_warnx("uid %u: %zd grants left after %d rounds",
		    (unsigned)a->uid, ng, DEL_ROUNDS);
	free(g);
	return 0;
}

/* n packed addresses of uid as grant records; NULL on ENOMEM. */
static struct nft_grant_info *
grant_infos(uid_t uid, int family, const void *addrs, size_t na,
    uint32_t timeout_ms)
{
	size_t alen = family == AF_INET ? 4 : 16, i;
	struct nft_grant_info *g;

	if ((g = calloc(na, sizeof(*g))) == NULL)
		return NULL;
	for (i = 0; i < na; i++) {
		g[i].uid = uid;
		g[i].family = family;
		memcpy(g[i].addr, (const uint8_t *)addrs + i * alen, alen);
		g[i].expires_ms = timeout_ms;
	}
	return g;
}

int
nft_revoke(struct nft *n, uid_t uid, int family, const void *addrs,
    size_t na, char *err, size_t errlen)
{
	struct nft_grant_info *g;
	char what[96];
	size_t i;
	int rc;

	if (family != AF_INET && family != AF_INET6) {
		seterr(err, errlen, "invalid revoke");
		errno = EINVAL;
		return -1;
	}
	if (na == 0)
		return 0;
	if ((g = grant_infos(uid, family, addrs, na, 0)) == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	if (na > 1)
		qsort(g, na, sizeof(*g), cmp_grant);
	snprintf(what, sizeof(what), "revoke of %zu address%s from uid %u",
	    na, na == 1 ? "" : "es", (unsigned)uid);
	for (;;) {
		if (batch_begin(n) == -1) {
			free(g);
			seterr(err, errlen, "out of memory");
			return -1;
		}
		put_grants(n, n->no_destroy ? NFT_MSG_DELSETELEM :
		    NFT_MSG_DESTROYSETELEM, g, na, what);
		rc = batch_commit(n, err, errlen);
		if (rc == -1 && !n->no_destroy && (errno == EOPNOTSUPP ||
		    errno == EINVAL)) {
			log_info("nftables: no DESTROYSETELEM, using "
			    "DELSETELEM");
			n->no_destroy = true;
			continue;
		}
		break;
	}
	/* DELSETELEM of one that expired meanwhile: nothing to take. */
	if (rc == -1 && n->no_destroy && errno == ENOENT && na == 1)
		rc = 0;
	if (rc == 0)
		for (i = 0; i < na; i++)
			ledger_del(n, ledger_find(n, uid, false), family,
			    g[i].addr);
	free(g);
	return rc;
}

static int
cmp_expiry(const void *a, const void *b)
{
	const struct nft_grant_info *x = a, *y = b;

	return x->expires_ms < y->expires_ms ? -1 :
	    x->expires_ms > y->expires_ms;
}

/*
 * The grants that must go for this one to fit under max_grants_per_app:
 * past the cap, the uid's live grants that expire first, down to 7/8 of
 * it, so that the sort runs once per eighth of the cap, not per grant.
 * Never one of addrs (those are refreshed). Returns the count; *out is
 * sorted for put_grants(), or NULL.
 */
static size_t
cap_victims(struct nft *n, uid_t uid, int family, const uint8_t *addrs,
    size_t na, struct nft_grant_info **out)
{
	size_t cap = n->lay.max_grants_per_app, alen = family == AF_INET ?
	    4 : 16, live = 0, fresh = 0, nc = 0, want, k, i, j;
	/* DELSETELEM fails on one that expired meanwhile: keep a margin. */
	uint64_t now = now_ms(), floor_ms = now + (n->no_destroy ? 2000 : 0);
	struct nft_grant_info *c;
	struct ledger *l;
	uint8_t key[16];

	*out = NULL;
	if (cap == 0 || n->ledger_lost ||
	    (l = ledger_find(n, uid, false)) == NULL || l->cap == 0 ||
	    l->n + na <= cap)
		return 0;
	for (i = 0; i < l->cap; i++)
		if (l->v[i].expires > now)
			live++;
	for (i = 0; i < na; i++) {
		memset(key, 0, sizeof(key));
		memcpy(key, addrs + i * alen, alen);
		if (ledger_slot(n, l, family, key)->expires <= now)
			fresh++;
	}
	if (live + fresh <= cap)
		return 0;
	want = live + fresh - (cap - cap / 8 > fresh ? cap - cap / 8 : fresh);
	if ((c = calloc(live + 1, sizeof(*c))) == NULL)
		return 0;
	for (i = 0; i < l->cap; i++)
		if (l->v[i].expires > floor_ms) {
			c[nc].uid = uid;
			c[nc].family = l->v[i].family;
			memcpy(c[nc].addr, l->v[i].addr, 16);
			c[nc++].expires_ms = l->v[i].expires;
		}
	qsort(c, nc, sizeof(*c), cmp_expiry);
	for (i = k = 0; i < nc && k < want; i++) {
		for (j = 0; j < na; j++)
			if (c[i].family == family &&
			    memcmp(c[i].addr, addrs + j * alen, alen) == 0)
				break;
		if (j == na)
			c[k++] = c[i];
	}
	if (k == 0) {
		free(c);
		return 0;
	}
	qsort(c, k, sizeof(*c), cmp_grant);
	*out = c;
	return k;
}

int
nft_grant(struct nft *n, uid_t uid, int family, const void *addrs,
    size_t na, uint32_t timeout_ms, char *err, size_t errlen)
{
	struct nft_grant_info *g, *v = NULL;
	size_t nv = 0, i;
	char what[96];

	if ((family != AF_INET && family != AF_INET6) || timeout_ms == 0) {
		seterr(err, errlen, "invalid grant");
		errno = EINVAL;
		return -1;
	}
	if (na == 0)
		return 0;
	if ((g = grant_infos(uid, family, addrs, na, timeout_ms)) == NULL) {
		seterr(err, errlen, "out of memory");
		return -1;
	}
	snprintf(what, sizeof(what), "grant of %zu address%s to uid %u", na,
	    na == 1 ? "" : "es", (unsigned)uid);
	if (batch_begin(n) == -1) {
		free(g);
		seterr(err, errlen, "out of memory");
		return -1;
	}
	put_grants(n, NFT_MSG_NEWSETELEM, g, na, what);
	free(g);
	if ((nv = cap_victims(n, uid, family, addrs, na, &v)) > 0) {
		snprintf(what, sizeof(what), "%zu grants of uid %u over "
		    "max_grants_per_app", nv, (unsigned)uid);
		put_grants(n, n->no_destroy ? NFT_MSG_DELSETELEM :
		    NFT_MSG_DESTROYSETELEM, v, nv, what);
	}
	if (batch_commit(n, err, errlen) == -1) {
		free(v);
		return -1;
	}
	for (i = 0; i < nv; i++)
		ledger_del(n, ledger_find(n, uid, false), v[i].family,
		    v[i].addr);
	free(v);
	ledger_add(n, uid, family, addrs, na, timeout_ms);
	n->stats.grants += na;
	n->stats.evicted += nv;
	return 0;
}
