/*
 * libFuzzer target: bytes -> dns/wire.c. The first bytes choose the role:
 * the QR bit (octet 2) makes the input a client query or an upstream
 * answer, the id (octets 0-1) picks the rcode of the error reply and the
 * TTL cap, the Z bit (octet 3, 0x40) of an answer gives its query another
 * id.
 *
 * Every parse runs twice, on an exact-size copy (ASan catches a read past
 * len) and on a copy followed by junk: the results must be equal.
 *  - QR clear: dns_query_parse(); on success the name text is terminated,
 *    lower case and escaped, hostname is right, and the error reply built
 *    for the query parses back as its answer, with the rcode and no
 *    address.
 *  - QR set: the query is made from the answer's own header and question
 *    (QR cleared, other sections dropped), so the walk gets past the
 *    question check; dns_answer_addrs(): addresses have a family that fits
 *    their type, TTLs are at least min_ttl, none come with an rcode.
 *    When the answer is accepted, dns_answer_filter() with a keep that
 *    drops every address whose last octet is odd: the output re-reads as
 *    an answer to the query, and yields exactly what the input yields
 *    once the records a walk of our own finds to drop are made inert
 *    (their type changed); ndropped and the counts agree with that walk,
 *    no owner name and no name in CNAME, SOA, SVCB or HTTPS rdata holds a
 *    pointer, filtering the output drops nothing, and an exact-size
 *    buffer gives the same octets where one octet less is DNS_ENOSPC.
 *  - Always: dns_build_error() of any input with a header succeeds, echoes
 *    the id and is itself a well-formed message; dns_cap_ttls() on a copy
 *    leaves it unchanged on error, is idempotent, and an answer read from
 *    the capped copy has the same addresses with TTLs at most the cap;
 *    dns_set_id() changes the id and nothing else.
 */
#include <sys/socket.h>

#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "dns.h"

int	LLVMFuzzerTestOneInput(const uint8_t *, size_t);

#define PAD	"\300\14\0\1\0\1\377\377\377\377\0\4\1\2\3\4"
#define MAXGOT	256
#define MSG_MAX	65535
/* A private-use type (RFC 6895): what a dropped record becomes. */
#define INERT	0xff00

struct got {
	struct dns_addr	 a[MAXGOT];
	size_t		 n;
};

static void
check(int cond, const char *what)
{
	if (!cond) {
		fprintf(stderr, "fuzz_wire: property failed: %s\n", what);
		abort();
	}
}

static void
collect(const struct dns_addr *a, void *arg)
{
	struct got *g = arg;

	if (g->n < MAXGOT)
		g->a[g->n] = *a;
	g->n++;
}

/* Exact-size and padded copies of data. Caller frees both. */
static void
copies(const uint8_t *data, size_t size, uint8_t **exact, uint8_t **padded)
{
	*exact = malloc(size > 0 ? size : 1);
	*padded = malloc(size + sizeof(PAD));
	check(*exact != NULL && *padded != NULL, "malloc");
	memcpy(*exact, data, size);
	memcpy(*padded, data, size);
	memcpy(*padded + size, PAD, sizeof(PAD));
}

static bool
same_query(const struct dns_query *a, const struct dns_query *b)
{
	return a->id == b->id && a->flags == b->flags && a->rd == b->rd &&
	    a->qtype == b->qtype && a->qclass == b->qclass &&
	    a->qname_len == b->qname_len &&
	    memcmp(a->qname, b->qname, a->qname_len) == 0 &&
	    strcmp(a->name, b->name) == 0 && a->hostname == b->hostname &&
	    a->edns == b->edns && a->edns_udp == b->edns_udp &&
	    a->edns_version == b->edns_version &&
	    a->edns_do == b->edns_do && a->qend == b->qend;
}

static bool
same_addr(const struct dns_addr *a, const struct dns_addr *b)
{
	return a->family == b->family && a->type == b->type &&
	    a->ttl == b->ttl && memcmp(a->addr, b->addr, 16) == 0;
}

static bool
same_answer(const struct dns_answer *a, const struct got *ga,
    const struct dns_answer *b, const struct got *gb)
{
	size_t i;

	if (a->flags != b->flags || a->rcode != b->rcode || a->tc != b->tc ||
	    a->edns != b->edns || a->edns_udp != b->edns_udp ||
	    a->edns_do != b->edns_do || a->naddrs != b->naddrs ||
	    a->ncname != b->ncname || a->min_ttl != b->min_ttl ||
	    a->neg_ttl != b->neg_ttl || ga->n != gb->n)
		return false;
	for (i = 0; i < ga->n && i < MAXGOT; i++)
		if (!same_addr(&ga->a[i], &gb->a[i]))
			return false;
	return true;
}

