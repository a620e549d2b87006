/*
 * DNS messages through a bounded cursor. Every function that reads a
 * message first checks the whole of it (msg_check()), then walks it again
 * to act: nothing is granted, echoed or rewritten from a message that
 * turns out to be malformed further on.
 */
#include <sys/socket.h>

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "dns.h"

/* Smallest question (root name, type, class) and record (+ ttl, rdlength). */
#define QUESTION_MIN	5
#define RR_MIN		11

#define OPCODE(f)	(((f) & DNS_F_OPCODE) >> 11)

#define SVC_IPV4HINT	4
#define SVC_IPV6HINT	6

/*
 * A pointer reaches below 0x4000; from there a name reads at most 255
 * octets and one more pointer. No walk that follows a pointer goes past.
 */
#define FIXED_BITS	(0x4000 + 512)

enum section {
	SEC_ANSWER,
	SEC_AUTHORITY,
	SEC_ADDITIONAL,
};

static const char *const dns_errstr[] = {
	[DNS_OK] = "ok",
	[DNS_ESHORT] = "message too short",
	[DNS_EBADNAME] = "invalid name",
	[DNS_ELOOP] = "too many compression pointers",
	[DNS_EPTR] = "invalid compression pointer",
	[DNS_ECOUNT] = "section counts exceed the message",
	[DNS_EFORMAT] = "malformed message",
	[DNS_EQR] = "wrong QR bit",
	[DNS_EOPCODE] = "opcode not QUERY",
	[DNS_EMISMATCH] = "answer does not match the query",
	[DNS_ECHAIN] = "CNAME chain too long",
	[DNS_ENOSPC] = "output buffer too small",
	[DNS_EINVAL] = "invalid argument",
};

const char *
dns_strerror(enum dns_status st)
{
	if ((size_t)st >= sizeof(dns_errstr) / sizeof(dns_errstr[0]))
		return "unknown error";
	return dns_errstr[st];
}

/*
 * Octets of the fixed fields (type, class, TTL, rdlength) of the
 * questions and records read so far, one bit each. A name reached
 * through a pointer must not touch them: no encoder puts a name there,
 * and dns_cap_ttls() rewrites TTLs in place, which must not change a
 * name that was checked.
 */
struct fixed {
	uint8_t		 map[FIXED_BITS / 8];
};

/*
 * A read cursor. Invariant: pos <= len; every read checks length first.
 * With fixed set, names are checked against it.
 */
struct cur {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 pos;
	const struct fixed *fixed;
};

static enum dns_status
cur_u16(struct cur *c, uint16_t *v)
{
	if (c->len - c->pos < 2)
		return DNS_ESHORT;
	*v = (uint16_t)(c->buf[c->pos] << 8 | c->buf[c->pos + 1]);
	c->pos += 2;
	return DNS_OK;
}

static enum dns_status
cur_u32(struct cur *c, uint32_t *v)
{
	const uint8_t *p;

	if (c->len - c->pos < 4)
		return DNS_ESHORT;
	p = c->buf + c->pos;
	*v = (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 |
	    (uint32_t)p[2] << 8 | p[3];
	c->pos += 4;
	return DNS_OK;
}

static enum dns_status
cur_skip(struct cur *c, size_t n)
{
	if (c->len - c->pos < n)
		return DNS_ESHORT;
	c->pos += n;
	return DNS_OK;
}

static void
fixed_mark(struct fixed *f, size_t off, size_t n)
{
	for (; n > 0 && off < FIXED_BITS; n--, off++)
		f->map[off / 8] |= (uint8_t)(1u << (off % 8));
}

static bool
fixed_overlaps(const struct fixed *f, size_t off, size_t n)
{
	for (; n > 0 && off < FIXED_BITS; n--, off++)
		if (f->map[off / 8] & (1u << (off % 8)))
			return true;
	return false;
}

static void
put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)(v >> 8);
	p[1] = (uint8_t)v;
}

static void
put32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)(v >> 24);
	p[1] = (uint8_t)(v >> 16);
	p[2] = (uint8_t)(v >> 8);
	p[3] = (uint8_t)v;
}

static uint8_t
lower(uint8_t c)
{
	return c >= 'A' && c <= 'Z' ? (uint8_t)(c + ('a' - 'A')) : c;
}

/* RFC 2181 §8: a TTL with the top bit set is read as 0. */
static uint32_t
ttl_value(uint32_t ttl)
{
	return ttl > INT32_MAX ? 0 : ttl;
}

static uint32_t
min32(uint32_t a, uint32_t b)
{
	return a < b ? a : b;
}

/*
 * The labels of one name, pointers followed. A pointer must land at or
 * after the header and strictly before start, the first octet of the run
 * of labels it ends, and the run it leads to must end before that start
 * as well: a label read forward from the target may not run over the
 * pointer, or the record after it. Each run lies wholly before the one
 * that pointed to it, so a walk always ends, and DNS_PTR_MAX bounds the
 * work a name can cost.
 */
struct labels {
	const uint8_t	*buf;
	size_t		 len;
	size_t		 pos;
	size_t		 start;
	size_t		 limit;		/* the run ends before it */
	size_t		 end;		/* after the first pointer, or 0 */
	unsigned	 hops;
	const struct fixed *fixed;	/* or NULL */
};

