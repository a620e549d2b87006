/*
 * dnsproxy: listeners, attribution, the filter, the cache, the grants.
 *
 * A query's life: read (UDP with its mark in a cmsg, or TCP from a socket
 * whose mark came from the SYN) -> parse (dns/wire.c) -> not an app:
 * forward or refuse; an app: the name against its policy, else answered
 * here -> the cache, else upstream -> the answer checked against the
 * question -> rebinding filter -> every address reached from the question
 * granted to the uid, in one kernel transaction per TTL -> TTLs capped ->
 * sent. The answer leaves only after the kernel acked the grant; a grant
 * that fails becomes SERVFAIL, so an app never holds an address it cannot
 * reach because of us, nor one we did not grant.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <event2/buffer.h>
#include <event2/bufferevent.h>
#include <event2/event.h>
#include <jansson.h>

#include "apps.h"
#include "config.h"
#include "dns.h"
#include "dns_cache.h"
#include "dnsproxy.h"
#include "learn.h"
#include "log.h"
#include "nft.h"
#include "policy.h"
#include "upstream.h"

#ifndef SO_RCVMARK
#define SO_RCVMARK		75	/* Linux 5.19 */
#endif

#define UDP_QUERY_MAX		4096	/* longer UDP queries are dropped */
#define UDP_BATCH		64	/* datagrams read per wakeup */
#define UDP_MMSG		16	/* datagrams per recvmmsg() */
#define UDP_RCVBUF		(4 << 20)
#define PENDING_MAX		8192	/* queries waiting for upstream */
#define QUERY_SPARE		64	/* freed queries kept for reuse */
#define TCP_CLIENTS_MAX		256
#define TCP_PIPELINE		16	/* queries in flight per connection */
#define TCP_IDLE_SEC		10
#define TCP_OUT_MAX		(256 * 1024)
#define UPSTREAM_TIMEOUT_MS	2000
#define CACHE_BYTES_PER_ENTRY	1024	/* max_bytes = cache_size * this */
#define ANSWER_ADDRS_MAX	1024
#define HIST_N			22	/* < 1 us, < 2 us, ... < 2^20 us, more */

struct hist {
	uint64_t	 b[HIST_N];
	uint64_t	 n;
};

struct listener {
	struct dnsproxy		*p;
	struct config_addr	 addr;
	int			 fd;
	bool			 tcp;
	struct event		*ev;
	struct event		*pause;		/* TCP: after EMFILE */
};

struct tcp_client {
	struct dnsproxy		*p;
	struct bufferevent	*bev;		/* NULL once closed */
	uint32_t		 mark;
	unsigned		 pending;	/* queries being answered */
	bool			 draining;	/* EOF read: close when done */
	bool			 in_read;	/* inside tcp_read() */
	struct tcp_client	*prev, *next;
};

/* Where the reply goes. */
struct reply_to {
	int			 fd;		/* UDP */
	struct sockaddr_storage	 from;
	socklen_t		 fromlen;
	struct tcp_client	*tc;		/* or TCP */
};

enum qkind {
	Q_APP,		/* filtered, granted */
	Q_OTHER,	/* not an app: forwarded as is */
};

struct query {
	struct dnsproxy		*p;
	struct dns_query	 q;
	enum qkind		 kind;
	uid_t			 uid;
	struct reply_to		 to;
	uint64_t		 t0_us;
	struct query		*prev, *next;
};

/* One datagram of a recvmmsg(): its octets, sender and mark. */
struct udp_slot {
	uint8_t			 buf[UDP_QUERY_MAX + 1];
	struct sockaddr_storage	 from;
	union {
		struct cmsghdr	 hdr;
		uint8_t		 buf[CMSG_SPACE(sizeof(uint32_t))];
	}			 cm;
	struct iovec		 iov;
};

struct collect {
	struct dns_addr		 v[ANSWER_ADDRS_MAX];
	size_t			 n;
	size_t			 max;
};

struct dnsproxy {
	struct event_base	*base;
	struct netd_config	 conf;
	struct apps		*apps;
	struct nft		*nft;
	dnsproxy_event_fn	*event;
	void			*event_arg;
	struct listener		 ls[2 * CONFIG_MAX_ADDRS];
	size_t			 nls;
	struct upstream		*up;
	struct dns_cache	*cache;
	struct learn		*learn;
	struct tcp_client	*clients;
	size_t			 nclients;
	struct query		*pending;
	size_t			 npending;
	struct query		*spare;		/* freed, for reuse */
	size_t			 nspare;
	struct {
		uint64_t	 queries;	/* parsed, from anyone */
		uint64_t	 app_queries;
		uint64_t	 allowed;	/* app answers released */
		uint64_t	 denied;	/* names refused to apps */
		uint64_t	 forwarded;	/* sent upstream */
		uint64_t	 non_app;	/* from outside the app range */
		uint64_t	 refused_non_app;
		uint64_t	 cache_hits;
		uint64_t	 servfail;	/* upstream or grant failed */
		uint64_t	 formerr;	/* malformed queries answered */
		uint64_t	 dropped;	/* not worth an answer */
		uint64_t	 bad_answers;	/* upstream answer refused */
		uint64_t	 grant_errors;
		uint64_t	 granted;	/* addresses */
		uint64_t	 evicted;	/* over max_addrs_per_name */
		uint64_t	 rebind_dropped;
		uint64_t	 truncated;	/* TC sent to a UDP client */
	} st;
	struct hist		 up_lat;
	struct hist		 grant_lat;
	struct udp_slot		 rs[UDP_MMSG];
	struct mmsghdr		 rmsg[UDP_MMSG];
	uint8_t			 abuf[65536];
	uint8_t			 fbuf[65536];
	struct collect		 col;		/* deliver()'s, not reentrant */
};

static void	 udp_dispatch(evutil_socket_t, short, void *);
static void	 tcp_accept(evutil_socket_t, short, void *);
static void	 handle_query(struct dnsproxy *, const uint8_t *, size_t,
		    uint32_t, struct reply_to *);
static void	 tcp_client_done(struct tcp_client *);
static void	 servfail_query(struct dnsproxy *, struct query *);
static uint32_t	 cache_ttl(const uint8_t *, size_t,
		    const struct dns_answer *);

static uint64_t
now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000 + (uint64_t)ts.tv_nsec / 1000;
}