static bool
is_ddd(const char *s)
{
	return isdigit((unsigned char)s[0]) && isdigit((unsigned char)s[1]) &&
	    isdigit((unsigned char)s[2]) &&
	    (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0') <= 255;
}

static void
check_query(const struct dns_query *q, size_t size)
{
	size_t n = strnlen(q->name, sizeof(q->name)), i;
	bool escaped = false;

	check(n > 0 && n < sizeof(q->name), "name is terminated");
	check(q->qname_len >= 1 && q->qname_len <= DNS_NAME_MAX,
	    "wire name length");
	check(q->qname[q->qname_len - 1] == 0, "wire name ends at the root");
	check(q->qend > DNS_HDR_LEN && q->qend <= size, "qend in the message");
	for (i = 0; i < n; i++) {
		unsigned char c = (unsigned char)q->name[i];

		check(c > 0x20 && c < 0x7f && !(c >= 'A' && c <= 'Z'),
		    "name is printable lower case");
		if (c == '\\') {
			check(i + 3 < n && is_ddd(q->name + i + 1),
			    "an escape is \\DDD");
			escaped = true;
			i += 3;
		}
	}
	check(q->hostname == (!escaped && strcmp(q->name, ".") != 0),
	    "hostname iff nothing escaped and not the root");
	check(q->rd == ((q->flags & DNS_F_RD) != 0), "rd");
}

static void
check_answer(enum dns_status st, const struct dns_answer *ans,
    const struct got *g)
{
	size_t i;

	check(dns_strerror(st) != NULL, "dns_strerror");
	if (st != DNS_OK) {
		check(g->n == 0, "no address from a refused answer");
		return;
	}
	check(ans->naddrs == g->n, "naddrs counts the callbacks");
	check(ans->rcode == DNS_RCODE_NOERROR || g->n == 0,
	    "no address with an error rcode");
	check(ans->ncname <= DNS_CHAIN_MAX + 1, "chain bounded");
	for (i = 0; i < g->n && i < MAXGOT; i++) {
		const struct dns_addr *a = &g->a[i];

		check(a->family == AF_INET || a->family == AF_INET6, "family");
		check((a->type == DNS_TYPE_A && a->family == AF_INET) ||
		    (a->type == DNS_TYPE_AAAA && a->family == AF_INET6) ||
		    a->type == DNS_TYPE_SVCB || a->type == DNS_TYPE_HTTPS,
		    "type fits the family");
		check(a->ttl <= INT32_MAX, "ttl top bit cleared");
		check(a->ttl >= ans->min_ttl, "min_ttl is the least");
	}
}

/* The error reply: well formed, the id echoed, the query answered. */
static void
check_error_reply(const uint8_t *data, size_t size, unsigned rcode,
    const struct dns_query *q, bool parsed)
{
	uint8_t out[DNS_ERROR_MAX + 1], copy[DNS_ERROR_MAX + 1];
	size_t outlen = sizeof(out);
	struct dns_answer ans;
	struct got g;
	enum dns_status st;

	st = dns_build_error(data, size, rcode, out, &outlen);
	if (size < DNS_HDR_LEN) {
		check(st == DNS_ESHORT, "no reply without a header");
		return;
	}
	check(st == DNS_OK, "a reply to any header");
	check(outlen >= DNS_HDR_LEN && outlen <= DNS_ERROR_MAX,
	    "reply length");
	check(memcmp(out, data, 2) == 0, "id echoed");
	check((out[2] & 0x80) && (out[3] & 0x0f) == rcode, "QR and rcode");
	memcpy(copy, out, outlen);
	check(dns_cap_ttls(copy, outlen, 0) == DNS_OK, "reply well formed");
	check(memcmp(copy, out, outlen) == 0, "reply has no TTL to cap");
	if (!parsed)
		return;
	check(outlen == q->qend + (q->edns ? 11 : 0),
	    "reply is the question and OPT");
	g.n = 0;
	st = dns_answer_addrs(out, outlen, q, &ans, collect, &g);
	check(st == DNS_OK, "reply answers the query");
	check(ans.rcode == rcode && g.n == 0 && ans.edns == q->edns,
	    "reply rcode, no address");
}

static void
fuzz_query(const uint8_t *data, size_t size, unsigned rcode)
{
	struct dns_query q, q2;
	enum dns_status st, st2;
	uint8_t *exact, *padded;

	copies(data, size, &exact, &padded);
	st = dns_query_parse(exact, size, &q);
	st2 = dns_query_parse(padded, size, &q2);
	check(st == st2, "query status depends on bytes after len");
	if (st == DNS_OK) {
		check(same_query(&q, &q2), "query depends on bytes after len");
		check_query(&q, size);
	}
	check_error_reply(exact, size, rcode, &q, st == DNS_OK);
	free(exact);
	free(padded);
}

/*
 * The query an answer claims to answer: its header and question with QR
 * cleared and no other section. When that does not parse, a fixed query
 * with the answer's id still gets the header checks exercised.
 */
static void
derive_query(const uint8_t *data, size_t size, struct dns_query *q)
{
	static const uint8_t fixed[] = "\0\0\1\0\0\1\0\0\0\0\0\0"
	    "\3www\7example\3com\0\0\1\0\1";
	uint8_t *buf;

	if (size >= DNS_HDR_LEN && (buf = malloc(size)) != NULL) {
		memcpy(buf, data, size);
		buf[2] &= 0x7f;
		memset(buf + 6, 0, 6);
		if (dns_query_parse(buf, size, q) == DNS_OK) {
			free(buf);
			return;
		}
		free(buf);
	}
	check(dns_query_parse(fixed, sizeof(fixed) - 1, q) == DNS_OK,
	    "fixed query");
	if (size >= 2)
		q->id = (uint16_t)(data[0] << 8 | data[1]);
}

static uint16_t
rd16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Odd last octet: what keep_even() refuses. */
static bool
is_odd(const uint8_t *addr, size_t n)
{
	return (addr[n - 1] & 1) != 0;
}

static bool
keep_even(const struct dns_addr *a, void *arg)
{
	size_t *calls = arg;

	check(a->family == AF_INET || a->family == AF_INET6, "keep: family");
	check(a->ttl <= INT32_MAX, "keep: ttl top bit cleared");
	(*calls)++;
	return !is_odd(a->addr, a->family == AF_INET ? 4 : 16);
}

static bool
keep_any(const struct dns_addr *a, void *arg)
{
	(void)a;
	(void)arg;
	return true;
}

/*
 * Past the name at pos, without following its pointer, within end; 0 if
 * it runs out. With flat set, a pointer fails too.
 */
static size_t
walk_name(const uint8_t *p, size_t end, size_t pos, bool flat)
{
	while (pos < end) {
		uint8_t b = p[pos];

		if ((b & 0xc0) == 0xc0)
			return flat || end - pos < 2 ? 0 : pos + 2;
		if ((b & 0xc0) != 0 || end - pos - 1 < b)
			return 0;
		pos += 1 + (size_t)b;
		if (b == 0)
			return pos;
	}
	return 0;
}

/* Whether an SVCB/HTTPS rdata (checked) holds an odd hint, any mode. */
static bool
svcb_odd(const uint8_t *p, size_t rd, size_t end)
{
	size_t pos, i;
	uint16_t key, vlen;

	check(end - rd >= 2, "ref: svcb priority");
	pos = walk_name(p, end, rd + 2, false);
	check(pos != 0, "ref: svcb target");
	while (pos < end) {
		check(end - pos >= 4, "ref: svcb param");
		key = rd16(p + pos);
		vlen = rd16(p + pos + 2);
		pos += 4;
		check(end - pos >= vlen, "ref: svcb value");
		for (i = 0; key == 4 && i + 4 <= vlen; i += 4)
			if (is_odd(p + pos + i, 4))
				return true;
		for (i = 0; key == 6 && i + 16 <= vlen; i += 16)
			if (is_odd(p + pos + i, 16))
				return true;
		pos += vlen;
	}
	return false;
}

struct ref {
	size_t		 dropped;
	uint16_t	 count[3];	/* records kept, per section */
};

/*
 * Our own walk of a checked answer: what keep_even should drop, per
 * section. With inert set, the type of each record to drop is changed
 * in msg. With flat set (an output), no owner name, and no name in the
 * rdata of CNAME, SOA, SVCB or HTTPS, may hold a pointer.
 */
static void
ref_walk(uint8_t *msg, size_t len, struct ref *r, bool inert, bool flat)
{
	size_t pos, rd, i, nrr, an, ns, sec;
	uint16_t type, rdlen;
	bool drop;

	memset(r, 0, sizeof(*r));
	check(len >= DNS_HDR_LEN && rd16(msg + 4) == 1, "ref: header");
	an = rd16(msg + 6);
	ns = rd16(msg + 8);
	nrr = an + ns + rd16(msg + 10);
	pos = walk_name(msg, len, DNS_HDR_LEN, flat);
	check(pos != 0 && len - pos >= 4, "ref: question");
	pos += 4;
	for (i = 0; i < nrr; i++) {
		sec = i < an ? 0 : i < an + ns ? 1 : 2;
		pos = walk_name(msg, len, pos, flat);
		check(pos != 0 && len - pos >= 10, flat ?
		    "output owner name uncompressed" : "ref: owner");
		type = rd16(msg + pos);
		rdlen = rd16(msg + pos + 8);
		rd = pos + 10;
		check(len - rd >= rdlen, "ref: rdata");
		drop = false;
		if (type == DNS_TYPE_A && rdlen == 4)
			drop = is_odd(msg + rd, 4);
		else if (type == DNS_TYPE_AAAA && rdlen == 16)
			drop = is_odd(msg + rd, 16);
		else if (type == DNS_TYPE_SVCB || type == DNS_TYPE_HTTPS)
			drop = svcb_odd(msg, rd, rd + rdlen);
		if (flat && type == DNS_TYPE_CNAME)
			check(walk_name(msg, rd + rdlen, rd, true) != 0,
			    "output CNAME target uncompressed");
		if (flat && type == DNS_TYPE_SOA) {
			size_t r2 = walk_name(msg, rd + rdlen, rd, true);

			check(r2 != 0 && walk_name(msg, rd + rdlen, r2,
			    true) != 0, "output SOA names uncompressed");
		}
		if (flat && (type == DNS_TYPE_SVCB || type == DNS_TYPE_HTTPS))
			check(walk_name(msg, rd + rdlen, rd + 2, true) != 0,
			    "output SVCB target uncompressed");
		if (drop) {
			r->dropped++;
			if (inert) {
				msg[pos] = INERT >> 8;
				msg[pos + 1] = INERT & 0xff;
			}
		} else
			r->count[sec]++;
		pos = rd + rdlen;
	}
}

/*
 * dns_answer_filter() of an answer that dns_answer_addrs() accepted for
 * q, against our own walk (see the top of the file).
 */
static void
fuzz_filter(const uint8_t *data, size_t size, const struct dns_query *q)
{
	static struct got g, g2;
	static uint8_t out[MSG_MAX], again[MSG_MAX];
	struct dns_answer ans, ans2;
	struct ref r, rout;
	uint8_t *inert, *exact;
	size_t outlen = sizeof(out), len2, nd, nd2, calls = 0, i;
	enum dns_status st;

	st = dns_answer_filter(data, size, q, keep_even, &calls, out, &outlen,
	    &nd);
	/* Names written out in full can pass 65535 octets. */
	if (st == DNS_ENOSPC)
		return;
	check(st == DNS_OK, "filter accepts what dns_answer_addrs does");
	check(outlen >= DNS_HDR_LEN && outlen <= MSG_MAX, "output length");
	check(memcmp(out, data, 4) == 0, "id and flags kept");

	inert = malloc(size);
	check(inert != NULL, "malloc");
	memcpy(inert, data, size);
	ref_walk(inert, size, &r, true, false);
	check(nd == r.dropped, "ndropped is the records to drop");
	check(calls >= nd, "keep was asked about each record dropped");
	check(rd16(out + 6) == r.count[0] && rd16(out + 8) == r.count[1] &&
	    rd16(out + 10) == r.count[2], "counts are the records kept");
	ref_walk(out, outlen, &rout, false, true);
	check(rout.dropped == 0, "nothing left to drop in the output");

	/* It reads as the input does once the dropped records are inert. */
	g.n = g2.n = 0;
	check(dns_answer_addrs(out, outlen, q, &ans, collect, &g) == DNS_OK,
	    "the output answers the query");
	check(dns_answer_addrs(inert, size, q, &ans2, collect, &g2) == DNS_OK,
	    "the input with inert records answers the query");
	check(same_answer(&ans, &g, &ans2, &g2),
	    "the output yields exactly the addresses kept");
	for (i = 0; i < g.n && i < MAXGOT; i++)
		check(!is_odd(g.a[i].addr, g.a[i].family == AF_INET ? 4 : 16),
		    "no address keep refused");
	free(inert);

	/* Filtering again drops nothing. */
	len2 = sizeof(again);
	check(dns_answer_filter(out, outlen, q, keep_any, NULL, again, &len2,
	    &nd2) == DNS_OK && nd2 == 0, "the output filters again");
	len2 = sizeof(again);
	check(dns_answer_filter(out, outlen, q, keep_even, &calls, again,
	    &len2, &nd2) == DNS_OK && nd2 == 0, "nothing more to drop");

	/* Exactly the room it needs, and one octet less. */
	exact = malloc(outlen);
	check(exact != NULL, "malloc");
	len2 = outlen;
	check(dns_answer_filter(data, size, q, keep_even, &calls, exact,
	    &len2, &nd2) == DNS_OK && len2 == outlen &&
	    memcmp(exact, out, outlen) == 0, "exact room, same output");
	len2 = outlen - 1;
	check(dns_answer_filter(data, size, q, keep_even, &calls, exact,
	    &len2, &nd2) == DNS_ENOSPC, "one octet short is ENOSPC");
	free(exact);
}

static void
fuzz_answer(const uint8_t *data, size_t size)
{
	static struct got g, g2;
	struct dns_answer ans, ans2;
	struct dns_query q;
	enum dns_status st, st2;
	uint8_t *exact, *padded;

	derive_query(data, size, &q);
	if (size >= 4 && (data[3] & 0x40))
		q.id ^= 1;
	copies(data, size, &exact, &padded);
	g.n = g2.n = 0;
	st = dns_answer_addrs(exact, size, &q, &ans, collect, &g);
	st2 = dns_answer_addrs(padded, size, &q, &ans2, collect, &g2);
	check(st == st2, "answer status depends on bytes after len");
	check(st != DNS_OK || same_answer(&ans, &g, &ans2, &g2),
	    "answer depends on bytes after len");
	check_answer(st, &ans, &g);
	if (st == DNS_OK)
		fuzz_filter(exact, size, &q);
	free(exact);
	free(padded);
}

/* Cap a copy; on success re-read it as an answer to the same query. */
static void
fuzz_cap(const uint8_t *data, size_t size, uint32_t cap, bool answer)
{
	static struct got g, g2;
	struct dns_answer ans, ans2;
	struct dns_query q;
	enum dns_status st, st2;
	uint8_t *exact, *again;
	size_t i;

	exact = malloc(size > 0 ? size : 1);
	again = malloc(size > 0 ? size : 1);
	check(exact != NULL && again != NULL, "malloc");
	memcpy(exact, data, size);
	st = dns_cap_ttls(exact, size, cap);
	if (st != DNS_OK) {
		check(size == 0 || memcmp(exact, data, size) == 0,
		    "a refused message is left unchanged");
		goto done;
	}
	memcpy(again, exact, size);
	check(dns_cap_ttls(again, size, cap) == DNS_OK &&
	    (size == 0 || memcmp(again, exact, size) == 0),
	    "capping is idempotent");
	check(dns_set_id(again, size, (uint16_t)~(exact[0] << 8 | exact[1])) ==
	    DNS_OK, "set the id of a message");
	check((uint8_t)~again[0] == exact[0] &&
	    (uint8_t)~again[1] == exact[1] &&
	    memcmp(again + 2, exact + 2, size - 2) == 0, "only the id changes");
	if (!answer)
		goto done;
	derive_query(data, size, &q);
	g.n = g2.n = 0;
	st = dns_answer_addrs(data, size, &q, &ans, collect, &g);
	st2 = dns_answer_addrs(exact, size, &q, &ans2, collect, &g2);
	check(st == st2, "capping changes the answer's status");
	if (st != DNS_OK)
		goto done;
	check(g.n == g2.n, "capping changes the addresses");
	check(ans2.min_ttl <= cap || g2.n + ans2.ncname == 0,
	    "min_ttl capped");
	for (i = 0; i < g.n && i < MAXGOT; i++) {
		check(g2.a[i].ttl <= cap, "address TTL capped");
		check(g2.a[i].ttl == (g.a[i].ttl < cap ? g.a[i].ttl : cap),
		    "address TTL is the least of its TTL and the cap");
		check(memcmp(g.a[i].addr, g2.a[i].addr, 16) == 0,
		    "capping changes an address");
	}
done:
	free(exact);
	free(again);
}

int
LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint16_t id = size >= 2 ? (uint16_t)(data[0] << 8 | data[1]) : 0;
	bool answer = size >= 3 && (data[2] & 0x80);
	/* Caps from 0 up, most of them small enough to bite. */
	uint32_t cap = (id & 0x8000) ? UINT32_MAX : (uint32_t)(id & 0x7ff);

	if (answer) {
		fuzz_answer(data, size);
		check_error_reply(data, size, id & 0xf, NULL, false);
	} else
		fuzz_query(data, size, id & 0xf);
	fuzz_cap(data, size, cap, answer);
	return 0;
}