static void
labels_init(struct labels *it, const uint8_t *buf, size_t len, size_t pos,
    const struct fixed *fixed)
{
	it->buf = buf;
	it->len = len;
	it->pos = pos;
	it->start = pos;
	it->limit = len;
	it->end = 0;
	it->hops = 0;
	it->fixed = fixed;
}

/* Sets *label to the next label's length octet; length 0 is the root. */
static enum dns_status
labels_next(struct labels *it, const uint8_t **label)
{
	for (;;) {
		size_t target;
		uint8_t b;

		if (it->pos >= it->len)
			return DNS_ESHORT;
		if (it->pos >= it->limit)
			return DNS_EPTR;
		b = it->buf[it->pos];
		if ((b & 0xc0) == 0xc0) {
			if (it->len - it->pos < 2)
				return DNS_ESHORT;
			if (it->limit - it->pos < 2)
				return DNS_EPTR;
			if (it->hops > 0 && it->fixed != NULL &&
			    fixed_overlaps(it->fixed, it->pos, 2))
				return DNS_EPTR;
			target = (size_t)(b & 0x3f) << 8 | it->buf[it->pos + 1];
			if (target < DNS_HDR_LEN || target >= it->start)
				return DNS_EPTR;
			if (++it->hops > DNS_PTR_MAX)
				return DNS_ELOOP;
			if (it->end == 0)
				it->end = it->pos + 2;
			it->limit = it->start;
			it->pos = it->start = target;
			continue;
		}
		/* 0x40 (extended) and 0x80 label types are not in use. */
		if ((b & 0xc0) != 0)
			return DNS_EBADNAME;
		if (it->len - it->pos - 1 < b)
			return DNS_ESHORT;
		if (it->limit - it->pos - 1 < b)
			return DNS_EPTR;
		/* Only a pointer can lead a name back over fixed fields. */
		if (it->hops > 0 && it->fixed != NULL &&
		    fixed_overlaps(it->fixed, it->pos, 1 + (size_t)b))
			return DNS_EPTR;
		*label = it->buf + it->pos;
		it->pos += 1 + (size_t)b;
		return DNS_OK;
	}
}

/*
 * Read the name at the cursor and move past it (past its first pointer,
 * if any). If out is not NULL it receives the name uncompressed, at most
 * DNS_NAME_MAX octets, and *outlen its length.
 */
static enum dns_status
cur_name(struct cur *c, uint8_t *out, size_t *outlen)
{
	struct labels it;
	const uint8_t *l;
	enum dns_status st;
	size_t total = 0, n;

	labels_init(&it, c->buf, c->len, c->pos, c->fixed);
	do {
		if ((st = labels_next(&it, &l)) != DNS_OK)
			return st;
		n = 1 + (size_t)l[0];
		if (total + n > DNS_NAME_MAX)
			return DNS_EBADNAME;
		if (out != NULL)
			memcpy(out + total, l, n);
		total += n;
	} while (l[0] != 0);
	if (outlen != NULL)
		*outlen = total;
	c->pos = it.end != 0 ? it.end : it.pos;
	return DNS_OK;
}

/*
 * Move past a name that cur_name() has checked, without following its
 * pointer: walking the records again costs only their own octets.
 */
static enum dns_status
cur_skip_name(struct cur *c)
{
	enum dns_status st;
	uint8_t b;

	for (;;) {
		if (c->pos >= c->len)
			return DNS_ESHORT;
		b = c->buf[c->pos];
		if ((b & 0xc0) == 0xc0)
			return cur_skip(c, 2);
		if ((b & 0xc0) != 0)
			return DNS_EBADNAME;
		if ((st = cur_skip(c, 1 + (size_t)b)) != DNS_OK || b == 0)
			return st;
	}
}

/*
 * Two names, each in its own buffer (a message, or a flat name), equal
 * but for ASCII case. Both were read by cur_name() before; a name that
 * breaks anyway compares unequal.
 */
static bool
name_eq(const uint8_t *abuf, size_t alen, size_t aoff, const uint8_t *bbuf,
    size_t blen, size_t boff)
{
	struct labels a, b;
	const uint8_t *la, *lb;
	size_t i;

	labels_init(&a, abuf, alen, aoff, NULL);
	labels_init(&b, bbuf, blen, boff, NULL);
	for (;;) {
		if (labels_next(&a, &la) != DNS_OK ||
		    labels_next(&b, &lb) != DNS_OK || la[0] != lb[0])
			return false;
		if (la[0] == 0)
			return true;
		for (i = 1; i <= la[0]; i++)
			if (lower(la[i]) != lower(lb[i]))
				return false;
	}
}

static bool
is_host_octet(uint8_t c)
{
	return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
	    c == '_';
}

/*
 * Presentation form of a flat wire name (see struct dns_query). At most
 * 4 * 250 + 3 characters: 250 escaped octets in four labels is the worst
 * a 255-octet name can do, hence DNS_NAME_TEXT_MAX. Returns whether the
 * name is a host name (no escape, not the root).
 */