static void
hist_add(struct hist *h, uint64_t us)
{
	size_t i = 0;

	while (i < HIST_N - 1 && us >= (1ULL << i))
		i++;
	h->b[i]++;
	h->n++;
}

/* The upper bound (us) under which a fraction q of the samples fall. */
static uint64_t
hist_quantile(const struct hist *h, double q)
{
	uint64_t want = (uint64_t)((double)h->n * q + 0.999999), seen = 0;
	size_t i;

	if (h->n == 0)
		return 0;
	for (i = 0; i < HIST_N; i++) {
		seen += h->b[i];
		if (seen >= want)
			return 1ULL << i;
	}
	return 1ULL << (HIST_N - 1);
}

static json_t *
hist_json(const struct hist *h)
{
	json_t *b = json_array();
	size_t i;

	for (i = 0; i < HIST_N; i++)
		if (h->b[i] != 0)
			json_array_append_new(b, json_pack("[I, I]",
			    i == HIST_N - 1 ? (json_int_t)-1 :
			    (json_int_t)(1ULL << i), (json_int_t)h->b[i]));
	return json_pack("{s:I, s:I, s:I, s:o}", "count", (json_int_t)h->n,
	    "p50_le", (json_int_t)hist_quantile(h, 0.5),
	    "p99_le", (json_int_t)hist_quantile(h, 0.99), "buckets", b);
}

static const char *
type_name(uint16_t t, char *buf, size_t len)
{
	switch (t) {
	case 1: return "A";
	case 2: return "NS";
	case 5: return "CNAME";
	case 6: return "SOA";
	case 12: return "PTR";
	case 15: return "MX";
	case 16: return "TXT";
	case 28: return "AAAA";
	case 33: return "SRV";
	case 64: return "SVCB";
	case 65: return "HTTPS";
	case 255: return "ANY";
	}
	snprintf(buf, len, "TYPE%u", (unsigned)t);
	return buf;
}

/* --- sending ------------------------------------------------------------ */

static void
send_msg(struct dnsproxy *p, struct reply_to *to, const uint8_t *msg,
    size_t len)
{
	if (to->tc != NULL) {
		struct tcp_client *tc = to->tc;
		uint8_t hdr[2] = { (uint8_t)(len >> 8), (uint8_t)len };

		if (tc->bev == NULL)
			return;
		if (evbuffer_get_length(bufferevent_get_output(tc->bev)) >
		    TCP_OUT_MAX) {
			/* It does not read its answers: drop it. */
			p->st.dropped++;
			return;
		}
		bufferevent_write(tc->bev, hdr, 2);
		bufferevent_write(tc->bev, msg, len);
		return;
	}
	if (sendto(to->fd, msg, len, MSG_DONTWAIT,
	    (struct sockaddr *)&to->from, to->fromlen) == -1)
		log_debug("dns: sendto: %s", strerror(errno));
}

/* A reply made from the query alone: FORMERR, NXDOMAIN, REFUSED... */
static void
send_rcode(struct dnsproxy *p, struct reply_to *to, const uint8_t *query,
    size_t qlen, unsigned rcode)
{
	uint8_t out[DNS_ERROR_MAX];
	size_t olen = sizeof(out);

	if (dns_build_error(query, qlen, rcode, out, &olen) != DNS_OK) {
		p->st.dropped++;
		return;
	}
	send_msg(p, to, out, olen);
}

/*
 * To a UDP client, an answer longer than it can take goes as its header
 * and question with TC set, so that it asks again over TCP.
 */
static void
send_answer(struct dnsproxy *p, struct query *qr, uint8_t *msg, size_t len)
{
	/* RFC 6891: under 512 means 512; and no more than UDP carries. */
	size_t max = qr->q.edns && qr->q.edns_udp > 512 ? qr->q.edns_udp :
	    512;

	if (max > 65507)
		max = 65507;
	if (qr->to.tc == NULL && len > max && len >= qr->q.qend) {
		len = qr->q.qend;
		msg[2] |= DNS_F_TC >> 8;
		memset(msg + 6, 0, 6);		/* no records */
		p->st.truncated++;
	}
	send_msg(p, &qr->to, msg, len);
}

/* --- events and learning ------------------------------------------------ */

static void
deny_event(struct dnsproxy *p, uid_t uid, const struct app *a,
    const struct dns_query *q, unsigned rcode)
{
	char tb[16];
	json_t *o;

	o = json_pack("{s:I, s:s, s:I, s:o, s:s, s:s, s:s}",
	    "time", (json_int_t)time(NULL), "kind", "dns",
	    "uid", (json_int_t)uid, "app", a ? json_string(a->name) :
	    json_null(), "name", q->name, "type",
	    type_name(q->qtype, tb, sizeof(tb)),
	    "rcode", rcode == DNS_RCODE_REFUSED ? "REFUSED" : "NXDOMAIN");
	if (o == NULL)
		return;
	log_debug("dns denied: uid %u app %s %s %s", (unsigned)uid,
	    a ? a->name : "-", q->name, tb);
	if (p->event != NULL)
		p->event(p->event_arg, o);
	json_decref(o);
}

/* --- answers ------------------------------------------------------------ */

static bool
rebind_ok_name(const struct dnsproxy *p, const char *name)
{
	const char *s = p->conf.rebind_allow;
	size_t nlen = strlen(name);

	while (*s != '\0') {
		const char *e = strchr(s, ' ');
		size_t len = e ? (size_t)(e - s) : strlen(s);

		if (len > 2 && s[0] == '*' && s[1] == '.') {
			/* *.example.com: a name under example.com */
			size_t sl = len - 1;	/* ".example.com" */

			if (nlen > sl && memcmp(name + nlen - sl, s + 1,
			    sl) == 0)
				return true;
		} else if (len == nlen && memcmp(name, s, len) == 0)
			return true;
		s += len;
		while (*s == ' ')
			s++;
	}
	return false;
}

struct keep_arg {
	const struct policy	*pol;
};

/* A private address stays only where the app's policy lists it. */
static bool
keep_addr(const struct dns_addr *a, void *arg)
{
	struct keep_arg *k = arg;

	if (!dns_addr_is_private(a))
		return true;
	return k->pol != NULL && policy_allows_addr(k->pol, a->family,
	    a->addr);
}