static bool
name_text(const uint8_t *w, size_t wlen, char *out)
{
	size_t i = 0, o = 0, j;
	bool host = true;

	if (wlen == 0 || w[0] == 0) {
		memcpy(out, ".", 2);
		return false;
	}
	while (i < wlen && w[i] != 0) {
		size_t n = w[i++];

		if (o > 0)
			out[o++] = '.';
		for (j = 0; j < n && i < wlen; j++, i++) {
			uint8_t ch = lower(w[i]);

			if (is_host_octet(ch)) {
				out[o++] = (char)ch;
				continue;
			}
			out[o++] = '\\';
			out[o++] = (char)('0' + ch / 100);
			out[o++] = (char)('0' + ch / 10 % 10);
			out[o++] = (char)('0' + ch % 10);
			host = false;
		}
	}
	out[o] = '\0';
	return host;
}

struct hdr {
	uint16_t	 id;
	uint16_t	 flags;
	uint16_t	 qd;
	uint16_t	 an;
	uint16_t	 ns;
	uint16_t	 ar;
};

static enum dns_status
hdr_read(const uint8_t *buf, size_t len, struct hdr *h)
{
	struct cur c = { buf, len, 0, NULL };

	if (len < DNS_HDR_LEN)
		return DNS_ESHORT;
	(void)cur_u16(&c, &h->id);
	(void)cur_u16(&c, &h->flags);
	(void)cur_u16(&c, &h->qd);
	(void)cur_u16(&c, &h->an);
	(void)cur_u16(&c, &h->ns);
	(void)cur_u16(&c, &h->ar);
	return DNS_OK;
}

/*
 * Counts the message cannot hold (ancount 65535 in 40 octets) are refused
 * here, in constant time, before any loop trusts them. No overflow: at
 * most 12 + 5 * 65535 + 11 * 3 * 65535.
 */
static enum dns_status
hdr_counts_fit(const struct hdr *h, size_t len)
{
	size_t need;

	need = DNS_HDR_LEN + (size_t)h->qd * QUESTION_MIN +
	    ((size_t)h->an + h->ns + h->ar) * RR_MIN;
	return need > len ? DNS_ECOUNT : DNS_OK;
}

struct rr {
	size_t		 owner;		/* offset of the owner name */
	uint16_t	 type;
	uint16_t	 class;
	size_t		 ttl_off;
	uint32_t	 ttl;		/* as on the wire */
	size_t		 rdata;		/* offset */
	uint16_t	 rdlen;
};

/* A record; check its owner name, or (checked before) skip it. */
static enum dns_status
rr_read(struct cur *c, struct rr *rr, bool check)
{
	enum dns_status st;

	rr->owner = c->pos;
	if ((st = check ? cur_name(c, NULL, NULL) : cur_skip_name(c)) !=
	    DNS_OK ||
	    (st = cur_u16(c, &rr->type)) != DNS_OK ||
	    (st = cur_u16(c, &rr->class)) != DNS_OK)
		return st;
	rr->ttl_off = c->pos;
	if ((st = cur_u32(c, &rr->ttl)) != DNS_OK ||
	    (st = cur_u16(c, &rr->rdlen)) != DNS_OK)
		return st;
	rr->rdata = c->pos;
	return cur_skip(c, rr->rdlen);
}

/* What the check of a whole message learned. */
struct msginfo {
	struct hdr	 h;
	size_t		 an;		/* offset of the answer section */
	bool		 edns;
	uint16_t	 edns_udp;
	uint8_t		 edns_rcode;	/* upper 8 bits of the rcode */
	uint8_t		 edns_version;
	bool		 edns_do;
	bool		 soa;
	uint32_t	 neg_ttl;
};

/*
 * Where the addresses of a record go: to cb, or to keep until it rejects
 * one. NULL when only checking.
 */
struct emit {
	void		(*cb)(const struct dns_addr *, void *);
	bool		(*keep)(const struct dns_addr *, void *);
	void		*arg;
	uint16_t	 type;
	uint32_t	 ttl;
	bool		 alias;		/* AliasMode hints too */
	bool		 rejected;	/* keep said no */
	size_t		 n;
};

static void
emit_addr(struct emit *e, int family, const uint8_t *addr)
{
	struct dns_addr a;

	memset(&a, 0, sizeof(a));
	a.family = family;
	memcpy(a.addr, addr, family == AF_INET ? 4 : 16);
	a.type = e->type;
	a.ttl = e->ttl;
	if (e->cb != NULL)
		e->cb(&a, e->arg);
	if (e->keep != NULL && !e->rejected && !e->keep(&a, e->arg))
		e->rejected = true;
	e->n++;
}

/*
 * SVCB and HTTPS rdata (RFC 9460): priority, target name, then parameters
 * in strictly increasing key order that fill the rdata exactly. The hints
 * of a ServiceMode record go to e; AliasMode (priority 0) parameters are
 * ignored, as the RFC says, unless e->alias (the filter trusts no client
 * to ignore them). c is bounded by the end of the rdata.
 */