static void
collect_cb(const struct dns_addr *a, void *arg)
{
	struct collect *c = arg;
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->v[i].family == a->family &&
		    memcmp(c->v[i].addr, a->addr, 16) == 0) {
			if (a->ttl < c->v[i].ttl)
				c->v[i].ttl = a->ttl;
			return;
		}
	if (c->n < c->max)
		c->v[c->n++] = *a;
}

/* Past max_addrs_per_name, an answer keeps the addresses collected first. */
static bool
keep_first(const struct dns_addr *a, void *arg)
{
	const struct collect *c = arg;
	size_t i;

	for (i = 0; i < c->n; i++)
		if (c->v[i].family == a->family &&
		    memcmp(c->v[i].addr, a->addr, 16) == 0)
			return true;
	return false;
}

static uint32_t
grant_seconds(const struct dnsproxy *p, uint32_t ttl)
{
	if (ttl < p->conf.min_ttl)
		ttl = p->conf.min_ttl;
	if (ttl > p->conf.max_ttl)
		ttl = p->conf.max_ttl;
	return ttl;
}

/*
 * Grant uid every collected address: timeout max(TTL, min_ttl), at most
 * max_ttl, plus grace; an address whose TTL comes to 0 opens nothing.
 * One kernel transaction per family and timeout. Then the per-name cap:
 * addresses pushed out are taken back. 0, or -1 (nothing released).
 */
static int
grant_all(struct dnsproxy *p, uid_t uid, const char *name,
    struct collect *c)
{
	uint8_t addrs[ANSWER_ADDRS_MAX * 16];
	bool done[ANSWER_ADDRS_MAX], granted[ANSWER_ADDRS_MAX];
	struct learn_addr ev[16];
	char err[NFT_ERR_MAX];
	uint64_t t0, now_ms;
	size_t i, j, n, nev, calls = 0;
	int rc = 0;

	if (c->n == 0)
		return 0;
	t0 = now_us();
	now_ms = t0 / 1000;
	memset(done, 0, c->n * sizeof(done[0]));
	memset(granted, 0, c->n * sizeof(granted[0]));
	for (i = 0; i < c->n; i++) {
		uint32_t secs = grant_seconds(p, c->v[i].ttl);
		int fam = c->v[i].family;
		size_t alen = fam == AF_INET ? 4 : 16;

		if (done[i])
			continue;
		if (secs == 0) {
			done[i] = true;
			continue;
		}
		for (j = i, n = 0; j < c->n; j++) {
			if (done[j] || c->v[j].family != fam ||
			    grant_seconds(p, c->v[j].ttl) != secs)
				continue;
			memcpy(addrs + n * alen, c->v[j].addr, alen);
			n++;
			done[j] = true;
		}
		if (nft_grant(p->nft, uid, fam, addrs, n,
		    (secs + p->conf.grace) * 1000, err, sizeof(err)) == -1) {
			log_warnx("dns: grant for uid %u (%s): %s",
			    (unsigned)uid, name, err);
			p->st.grant_errors++;
			rc = -1;
			break;
		}
		for (j = i; j < c->n; j++)
			if (done[j] && c->v[j].family == fam &&
			    grant_seconds(p, c->v[j].ttl) == secs)
				granted[j] = true;
		p->st.granted += n;
		calls++;
	}
	if (calls > 0 && rc == 0)
		hist_add(&p->grant_lat, now_us() - t0);

	/*
	 * What was granted is learned, also when a later group failed: the
	 * per-name cap must be able to take it back.
	 */
	for (i = 0; i < c->n; i++) {
		uint32_t secs = grant_seconds(p, c->v[i].ttl);

		if (!granted[i])
			continue;
		nev = 0;
		if (learn_add(p->learn, uid, name, c->v[i].family,
		    c->v[i].addr, now_ms + (uint64_t)(secs + p->conf.grace) *
		    1000, now_ms, ev, sizeof(ev) / sizeof(ev[0]), &nev) == -1)
			continue;
		for (j = 0; j < nev; j++) {
			p->st.evicted++;
			if (nft_revoke(p->nft, uid, ev[j].family, ev[j].addr, 1,
			    err, sizeof(err)) == -1)
				log_warnx("dns: revoke for uid %u (%s): %s",
				    (unsigned)uid, name, err);
		}
	}
	return rc;
}

/*
 * The answer in msg (len octets, its id already the client's) for qr: from
 * upstream (fresh: checked here, then cached) or from the cache (its TTLs
 * cut to ttl_cap, what it has left). For an app: rebinding filter, grants,
 * then release. TTLs never exceed max_ttl nor ttl_cap. One pass checks the
 * answer against the question and collects its addresses at once.
 */