static enum dns_status
svcb_parse(struct cur *c, struct emit *e)
{
	enum dns_status st;
	uint16_t prio, key, vlen;
	int32_t last = -1;
	size_t i;

	if ((st = cur_u16(c, &prio)) != DNS_OK ||
	    (st = cur_name(c, NULL, NULL)) != DNS_OK)
		return st;
	while (c->pos < c->len) {
		if ((st = cur_u16(c, &key)) != DNS_OK ||
		    (st = cur_u16(c, &vlen)) != DNS_OK)
			return st;
		if ((int32_t)key <= last || c->len - c->pos < vlen)
			return DNS_EFORMAT;
		last = key;
		if ((key == SVC_IPV4HINT && (vlen == 0 || vlen % 4 != 0)) ||
		    (key == SVC_IPV6HINT && (vlen == 0 || vlen % 16 != 0)))
			return DNS_EFORMAT;
		if (e != NULL && (prio != 0 || e->alias) &&
		    key == SVC_IPV4HINT)
			for (i = 0; i < vlen; i += 4)
				emit_addr(e, AF_INET, c->buf + c->pos + i);
		if (e != NULL && (prio != 0 || e->alias) &&
		    key == SVC_IPV6HINT)
			for (i = 0; i < vlen; i += 16)
				emit_addr(e, AF_INET6, c->buf + c->pos + i);
		c->pos += vlen;
	}
	return DNS_OK;
}

/* EDNS options: code, length, value, filling the rdata exactly. */
static enum dns_status
opt_parse(struct cur *c)
{
	enum dns_status st;
	uint16_t code, olen;

	while (c->pos < c->len)
		if ((st = cur_u16(c, &code)) != DNS_OK ||
		    (st = cur_u16(c, &olen)) != DNS_OK ||
		    (st = cur_skip(c, olen)) != DNS_OK)
			return st;
	return DNS_OK;
}

/*
 * The rdata of the types we use must have their exact shape; others are
 * skipped by rdlength. Names in rdata may point anywhere before them but
 * must end inside the rdata: the cursor stops at its end, and running
 * out there is a format error, not a short message.
 */
static enum dns_status
rr_check(const struct cur *msg, const struct rr *rr, enum section sec,
    struct msginfo *mi)
{
	const uint8_t *buf = msg->buf;
	struct cur c = { buf, rr->rdata + rr->rdlen, rr->rdata, msg->fixed };
	enum dns_status st = DNS_OK;
	uint32_t minimum;

	switch (rr->type) {
	case DNS_TYPE_A:
		return rr->rdlen == 4 ? DNS_OK : DNS_EFORMAT;
	case DNS_TYPE_AAAA:
		return rr->rdlen == 16 ? DNS_OK : DNS_EFORMAT;
	case DNS_TYPE_CNAME:
		st = cur_name(&c, NULL, NULL);
		break;
	case DNS_TYPE_SOA:
		if ((st = cur_name(&c, NULL, NULL)) != DNS_OK ||
		    (st = cur_name(&c, NULL, NULL)) != DNS_OK ||
		    (st = cur_skip(&c, 16)) != DNS_OK ||
		    (st = cur_u32(&c, &minimum)) != DNS_OK)
			break;
		if (sec == SEC_AUTHORITY && !mi->soa) {
			mi->soa = true;
			mi->neg_ttl = min32(ttl_value(rr->ttl),
			    ttl_value(minimum));
		}
		break;
	case DNS_TYPE_OPT:
		/* One, in the additional section, owned by the root. */
		if (sec != SEC_ADDITIONAL || mi->edns || buf[rr->owner] != 0)
			return DNS_EFORMAT;
		mi->edns = true;
		mi->edns_udp = rr->class;
		mi->edns_rcode = (uint8_t)(rr->ttl >> 24);
		mi->edns_version = (uint8_t)(rr->ttl >> 16);
		mi->edns_do = (rr->ttl & 0x8000) != 0;
		st = opt_parse(&c);
		break;
	case DNS_TYPE_SVCB:
	case DNS_TYPE_HTTPS:
		st = svcb_parse(&c, NULL);
		break;
	default:
		return DNS_OK;
	}
	if (st == DNS_ESHORT || (st == DNS_OK && c.pos != c.len))
		return DNS_EFORMAT;
	return st;
}

/*
 * Check the whole message: header, counts, questions, every record. Names
 * are checked against the fixed fields before them (struct fixed).
 */
static enum dns_status
msg_check(const uint8_t *buf, size_t len, struct msginfo *mi)
{
	struct fixed fixed;
	struct cur c = { buf, len, DNS_HDR_LEN, &fixed };
	enum dns_status st;
	struct rr rr;
	size_t i, nrr;
	enum section sec;

	memset(mi, 0, sizeof(*mi));
	mi->neg_ttl = DNS_TTL_NONE;
	if ((st = hdr_read(buf, len, &mi->h)) != DNS_OK ||
	    (st = hdr_counts_fit(&mi->h, len)) != DNS_OK)
		return st;
	memset(fixed.map, 0, len < FIXED_BITS ? (len + 7) / 8 :
	    sizeof(fixed.map));
	for (i = 0; i < mi->h.qd; i++) {
		if ((st = cur_name(&c, NULL, NULL)) != DNS_OK ||
		    (st = cur_skip(&c, 4)) != DNS_OK)
			return st;
		fixed_mark(&fixed, c.pos - 4, 4);
	}
	mi->an = c.pos;
	nrr = (size_t)mi->h.an + mi->h.ns + mi->h.ar;
	for (i = 0; i < nrr; i++) {
		if (i < mi->h.an)
			sec = SEC_ANSWER;
		else if (i < (size_t)mi->h.an + mi->h.ns)
			sec = SEC_AUTHORITY;
		else
			sec = SEC_ADDITIONAL;
		if ((st = rr_read(&c, &rr, true)) != DNS_OK)
			return st;
		fixed_mark(&fixed, rr.ttl_off - 4, 10);
		if ((st = rr_check(&c, &rr, sec, mi)) != DNS_OK)
			return st;
	}
	return DNS_OK;
}