static void
deliver(struct dnsproxy *p, struct query *qr, uint8_t *msg, size_t len,
    uint32_t ttl_cap, bool fresh)
{
	struct collect *c = &p->col;
	struct dns_answer ans;
	enum dns_status rc;
	struct app *a = NULL;
	size_t nd = 0, flen, i;
	uint32_t ttl;

	if (ttl_cap > p->conf.max_ttl)
		ttl_cap = p->conf.max_ttl;
	if (qr->kind == Q_APP &&
	    (a = apps_find_uid(p->apps, qr->uid)) == NULL) {
		/* It stopped meanwhile: its rules are gone. */
		servfail_query(p, qr);
		return;
	}
	c->n = 0;
	c->max = ANSWER_ADDRS_MAX;
	if ((rc = dns_answer_addrs(msg, len, &qr->q, &ans, a ? collect_cb :
	    NULL, c)) != DNS_OK) {
		log_info("dns: %s answer for %s refused: %s", fresh ?
		    "upstream" : "cached", qr->q.name, dns_strerror(rc));
		p->st.bad_answers++;
		servfail_query(p, qr);
		return;
	}
	/* An answer the upstream did not validate (CD) is not shared. */
	if (fresh && !(qr->q.flags & DNS_F_CD) &&
	    (ttl = cache_ttl(msg, len, &ans)) > 0)
		(void)dns_cache_put(p->cache, qr->q.qname, qr->q.qname_len,
		    qr->q.qtype, qr->q.qclass, msg, len, ttl < p->conf.max_ttl ?
		    ttl : p->conf.max_ttl, now_us() / 1000);
	if (a != NULL) {
		struct keep_arg k = { a->pol };

		if (p->conf.rebind_protection &&
		    !rebind_ok_name(p, qr->q.name)) {
			flen = sizeof(p->fbuf);
			/* An answer that cannot be filtered is not released. */
			if (dns_answer_filter(msg, len, &qr->q, keep_addr, &k,
			    p->fbuf, &flen, &nd) != DNS_OK)
				goto servfail;
			if (nd > 0) {
				log_info("dns: app %s: %zu private address%s "
				    "dropped from the answer for %s "
				    "(rebind_protection)", a->name, nd,
				    nd == 1 ? "" : "es", qr->q.name);
				p->st.rebind_dropped += nd;
				memcpy(msg, p->fbuf, flen);
				len = flen;
				c->n = 0;
				if (dns_answer_addrs(msg, len, &qr->q, &ans,
				    collect_cb, c) != DNS_OK)
					goto servfail;
			}
		}
		if (c->n > p->conf.max_addrs_per_name) {
			/* The app sees only the addresses it may reach. */
			c->n = p->conf.max_addrs_per_name;
			flen = sizeof(p->fbuf);
			if (dns_answer_filter(msg, len, &qr->q, keep_first, c,
			    p->fbuf, &flen, &nd) != DNS_OK)
				goto servfail;
			memcpy(msg, p->fbuf, flen);
			len = flen;
		}
		/* The grants follow the TTLs the app will see. */
		for (i = 0; i < c->n; i++)
			if (c->v[i].ttl > ttl_cap)
				c->v[i].ttl = ttl_cap;
		if (grant_all(p, qr->uid, qr->q.name, c) == -1)
			goto servfail;
		a->dns_allowed++;
		p->st.allowed++;
	}
	(void)dns_cap_ttls(msg, len, ttl_cap);
	send_answer(p, qr, msg, len);
	return;
servfail:
	servfail_query(p, qr);
}

/* How long an upstream answer may be cached, 0 for not at all. */
static uint32_t
cache_ttl(const uint8_t *msg, size_t len, const struct dns_answer *a)
{
	uint16_t ancount = (uint16_t)(msg[6] << 8 | msg[7]);
	uint32_t t;

	if (a->tc || len < DNS_HDR_LEN)
		return 0;
	if (a->rcode == DNS_RCODE_NOERROR && a->naddrs > 0)
		t = a->min_ttl;
	else if (a->rcode == DNS_RCODE_NXDOMAIN ||
	    (a->rcode == DNS_RCODE_NOERROR && ancount == 0))
		t = a->neg_ttl;
	else
		return 0;
	return t == DNS_TTL_NONE ? 0 : t;
}

/*
 * A zeroed query. Freed ones are kept for the next: at 1.4 KiB a query
 * is past malloc's per-thread cache, and calloc() was on every query.
 */
static struct query *
query_new(struct dnsproxy *p)
{
	struct query *qr;

	if ((qr = p->spare) == NULL)
		return calloc(1, sizeof(*qr));
	p->spare = qr->next;
	p->nspare--;
	memset(qr, 0, sizeof(*qr));
	return qr;
}

static void
query_free(struct dnsproxy *p, struct query *qr)
{
	if (p->nspare >= QUERY_SPARE) {
		free(qr);
		return;
	}
	qr->next = p->spare;
	p->spare = qr;
	p->nspare++;
}

static void
query_unlink(struct dnsproxy *p, struct query *qr)
{
	if (qr->prev != NULL)
		qr->prev->next = qr->next;
	else
		p->pending = qr->next;
	if (qr->next != NULL)
		qr->next->prev = qr->prev;
	p->npending--;
	if (qr->to.tc != NULL)
		tcp_client_done(qr->to.tc);
	query_free(p, qr);
}

/* SERVFAIL to qr, made from the question it asked (not from an answer). */
static void
servfail_query(struct dnsproxy *p, struct query *qr)
{
	uint8_t hdr[DNS_ERROR_MAX];
	size_t hlen = DNS_HDR_LEN + qr->q.qname_len + 4;

	memset(hdr, 0, DNS_HDR_LEN);
	hdr[0] = (uint8_t)(qr->q.id >> 8);
	hdr[1] = (uint8_t)qr->q.id;
	hdr[2] = (uint8_t)(qr->q.flags >> 8) & ~(DNS_F_QR >> 8);
	hdr[3] = (uint8_t)qr->q.flags;
	hdr[5] = 1;
	memcpy(hdr + DNS_HDR_LEN, qr->q.qname, qr->q.qname_len);
	hdr[hlen - 4] = (uint8_t)(qr->q.qtype >> 8);
	hdr[hlen - 3] = (uint8_t)qr->q.qtype;
	hdr[hlen - 2] = (uint8_t)(qr->q.qclass >> 8);
	hdr[hlen - 1] = (uint8_t)qr->q.qclass;
	send_rcode(p, &qr->to, hdr, hlen, DNS_RCODE_SERVFAIL);
	p->st.servfail++;
}

static void
upstream_answer(void *arg, const uint8_t *ans, size_t len, int destroyed)
{
	struct query *qr = arg;
	struct dnsproxy *p = qr->p;

	hist_add(&p->up_lat, now_us() - qr->t0_us);
	if (qr->to.tc != NULL && qr->to.tc->bev == NULL)
		goto done;		/* the TCP client left */
	if (ans == NULL) {
		if (!destroyed)
			log_debug("dns: no answer from upstream for %s",
			    qr->q.name);
		servfail_query(p, qr);
		goto done;
	}
	if (len > sizeof(p->abuf))
		len = sizeof(p->abuf);
	memcpy(p->abuf, ans, len);
	(void)dns_set_id(p->abuf, len, qr->q.id);
	deliver(p, qr, p->abuf, len, DNS_TTL_NONE, true);
done:
	query_unlink(p, qr);
}

/* --- queries ------------------------------------------------------------ */