enum dns_status
dns_query_parse(const uint8_t *buf, size_t len, struct dns_query *q)
{
	struct cur c = { buf, len, DNS_HDR_LEN, NULL };
	struct msginfo mi;
	struct hdr h;
	enum dns_status st;

	memset(q, 0, sizeof(*q));
	if ((st = hdr_read(buf, len, &h)) != DNS_OK)
		return st;
	if (h.flags & DNS_F_QR)
		return DNS_EQR;
	if (OPCODE(h.flags) != 0)
		return DNS_EOPCODE;
	if ((st = hdr_counts_fit(&h, len)) != DNS_OK)
		return st;
	if (h.qd != 1 || h.an != 0 || h.ns != 0)
		return DNS_EFORMAT;
	if ((st = msg_check(buf, len, &mi)) != DNS_OK)
		return st;

	/* Checked above: these reads cannot fail. */
	if ((st = cur_name(&c, q->qname, &q->qname_len)) != DNS_OK ||
	    (st = cur_u16(&c, &q->qtype)) != DNS_OK ||
	    (st = cur_u16(&c, &q->qclass)) != DNS_OK)
		return st;
	q->qend = c.pos;
	q->id = h.id;
	q->flags = h.flags;
	q->rd = (h.flags & DNS_F_RD) != 0;
	q->hostname = name_text(q->qname, q->qname_len, q->name);
	q->edns = mi.edns;
	q->edns_udp = mi.edns_udp;
	q->edns_version = mi.edns_version;
	q->edns_do = mi.edns_do;
	return DNS_OK;
}

/*
 * The first CNAME of the answer section owned by the name at owner, of
 * class qclass. Returns its record in *rr, or false.
 */
static bool
find_cname(const uint8_t *buf, size_t len, const struct msginfo *mi,
    uint16_t qclass, size_t owner, struct rr *rr)
{
	struct cur c = { buf, len, mi->an, NULL };
	size_t i;

	for (i = 0; i < mi->h.an; i++) {
		if (rr_read(&c, rr, false) != DNS_OK)
			return false;
		if (rr->type == DNS_TYPE_CNAME && rr->class == qclass &&
		    name_eq(buf, len, rr->owner, buf, len, owner))
			return true;
	}
	return false;
}

enum dns_status
dns_answer_addrs(const uint8_t *buf, size_t len, const struct dns_query *q,
    struct dns_answer *ans, void (*cb)(const struct dns_addr *, void *),
    void *arg)
{
	size_t reached[DNS_CHAIN_MAX + 1];	/* name offsets in buf */
	uint32_t path_ttl[DNS_CHAIN_MAX + 1];	/* least CNAME TTL to it */
	size_t nreached = 1, i, j;
	struct cur c = { buf, len, DNS_HDR_LEN, NULL };
	struct msginfo mi;
	struct emit e;
	struct hdr h;
	struct rr rr;
	enum dns_status st;
	uint16_t qtype, qclass;
	uint32_t ttl;

	memset(ans, 0, sizeof(*ans));
	ans->min_ttl = ans->neg_ttl = DNS_TTL_NONE;
	if ((st = hdr_read(buf, len, &h)) != DNS_OK)
		return st;
	if (!(h.flags & DNS_F_QR))
		return DNS_EQR;
	if (h.id != q->id)
		return DNS_EMISMATCH;
	if (OPCODE(h.flags) != 0)
		return DNS_EOPCODE;
	if ((st = msg_check(buf, len, &mi)) != DNS_OK)
		return st;
	if (h.qd != 1)
		return DNS_EMISMATCH;
	if ((st = cur_name(&c, NULL, NULL)) != DNS_OK ||
	    (st = cur_u16(&c, &qtype)) != DNS_OK ||
	    (st = cur_u16(&c, &qclass)) != DNS_OK)
		return st;
	if (qtype != q->qtype || qclass != q->qclass ||
	    !name_eq(buf, len, DNS_HDR_LEN, q->qname, q->qname_len, 0))
		return DNS_EMISMATCH;

	ans->flags = h.flags;
	ans->rcode = (uint16_t)(mi.edns_rcode << 4 | (h.flags & DNS_F_RCODE));
	ans->tc = (h.flags & DNS_F_TC) != 0;
	ans->edns = mi.edns;
	ans->edns_udp = mi.edns_udp;
	ans->edns_do = mi.edns_do;
	ans->neg_ttl = mi.neg_ttl;

	/* The chain, from the question name only. */
	reached[0] = DNS_HDR_LEN;
	path_ttl[0] = DNS_TTL_NONE;
	while (find_cname(buf, len, &mi, q->qclass, reached[nreached - 1],
	    &rr)) {
		ttl = ttl_value(rr.ttl);
		ans->ncname++;
		ans->min_ttl = min32(ans->min_ttl, ttl);
		for (j = 0; j < nreached; j++)
			if (name_eq(buf, len, rr.rdata, buf, len, reached[j]))
				break;
		if (j < nreached)
			break;		/* a loop: nothing new to reach */
		if (nreached == DNS_CHAIN_MAX + 1)
			return DNS_ECHAIN;
		reached[nreached] = rr.rdata;
		path_ttl[nreached] = min32(path_ttl[nreached - 1], ttl);
		nreached++;
	}
	if (ans->rcode != DNS_RCODE_NOERROR)
		return DNS_OK;

	/* Addresses of reached names, in message order. */
	memset(&e, 0, sizeof(e));
	e.cb = cb;
	e.arg = arg;
	c.pos = mi.an;
	for (i = 0; i < mi.h.an; i++) {
		if ((st = rr_read(&c, &rr, false)) != DNS_OK)
			return st;
		if ((rr.type != DNS_TYPE_A && rr.type != DNS_TYPE_AAAA &&
		    rr.type != DNS_TYPE_SVCB && rr.type != DNS_TYPE_HTTPS) ||
		    rr.class != q->qclass)
			continue;
		for (j = 0; j < nreached; j++)
			if (name_eq(buf, len, rr.owner, buf, len, reached[j]))
				break;
		if (j == nreached)
			continue;
		e.type = rr.type;
		e.ttl = min32(ttl_value(rr.ttl), path_ttl[j]);
		ans->min_ttl = min32(ans->min_ttl, e.ttl);
		if (rr.type == DNS_TYPE_A)
			emit_addr(&e, AF_INET, buf + rr.rdata);
		else if (rr.type == DNS_TYPE_AAAA)
			emit_addr(&e, AF_INET6, buf + rr.rdata);
		else {
			struct cur rd = { buf, rr.rdata + rr.rdlen, rr.rdata,
			    NULL };

			if ((st = svcb_parse(&rd, &e)) != DNS_OK)
				return st;
		}
	}
	ans->naddrs = e.n;
	return DNS_OK;
}

enum dns_status
dns_build_error(const uint8_t *buf, size_t len, unsigned rcode, uint8_t *out,
    size_t *outlen)
{
	struct cur c = { buf, len, DNS_HDR_LEN, NULL };
	struct dns_query q;
	struct hdr h;
	size_t qlen = 0, n;
	bool edns;

	if (out == NULL || outlen == NULL || rcode > 0xfff)
		return DNS_EINVAL;
	if (hdr_read(buf, len, &h) != DNS_OK)
		return DNS_ESHORT;
	edns = dns_query_parse(buf, len, &q) == DNS_OK && q.edns;
	if (rcode > DNS_F_RCODE && !edns)
		return DNS_EINVAL;
	/*
	 * The first question, if it reads. It holds no pointer: one at
	 * offset 12 could only point into the header, which is refused.
	 */
	if (h.qd > 0 && cur_name(&c, NULL, NULL) == DNS_OK &&
	    cur_skip(&c, 4) == DNS_OK)
		qlen = c.pos - DNS_HDR_LEN;
	n = DNS_HDR_LEN + qlen + (edns ? RR_MIN : 0);
	if (*outlen < n)
		return DNS_ENOSPC;

	put16(out, h.id);
	put16(out + 2, (uint16_t)(DNS_F_QR | DNS_F_RA |
	    (h.flags & (DNS_F_OPCODE | DNS_F_RD | DNS_F_CD)) |
	    (rcode & DNS_F_RCODE)));
	put16(out + 4, qlen > 0 ? 1 : 0);
	put16(out + 6, 0);
	put16(out + 8, 0);
	put16(out + 10, edns ? 1 : 0);
	memmove(out + DNS_HDR_LEN, buf + DNS_HDR_LEN, qlen);
	if (edns) {
		uint8_t *p = out + DNS_HDR_LEN + qlen;

		p[0] = 0;			/* root owner */
		put16(p + 1, DNS_TYPE_OPT);
		put16(p + 3, DNS_EDNS_UDP);
		put32(p + 5, (uint32_t)(rcode >> 4) << 24 |
		    (q.edns_do ? 0x8000u : 0));
		put16(p + 9, 0);		/* no options */
	}
	*outlen = n;
	return DNS_OK;
}

enum dns_status
dns_set_id(uint8_t *buf, size_t len, uint16_t id)
{
	if (len < DNS_HDR_LEN)
		return DNS_ESHORT;
	put16(buf, id);
	return DNS_OK;
}

enum dns_status
dns_cap_ttls(uint8_t *buf, size_t len, uint32_t max_ttl)
{
	struct msginfo mi;
	struct cur c;
	struct rr rr;
	enum dns_status st;
	uint32_t ttl;
	size_t i, nrr;

	if ((st = msg_check(buf, len, &mi)) != DNS_OK)
		return st;
	c.buf = buf;
	c.len = len;
	c.pos = mi.an;
	c.fixed = NULL;
	nrr = (size_t)mi.h.an + mi.h.ns + mi.h.ar;
	for (i = 0; i < nrr; i++) {
		if ((st = rr_read(&c, &rr, false)) != DNS_OK)
			return st;
		if (rr.type == DNS_TYPE_OPT)
			continue;	/* its TTL field holds EDNS flags */
		ttl = min32(ttl_value(rr.ttl), max_ttl);
		if (ttl != rr.ttl)
			put32(buf + rr.ttl_off, ttl);
	}
	return DNS_OK;
}

/*
 * The filter writes a new message through a bounded cursor. With buf
 * NULL it only measures.
 */
struct wcur {
	uint8_t		*buf;
	size_t		 len;
	size_t		 pos;
};