static bool
from_cache(struct dnsproxy *p, struct query *qr)
{
	const uint8_t *m;
	uint32_t left;
	size_t len;

	if ((m = dns_cache_get(p->cache, qr->q.qname, qr->q.qname_len,
	    qr->q.qtype, qr->q.qclass, now_us() / 1000, &len, &left)) ==
	    NULL || len > sizeof(p->abuf) || len < qr->q.qend)
		return false;
	memcpy(p->abuf, m, len);
	(void)dns_set_id(p->abuf, len, qr->q.id);
	/* The question as this client spelt it (0x20 case). */
	memcpy(p->abuf + DNS_HDR_LEN, qr->q.qname, qr->q.qname_len);
	/* The client's RD and CD bits. */
	p->abuf[2] = (uint8_t)((p->abuf[2] & ~(DNS_F_RD >> 8)) |
	    ((qr->q.flags & DNS_F_RD) >> 8));
	/* TTLs count down (deliver() cuts them), and the grants follow. */
	p->st.cache_hits++;
	deliver(p, qr, p->abuf, len, left, false);
	return true;
}

static void
handle_query(struct dnsproxy *p, const uint8_t *buf, size_t len,
    uint32_t mark, struct reply_to *to)
{
	struct query *qr;
	struct app *a = NULL;
	enum dns_status rc;

	if ((qr = query_new(p)) == NULL) {
		p->st.dropped++;
		return;
	}
	qr->p = p;
	qr->to = *to;
	qr->uid = (uid_t)mark;
	if ((rc = dns_query_parse(buf, len, &qr->q)) != DNS_OK) {
		if (rc == DNS_EQR || len < DNS_HDR_LEN)
			p->st.dropped++;
		else {
			send_rcode(p, to, buf, len, rc == DNS_EOPCODE ?
			    DNS_RCODE_NOTIMP : DNS_RCODE_FORMERR);
			p->st.formerr++;
		}
		query_free(p, qr);
		return;
	}
	p->st.queries++;
	if (qr->uid < p->conf.uid_min || qr->uid > p->conf.uid_max) {
		p->st.non_app++;
		if (p->conf.refuse_non_app) {
			p->st.refused_non_app++;
			send_rcode(p, to, buf, len, DNS_RCODE_REFUSED);
			query_free(p, qr);
			return;
		}
		qr->kind = Q_OTHER;
	} else {
		p->st.app_queries++;
		qr->kind = Q_APP;
		if ((a = apps_find_uid(p->apps, qr->uid)) != NULL)
			a->dns_queries++;
		if (a == NULL || !qr->q.hostname ||
		    !policy_allows_name(a->pol, qr->q.name)) {
			p->st.denied++;
			if (a != NULL)
				a->dns_denied++;
			deny_event(p, qr->uid, a, &qr->q,
			    (unsigned)p->conf.deny_rcode);
			send_rcode(p, to, buf, len,
			    (unsigned)p->conf.deny_rcode);
			query_free(p, qr);
			return;
		}
	}
	if (from_cache(p, qr)) {
		if (a != NULL)
			a->dns_cache_hits++;
		query_free(p, qr);
		return;
	}
	if (p->npending >= PENDING_MAX) {
		send_rcode(p, to, buf, len, DNS_RCODE_SERVFAIL);
		p->st.servfail++;
		query_free(p, qr);
		return;
	}
	qr->t0_us = now_us();
	qr->next = p->pending;
	if (p->pending != NULL)
		p->pending->prev = qr;
	p->pending = qr;
	p->npending++;
	if (to->tc != NULL)
		to->tc->pending++;
	p->st.forwarded++;
	/* The callback may run before this returns; qr is not used after. */
	if (upstream_send(p->up, buf, len, upstream_answer, qr) == -1) {
		send_rcode(p, to, buf, len, DNS_RCODE_SERVFAIL);
		p->st.servfail++;
		query_unlink(p, qr);
	}
}

/* --- UDP ---------------------------------------------------------------- */

/*
 * Up to UDP_BATCH queries per wakeup, UDP_MMSG per system call: a short
 * read means the socket is drained, so no call ends in EAGAIN.
 */
static void
udp_dispatch(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct dnsproxy *p = l->p;
	struct reply_to to;
	struct msghdr *mh;
	struct cmsghdr *c;
	uint32_t mark;
	int i, n, got;

	(void)what;
	for (got = 0; got < UDP_BATCH; got += n) {
		for (i = 0; i < UDP_MMSG; i++) {
			struct udp_slot *rs = &p->rs[i];

			rs->iov.iov_base = rs->buf;
			rs->iov.iov_len = sizeof(rs->buf);
			mh = &p->rmsg[i].msg_hdr;
			memset(mh, 0, sizeof(*mh));
			mh->msg_name = &rs->from;
			mh->msg_namelen = sizeof(rs->from);
			mh->msg_iov = &rs->iov;
			mh->msg_iovlen = 1;
			mh->msg_control = rs->cm.buf;
			mh->msg_controllen = sizeof(rs->cm.buf);
		}
		if ((n = recvmmsg(fd, p->rmsg, UDP_MMSG, MSG_DONTWAIT,
		    NULL)) == -1) {
			if (errno != EAGAIN && errno != EINTR)
				log_warn("dns: recvmmsg");
			return;
		}
		for (i = 0; i < n; i++) {
			struct udp_slot *rs = &p->rs[i];
			size_t len = p->rmsg[i].msg_len;

			mh = &p->rmsg[i].msg_hdr;
			if (mh->msg_flags & MSG_TRUNC || len > UDP_QUERY_MAX) {
				p->st.dropped++;
				continue;
			}
			memset(&to, 0, sizeof(to));
			to.fd = fd;
			memcpy(&to.from, &rs->from, mh->msg_namelen);
			to.fromlen = mh->msg_namelen;
			/* No mark: root, or a packet the rule did not see. */
			mark = 0;
			for (c = CMSG_FIRSTHDR(mh); c != NULL;
			    c = CMSG_NXTHDR(mh, c))
				if (c->cmsg_level == SOL_SOCKET &&
				    c->cmsg_type == SO_MARK &&
				    c->cmsg_len >= CMSG_LEN(sizeof(uint32_t)))
					memcpy(&mark, CMSG_DATA(c),
					    sizeof(mark));
			handle_query(p, rs->buf, len, mark, &to);
		}
		if (n < UDP_MMSG)
			return;
	}
}

/* --- TCP ---------------------------------------------------------------- */

static void
tcp_client_free(struct tcp_client *tc)
{
	struct dnsproxy *p = tc->p;

	if (tc->bev != NULL) {
		bufferevent_free(tc->bev);
		tc->bev = NULL;
	}
	if (tc->pending > 0)
		return;			/* freed by the last answer */
	if (tc->prev != NULL)
		tc->prev->next = tc->next;
	else
		p->clients = tc->next;
	if (tc->next != NULL)
		tc->next->prev = tc->prev;
	p->nclients--;
	free(tc);
}

static void	tcp_read(struct bufferevent *, void *);

/* One answer of tc's is out (or its query is gone). */
static void
tcp_client_done(struct tcp_client *tc)
{
	tc->pending--;
	if (tc->bev == NULL) {
		if (tc->pending == 0)
			tcp_client_free(tc);
		return;
	}
	if (tc->draining) {
		/* Queries that came before the EOF are answered first. */
		if (evbuffer_get_length(bufferevent_get_input(tc->bev)) >= 2 &&
		    tc->pending < TCP_PIPELINE && !tc->in_read)
			bufferevent_trigger(tc->bev, EV_READ,
			    BEV_TRIG_IGNORE_WATERMARKS |
			    BEV_TRIG_DEFER_CALLBACKS);
		else if (tc->pending == 0 && evbuffer_get_length(
		    bufferevent_get_output(tc->bev)) == 0)
			tcp_client_free(tc);
		return;
	}
	if (tc->pending < TCP_PIPELINE && !tc->in_read) {
		bufferevent_enable(tc->bev, EV_READ);
		/* Queries that waited in the input buffer, from the loop. */
		if (evbuffer_get_length(bufferevent_get_input(tc->bev)) >= 2)
			bufferevent_trigger(tc->bev, EV_READ,
			    BEV_TRIG_IGNORE_WATERMARKS |
			    BEV_TRIG_DEFER_CALLBACKS);
	}
}

static void
tcp_read(struct bufferevent *bev, void *arg)
{
	struct tcp_client *tc = arg;
	struct dnsproxy *p = tc->p;
	struct evbuffer *in = bufferevent_get_input(bev);
	struct reply_to to;
	uint8_t hdr[2];
	size_t len;
	uint8_t *m;

	while (tc->bev != NULL && tc->pending < TCP_PIPELINE &&
	    evbuffer_copyout(in, hdr, 2) == 2) {
		len = (size_t)hdr[0] << 8 | hdr[1];
		if (len == 0) {
			p->st.dropped++;
			tcp_client_free(tc);
			return;
		}
		if (evbuffer_get_length(in) < len + 2) {
			/* Half closed mid-message: the rest never comes. */
			if (tc->draining)
				evbuffer_drain(in, evbuffer_get_length(in));
			break;
		}
		if ((m = evbuffer_pullup(in, (ssize_t)len + 2)) == NULL) {
			tcp_client_free(tc);
			return;
		}
		memset(&to, 0, sizeof(to));
		to.fd = -1;
		to.tc = tc;
		/* Counted as pending while handled: an answer from the cache
		   or an error must not free tc under us. */
		tc->pending++;
		tc->in_read = true;
		handle_query(p, m + 2, len, tc->mark, &to);
		tc->in_read = false;
		tc->pending--;
		evbuffer_drain(in, len + 2);
	}
	if (tc->pending >= TCP_PIPELINE)
		bufferevent_disable(bev, EV_READ);
	else if (tc->draining && tc->pending == 0 && evbuffer_get_length(
	    bufferevent_get_output(bev)) == 0)
		tcp_client_free(tc);
}

static void
tcp_written(struct bufferevent *bev, void *arg)
{
	struct tcp_client *tc = arg;

	if (tc->draining && tc->pending == 0 &&
	    evbuffer_get_length(bufferevent_get_input(bev)) < 2)
		tcp_client_free(tc);
}

static void
tcp_event(struct bufferevent *bev, short what, void *arg)
{
	struct tcp_client *tc = arg;

	(void)bev;
	if ((what & BEV_EVENT_EOF) && !(what & BEV_EVENT_ERROR) &&
	    (tc->pending > 0 || evbuffer_get_length(
	    bufferevent_get_output(tc->bev)) > 0)) {
		/* Half closed with answers to come: send them, then close. */
		tc->draining = true;
		bufferevent_disable(tc->bev, EV_READ);
		return;
	}
	tcp_client_free(tc);
}