static enum dns_status
wcur_put(struct wcur *w, const void *p, size_t n)
{
	if (w->len - w->pos < n)
		return DNS_ENOSPC;
	if (w->buf != NULL)
		memcpy(w->buf + w->pos, p, n);
	w->pos += n;
	return DNS_OK;
}

/* The name at c, written out in full. */
static enum dns_status
wcur_name(struct wcur *w, struct cur *c)
{
	uint8_t name[DNS_NAME_MAX];
	size_t n;
	enum dns_status st;

	if ((st = cur_name(c, name, &n)) != DNS_OK)
		return st;
	return wcur_put(w, name, n);
}

/*
 * The layout of rdata that may hold compressed names: those of RFC 1035
 * and those RFC 3597 §4 says to decompress too, and SVCB/HTTPS, whose
 * target we accept compressed. 'n' a name, 's' a character-string, a
 * digit that many octets, 'r' the rest.
 */
struct rdata_fmt {
	uint16_t	 type;
	const char	*fmt;
};

static const struct rdata_fmt rdata_fmts[] = {
	{ DNS_TYPE_NS, "n" },
	{ 3, "n" },			/* MD */
	{ 4, "n" },			/* MF */
	{ DNS_TYPE_CNAME, "n" },
	{ DNS_TYPE_SOA, "nn44444" },
	{ 7, "n" },			/* MB */
	{ 8, "n" },			/* MG */
	{ 9, "n" },			/* MR */
	{ DNS_TYPE_PTR, "n" },
	{ 14, "nn" },			/* MINFO */
	{ DNS_TYPE_MX, "2n" },
	{ 17, "nn" },			/* RP */
	{ 18, "2n" },			/* AFSDB */
	{ 21, "2n" },			/* RT */
	{ 24, "2114442nr" },		/* SIG */
	{ 26, "2nn" },			/* PX */
	{ 30, "nr" },			/* NXT */
	{ DNS_TYPE_SRV, "222n" },
	{ 35, "22sssn" },		/* NAPTR */
	{ DNS_TYPE_SVCB, "2nr" },
	{ DNS_TYPE_HTTPS, "2nr" },
};

static const char *
rdata_fmt(uint16_t type)
{
	size_t i;

	for (i = 0; i < sizeof(rdata_fmts) / sizeof(rdata_fmts[0]); i++)
		if (rdata_fmts[i].type == type)
			return rdata_fmts[i].fmt;
	return NULL;
}

/*
 * The rdata of rr laid out as fmt, its names written out in full. Returns
 * DNS_ENOSPC, or another error when the rdata does not fit the layout.
 */
static enum dns_status
rdata_expand(struct wcur *w, const uint8_t *buf, const struct rr *rr,
    const char *fmt)
{
	struct cur c = { buf, rr->rdata + rr->rdlen, rr->rdata, NULL };
	enum dns_status st;
	size_t start, n;

	for (; *fmt != '\0'; fmt++) {
		start = c.pos;
		if (*fmt == 'n') {
			if ((st = wcur_name(w, &c)) != DNS_OK)
				return st;
			continue;
		}
		if (*fmt == 's') {
			if (c.pos >= c.len)
				return DNS_ESHORT;
			n = 1 + (size_t)buf[c.pos];
		} else if (*fmt == 'r')
			n = c.len - c.pos;
		else
			n = (size_t)(*fmt - '0');
		if ((st = cur_skip(&c, n)) != DNS_OK ||
		    (st = wcur_put(w, buf + start, n)) != DNS_OK)
			return st;
	}
	return c.pos == c.len ? DNS_OK : DNS_EFORMAT;
}

/*
 * A record, its owner and the names of its rdata written out in full.
 * Rdata that does not fit the layout of its type goes verbatim: only
 * CNAME, SOA, SVCB and HTTPS were checked, and a broken name elsewhere
 * is no reason to refuse the answer.
 */
static enum dns_status
rr_write(struct wcur *w, const uint8_t *buf, size_t len, const struct rr *rr)
{
	struct cur c = { buf, len, rr->owner, NULL };
	struct wcur dry = { NULL, SIZE_MAX, 0 };
	const char *fmt;
	enum dns_status st;
	size_t rdl;

	/* Type, class and TTL are the 8 octets before the rdlength. */
	if ((st = wcur_name(w, &c)) != DNS_OK ||
	    (st = wcur_put(w, buf + rr->ttl_off - 4, 8)) != DNS_OK)
		return st;
	rdl = w->pos;
	if ((st = wcur_put(w, "\0\0", 2)) != DNS_OK)
		return st;
	if ((fmt = rdata_fmt(rr->type)) != NULL &&
	    rdata_expand(&dry, buf, rr, fmt) == DNS_OK)
		st = rdata_expand(w, buf, rr, fmt);
	else
		st = wcur_put(w, buf + rr->rdata, rr->rdlen);
	if (st != DNS_OK)
		return st;
	if (w->pos - rdl - 2 > UINT16_MAX)
		return DNS_ENOSPC;
	put16(w->buf + rdl, (uint16_t)(w->pos - rdl - 2));
	return DNS_OK;
}