static void
tcp_accept(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;
	struct dnsproxy *p = l->p;
	struct tcp_client *tc;
	struct timeval idle = { TCP_IDLE_SEC, 0 };
	socklen_t sl = sizeof(uint32_t);
	uint32_t mark = 0;
	int s;

	(void)what;
	if ((s = accept4(fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) ==
	    -1) {
		if (errno == EMFILE || errno == ENFILE) {
			/* Out of descriptors: pause a second, not spin. */
			struct timeval tv = { 1, 0 };

			log_warn("dns: accept");
			event_del(l->ev);
			if (l->pause != NULL)
				event_add(l->pause, &tv);
		} else if (errno != EAGAIN && errno != EINTR &&
		    errno != ECONNABORTED)
			log_warn("dns: accept");
		return;
	}
	if (p->nclients >= TCP_CLIENTS_MAX) {
		p->st.dropped++;
		close(s);
		return;
	}
	/* The SYN's mark (net.ipv4.tcp_fwmark_accept = 1): the sender. */
	if (getsockopt(s, SOL_SOCKET, SO_MARK, &mark, &sl) == -1) {
		log_warn("dns: SO_MARK");
		close(s);
		return;
	}
	if ((tc = calloc(1, sizeof(*tc))) == NULL ||
	    (tc->bev = bufferevent_socket_new(p->base, s,
	    BEV_OPT_CLOSE_ON_FREE)) == NULL) {
		free(tc);
		close(s);
		return;
	}
	tc->p = p;
	tc->mark = mark;
	bufferevent_setcb(tc->bev, tcp_read, tcp_written, tcp_event, tc);
	bufferevent_set_timeouts(tc->bev, &idle, &idle);
	bufferevent_setwatermark(tc->bev, EV_READ, 2, 65537);
	bufferevent_enable(tc->bev, EV_READ);
	tc->next = p->clients;
	if (p->clients != NULL)
		p->clients->prev = tc;
	p->clients = tc;
	p->nclients++;
}

/* --- set-up ------------------------------------------------------------- */

static void
resume_accept(evutil_socket_t fd, short what, void *arg)
{
	struct listener *l = arg;

	(void)fd;
	(void)what;
	event_add(l->ev, NULL);
}

static int
listen_one(struct dnsproxy *p, struct listener *l, char *err, size_t errlen)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	char a[INET6_ADDRSTRLEN];
	socklen_t sl;
	int one = 1, rcv = UDP_RCVBUF, saved;

	memset(&ss, 0, sizeof(ss));
	if (l->addr.family == AF_INET) {
		s4->sin_family = AF_INET;
		memcpy(&s4->sin_addr, l->addr.addr, 4);
		s4->sin_port = htons(l->addr.port);
		sl = sizeof(*s4);
	} else {
		s6->sin6_family = AF_INET6;
		memcpy(&s6->sin6_addr, l->addr.addr, 16);
		s6->sin6_port = htons(l->addr.port);
		sl = sizeof(*s6);
	}
	inet_ntop(l->addr.family, l->addr.addr, a, sizeof(a));
	l->fd = socket(l->addr.family, (l->tcp ? SOCK_STREAM : SOCK_DGRAM) |
	    SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (l->fd == -1)
		goto fail;
	if (l->addr.family == AF_INET6 && setsockopt(l->fd, IPPROTO_IPV6,
	    IPV6_V6ONLY, &one, sizeof(one)) == -1)
		goto fail;
	if (l->tcp && setsockopt(l->fd, SOL_SOCKET, SO_REUSEADDR, &one,
	    sizeof(one)) == -1)
		goto fail;
	if (!l->tcp) {
		if (setsockopt(l->fd, SOL_SOCKET, SO_RCVMARK, &one,
		    sizeof(one)) == -1)
			goto fail;
		if (setsockopt(l->fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcv,
		    sizeof(rcv)) == -1)
			(void)setsockopt(l->fd, SOL_SOCKET, SO_RCVBUF, &rcv,
			    sizeof(rcv));
	}
	if (bind(l->fd, (struct sockaddr *)&ss, sl) == -1)
		goto fail;
	if (l->tcp && listen(l->fd, 128) == -1)
		goto fail;
	l->p = p;
	if ((l->ev = event_new(p->base, l->fd, EV_READ | EV_PERSIST,
	    l->tcp ? tcp_accept : udp_dispatch, l)) == NULL ||
	    event_add(l->ev, NULL) == -1 || (l->tcp && (l->pause =
	    evtimer_new(p->base, resume_accept, l)) == NULL)) {
		errno = ENOMEM;
		goto fail;
	}
	return 0;
fail:
	saved = errno;
	snprintf(err, errlen, "dns_listen %s%s%s:%u (%s): %s",
	    l->addr.family == AF_INET6 ? "[" : "", a,
	    l->addr.family == AF_INET6 ? "]" : "", (unsigned)l->addr.port,
	    l->tcp ? "tcp" : "udp", strerror(errno));
	if (l->fd != -1)
		close(l->fd);
	l->fd = -1;
	errno = saved;
	return -1;
}

static void
listeners_close(struct dnsproxy *p)
{
	size_t i;

	for (i = 0; i < p->nls; i++) {
		if (p->ls[i].ev != NULL)
			event_free(p->ls[i].ev);
		if (p->ls[i].pause != NULL)
			event_free(p->ls[i].pause);
		if (p->ls[i].fd != -1)
			close(p->ls[i].fd);
	}
	p->nls = 0;
}

static int
listeners_open(struct dnsproxy *p, const struct netd_config *c, char *err,
    size_t errlen)
{
	size_t i;

	for (i = 0; i < c->ndns_listen * 2; i++) {
		struct listener *l = &p->ls[i];

		memset(l, 0, sizeof(*l));
		l->fd = -1;
		l->addr = c->dns_listen[i / 2];
		l->tcp = i % 2 == 1;
		p->nls = i + 1;
		if (listen_one(p, l, err, errlen) == -1) {
			/* A device without IPv6 still gets its IPv4 proxy. */
			if (l->addr.family == AF_INET6 &&
			    (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
				log_warnx("%s: skipped", err);
				continue;
			}
			listeners_close(p);
			return -1;
		}
	}
	return 0;
}

/* TCP attribution needs the SYN's mark on the accepted socket. */
static int
fwmark_accept(char *err, size_t errlen)
{
	static const char path[] = "/proc/sys/net/ipv4/tcp_fwmark_accept";
	char v = 0;
	int fd;

	if ((fd = open(path, O_RDWR | O_CLOEXEC)) == -1 ||
	    write(fd, "1", 1) != 1 || lseek(fd, 0, SEEK_SET) == -1 ||
	    read(fd, &v, 1) != 1 || v != '1') {
		snprintf(err, errlen, "cannot set %s: %s", path,
		    strerror(errno));
		if (fd != -1)
			close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static struct dns_cache *
cache_new(unsigned entries)
{
	return dns_cache_new(entries, (size_t)entries * CACHE_BYTES_PER_ENTRY);
}

struct dnsproxy *
dnsproxy_new(struct event_base *base, const struct netd_config *conf,
    struct apps *apps, struct nft *nft, dnsproxy_event_fn *event,
    void *arg, char *err, size_t errlen)
{
	struct dnsproxy *p;

	if (fwmark_accept(err, errlen) == -1)
		return NULL;
	if ((p = calloc(1, sizeof(*p))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	p->base = base;
	p->conf = *conf;
	p->apps = apps;
	p->nft = nft;
	p->event = event;
	p->event_arg = arg;
	if ((p->cache = cache_new(conf->cache_size)) == NULL ||
	    (p->learn = learn_new(conf->max_addrs_per_name,
	    learn_entries_for_cache(conf->cache_size))) == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if ((p->up = upstream_new(base, conf->upstream, conf->nupstream,
	    conf->dns_listen, conf->ndns_listen, UPSTREAM_TIMEOUT_MS, err,
	    errlen)) == NULL)
		goto fail;
	if (listeners_open(p, conf, err, errlen) == -1)
		goto fail;
	log_info("dns: listening on %zu addresses, upstream %s, cache %u",
	    conf->ndns_listen, upstream_servers(p->up), conf->cache_size);
	return p;
fail:
	dnsproxy_free(p);
	return NULL;
}

void
dnsproxy_free(struct dnsproxy *p)
{
	if (p == NULL)
		return;
	listeners_close(p);
	upstream_free(p->up);	/* pending queries get SERVFAIL */
	p->up = NULL;
	while (p->clients != NULL) {
		struct tcp_client *tc = p->clients;

		tc->pending = 0;
		tcp_client_free(tc);
	}
	dns_cache_free(p->cache);
	learn_free(p->learn);
	while (p->spare != NULL) {
		struct query *qr = p->spare;

		p->spare = qr->next;
		free(qr);
	}
	free(p);
}

static bool
addrs_equal(const struct config_addr *a, size_t na,
    const struct config_addr *b, size_t nb)
{
	return na == nb && memcmp(a, b, na * sizeof(*a)) == 0;
}

int
dnsproxy_reload(struct dnsproxy *p, const struct netd_config *c, char *err,
    size_t errlen)
{
	struct upstream *up = NULL;
	struct dns_cache *cache = NULL;
	bool new_up = !addrs_equal(c->upstream, c->nupstream,
	    p->conf.upstream, p->conf.nupstream) ||
	    !addrs_equal(c->dns_listen, c->ndns_listen, p->conf.dns_listen,
	    p->conf.ndns_listen);

	if (new_up && (up = upstream_new(p->base, c->upstream, c->nupstream,
	    c->dns_listen, c->ndns_listen, UPSTREAM_TIMEOUT_MS, err,
	    errlen)) == NULL)
		return -1;
	if ((c->cache_size != p->conf.cache_size || new_up) &&
	    (cache = cache_new(c->cache_size)) == NULL) {
		upstream_free(up);
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (!addrs_equal(c->dns_listen, c->ndns_listen, p->conf.dns_listen,
	    p->conf.ndns_listen)) {
		/* Pending queries hear SERVFAIL on the sockets they came by. */
		if (up != NULL) {
			upstream_free(p->up);
			p->up = up;
			up = NULL;
		}
		listeners_close(p);
		if (listeners_open(p, c, err, errlen) == -1) {
			char e2[256];

			/* Back to the old addresses and servers. */
			if (listeners_open(p, &p->conf, e2, sizeof(e2)) == -1)
				log_warnx("dns: %s", e2);
			if (new_up && (up = upstream_new(p->base,
			    p->conf.upstream, p->conf.nupstream,
			    p->conf.dns_listen, p->conf.ndns_listen,
			    UPSTREAM_TIMEOUT_MS, e2, sizeof(e2))) != NULL) {
				upstream_free(p->up);
				p->up = up;
				up = NULL;
			}
			upstream_free(up);
			dns_cache_free(cache);
			return -1;
		}
	}
	if (up != NULL) {
		upstream_free(p->up);
		p->up = up;
	}
	if (cache != NULL) {
		dns_cache_free(p->cache);
		p->cache = cache;
	}
	learn_set_max_per_name(p->learn, c->max_addrs_per_name);
	/* The learn table's bound follows the cache's. */
	if (c->cache_size != p->conf.cache_size &&
	    learn_set_max_entries(p->learn,
	    learn_entries_for_cache(c->cache_size), now_us() / 1000) == -1)
		log_warn("dns: learn table kept its arrays");
	p->conf = *c;
	return 0;
}

void
dnsproxy_forget_uid(struct dnsproxy *p, uid_t uid)
{
	if (p != NULL)
		learn_forget_uid(p->learn, uid);
}

json_t *
dnsproxy_resolved(struct dnsproxy *p, uid_t uid, int family,
    const uint8_t *addr)
{
	struct learn_hit h;
	struct app *a;

	if (p == NULL || !learn_lookup(p->learn, uid, family, addr, &h))
		return NULL;
	a = apps_find_uid(p->apps, h.uid);
	return json_pack("{s:s, s:I, s:o, s:b}", "name", h.name,
	    "uid", (json_int_t)h.uid, "app", a ? json_string(a->name) :
	    json_null(), "expired", h.expires_ms <= now_us() / 1000);
}

json_t *
dnsproxy_status(struct dnsproxy *p)
{
	struct dns_cache_stats cs;
	json_t *o;

	dns_cache_get_stats(p->cache, &cs);
	o = json_pack("{s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, "
	    "s:I, s:I, s:I, s:I, s:I}",
	    "upstream", upstream_servers(p->up),
	    "queries", (json_int_t)p->st.queries,
	    "app_queries", (json_int_t)p->st.app_queries,
	    "allowed", (json_int_t)p->st.allowed,
	    "denied", (json_int_t)p->st.denied,
	    "forwarded", (json_int_t)p->st.forwarded,
	    "non_app", (json_int_t)p->st.non_app,
	    "refused_non_app", (json_int_t)p->st.refused_non_app,
	    "cache_hits", (json_int_t)p->st.cache_hits,
	    "servfail", (json_int_t)p->st.servfail,
	    "formerr", (json_int_t)p->st.formerr,
	    "dropped", (json_int_t)p->st.dropped,
	    "bad_answers", (json_int_t)p->st.bad_answers,
	    "grant_errors", (json_int_t)p->st.grant_errors,
	    "granted", (json_int_t)p->st.granted);
	if (o == NULL)
		return NULL;
	json_object_set_new(o, "evicted", json_integer((json_int_t)
	    p->st.evicted));
	json_object_set_new(o, "rebind_dropped", json_integer((json_int_t)
	    p->st.rebind_dropped));
	json_object_set_new(o, "truncated", json_integer((json_int_t)
	    p->st.truncated));
	json_object_set_new(o, "pending", json_integer((json_int_t)
	    p->npending));
	json_object_set_new(o, "tcp_clients", json_integer((json_int_t)
	    p->nclients));
	json_object_set_new(o, "cache", json_pack("{s:I, s:I, s:I, s:I, s:I}",
	    "size", (json_int_t)p->conf.cache_size,
	    "entries", (json_int_t)cs.entries,
	    "bytes", (json_int_t)cs.bytes,
	    "evictions", (json_int_t)cs.evictions,
	    "expired", (json_int_t)cs.expired));
	json_object_set_new(o, "learned", json_integer((json_int_t)
	    learn_size(p->learn)));
	json_object_set_new(o, "learned_max", json_integer((json_int_t)
	    learn_get_max_entries(p->learn)));
	json_object_set_new(o, "learn_bytes", json_integer((json_int_t)
	    learn_memory(p->learn)));
	json_object_set_new(o, "upstream_latency_us", hist_json(&p->up_lat));
	json_object_set_new(o, "grant_latency_us", hist_json(&p->grant_lat));
	return o;
}