/* Whether keep takes every address of a record (checked before). */
static enum dns_status
rr_keep(const uint8_t *buf, const struct rr *rr,
    bool (*keep)(const struct dns_addr *, void *), void *arg, bool *kept)
{
	struct cur c = { buf, rr->rdata + rr->rdlen, rr->rdata, NULL };
	enum dns_status st = DNS_OK;
	struct emit e;

	memset(&e, 0, sizeof(e));
	e.keep = keep;
	e.arg = arg;
	e.type = rr->type;
	e.ttl = ttl_value(rr->ttl);
	e.alias = true;
	if (rr->type == DNS_TYPE_A && rr->rdlen == 4)
		emit_addr(&e, AF_INET, buf + rr->rdata);
	else if (rr->type == DNS_TYPE_AAAA && rr->rdlen == 16)
		emit_addr(&e, AF_INET6, buf + rr->rdata);
	else if (rr->type == DNS_TYPE_SVCB || rr->type == DNS_TYPE_HTTPS)
		st = svcb_parse(&c, &e);
	*kept = !e.rejected;
	return st;
}

enum dns_status
dns_answer_filter(const uint8_t *buf, size_t len, const struct dns_query *q,
    bool (*keep)(const struct dns_addr *, void *), void *arg, uint8_t *out,
    size_t *outlen, size_t *ndropped)
{
	struct cur c = { buf, len, DNS_HDR_LEN, NULL };
	size_t count[SEC_ADDITIONAL + 1] = { 0, 0, 0 };
	size_t i, nrr, dropped = 0;
	struct dns_answer ans;
	enum dns_status st;
	enum section sec;
	struct wcur w;
	struct hdr h;
	struct rr rr;
	bool kept;

	if (q == NULL || keep == NULL || out == NULL || outlen == NULL)
		return DNS_EINVAL;
	if ((uintptr_t)out < (uintptr_t)buf + len &&
	    (uintptr_t)buf < (uintptr_t)out + *outlen)
		return DNS_EINVAL;
	if ((st = dns_answer_addrs(buf, len, q, &ans, NULL, NULL)) != DNS_OK)
		return st;

	/* Header and question as received; it holds no pointer. */
	if ((st = hdr_read(buf, len, &h)) != DNS_OK ||
	    (st = cur_skip_name(&c)) != DNS_OK ||
	    (st = cur_skip(&c, 4)) != DNS_OK)
		return st;
	w.buf = out;
	w.len = *outlen < UINT16_MAX ? *outlen : UINT16_MAX;
	w.pos = 0;
	if ((st = wcur_put(&w, buf, c.pos)) != DNS_OK)
		return st;

	nrr = (size_t)h.an + h.ns + h.ar;
	for (i = 0; i < nrr; i++) {
		if (i < h.an)
			sec = SEC_ANSWER;
		else if (i < (size_t)h.an + h.ns)
			sec = SEC_AUTHORITY;
		else
			sec = SEC_ADDITIONAL;
		if ((st = rr_read(&c, &rr, false)) != DNS_OK ||
		    (st = rr_keep(buf, &rr, keep, arg, &kept)) != DNS_OK)
			return st;
		if (!kept) {
			dropped++;
			continue;
		}
		if ((st = rr_write(&w, buf, len, &rr)) != DNS_OK)
			return st;
		count[sec]++;
	}
	/* Counts can only shrink: each fits 16 bits. */
	put16(out + 6, (uint16_t)count[SEC_ANSWER]);
	put16(out + 8, (uint16_t)count[SEC_AUTHORITY]);
	put16(out + 10, (uint16_t)count[SEC_ADDITIONAL]);
	*outlen = w.pos;
	if (ndropped != NULL)
		*ndropped = dropped;
	return DNS_OK;
}

/* Private ranges (see dns_addr_is_private()). */
struct prefix {
	uint8_t		 addr[16];
	unsigned	 bits;
};

static const struct prefix private4[] = {
	{ { 0 }, 8 },
	{ { 10 }, 8 },
	{ { 100, 64 }, 10 },
	{ { 127 }, 8 },
	{ { 169, 254 }, 16 },
	{ { 172, 16 }, 12 },
	{ { 192, 168 }, 16 },
};

static const struct prefix private6[] = {
	{ { 0 }, 128 },				/* :: */
	{ { [15] = 1 }, 128 },			/* ::1 */
	{ { 0xfe, 0x80 }, 10 },
	{ { 0xfc }, 7 },
};

static bool
prefix_has(const struct prefix *p, size_t n, const uint8_t *addr)
{
	size_t i, full;
	unsigned rest;
	uint8_t mask;

	for (i = 0; i < n; i++) {
		full = p[i].bits / 8;
		rest = p[i].bits % 8;
		mask = (uint8_t)(0xff << (8 - rest));
		if (memcmp(addr, p[i].addr, full) == 0 &&
		    (rest == 0 || ((addr[full] ^ p[i].addr[full]) & mask) == 0))
			return true;
	}
	return false;
}

bool
dns_addr_is_private(const struct dns_addr *a)
{
	static const uint8_t mapped[12] = {
		0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff
	};

	if (a->family == AF_INET)
		return prefix_has(private4, sizeof(private4) /
		    sizeof(private4[0]), a->addr);
	if (a->family != AF_INET6)
		return false;
	if (memcmp(a->addr, mapped, sizeof(mapped)) == 0)
		return prefix_has(private4, sizeof(private4) /
		    sizeof(private4[0]), a->addr + 12);
	return prefix_has(private6, sizeof(private6) / sizeof(private6[0]),
	    a->addr);
}
